#!/usr/bin/env bash
# A deploy under load: wrk drives the release app as fast as it answers
# (GET /ping and the authenticated GET /users/{id}, CONCURRENCY keep-alive
# connections each), and beside it curl sends the same mix (CONCURRENCY in
# flight, keep-alive) and records what became of each of its requests.
# SIGTERM arrives in the middle; the script prints requests sent /
# completed / failed and how long the exit took.
#
#   bash benches/deploy.sh          # SIGTERM_AT=4 CONCURRENCY=32
#   SHUTDOWN_GRACE_SECS=5 bash benches/deploy.sh
#
# Why two clients: wrk gives the pressure, but counts every reconnect
# refused after the listener closed as a request without an answer, so its
# "failed" means nothing after SIGTERM; only its completed and status counts
# are shown. curl reports each transfer's exit code: 7 is a connect refused
# (no request sent), 52/56 a connection closed or reset with no response
# (sent, unanswered), 0 a whole response with its status. A stock client
# still cannot tell a keep-alive connection the server closed idle, as the
# next request went out, from a lost request: tests/app/deploy.rs proves
# those were never read, with a raw client and the server's access log.
# Figures only, never asserted. Needs: wrk, curl >= 7.75, jq, bc, Linux /proc.
set -euo pipefail

DURATION=${DURATION:-30}   # a bound: the load stops when the app has exited
SIGTERM_AT=${SIGTERM_AT:-4}
CONCURRENCY=${CONCURRENCY:-32}
source "$(dirname "$0")/app.sh"

need_wrk
app_build
app_start
app_sign_in

wrk_run ping "$DURATION" "$CONCURRENCY" 0 >"$TMP/ping.txt" &
PING=$!
wrk_run read "$DURATION" "$CONCURRENCY" 0 >"$TMP/read.txt" &
READ=$!
# curl's transfers: more than it sends before the app is gone (those after
# are refused at once), few enough that curl starts within a second (it
# sets every transfer up first: with 200000 it was still at it at SIGTERM).
awk -v base="$BASE" -v user="$USER_ID" -v token="$TOKEN" 'BEGIN {
    for (i = 0; i < 40000; i++) {
        if (i > 0) print "next"
        if (i % 2) printf "url = \"%s/users/%s\"\nheader = \"authorization: Bearer %s\"\n", base, user, token
        else printf "url = \"%s/ping\"\n", base
        print "output = \"/dev/null\""
        print "write-out = \"%{http_code} %{exitcode}\\n\""
    } }' >"$TMP/curl.cfg"
curl -s --parallel --parallel-max "$CONCURRENCY" -K "$TMP/curl.cfg" >"$TMP/curl.txt" &
CURL=$!

sleep "$SIGTERM_AT"
RSS=$(app_rss_mib)
SIGNALLED=$(date +%s.%N)
kill -TERM "$APP"
set +e
wait "$APP"
CODE=$?
set -e
EXITED=$(date +%s.%N)
APP=""
# wrk prints its report on SIGINT; curl finishes its refused transfers.
kill -INT "$PING" "$READ"
wait "$PING" "$READ" "$CURL" || true

echo "wrk at full speed (-c $CONCURRENCY each), SIGTERM after ${SIGTERM_AT}s:" \
    "GET /ping $(field codes "$TMP/ping.txt"), GET /users/{id} $(field codes "$TMP/read.txt") (status:count)"
awk '
    $2 == 7 { refused++; next }
    { sent++ }
    $2 == 0 && $1 == 200 { completed++; next }
    $2 == 0 { status[$1]++; next }
    { failed[$2]++ }
    END {
        for (s in status) other = other " " s "x" status[s]
        for (e in failed) { nfailed += failed[e]; why = why " curl exit " e " x" failed[e] }
        print "| client | sent | completed (200) | other status | failed (no response) | connects refused |"
        print "|---|---|---|---|---|---|"
        printf "| curl, /ping and /users/{id} alternately | %d | %d | %d%s | %d%s | %d |\n",
            sent, completed, sent - completed - nfailed, other, nfailed, why, refused
    }' "$TMP/curl.txt"
echo
printf 'exit code %s, %.2f s after SIGTERM (SHUTDOWN_GRACE_SECS=%s); RSS at SIGTERM %s MiB\n' \
    "$CODE" "$(echo "$EXITED - $SIGNALLED" | bc)" "$GRACE" "$RSS"
echo "app: $(grep -o 'shutdown complete.*' "$TMP/app.log" | tail -n 1)"
grep -E ' (WARN|ERROR) ' "$TMP/app.log" | head -n 5 || true
echo "cores: $(nproc); load average: $(cut -d' ' -f1-3 /proc/loadavg); $(wrk --version 2>&1 | head -n 1 | cut -d' ' -f1-2)"

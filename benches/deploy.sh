#!/usr/bin/env bash
# A deploy under load, with a real load generator: two wrk runs drive the
# release app as fast as it answers (GET /ping, and the authenticated
# GET /users/{id}, CONCURRENCY keep-alive connections each), SIGTERM arrives
# in the middle, and the script prints what became of the requests and how
# long the exit took.
#
#   bash benches/deploy.sh          # SIGTERM_AT=4 CONCURRENCY=32
#   SHUTDOWN_GRACE_SECS=5 bash benches/deploy.sh
#
# Sent counts the requests wrk wrote (benches/wrk.lua counts them; a refused
# connect writes none), completed the whole responses, failed the difference:
# requests whose connection closed with no response. The server closing a
# keep-alive connection while the next request was on its way lands there,
# and a stock client cannot tell that from a lost request: that is why
# tests/app/deploy.rs proves it request by request, with a raw client and the
# server's access log. Figures only, never asserted.
# Needs: wrk, curl, jq, bc, Linux /proc.
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

sleep "$SIGTERM_AT"
RSS=$(app_rss_mib)
SIGNALLED=$(date +%s.%N)
kill -TERM "$APP"
# Stop the load as soon as the listener refuses connections (wrk prints its
# report on SIGINT): wrk would count every refused reconnect as a request
# without an answer. Requests in flight then are the app's to finish, and
# wrk no longer waits for them, which is why the test does this proof.
while (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; do :; done
kill -INT "$PING" "$READ"
set +e
wait "$APP"
CODE=$?
set -e
EXITED=$(date +%s.%N)
APP=""
wait "$PING" "$READ" || true

row() {
    local f=$2 sent requests ok
    sent=$(field sent "$f")
    requests=$(field requests "$f")
    ok=$(field ok "$f")
    echo "| $1 | $sent | $ok | $((requests - ok)) | $((sent - requests)) | $(field codes "$f") |"
}
echo "| load (wrk -c $CONCURRENCY, SIGTERM after ${SIGTERM_AT}s) | sent | completed (2xx) | other status | failed (no response) | status codes |"
echo "|---|---|---|---|---|---|"
row "GET /ping" "$TMP/ping.txt"
row "GET /users/{id} (bearer)" "$TMP/read.txt"
echo
printf 'exit code %s, %.2f s after SIGTERM (SHUTDOWN_GRACE_SECS=%s); RSS at SIGTERM %s MiB\n' \
    "$CODE" "$(echo "$EXITED - $SIGNALLED" | bc)" "$GRACE" "$RSS"
echo "app: $(grep -o 'shutdown complete.*' "$TMP/app.log" | tail -n 1)"
grep -E ' (WARN|ERROR) ' "$TMP/app.log" | head -n 5 || true
echo "cores: $(nproc); load average: $(cut -d' ' -f1-3 /proc/loadavg); $(wrk --version 2>&1 | head -n 1 | cut -d' ' -f1-2)"

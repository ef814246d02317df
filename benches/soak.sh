#!/usr/bin/env bash
# Soak: hold the release app at LOAD_PERCENT of its measured maximum for
# DURATION seconds on a mix of GET /ping, the authenticated GET /users/{id}
# and POST /users (sign-ups: argon2id, a SQLite insert, an outbox row, an
# event; a new email each time), and print one row per ROUND (a minute by
# default): requests, errors, p50/p99 per endpoint and the server's RSS.
# Not run by CI.
#
#   bash benches/soak.sh                       # DURATION=600 ROUND=60 LOAD_PERCENT=80
#   DURATION=120 bash benches/soak.sh          # a short look
#
# First the maximum: three wrk runs (one per endpoint) at full speed side by
# side for MAX_SECS; the rate each achieved (2xx answers per second) is that
# endpoint's share of the maximum mix. Then each round runs the three again,
# each held to LOAD_PERCENT of its share: every connection pauses between
# its requests (benches/wrk.lua), with enough connections that the pause is
# about PAUSE_MS; calibration rounds, and a correction after every round,
# move the pauses so the rate reached is the target (printed per round as a
# percentage of each endpoint's maximum).
#
# An error is any answer but the expected status (200; 201 for a sign-up),
# and any request wrk could not complete (connect, read, write, timeout).
# Figures only, never asserted. Needs: wrk, curl, jq, awk, Linux /proc.
set -euo pipefail

DURATION=${DURATION:-600}
ROUND=${ROUND:-60}
MAX_SECS=${MAX_SECS:-10}
LOAD_PERCENT=${LOAD_PERCENT:-80}
PAUSE_MS=${PAUSE_MS:-20}
CONNECTIONS=${CONNECTIONS:-16}         # at full speed, for /ping and the read each
SIGNUP_CONNECTIONS=${SIGNUP_CONNECTIONS:-4}
source "$(dirname "$0")/app.sh"

need_wrk
app_build
app_start
app_sign_in

# `mix SECONDS TAG [CONNS:PAUSE for ping, read, sign-up]` runs the three
# side by side (none given: full speed); reports in $TMP/{ping,read,signup}.txt.
mix() {
    local secs=$1 tag=$2
    local ping=${3:-$CONNECTIONS:0} read=${4:-$CONNECTIONS:0} signup=${5:-$SIGNUP_CONNECTIONS:0}
    wrk_run ping "$secs" "${ping%:*}" "${ping#*:}" >"$TMP/ping.txt" &
    local a=$!
    wrk_run read "$secs" "${read%:*}" "${read#*:}" >"$TMP/read.txt" &
    local b=$!
    wrk_run signup "$secs" "${signup%:*}" "${signup#*:}" "$tag" >"$TMP/signup.txt" &
    local c=$!
    wait "$a" "$b" "$c"
}

# Of one report: "<requests> <errors> <2xx per second> <p50 ms> <p99 ms>".
stats() {
    local f=$1 requests ok failed
    requests=$(field requests "$f")
    ok=$(field ok "$f")
    failed=$(($(field connect "$f") + $(field read "$f") + $(field write "$f") + $(field timeout "$f")))
    echo "$((requests + failed)) $((requests - ok + failed))" \
        "$(awk -v n="$ok" -v s="$(field seconds "$f")" 'BEGIN {printf "%d", n / s}')" \
        "$(field p50_ms "$f") $(field p99_ms "$f")"
}

# CONNS:PAUSE that hold `$1` requests per second with pauses of about PAUSE_MS.
hold() {
    awk -v r="$1" -v p="$PAUSE_MS" 'BEGIN {
        c = int(r * p / 1000 + 0.5); if (c < 1) c = 1
        printf "%d:%d", c, int(c * 1000 / r + 0.5) }'
}

# CONNS:PAUSE corrected after a round: a connection's pause plus its
# request's latency sets its rate, so the pause is moved by what the latency
# took (`$1` the current CONNS:PAUSE, `$2` the target, `$3` the rate
# achieved). With no pause left to take, connections are added instead.
correct() {
    awk -v h="$1" -v target="$2" -v got="$3" 'BEGIN {
        split(h, cp, ":"); c = cp[1]; p = cp[2]
        if (got < 1) got = 1
        q = p + 1000 * c / target - 1000 * c / got
        if (q < 0) { c = int(c * target / got + 0.999); q = 0 }
        if (q > 10000) q = 10000
        printf "%d:%d", c, int(q + 0.5) }'
}

# Corrects the three endpoints' CONNS:PAUSE from the rates they reached.
correct_all() {
    h_ping=$(correct "$h_ping" "$q_ping" "$1")
    h_read=$(correct "$h_read" "$q_read" "$2")
    h_signup=$(correct "$h_signup" "$q_signup" "$3")
}

mix "$MAX_SECS" "max-$$"
read -r _ _ max_ping _ _ <<<"$(stats "$TMP/ping.txt")"
read -r _ _ max_read _ _ <<<"$(stats "$TMP/read.txt")"
read -r _ _ max_signup _ _ <<<"$(stats "$TMP/signup.txt")"
share() { local q=$(($1 * LOAD_PERCENT / 100)); echo $((q > 0 ? q : 1)); }
q_ping=$(share "$max_ping")
q_read=$(share "$max_read")
q_signup=$(share "$max_signup")
h_ping=$(hold "$q_ping")
h_read=$(hold "$q_read")
h_signup=$(hold "$q_signup")
echo "maximum of the mix (${MAX_SECS}s, all three at full speed): GET /ping $max_ping/s," \
    "GET /users/{id} $max_read/s, POST /users $max_signup/s"
echo "status codes at full speed: ping $(field codes "$TMP/ping.txt"), read $(field codes "$TMP/read.txt")," \
    "sign-up $(field codes "$TMP/signup.txt")"
echo "soak at $LOAD_PERCENT%: targets $q_ping + $q_read + $q_signup requests/s" \
    "(connections:pause ms $h_ping, $h_read, $h_signup) for ${DURATION}s in ${ROUND}s rounds"
echo "RSS after the maximum: $(app_rss_mib) MiB"
# Calibration: a pause alone ignores each request's latency and undershoots;
# CALIBRATE rounds of CAL_SECS move every pause towards its target rate.
for c in $(seq 1 "${CALIBRATE:-3}"); do
    mix "${CAL_SECS:-10}" "cal-$$-$c" "$h_ping" "$h_read" "$h_signup"
    read -r _ _ got_ping _ _ <<<"$(stats "$TMP/ping.txt")"
    read -r _ _ got_read _ _ <<<"$(stats "$TMP/read.txt")"
    read -r _ _ got_signup _ _ <<<"$(stats "$TMP/signup.txt")"
    correct_all "$got_ping" "$got_read" "$got_signup"
    echo "calibration $c: reached $got_ping + $got_read + $got_signup requests/s;" \
        "now connections:pause ms $h_ping, $h_read, $h_signup"
done
echo

echo "| minute (round of ${ROUND}s) | requests | req/s | % of max (ping / read / sign-up) | errors | /ping p50 / p99 ms | /users/{id} p50 / p99 ms | POST /users p50 / p99 ms | RSS MiB |"
echo "|---|---|---|---|---|---|---|---|---|"
rounds=$(((DURATION + ROUND - 1) / ROUND))
total_errors=0
rss_all=()
for m in $(seq 1 "$rounds"); do
    mix "$ROUND" "soak-$$-$m" "$h_ping" "$h_read" "$h_signup"
    read -r n1 e1 r1 p50a p99a <<<"$(stats "$TMP/ping.txt")"
    read -r n2 e2 r2 p50b p99b <<<"$(stats "$TMP/read.txt")"
    read -r n3 e3 r3 p50c p99c <<<"$(stats "$TMP/signup.txt")"
    # Keep holding the target as latencies drift.
    correct_all "$r1" "$r2" "$r3"
    errors=$((e1 + e2 + e3))
    total_errors=$((total_errors + errors))
    rss=$(app_rss_mib)
    rss_all+=("$rss")
    n=$((n1 + n2 + n3))
    pct="$((r1 * 100 / (max_ping > 0 ? max_ping : 1))) / $((r2 * 100 / (max_read > 0 ? max_read : 1))) / $((r3 * 100 / (max_signup > 0 ? max_signup : 1)))"
    echo "| $m | $n | $((n / ROUND)) | $pct | $errors | $p50a / $p99a | $p50b / $p99b | $p50c / $p99c | $rss |"
    if ((errors > 0)); then
        grep -h 'wrk-summary' "$TMP"/{ping,read,signup}.txt | sed 's/^/   /'
    fi
done
echo
echo "errors in all: $total_errors"
# Flat memory: after the first round (warm-up), every sample within 10 % of their mean.
((${#rss_all[@]} > 1)) && printf '%s\n' "${rss_all[@]:1}" | awk '
    { v[NR] = $1; sum += $1; if (NR == 1 || $1 < lo) lo = $1; if ($1 > hi) hi = $1 }
    END {
        if (NR == 0) { print "RSS: one round only, nothing after the warm-up"; exit }
        mean = sum / NR
        spread = (hi - mean > mean - lo ? hi - mean : mean - lo) / mean * 100
        printf "RSS after the warm-up round: %.1f to %.1f MiB, mean %.1f, within ±%.1f %% of the mean (%s)\n",
            lo, hi, mean, spread, spread <= 10 ? "flat" : "NOT flat"
    }'
echo "peak RSS: $(awk '$1 == "VmHWM:" {printf "%.1f MiB", $2 / 1024}' "/proc/$APP/status")"
echo "cores: $(nproc); load average at the end: $(cut -d' ' -f1-3 /proc/loadavg); $(wrk --version 2>&1 | head -n 1 | cut -d' ' -f1-2)"

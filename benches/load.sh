#!/usr/bin/env bash
# Throughput under saturating load: the example app against a hand-written
# axum + sqlx + jsonwebtoken twin (benches/twin/) doing the same work, side
# by side in one run. Both are release builds on fresh SQLite files with the
# same seeded user; rounds interleave (app, twin, twin, app, ...: who goes
# first alternates per round) and the medians are compared. Server CPU per
# request is utime+stime of the server (from /proc/<pid>/stat) over the
# round, divided by the requests it answered. Figures only, no assertion.
#
#   bash benches/load.sh                      # ROUNDS=4 THREADS=2 CONNS=50 DURATION=8s
#   ROUNDS=6 DURATION=5s ENDPOINTS=ping bash benches/load.sh
#   APP_BIN=/tmp/old-app TWIN_BIN=... bash benches/load.sh   # no build: given binaries
#   COUNT=instructions bash benches/load.sh   # instructions per request instead
#
# COUNT=instructions runs both servers under valgrind's callgrind and counts
# the user-space instructions each executes per request during a wrk run
# (`wrk -t1 -c8`, DURATION): slow, but the same figure whatever else the
# machine is doing, which the CPU column on a shared machine is not. It does
# not see the kernel (TCP, thread switches) nor cache misses.
#
# Needs: Linux /proc, wrk, curl, jq (and valgrind for COUNT=instructions).
set -euo pipefail

ROUNDS=${ROUNDS:-4}
THREADS=${THREADS:-2}
CONNS=${CONNS:-50}
DURATION=${DURATION:-8s}
WARMUP=${WARMUP:-2s}
ENDPOINTS=${ENDPOINTS:-"ping user"}
COUNT=${COUNT:-cpu}
APP_PORT=${APP_PORT:-5081}
TWIN_PORT=${TWIN_PORT:-5082}
SECRET="a-load-benchmark-secret-of-at-least-32-bytes"
ROOT=$(cd "$(dirname "$0")/.." && pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}

needs="wrk curl jq"
[[ $COUNT == instructions ]] && needs="$needs valgrind callgrind_control"
for tool in $needs; do
    command -v "$tool" >/dev/null || { echo "benches/load.sh needs $tool (apt-get install -y $tool)" >&2; exit 1; }
done
for port in "$APP_PORT" "$TWIN_PORT"; do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
        echo "port $port is already in use; pick others with APP_PORT=... TWIN_PORT=..." >&2
        exit 1
    fi
done

cd "$ROOT"
if [[ -z "${APP_BIN:-}" || -z "${TWIN_BIN:-}" ]]; then
    TWIN_BIN=$(cargo build --release --quiet --bin microcore-app --bench load_twin --message-format=json \
        | jq -r 'select(.reason == "compiler-artifact" and .target.name == "load_twin") | .executable // empty' | tail -n1)
    APP_BIN="$CARGO_TARGET_DIR/release/microcore-app"
fi
[[ -x "$APP_BIN" && -x "$TWIN_BIN" ]] || { echo "release build did not produce both binaries" >&2; exit 1; }

TMP=$(mktemp -d)
APP=""
TWIN=""
cleanup() {
    for pid in "$APP" "$TWIN"; do
        if [[ -n "$pid" ]]; then kill -TERM "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
    done
    rm -rf "$TMP"
}
trap cleanup EXIT

# Under callgrind nothing is counted until a measurement turns it on.
under=()
tries=100
if [[ $COUNT == instructions ]]; then
    under=(valgrind --tool=callgrind --instr-atstart=no)
    tries=1200
fi
wait_up() { # port name log
    for _ in $(seq 1 "$tries"); do
        curl -fsS "http://127.0.0.1:$1/ping" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    echo "$2 did not answer on port $1; its log:" >&2
    cat "$3" >&2
    exit 1
}

NAME="Load Test"
EMAIL="load@example.com"
env -i PATH="$PATH" HTTP_HOST=127.0.0.1 HTTP_PORT="$APP_PORT" \
    DATABASE_URL="sqlite:$TMP/app.db" AUTH_SECRET_KEY="$SECRET" \
    "${under[@]}" ${under:+--callgrind-out-file="$TMP/app.cg"} "$APP_BIN" >"$TMP/app.log" 2>&1 &
APP=$!
wait_up "$APP_PORT" "the app" "$TMP/app.log"
rss() { awk '$1 == "VmRSS:" {printf "%.1f MiB", $2/1024}' "/proc/$1/status"; }
RSS_IDLE=$(rss "$APP")

# The app's user comes from its own sign-up and its token from its login.
ID=$(curl -fsS -H 'content-type: application/json' \
    -d "{\"name\":\"$NAME\",\"email\":\"$EMAIL\",\"password\":\"correct horse battery\"}" \
    "http://127.0.0.1:$APP_PORT/users" | jq -r .data.id)
APP_TOKEN=$(curl -fsS -H 'content-type: application/json' \
    -d "{\"email\":\"$EMAIL\",\"password\":\"correct horse battery\"}" \
    "http://127.0.0.1:$APP_PORT/auth/login" | jq -r .data.access_token)
RSS_LOGIN=$(rss "$APP")

# The twin seeds the same row in its own fresh file; its token has the
# login's claims (sub, email, exp, iat, jti), signed with the same secret.
twin_env=(env -i PATH="$PATH" TWIN_PORT="$TWIN_PORT" DATABASE_URL="sqlite:$TMP/twin.db"
    AUTH_SECRET_KEY="$SECRET" SEED_NAME="$NAME" SEED_EMAIL="$EMAIL" SEED_ID="$ID")
"${twin_env[@]}" "${under[@]}" ${under:+--callgrind-out-file="$TMP/twin.cg"} "$TWIN_BIN" serve >"$TMP/twin.log" 2>&1 &
TWIN=$!
wait_up "$TWIN_PORT" "the twin" "$TMP/twin.log"
TWIN_TOKEN=$("${twin_env[@]}" "$TWIN_BIN" token)

url() { # side endpoint
    local port=$APP_PORT
    [[ $1 == twin ]] && port=$TWIN_PORT
    case $2 in
        ping) echo "http://127.0.0.1:$port/ping" ;;
        user) echo "http://127.0.0.1:$port/users/$ID" ;;
    esac
}
auth() { # side endpoint
    [[ $2 == user ]] || return 0
    if [[ $1 == app ]]; then echo "Authorization: Bearer $APP_TOKEN"; else echo "Authorization: Bearer $TWIN_TOKEN"; fi
}
label() { case $1 in ping) echo "GET /ping" ;; user) echo "GET /users/{id}, Bearer JWT, SQLite row" ;; esac; }
pid_of() { if [[ $1 == app ]]; then echo "$APP"; else echo "$TWIN"; fi; }

# Same bodies and statuses before anything is measured.
echo "== same answer on both sides"
for ep in $ENDPOINTS; do
    for side in app twin; do
        curl -sS -D "$TMP/$side.$ep.head" -H "$(auth "$side" "$ep")" "$(url "$side" "$ep")" >"$TMP/$side.$ep.body"
    done
    if ! diff "$TMP/app.$ep.body" "$TMP/twin.$ep.body" >/dev/null; then
        echo "GET $ep: the bodies differ; nothing measured:" >&2
        diff "$TMP/app.$ep.body" "$TMP/twin.$ep.body" >&2 || true
        exit 1
    fi
    names() { tr -d '\r' <"$1" | sed -n 's/^\([A-Za-z-]*\):.*/\L\1/p' | sort | tr '\n' ' '; }
    echo "GET $ep: $(head -c 200 "$TMP/app.$ep.body")"
    echo "  status: app $(head -n1 "$TMP/app.$ep.head" | tr -d '\r'), twin $(head -n1 "$TMP/twin.$ep.head" | tr -d '\r')"
    echo "  header names: app [$(names "$TMP/app.$ep.head")], twin [$(names "$TMP/twin.$ep.head")]"
done

ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
HZ=$(getconf CLK_TCK)
# One wrk run: "req/s p99_ms errors cpu_us_per_req requests".
measure() { # side endpoint duration
    local pid before after out
    pid=$(pid_of "$1")
    before=$(ticks "$pid")
    out=$(wrk -t"$THREADS" -c"$CONNS" -d"$3" --latency -H "$(auth "$1" "$2")" "$(url "$1" "$2")")
    after=$(ticks "$pid")
    awk -v before="$before" -v after="$after" -v hz="$HZ" '
        /requests in/ { requests = $1 }
        /Requests\/sec/ { rps = $2 }
        /^ +99%/ { v = $2; unit = v; gsub(/[0-9.]/, "", unit); sub(/[a-z]+$/, "", v)
                   p99 = v * (unit == "us" ? 0.001 : unit == "s" ? 1000 : 1) }
        /Non-2xx/ { errors += $NF }
        /Socket errors/ { gsub(/,/, ""); errors += $4 + $6 + $8 + $10 }
        END { printf "%.0f %.2f %d %.1f %d\n", rps, p99, errors, (after - before) / hz * 1e6 / requests, requests }
    ' <<<"$out"
}

if [[ $COUNT == instructions ]]; then
    # One dump per side and endpoint: instructions executed by every thread
    # of the server while wrk ran, over the requests wrk saw answered.
    echo "== instructions per request (callgrind, wrk -t1 -c8 -d$DURATION), $(nproc) cores"
    echo "| | hand-written axum | MicroCore | ratio twin / app |"
    echo "|---|---|---|---|"
    dumps=0
    for ep in $ENDPOINTS; do
        dumps=$((dumps + 1))
        for side in twin app; do
            pid=$(pid_of "$side")
            wrk -t1 -c8 -d2s -H "$(auth "$side" "$ep")" "$(url "$side" "$ep")" >/dev/null
            callgrind_control -i on "$pid" >/dev/null 2>&1
            callgrind_control -z "$pid" >/dev/null 2>&1
            out=$(wrk -t1 -c8 -d"$DURATION" -H "$(auth "$side" "$ep")" "$(url "$side" "$ep")")
            callgrind_control -d "$pid" >/dev/null 2>&1
            callgrind_control -i off "$pid" >/dev/null 2>&1
            requests=$(awk '/requests in/ { print $1 }' <<<"$out")
            # The n-th dump of a server is file .n: one per endpoint, in order.
            executed=$(awk '/^totals:/ { print $2; exit }' "$TMP/$side.cg.$dumps")
            echo "$executed $requests" >"$TMP/$side.$ep.count"
        done
        read -r t_ir t_req <"$TMP/twin.$ep.count"
        read -r a_ir a_req <"$TMP/app.$ep.count"
        awk -v l="$(label "$ep")" -v ti="$t_ir" -v tr="$t_req" -v ai="$a_ir" -v ar="$a_req" 'BEGIN {
            printf "| %s | %.0f | %.0f | %.2f |\n", l, ti / tr, ai / ar, (ti / tr) / (ai / ar) }'
    done
    exit 0
fi

echo "== warm-up ($WARMUP each)"
for ep in $ENDPOINTS; do for side in app twin; do measure "$side" "$ep" "$WARMUP" >/dev/null; done; done

echo "== $ROUNDS rounds of wrk -t$THREADS -c$CONNS -d$DURATION --latency"
for round in $(seq 1 "$ROUNDS"); do
    order="app twin"
    (( round % 2 == 0 )) && order="twin app"
    for ep in $ENDPOINTS; do
        for side in $order; do
            m=$(measure "$side" "$ep" "$DURATION")
            echo "$m" >>"$TMP/$side.$ep.rounds"
            printf 'round %d %-4s %-4s %8s req/s  p99 %7s ms  errors %s  %7s us CPU/req\n' \
                "$round" "$ep" "$side" $(cut -d' ' -f1-4 <<<"$m")
        done
    done
done

median() { # file column
    cut -d' ' -f"$2" "$1" | sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'
}
total() { cut -d' ' -f"$2" "$1" | awk '{s += $1} END {print s}'; }

echo
echo "== medians of $ROUNDS rounds (wrk -t$THREADS -c$CONNS -d$DURATION), load average $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) cores"
echo "| | hand-written axum | MicroCore | ratio | p99 twin / app | errors twin / app | server CPU per request twin / app |"
echo "|---|---|---|---|---|---|---|"
for ep in $ENDPOINTS; do
    a="$TMP/app.$ep.rounds"
    t="$TMP/twin.$ep.rounds"
    awk -v l="$(label "$ep")" -v tr="$(median "$t" 1)" -v ar="$(median "$a" 1)" \
        -v tp="$(median "$t" 2)" -v ap="$(median "$a" 2)" -v te="$(total "$t" 3)" -v ae="$(total "$a" 3)" \
        -v tc="$(median "$t" 4)" -v ac="$(median "$a" 4)" 'BEGIN {
        printf "| %s | %d req/s | %d req/s | %.2fx | %.2f ms / %.2f ms | %d / %d | %.1f µs / %.1f µs |\n",
            l, tr, ar, ar / tr, tp, ap, te, ae, tc, ac }'
done
echo
echo "app RSS: idle $RSS_IDLE, after the first login $RSS_LOGIN, after the rounds $(rss "$APP")"

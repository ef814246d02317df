#!/usr/bin/env bash
# Resident memory of the release app binary: idle after boot, then after
# serving N `GET /ping` and M `POST /users` (sign-ups: argon2id hashing, a
# SQLite insert, an event). Reads VmRSS (now) and VmHWM (peak so far) from
# /proc/<pid>/status; /usr/bin/time -v reports the final peak as a cross-check.
# Reports figures only: memory is measured here, never asserted by a test.
#
#   bash benches/memory.sh                 # N=10000 M=200 CONCURRENCY=16
#   N=50000 CONCURRENCY=64 bash benches/memory.sh
#
# Needs: Linux /proc, curl >= 7.66 (--parallel), /usr/bin/time.
set -euo pipefail

N=${N:-10000}
M=${M:-200}
CONCURRENCY=${CONCURRENCY:-16}
PORT=${PORT:-5077}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}

cd "$ROOT"
cargo build --release --quiet --bin microcore-app
BIN="$TARGET/release/microcore-app"

TMP=$(mktemp -d)
APP_PID=""  # /usr/bin/time, which does not forward signals
APP=""      # the app itself, the child of /usr/bin/time
cleanup() {
    if [[ -n "$APP" ]]; then kill -TERM "$APP" 2>/dev/null || true; fi
    if [[ -n "$APP_PID" ]]; then
        kill -TERM "$APP_PID" 2>/dev/null || true
        wait "$APP_PID" 2>/dev/null || true
    fi
    rm -rf "$TMP"
}
trap cleanup EXIT

if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
    echo "port $PORT is already in use; pick another with PORT=..." >&2
    exit 1
fi

# /usr/bin/time is the parent; the app is its only child.
env -i PATH="$PATH" HTTP_HOST=127.0.0.1 HTTP_PORT="$PORT" \
    DATABASE_URL="sqlite:$TMP/app.db" \
    AUTH_SECRET_KEY="a-memory-benchmark-secret-of-at-least-32-bytes" \
    /usr/bin/time -v -o "$TMP/time.txt" "$BIN" >"$TMP/app.log" 2>&1 &
APP_PID=$!

sleep 0.2
APP=$(pgrep -P "$APP_PID" | head -n1 || true)
for _ in $(seq 1 100); do
    curl -fsS "http://127.0.0.1:$PORT/ping" >/dev/null 2>&1 && break
    sleep 0.1
done
curl -fsS "http://127.0.0.1:$PORT/ping" >/dev/null || {
    echo "the app did not answer on port $PORT; its log:" >&2
    cat "$TMP/app.log" >&2
    exit 1
}
APP=$(pgrep -P "$APP_PID" | head -n1)

kib() { awk -v k="$2" '$1 == k":" {print $2}' "/proc/$1/status"; }
row() { printf '| %-34s | %8s MiB | %8s MiB |\n' "$1" \
    "$(awk -v k="$(kib "$APP" VmRSS)" 'BEGIN{printf "%.1f", k/1024}')" \
    "$(awk -v k="$(kib "$APP" VmHWM)" 'BEGIN{printf "%.1f", k/1024}')"; }
# Tally of HTTP status codes, so failed requests are seen, not hidden.
statuses() { sort | uniq -c | awk '{printf "%s x%s ", $2, $1}'; }

sleep 1
echo "| phase                              |        RSS now |     peak RSS |"
echo "|------------------------------------|----------------|--------------|"
row "idle after boot"

# One curl config per phase: a transfer per request, `next` between them.
for i in $(seq 1 "$N"); do
    [[ $i -gt 1 ]] && echo next
    printf 'url = "http://127.0.0.1:%s/ping"\noutput = "/dev/null"\nwrite-out = "%%{http_code}\\n"\n' "$PORT"
done >"$TMP/get.cfg"
GET_CODES=$(curl -s --no-progress-meter --parallel --parallel-max "$CONCURRENCY" -K "$TMP/get.cfg" | statuses)
row "after $N GET /ping (x$CONCURRENCY)"

for i in $(seq 1 "$M"); do
    [[ $i -gt 1 ]] && echo next
    printf 'url = "http://127.0.0.1:%s/users"\nheader = "content-type: application/json"\n' "$PORT"
    printf 'data = "{\\"name\\":\\"User %s\\",\\"email\\":\\"user%s@example.com\\",\\"password\\":\\"correct horse battery\\"}"\n' "$i" "$i"
    printf 'output = "/dev/null"\nwrite-out = "%%{http_code}\\n"\n'
done >"$TMP/post.cfg"
POST_CODES=$(curl -s --no-progress-meter --parallel --parallel-max "$CONCURRENCY" -K "$TMP/post.cfg" | statuses)
row "after $M POST /users (x$CONCURRENCY)"

kill -TERM "$APP"
wait "$APP_PID" || true
APP_PID=""
APP=""
echo
echo "status codes: GET /ping: $GET_CODES; POST /users: $POST_CODES"
echo "/usr/bin/time -v: $(grep 'Maximum resident set size' "$TMP/time.txt" | sed 's/^[[:space:]]*//')"
echo "cores: $(nproc); binary: $(du -h "$BIN" | cut -f1) ($BIN)"

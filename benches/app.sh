# Sourced by deploy.sh and soak.sh, not run on its own: the release app on a
# temporary SQLite file and a loopback port, one signed-up user, and wrk,
# the load generator they both drive it with.
#
# After `app_start`: $APP (the app's pid), $BASE (http://127.0.0.1:$PORT),
# $TMP (removed on exit, with the app stopped). After `app_sign_in`:
# $USER_ID and $TOKEN of a fresh account.

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
# APP_BIN: run this binary instead of building the release one.
BIN=${APP_BIN:-$TARGET/release/microcore-app}
PORT=${PORT:-5078}
BASE="http://127.0.0.1:$PORT"
GRACE=${SHUTDOWN_GRACE_SECS:-10}
TMP=$(mktemp -d)
APP=""

app_cleanup() {
    if [[ -n "$APP" ]]; then
        kill -TERM "$APP" 2>/dev/null || true
        wait "$APP" 2>/dev/null || true
    fi
    rm -rf "$TMP"
}
trap app_cleanup EXIT

# wrk, the load generator (`apt-get install wrk`), driven by benches/wrk.lua.
need_wrk() {
    if ! command -v wrk >/dev/null; then
        echo "wrk is not installed; install it with: apt-get install -y wrk" >&2
        exit 1
    fi
}

# `wrk_run KIND SECONDS CONNECTIONS PAUSE_MS [TAG]`: one wrk thread sending
# KIND requests (see benches/wrk.lua); prints wrk's report and its summary line.
wrk_run() {
    WRK_KIND=$1 WRK_TOKEN=${TOKEN:-} WRK_USER=${USER_ID:-1} WRK_DELAY_MS=$4 WRK_TAG=${5:-run} \
        wrk -t 1 -c "$3" -d "${2}s" --timeout 10s -s "$ROOT/benches/wrk.lua" "$BASE"
}

# `field KEY FILE`: the value of KEY on the summary line wrk_run printed to FILE.
field() {
    grep -o 'wrk-summary.*' "$2" | tr ' ' '\n' | awk -F= -v k="$1" '$1 == k {print $2}'
}

app_build() {
    if [[ -z "${APP_BIN:-}" ]]; then
        (cd "$ROOT" && cargo build --release --quiet -p microcore-app)
    fi
}

# Starts the app (its log in $TMP/app.log) and waits until it answers.
app_start() {
    if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
        echo "port $PORT is already in use; pick another with PORT=..." >&2
        exit 1
    fi
    env -i PATH="$PATH" HTTP_HOST=127.0.0.1 HTTP_PORT="$PORT" \
        DATABASE_URL="sqlite:$TMP/app.db" SHUTDOWN_GRACE_SECS="$GRACE" \
        AUTH_SECRET_KEY="a-load-benchmark-secret-of-at-least-32-bytes" \
        "$BIN" >"$TMP/app.log" 2>&1 &
    APP=$!
    for _ in $(seq 1 100); do
        curl -fsS "$BASE/ping" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    echo "the app did not answer on port $PORT; its log:" >&2
    cat "$TMP/app.log" >&2
    exit 1
}

# Signs a user up and logs in: sets USER_ID and TOKEN.
app_sign_in() {
    local email="load-$$@example.com" body
    body=$(curl -fsS "$BASE/users" -H 'content-type: application/json' \
        -d "{\"name\":\"Load\",\"email\":\"$email\",\"password\":\"correct horse\"}")
    USER_ID=$(jq -r .data.id <<<"$body")
    body=$(curl -fsS "$BASE/auth/login" -H 'content-type: application/json' \
        -d "{\"email\":\"$email\",\"password\":\"correct horse\"}")
    TOKEN=$(jq -r .data.access_token <<<"$body")
}

# Resident memory of the app now, in MiB (VmRSS from /proc/<pid>/status).
app_rss_mib() {
    awk '$1 == "VmRSS:" {printf "%.1f", $2 / 1024}' "/proc/$APP/status"
}

-- The wrk script of deploy.sh and soak.sh. Settings come from the environment:
--   WRK_KIND      ping (GET /ping), read (GET /users/WRK_USER with bearer WRK_TOKEN)
--                 or signup (POST /users, a new email on every request)
--   WRK_DELAY_MS  pause of each connection between its requests (holds a rate)
--   WRK_TAG       makes sign-up emails unique across runs
-- At the end one line, `wrk-summary key=value ...`, that the shell scripts read.

local kind = os.getenv("WRK_KIND") or "ping"
local token = os.getenv("WRK_TOKEN") or ""
local user = os.getenv("WRK_USER") or "1"
local pause = tonumber(os.getenv("WRK_DELAY_MS") or "0")
local tag = os.getenv("WRK_TAG") or "run"

local threads = {}

function setup(thread)
    table.insert(threads, thread)
    thread:set("thread_no", #threads)
end

-- Globals, so done() can read them from each thread: requests written, and
-- answers by status.
sent = 0
statuses = {}

function request()
    sent = sent + 1
    if kind == "read" then
        return wrk.format("GET", "/users/" .. user, { ["authorization"] = "Bearer " .. token })
    elseif kind == "signup" then
        local body = string.format(
            '{"name":"Load","email":"%s-%d-%d@example.com","password":"correct horse"}',
            tag, thread_no, sent)
        return wrk.format("POST", "/users", { ["content-type"] = "application/json" }, body)
    end
    return wrk.format("GET", "/ping")
end

function delay()
    return pause
end

function response(status, headers, body)
    statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
    local codes = {}
    for _, thread in ipairs(threads) do
        for code, count in pairs(thread:get("statuses") or {}) do
            codes[code] = (codes[code] or 0) + count
        end
    end
    local written = 0
    for _, thread in ipairs(threads) do
        written = written + (thread:get("sent") or 0)
    end
    local shown = {}
    for code, count in pairs(codes) do
        table.insert(shown, code .. ":" .. count)
    end
    table.sort(shown)
    local e = summary.errors
    io.write(string.format(
        "wrk-summary sent=%d requests=%d seconds=%.3f ok=%d connect=%d read=%d write=%d timeout=%d " ..
        "status=%d p50_ms=%.2f p99_ms=%.2f codes=%s\n",
        written, summary.requests, summary.duration / 1e6,
        (codes[200] or 0) + (codes[201] or 0),
        e.connect, e.read, e.write, e.timeout, e.status,
        latency:percentile(50) / 1000, latency:percentile(99) / 1000,
        table.concat(shown, ",")))
end

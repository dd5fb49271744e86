-- See LICENSE. wrk script for bench/hookd.sh: POST one fixed, signed Gitea body with a
-- unique X-Gitea-Delivery per request, then print the numbers as one JSON line.
-- Environment: BENCH_PATH (URL path), BENCH_BODY (file), BENCH_SIG (hex HMAC-SHA256 of the
-- file), BENCH_TAG (makes the delivery ids unique across wrk runs).

local path = assert(os.getenv("BENCH_PATH"), "BENCH_PATH")
local sig = assert(os.getenv("BENCH_SIG"), "BENCH_SIG")
local tag = os.getenv("BENCH_TAG") or "run"
local f = assert(io.open(assert(os.getenv("BENCH_BODY"), "BENCH_BODY"), "rb"))
local body = f:read("*a")
f:close()

local nthreads = 0

-- Runs in the main Lua state, once per thread: give each thread its own number.
function setup(thread)
	nthreads = nthreads + 1
	thread:set("tid", nthreads)
end

local head, n

-- Runs in each thread's own state: everything but the delivery id is built once.
function init(args)
	n = 0
	head = "POST " .. path .. " HTTP/1.1\r\n" ..
	    "Host: " .. wrk.host .. ":" .. wrk.port .. "\r\n" ..
	    "User-Agent: Go-http-client/1.1\r\n" ..
	    "Content-Type: application/json\r\n" ..
	    "Content-Length: " .. #body .. "\r\n" ..
	    "X-Gitea-Event: push\r\n" ..
	    "X-Gitea-Event-Type: push\r\n" ..
	    "X-Gitea-Signature: " .. sig .. "\r\n" ..
	    "X-Gitea-Delivery: " .. tag .. "-" .. tid .. "-"
end

-- BENCH_DELAY_MS paces each connection (open, closed-loop with a pause): the shape of the
-- original's harness, 25 deliveries in flight, rather than a saturating flood.
local pause = tonumber(os.getenv("BENCH_DELAY_MS") or "0")
if pause > 0 then
	function delay()
		return pause
	end
end

function request()
	n = n + 1
	return head .. n .. "\r\n\r\n" .. body
end

function done(summary, latency, requests)
	local e = summary.errors
	local ok = summary.requests - e.status
	io.write(string.format('BENCHJSON {"requests":%d,"duration_us":%d,"bytes":%d,' ..
	    '"non_2xx":%d,"connect":%d,"read":%d,"write":%d,"timeout":%d,"ok":%d,' ..
	    '"p50_us":%d,"p75_us":%d,"p90_us":%d,"p95_us":%d,"p99_us":%d,' ..
	    '"min_us":%d,"mean_us":%.1f,"max_us":%d}\n',
	    summary.requests, summary.duration, summary.bytes, e.status, e.connect, e.read,
	    e.write, e.timeout, ok,
	    latency:percentile(50), latency:percentile(75), latency:percentile(90),
	    latency:percentile(95), latency:percentile(99), latency.min, latency.mean,
	    latency.max))
end

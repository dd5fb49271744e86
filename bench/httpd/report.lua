-- See LICENSE. wrk script for bench/httpd.sh: wrk's own GET of the URL (no request()
-- function, so wrk keeps its one static request), and the numbers as one JSON line.

function done(summary, latency, requests)
	local e = summary.errors
	io.write(string.format('BENCHJSON {"requests":%d,"duration_us":%d,"bytes":%d,' ..
	    '"non_2xx":%d,"connect":%d,"read":%d,"write":%d,"timeout":%d,"ok":%d,' ..
	    '"p50_us":%d,"p75_us":%d,"p90_us":%d,"p95_us":%d,"p99_us":%d,' ..
	    '"min_us":%d,"mean_us":%.1f,"stdev_us":%.1f,"max_us":%d}\n',
	    summary.requests, summary.duration, summary.bytes, e.status, e.connect, e.read,
	    e.write, e.timeout, summary.requests - e.status,
	    latency:percentile(50), latency:percentile(75), latency:percentile(90),
	    latency:percentile(95), latency:percentile(99), latency.min, latency.mean,
	    latency.stdev, latency.max))
end

# See LICENSE. bench/httpd.sh's report: wrk's numbers (the BENCHJSON lines of report.lua),
# the checks and the fan-out (R_* variables, ws.json) into the result file, and a short
# summary on stdout. Usage: python3 report.py WORK OUT.
import json
import os
import statistics
import sys

work, out = sys.argv[1], sys.argv[2]
E = os.environ


def num(k):
    return int(E[k])


def path(name):
    return os.path.join(work, name)


def read(name, default=""):
    try:
        with open(path(name)) as f:
            return f.read()
    except OSError:
        return default


def side(name):
    w = json.loads(read(name + ".json"))
    ms = lambda us: round(us / 1000, 3)
    return {
        "requests": w["requests"],
        "requests_per_s": round(w["requests"] / (w["duration_us"] / 1e6), 1),
        "p50_ms": ms(w["p50_us"]),
        "p75_ms": ms(w["p75_us"]),
        "p90_ms": ms(w["p90_us"]),
        "p95_ms": ms(w["p95_us"]),
        "p99_ms": ms(w["p99_us"]),
        "max_ms": ms(w["max_us"]),
        "mean_ms": ms(w["mean_us"]),
        "bytes_per_response": round(w["bytes"] / w["requests"], 1) if w["requests"] else None,
        "non_2xx": w["non_2xx"],
        "errors": w["connect"] + w["read"] + w["write"] + w["timeout"],
        "errors_detail": {k: w[k] for k in ("connect", "read", "write", "timeout")},
    }


def ratios(h, n):
    return {
        # orket-httpd's req/s over nginx's: the target is >= 1.0.
        "rps": round(h["requests_per_s"] / n["requests_per_s"], 3) if n["requests_per_s"] else None,
        # orket-httpd's p99 over nginx's: the target is <= 1.0.
        "p99": round(h["p99_ms"] / n["p99_ms"], 3) if n["p99_ms"] else None,
    }


def check(name):
    head = read(name + ".head").replace("\r", "").split("\n")
    hdrs = {}
    for line in head[1:]:
        if ":" in line:
            k, v = line.split(":", 1)
            if k.lower() != "date":
                hdrs[k] = v.strip()
    return {"status": int(read(name + ".code", "0").strip() or 0), "status_line": head[0],
            "headers": hdrs, "body": read(name + ".body")}


rounds = []
for r in range(1, num("R_ROUNDS") + 1):
    h, n = side("r%d-httpd" % r), side("r%d-nginx" % r)
    order = read("r%d.order" % r).split()
    rounds.append({"round": r,
                   "order": ["orket-httpd" if s == "httpd" else "nginx" for s in order],
                   "orket_httpd": h, "nginx": n, "ratios": ratios(h, n)})

KEYS = ("requests_per_s", "p50_ms", "p90_ms", "p99_ms", "max_ms")


def median(who):
    return {k: round(statistics.median(x[who][k] for x in rounds), 3) for k in KEYS}


med = {"orket_httpd": median("orket_httpd"), "nginx": median("nginx")}
rat = ratios(med["orket_httpd"], med["nginx"])
met = {
    "rps": rat["rps"] is not None and rat["rps"] >= 1.0,
    "p99": rat["p99"] is not None and rat["p99"] <= 1.0,
}

# ---- the fan-out ---------------------------------------------------------------------
ws_ctx = {
    "handshake_status": int(E["R_WS_STATUS"]) if E.get("R_WS_STATUS") else None,
    "descriptor_limit_hard": E["R_WS_HARD"],
    "daemon_descriptor_limit_soft_hard": E["R_WS_LIMITS"] or None,
    "daemon_sets_rlimit_nofile": E["R_WS_RAISES"] == "true",
    "descriptor_note": "orket-httpd keeps the descriptor limit it is started with (no "
                       "setrlimit in cmd/orket-httpd): the script raises its soft limit "
                       "to the hard one for the daemon and the clients",
    "see_also": "bench/ws/run.sh measures lib/hub alone (bench/ws/hubd, not orket-httpd); "
                "its result is bench/results/DATE_ws.json",
}
if E.get("R_WS_SKIP"):
    ws = dict({"skipped": E["R_WS_SKIP"]}, **ws_ctx)
elif os.path.exists(path("ws.json")):
    f = json.loads(read("ws.json"))
    ws = dict({
        "what": "clients connected to /ws/events with X-API-Key; runs started one at a time "
                "by POST /v1/system/run-active (the built-in runner: each run's events, "
                "api_run_active to run_end, are broadcast); per event, the latency to the "
                "last client = the largest over the clients of (client CLOCK_REALTIME when its "
                "read returned - the frame's timestamp); the first run is warm-up",
        "tool": "bench/httpd/wsfan.c (one epoll; bench/ws/load.c drives bench/ws/hubd's "
                "/publish and /stats, which orket-httpd does not have)",
    }, **f)
    ws.update(ws_ctx)
    ws["target"] = {"clients": 10000, "fanout_last_client_p99_ms_max": 10}
    ok = (f["clients"] >= 10000 and f["every_event_reached_every_client"] and
          f["fanout_last_client_ms"]["p99"] < 10)
    ws["met"] = ok
    met["ws_fanout_p99"] = ok
else:
    ws = dict({"failed": read("ws.failed").strip() or "no result"}, **ws_ctx)
    met["ws_fanout_p99"] = False

warnings = []
for x in rounds:
    for who in ("orket_httpd", "nginx"):
        if x[who]["non_2xx"] or x[who]["errors"]:
            warnings.append("round %d: %s had non-2xx answers or socket errors"
                            % (x["round"], who))
if E["R_UPTODATE"] != "true":
    warnings.append("orket-httpd was older than its sources (make progs): measured as it was")
if num("R_HSTATUS") != 0:
    warnings.append("orket-httpd exited %s on SIGTERM, not 0" % E["R_HSTATUS"])
spread = [x["ratios"]["rps"] for x in rounds]
if spread and max(spread) - min(spread) > 0.15:
    warnings.append("the req/s ratio moved by more than 0.15 between rounds (%s): the "
                    "machine was busy; see the load averages" % spread)

na = side("nginx-auto")
r = {
    "date": E["R_DATE"],
    "machine": E["R_MACHINE"],
    "kernel": E["R_KERNEL"],
    "commit": E["R_COMMIT"],
    "uncommitted_changes": E["R_DIRTY"].split(),
    "untracked_sources": E["R_UNTRACKED"].split(),
    "binary_up_to_date": E["R_UPTODATE"] == "true",
    "tools": {"wrk": E["R_WRK"], "nginx": E["R_NGINX"], "curl": E["R_CURL"],
              "orket_httpd": E["R_HTTPD"], "cc": E["R_CC"]},
    "installed_by_this_run": E["R_INSTALLED"].split(),
    "load_average_start": E["R_LOAD_START"],
    "load_average_end": E["R_LOAD_END"],
    "seconds": num("R_SECONDS"),
    "what": "GET /health over keep-alive connections, wrk and the servers sharing the "
            "machine's %s cores on 127.0.0.1; rounds alternate which server goes first; "
            "targets judged on the medians of the rounds" % E["R_NPROC"],
    "load": {"tool": "wrk", "threads": num("R_THREADS"), "connections": num("R_CONNS"),
             "warmup_s": num("R_WARMUP"), "duration_s": num("R_DURATION"),
             "rounds": num("R_ROUNDS"),
             "command": "wrk -t%s -c%s -d%ss --latency (after wrk -d%ss)"
                        % (E["R_THREADS"], E["R_CONNS"], E["R_DURATION"], E["R_WARMUP"])},
    "orket_httpd_config": "defaults (ORKET_HOST=127.0.0.1, ORKET_PORT=0, no API key: "
                          "/health needs none), a fresh database and workspace",
    "nginx_config": "worker_processes 1; daemon off; events { worker_connections 1024; } "
                    "access_log off; default_type application/json; keepalive_requests %s "
                    "(the default 1000 would close each connection every 1000 requests); "
                    "location = /health { return 200 '{\"status\":\"ok\"}'; }; pid, error "
                    "log and temp paths in the scratch folder" % E["R_KEEPALIVE"],
    "response_note": "orket-httpd answers /health with {\"status\":\"ok\",\"organization\":"
                     "\"Orket\"} (38 bytes), nginx with {\"status\":\"ok\"} (15 bytes); "
                     "bytes_per_response counts headers too",
    "checks": {"orket_httpd": check("httpd"), "nginx": check("nginx"),
               "nginx_worker_processes_auto": check("nginx-auto")},
    "rounds": rounds,
    "median": med,
    "ratios": rat,
    "nginx_worker_processes_auto": dict(na, note="for information only: %s workers, "
                                        "measured once after the rounds" % E["R_NPROC"],
                                        ratios_orket_httpd_median_over_this=ratios(
                                            med["orket_httpd"], na)),
    "orket_httpd_exit_status_on_sigterm": num("R_HSTATUS"),
    "targets": {"rps_ratio_min": 1.0, "p99_ratio_max": 1.0,
                "ws_clients": 10000, "ws_fanout_p99_ms_max": 10},
    "met_detail": met,
    "met": all(met.values()),
    "met_note": None if "ws_fanout_p99" in met else
                "covers GET /health only: ws_fanout_p99 joins met_detail when the fan-out runs",
    "ws": ws,
    "warnings": warnings,
}
with open(out, "w") as f:
    json.dump(r, f, indent=2)
    f.write("\n")


def line(n, s):
    return ("  %-13s %9.0f req/s  p50 %.3f ms  p99 %.3f ms  non-2xx %d  errors %d"
            % (n, s["requests_per_s"], s["p50_ms"], s["p99_ms"], s["non_2xx"], s["errors"]))


print("orket-httpd vs nginx, GET /health: %d connections, %d s, %s; load %s -> %s"
      % (r["load"]["connections"], r["load"]["duration_s"], r["machine"],
         r["load_average_start"], r["load_average_end"]))
for x in rounds:
    print(" round %d (%s first):" % (x["round"], x["order"][0]))
    print(line("orket-httpd", x["orket_httpd"]))
    print(line("nginx", x["nginx"]))
    print("  ratios: req/s %sx, p99 %sx" % (x["ratios"]["rps"], x["ratios"]["p99"]))
print(" median:")
print(line("orket-httpd", dict(med["orket_httpd"], non_2xx=0, errors=0)))
print(line("nginx", dict(med["nginx"], non_2xx=0, errors=0)))
print("  ratios: req/s %sx (target >= 1.0), p99 %sx (target <= 1.0)" % (rat["rps"], rat["p99"]))
print(line("nginx auto", na) + "  (information)")
if "skipped" in ws:
    print(" ws fan-out: skipped: " + ws["skipped"])
elif "failed" in ws:
    print(" ws fan-out: failed: " + ws["failed"])
else:
    print(" ws fan-out: %d clients, %d events: last client p50 %.3f ms, p99 %.3f ms "
          "(target < 10 ms); connect all %.3f s"
          % (ws["clients"], ws["events"], ws["fanout_last_client_ms"]["p50"],
             ws["fanout_last_client_ms"]["p99"], ws["connect_all_seconds"]))
print("  targets met: %s %s" % (r["met"], json.dumps(met)))
for w in warnings:
    print("  warning: " + w)
print("  written to " + out)

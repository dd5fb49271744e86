# See LICENSE. bench/hookd.sh's report: wrk's numbers (the BENCHJSON lines of post.lua) and
# the checks (R_* variables) into the result file, and a short summary on stdout.
# Usage: python3 report.py WORK OUT. Exit 3 when a delivery answered 200 is not a row.
import json
import os
import sys

work, out = sys.argv[1], sys.argv[2]
E = os.environ


def num(k):
    return int(E[k])


def load(name):
    with open(os.path.join(work, name + ".json")) as f:
        return json.load(f)


def side(w, rows):
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
        "non_2xx": w["non_2xx"],
        "errors": w["connect"] + w["read"] + w["write"] + w["timeout"],
        "errors_detail": {k: w[k] for k in ("connect", "read", "write", "timeout")},
        "stored_rows": rows,
    }


rounds = num("R_ROUNDS")
hs = [load("hookd.%d" % i) for i in range(1, rounds + 1)]
hws = [load("hookd.%d.warm" % i) for i in range(1, rounds + 1)]
ws = [load("webhook.%d" % i) for i in range(1, rounds + 1)]
pcs = [load("paced.%d" % i) for i in range(1, rounds + 1)]
pfs = [load("paced_floor.%d" % i) for i in range(1, rounds + 1)]
rows, conns = num("R_ROWS"), num("R_CONNS")
HS = [side(x, None) for x in hs]
WS = [side(x, None) for x in ws]


def median(v):
    v = sorted(v)
    n = len(v)
    return v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2


def med_side(sides):
    """The round with the median rate, with the median p99 of all rounds beside it."""
    by = sorted(sides, key=lambda x: x["requests_per_s"])
    m = dict(by[len(by) // 2])
    m["requests_per_s_median"] = median([x["requests_per_s"] for x in sides])
    m["p99_ms_median"] = median([x["p99_ms"] for x in sides])
    m["rounds"] = [{k: x[k] for k in ("requests_per_s", "p50_ms", "p99_ms")} for x in sides]
    return m


H = med_side(HS)
W = med_side(WS)
H["stored_rows"] = rows

# Every request answered 200 (warm-ups, measured runs, the paced run and the one signed curl
# check) must be a row. A few more rows are allowed: deliveries committed after wrk's clock
# ran out, whose answers wrk no longer counted (at most one per connection per wrk run).
answered = (sum(x["ok"] for x in hs) + sum(x["ok"] for x in hws) + sum(x["ok"] for x in pcs)
            + 1)
late = rows - answered
dur = {
    "answered_200_by_wrk_and_check": answered,
    "rows_in_webhook_events": rows,
    "distinct_delivery_ids": num("R_DISTINCT"),
    "rows_with_whole_payload": num("R_WHOLE"),
    "stored_per_metrics": num("R_STORED"),
    "duplicates_per_metrics": num("R_DUPS"),
    "committed_after_wrk_stopped": late,
    "group_commits": num("R_COMMITS"),
    "daemon_exit_status": num("R_HSTATUS"),
}
ok = (rows == dur["stored_per_metrics"] == dur["distinct_delivery_ids"] ==
      dur["rows_with_whole_payload"] and 0 <= late <= 3 * rounds * conns and
      dur["duplicates_per_metrics"] == 1 and dur["daemon_exit_status"] == 0)
dur["no_lost_deliveries"] = ok
H["durability"] = dur
W["stored_rows_note"] = "webhook stores nothing: it runs /bin/true for each accepted hook"

rps = (H["requests_per_s_median"] / W["requests_per_s_median"]
       if W["requests_per_s_median"] else None)
p99 = W["p99_ms_median"] / H["p99_ms_median"] if H["p99_ms_median"] else None
PC = med_side([side(x, None) for x in pcs])
PF = med_side([side(x, None) for x in pfs])
met = {
    "rps_ratio": rps is not None and rps >= 5,
    "p99_ratio": p99 is not None and p99 >= 5,
    "p99_under_2ms": PC["p99_ms_median"] < 2,
}
warnings = []
if any(x["non_2xx"] or x["errors"] for x in HS):
    warnings.append("orket-hookd had non-2xx answers or socket errors")
if any(x["non_2xx"] or x["errors"] for x in WS):
    warnings.append("webhook had non-2xx answers or socket errors")

r = {
    "date": E["R_DATE"],
    "machine": E["R_MACHINE"],
    "commit": E["R_COMMIT"],
    "uncommitted_changes": E["R_DIRTY"].split(),
    "binary_up_to_date": E["R_UPTODATE"] == "true",
    "tool": E["R_TOOL"],
    "webhook_version": E["R_WEBHOOK"],
    "what": "POST of one signed Gitea body (X-Gitea-Event: push, a unique X-Gitea-Delivery "
            "each), wrk and both servers sharing the cores on 127.0.0.1",
    "connections": conns,
    "threads": num("R_THREADS"),
    "warmup_s": num("R_WARMUP"),
    "duration_s": num("R_DURATION"),
    "rounds": rounds,
    "ratios_from": "medians over the rounds (the two alternate, who goes first alternates)",
    "body_file": E["R_BODY_FILE"],
    "body_bytes": num("R_BODY_BYTES"),
    "orket_hookd_config": "ORKET_RATE_LIMIT=%s (the most it accepts); default durability: "
                          "WAL, synchronous=NORMAL, group commit; a fresh database"
                          % E["R_RATE_LIMIT"],
    "webhook_config": "trigger-rule match payload-hmac-sha256 on header X-Gitea-Signature, "
                      "execute-command /bin/true, include-command-output-in-response false",
    "checks": {
        "orket_hookd": {"good": num("R_H_GOOD"), "bad_signature": num("R_H_BAD"),
                        "duplicate": num("R_H_DUP")},
        "webhook": {"good": num("R_W_GOOD"), "command_ran": E["R_W_RAN"] == "true",
                    "bad_signature": num("R_W_BAD"),
                    "bad_signature_body": E["R_W_BAD_BODY"],
                    "missing_signature": num("R_W_NOSIG"),
                    "missing_signature_body": E["R_W_NOSIG_BODY"]},
    },
    "orket_hookd": H,
    "webhook": W,
    "ratios": {"rps": round(rps, 2) if rps else None, "p99": round(p99, 2) if p99 else None},
    "targets": {"rps_ratio_min": 5, "p99_ratio_min": 5},
    "original_archived": {"p50_ms": 20, "p95_ms": 42, "p99_ms": 51,
                          "load": "100 deliveries, 25 in flight (phase5_load_test.py)"},
    "orket_hookd_paced": dict(PC, load="25 connections, each pausing 10 ms between "
                              "deliveries (wrk delay()), 1 thread; the round with the median "
                              "rate, and the median p99 of the rounds"),
    "orket_hookd_paced_floor": dict(PF, load="the same paced load, badly signed: body read "
                                    "and HMAC computed, 401, nothing stored"),
    "p99_target_ms": 2,
    "met_detail": met,
    "met": all(met.values()),
    "warnings": warnings,
}
with open(out, "w") as f:
    json.dump(r, f, indent=2)
    f.write("\n")


def line(n, s):
    return ("  %-12s median %9.0f req/s  p99 %.2f ms  (rounds: %s)"
            % (n, s["requests_per_s_median"], s["p99_ms_median"],
               ", ".join("%.0f/s %.1f ms" % (x["requests_per_s"], x["p99_ms"])
                         for x in s["rounds"])))


print("orket-hookd vs webhook: %d connections, %d s, %d-byte body, %s"
      % (conns, r["duration_s"], r["body_bytes"], r["machine"]))
print(line("orket-hookd", H))
print(line("webhook", W))
print("  ratios: req/s %sx, p99 %sx (targets 5x)" % (r["ratios"]["rps"], r["ratios"]["p99"]))
print("  paced like the original's harness (25 in flight, 10 ms apart): %.0f req/s, median p99 "
      "%.2f ms against the original's 51 ms (target < 2 ms); rounds: %s"
      % (PC["requests_per_s"], PC["p99_ms_median"],
         ", ".join("p50 %.2f p99 %.2f ms" % (x["p50_ms"], x["p99_ms"]) for x in PC["rounds"])))
print("  paced floor (the same load, badly signed: 401, nothing stored): median p99 %.2f ms; "
      "rounds: %s" % (PF["p99_ms_median"], ", ".join("p50 %.2f p99 %.2f ms"
                      % (x["p50_ms"], x["p99_ms"]) for x in PF["rounds"])))
print("  durability: %d rows, %d answered 200, %d committed after wrk stopped, %d stored per "
      "/metrics: %s" % (rows, answered, late, dur["stored_per_metrics"],
                        "no delivery lost" if ok else "MISMATCH"))
print("  targets met: %s %s" % (r["met"], json.dumps(met)))
for w in warnings:
    print("  warning: " + w)
print("  written to " + out)
sys.exit(0 if ok else 3)

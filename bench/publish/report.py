# See LICENSE. bench/publish.sh's report: every measurement file of the run (NAME.json from
# timed.py) into one result file, the ratios and the SPEC §10 targets, and a summary on stdout.
# Usage: python3 report.py WORK OUT. The R_* environment variables describe the run.
# A new measurement (orket-publish itself, say) only needs `measure NAME ...` in publish.sh
# and, for a ratio or a target, a line in RATIOS or TARGETS below.
import glob
import json
import os
import statistics
import sys

work, out = sys.argv[1], sys.argv[2]
E = os.environ

runs = {}
for path in sorted(glob.glob(os.path.join(work, "m", "*.json"))):
    name = os.path.basename(path)[:-5]
    with open(path) as f:
        r = json.load(f)
    base = name.split(".")[0]		# NAME.1, NAME.2 ...: repeats of one measurement
    runs.setdefault(base, []).append(r)


def summary(rs):
    walls = sorted(r["wall_s"] for r in rs)
    s = {
        "runs": len(rs),
        "wall_s": round(statistics.median(walls), 6),
        "wall_min_s": walls[0],
        "wall_max_s": walls[-1],
        "cpu_s": round(statistics.median(r["user_s"] + r["sys_s"] for r in rs), 6),
        "exit": sorted(set(r["exit"] for r in rs)),
        "stdout": rs[-1]["stdout"],
        "argv": rs[-1]["argv"],
    }
    return s


M = {k: summary(v) for k, v in runs.items()}

# (name, slow, fast): how many times faster fast is than slow, on wall and CPU time.
RATIOS = [
    ("split_cold_vs_git_subtree", "git_subtree_split", "split_cold"),
    # orket-publish (cmd/orket-publish), on the same history with p under product/
    ("publish_dry_cold_vs_git_subtree", "publish_git_subtree_split", "publish_dry_cold"),
]
# (name, description, test)
TARGETS = [
    ("split_50x_faster", "split (cold cache) at least 50x faster than git subtree split",
     lambda: M["git_subtree_split"]["wall_s"] / M["split_cold"]["wall_s"] >= 50),
    ("resplit_nothing_new_under_100ms", "re-split with nothing new under 100 ms (median)",
     lambda: M["split_warm"]["wall_s"] < 0.1),
    ("same_split_id", "git subtree split and ours print the same commit id",
     lambda: M["git_subtree_split"]["stdout"] == M["split_cold"]["stdout"] ==
     M["split_warm"]["stdout"] != ""),
    # orket-publish (cmd/orket-publish)
    ("publish_dry_cold_50x_faster",
     "orket-publish dry run (cold split cache) at least 50x faster than git subtree split",
     lambda: M["publish_git_subtree_split"]["wall_s"] / M["publish_dry_cold"]["wall_s"] >= 50),
    ("republish_nothing_new_under_100ms",
     "orket-publish --execute with nothing new, against the Gitea double, under 100 ms (median)",
     lambda: M["publish_nothing_new"]["wall_s"] < 0.1),
]

ratios = {}
for name, slow, fast in RATIOS:
    if slow in M and fast in M:
        ratios[name] = {
            "wall": round(M[slow]["wall_s"] / M[fast]["wall_s"], 1),
            "cpu": round(M[slow]["cpu_s"] / M[fast]["cpu_s"], 1) if M[fast]["cpu_s"] else None,
        }
met = {}
for name, desc, test in TARGETS:
    try:
        met[name] = {"what": desc, "met": bool(test())}
    except (KeyError, ZeroDivisionError):
        met[name] = {"what": desc, "met": None}

r = {
    "date": E["R_DATE"],
    "machine": E["R_MACHINE"],
    "load_average_at_start": E["R_LOAD"],
    "commit": E["R_COMMIT"],
    "uncommitted_changes": [l for l in E.get("R_DIRTY", "").split("\n") if l],
    "git_version": E["R_GIT"],
    "history": {
        "commits": int(E["R_COMMITS"]),
        "merges": int(E["R_MERGES"]),
        "commits_touching_prefix": int(E["R_TOUCHING"]),
        "prefix": E["R_PREFIX"],
        "split_commits": int(E["R_SPLIT_COMMITS"]),
        "generator": "t/gen-history.sh big",
    },
    "what": E["R_WHAT"],
    "measurements": M,
    "ratios": ratios,
    "targets": met,
}
with open(out, "w") as f:
    json.dump(r, f, indent=2)
    f.write("\n")
for k, v in M.items():
    print("%-28s wall %9.3f s (median of %d)  cpu %8.3f s  %s" %
          (k, v["wall_s"], v["runs"], v["cpu_s"], v["stdout"][:12]))
for k, v in ratios.items():
    print("%-28s %sx wall, %sx cpu" % (k, v["wall"], v["cpu"]))
for k, v in met.items():
    print("%-34s %s" % (k, {True: "met", False: "NOT met", None: "not measured"}[v["met"]]))

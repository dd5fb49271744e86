# See LICENSE. Runs one command and records what it cost, for bench/publish.sh.
# Usage: python3 timed.py OUT.json [--cwd DIR] -- COMMAND...
# OUT.json gets {"argv", "exit", "wall_s", "user_s", "sys_s", "stdout"} (stdout stripped; the
# command's stderr passes through). Exits with the command's own status.
import json
import os
import resource
import subprocess
import sys
import time

args = sys.argv[1:]
out = args.pop(0)
cwd = None
if args[:1] == ["--cwd"]:
    cwd = args[1]
    args = args[2:]
if args[:1] == ["--"]:
    args = args[1:]
before = resource.getrusage(resource.RUSAGE_CHILDREN)
t0 = time.perf_counter()
p = subprocess.run(args, cwd=cwd, stdout=subprocess.PIPE)
wall = time.perf_counter() - t0
after = resource.getrusage(resource.RUSAGE_CHILDREN)
r = {
    "argv": args,
    "exit": p.returncode,
    "wall_s": round(wall, 6),
    "user_s": round(after.ru_utime - before.ru_utime, 6),
    "sys_s": round(after.ru_stime - before.ru_stime, 6),
    "stdout": p.stdout.decode("utf-8", "replace").strip(),
}
with open(out, "w") as f:
    json.dump(r, f, indent=1)
sys.exit(p.returncode)

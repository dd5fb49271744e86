#!/usr/bin/env python3
# See LICENSE. Send signed deliveries over one keep-alive connection for a while and count
# the answers: hookd-stream.py PORT SECONDS NAME=ENVVAR... prints {"NAME": {"200": n}, ...}.
# Each NAME signs with the secret in environment variable ENVVAR ("-" signs with garbage);
# the names take turns, so every kind is sent throughout the run.
import hashlib
import hmac
import http.client
import json
import os
import sys
import time

port, seconds = int(sys.argv[1]), float(sys.argv[2])
kinds = []
for arg in sys.argv[3:]:
    name, var = arg.split("=", 1)
    kinds.append((name, None if var == "-" else os.environb[var.encode()]))
body = json.dumps({"action": "opened", "number": 1, "pull_request": {"number": 1, "title": "x"},
                   "repository": {"name": "r", "owner": {"login": "o"}}}).encode()
counts = {name: {} for name, _ in kinds}
conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
end = time.monotonic() + seconds
i = 0
while time.monotonic() < end and i < 100000:
    name, key = kinds[i % len(kinds)]
    sig = hmac.new(key, body, hashlib.sha256).hexdigest() if key else "0" * 64
    conn.request("POST", "/webhook/gitea", body, {
        "Content-Type": "application/json", "X-Gitea-Event": "pull_request",
        "X-Gitea-Delivery": "%s-%d-%d" % (name, os.getpid(), i), "X-Gitea-Signature": sig})
    r = conn.getresponse()
    r.read()
    counts[name][str(r.status)] = counts[name].get(str(r.status), 0) + 1
    i += 1
    time.sleep(0.002)
print(json.dumps(counts, sort_keys=True))

#!/bin/bash
# http_server --threads 2 --offload: some GET /cpu requests on 4 connections, then SIGTERM by PID.
# Expect exit 0 ("exits 0 on SIGINT/SIGTERM after a graceful stop").
exe=${1:-build/asan/apps/http_server}; shift
out=$(mktemp)
"$exe" --port 0 "$@" > "$out" 2>&1 & P=$!
for i in $(seq 100); do grep -q listening "$out" && break; sleep 0.1; done
PORT=$(sed -n 's/^listening on .*:\([0-9]*\)$/\1/p' "$out" | head -1)
python3 - "$PORT" <<'PY'
import sys, http.client, threading
port=int(sys.argv[1]); res=[]
def go():
    c=http.client.HTTPConnection("127.0.0.1",port,timeout=10)
    for _ in range(3):
        c.request("GET","/cpu?kib=256"); r=c.getresponse(); res.append(r.status); r.read()
ts=[threading.Thread(target=go) for _ in range(4)]
[t.start() for t in ts]; [t.join() for t in ts]
print("statuses", res)
PY
kill -TERM $P; wait $P; rc=$?
echo "rc=$rc"; cat "$out"; rm -f "$out"

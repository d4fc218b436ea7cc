#!/bin/bash
# echo_server --threads 2: SIGUSR1 after 'listening on' must print counters, not kill it; then SIGTERM -> exit 0.
exe=${1:-build/asan/apps/echo_server}; shift
out=$(mktemp); err=$(mktemp)
"$exe" --port 0 --threads 2 "$@" > "$out" 2> "$err" & P=$!
for i in $(seq 100); do grep -q listening "$out" && break; sleep 0.05; done
kill -USR1 $P; sleep 0.3; kill -TERM $P 2>/dev/null; wait $P; rc=$?
echo "rc=$rc stats_lines=$(grep -c 'stats ' "$err")"; rm -f "$out" "$err"

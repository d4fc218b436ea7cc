#!/usr/bin/env bash
# Counts the echo servers' system calls per echoed message under a fixed load, with perf's
# raw_syscalls:sys_enter tracepoint on the server's PID (no strace slowdown).
#
# usage: bench/syscalls_per_message.sh [--build DIR] [--connections N] [--size B] [--depth K]
# Needs: perf (Debian: linux-perf), a release build (./dev build release). Loopback only.
# Server pinned to CPU 0, load generator to CPU 1; the load runs 3 s, syscalls are counted over
# the middle 2 s and divided by the messages echoed in those 2 s (msgs/s from echo_load x 2).
set -euo pipefail
build=build/release connections=100 size=64 depth=1
while [[ $# -gt 0 ]]; do
  case $1 in
    --build) build=$2; shift 2 ;;
    --connections) connections=$2; shift 2 ;;
    --size) size=$2; shift 2 ;;
    --depth) depth=$2; shift 2 ;;
    -h|--help) sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown argument '$1'" >&2; exit 2 ;;
  esac
done
command -v perf >/dev/null || { echo "perf is missing: apt-get install linux-perf" >&2; exit 2; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

declare -A servers=(
  [coil-uring]="$build/apps/echo_server --port 0 --backend io_uring"
  [coil-epoll]="$build/apps/echo_server --port 0 --backend epoll"
  [epoll-baseline]="$build/bench/baselines/baseline_epoll --port 0"
  [uring-baseline]="$build/bench/baselines/baseline_uring --port 0"
)
echo "| server | conns | size | depth | msgs/s | syscalls/msg |"
echo "|---|---:|---:|---:|---:|---:|"
for name in coil-uring coil-epoll epoll-baseline uring-baseline; do
  # shellcheck disable=SC2086
  taskset -c 0 ${servers[$name]} >"$out/listen" 2>/dev/null &
  pid=$!
  for _ in $(seq 100); do grep -q listening "$out/listen" && break; sleep 0.05; done
  port=$(grep -oP ':\K[0-9]+$' "$out/listen")
  taskset -c 1 "$build/bench/echo_load" --port "$port" --connections "$connections" --size "$size" \
    --depth "$depth" --duration 3 --warmup 0.5 --json --quiet >"$out/load.json" 2>/dev/null &
  load=$!
  sleep 1.0
  calls=$(perf stat -x, -e raw_syscalls:sys_enter -p "$pid" -- sleep 2 2>&1 | grep raw_syscalls | cut -d, -f1)
  wait "$load"
  kill -TERM "$pid"
  wait "$pid" || true
  python3 - "$out/load.json" "$calls" "$name" "$connections" "$size" "$depth" <<'PY'
import json, sys
load = json.load(open(sys.argv[1]))
calls, name, c, s, d = int(sys.argv[2]), *sys.argv[3:]
print(f"| {name} | {c} | {s} | {d} | {load['msgs_per_s']:,.0f} | {calls / (load['msgs_per_s'] * 2.0):.3f} |")
PY
done

#!/usr/bin/env bash
# Benchmarks of `laneway serve` (issue 8), printed as tables:
#   1. aggregate generated tokens/s with 1, 4 and 8 concurrent clients
#      (64-token completions) on a TinyLlama-1.1B-shaped Q4_0 lane with 8
#      slots, next to the engine's own pp128 rate from `laneway bench` in the
#      same run (compare with ../shared/reference/bench-llamacpp.md);
#   2. latency the proxy path adds over calling the upstream directly.
# Usage: bench/serve_bench.sh [BUILD_DIR] (default build/release); needs a
# Release build of the laneway and serve_load targets.
set -euo pipefail
build=${1:-build/release}
laneway=$build/src/cli/laneway
load=$build/bench/serve_load
work=$(mktemp -d)
cleanup() {
  if [[ -f $work/pids ]]; then while read -r p; do kill "$p" 2>/dev/null || true; done <"$work/pids"; fi
  rm -rf "$work"
}
trap cleanup EXIT

model=$work/tinyllama-q4_0.gguf
"$laneway" synth --shape tinyllama-1.1b --type Q4_0 -o "$model" >/dev/null

# Starts `laneway serve ARGS` in the background and prints its port.
start() {
  local log=$work/serve.$RANDOM.log
  "$laneway" serve --port 0 "$@" >"$log" 2>&1 &
  echo $! >>"$work/pids"  # (start runs in a command substitution: a file outlives it)
  for _ in $(seq 600); do
    if grep -q 'listening on' "$log"; then grep -o 'listening on http://[^:]*:[0-9]*' "$log" | grep -o '[0-9]*$'; return; fi
    sleep 0.1
  done
  echo "laneway serve did not start:" >&2; cat "$log" >&2; exit 1
}

echo "## Engine: laneway bench (pp128, tg64)"
"$laneway" bench -m "$model" -p 128 -n 64 -r 3
echo
echo "## laneway serve: 8 slots, 64-token completions"
port=$(start -m "$model" --slots 8 --queue 16 --ctx 512)
"$load" throughput --url "http://127.0.0.1:$port" --clients 1,4,8 --max-tokens 64 --requests 2
echo
echo "## Proxy latency: upstream direct vs through a proxy lane (1-token completions)"
stories=${LANEWAY_TESTDATA:-$(dirname "$0")/../../shared/testdata}/models/stories260K.gguf
up=$(start -m "$stories" --slots 2)
cat >"$work/front.yaml" <<YAML
services:
  - name: up
    url: http://127.0.0.1:$up/v1
lanes:
  - name: proxied
    service: up
    upstream_model: stories260k
YAML
front=$(start --config "$work/front.yaml")
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$front/lanes/proxied/health" >/dev/null && break; sleep 0.1; done
"$load" latency --direct "http://127.0.0.1:$up" --proxy "http://127.0.0.1:$front" --model-proxy proxied --requests 300

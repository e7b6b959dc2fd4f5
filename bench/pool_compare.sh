#!/usr/bin/env bash
# One workload, two ways of making room, under a real memory limit (a fresh
# memory cgroup):
#   budget  Laneway's pool: the planner's bills against what the cgroup allows
#   count   serve --debug-pool-max-loaded 3: models counted, not bytes, as
#           llama.cpp's router, RamaLama and Ollama (OLLAMA_MAX_LOADED_MODELS,
#           3 by default) count them
# Two on_demand lanes (TinyLlama-1.1B-shaped files cut to 4 blocks, Q4_0,
# made by `laneway synth`) whose bills do not fit together under the limit;
# 4 clients alternate between them for DURATION seconds (keep_alive 5m,
# as Ollama's default: idle lanes may be unloaded for room). Per mode: requests
# sent, completed, failed (by reason), loads and unloads, whether the server
# was OOM-killed, latency. Not part of .ci/run.
#
#   bench/pool_compare.sh [DURATION_S]        default 60
#
# Needs a memory cgroup it may create groups under: $LANEWAY_CGROUP_PARENT,
# or this process's own v1 memory group or delegated v2 group (root in a VM).
# Builds the release binary when it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${1:-60}
laneway=build/release/src/cli/laneway
[ -x "$laneway" ] || { cmake --preset release >/dev/null && cmake --build --preset release --target laneway; }
shared=${LANEWAY_TESTDATA:-../shared/testdata}
vocab=$shared/vocab/ggml-vocab-llama-spm.gguf
[ -f "$vocab" ] || { echo "pool_compare: $vocab missing (set LANEWAY_TESTDATA)" >&2; exit 2; }

# ---- the cgroup ------------------------------------------------------------------
parent=${LANEWAY_CGROUP_PARENT:-}
if [ -z "$parent" ]; then
  v1=$(sed -n 's/^[0-9]*:memory:\(.*\)$/\1/p' /proc/self/cgroup)
  v2=$(sed -n 's/^0::\(.*\)$/\1/p' /proc/self/cgroup)
  if [ -n "$v1" ] && [ -w "/sys/fs/cgroup/memory$v1" ]; then parent=/sys/fs/cgroup/memory$v1
  elif [ -n "$v2" ] && [ -w "/sys/fs/cgroup$v2" ] && grep -qw memory "/sys/fs/cgroup$v2/cgroup.subtree_control" 2>/dev/null; then
    parent=/sys/fs/cgroup$v2
  else
    echo "pool_compare: no memory cgroup to create groups under (set LANEWAY_CGROUP_PARENT)" >&2; exit 2
  fi
fi
v2=0
[ -e "$parent/memory.limit_in_bytes" ] || v2=1

# ---- the models and the lanes --------------------------------------------------
work=$(mktemp -d /tmp/laneway-pool-compare.XXXXXX)
trap 'rm -rf "$work"' EXIT
for m in a b; do
  seed=1; [ $m = b ] && seed=2
  "$laneway" synth --shape tinyllama-1.1b --layers 4 --type Q4_0 --tokenizer "$vocab" --seed $seed -o "$work/$m.gguf" 2>/dev/null
done
cat >"$work/lanes.yaml" <<EOF
lanes:
  - name: alpha
    model: $work/a.gguf
    context: 512
    load: on_demand
    keep_alive: 5m
    queue: 16
  - name: beta
    model: $work/b.gguf
    context: 512
    load: on_demand
    keep_alive: 5m
    queue: 16
EOF
# The limit: the serve process with one lane and 10% (the two lanes need ~1.8x that).
one=$("$laneway" plan --lanes "$work/lanes.yaml" --json | python3 -c '
import json, sys
m = json.load(sys.stdin)
lanes = [l for l in m["lanes"] if l["name"] == "alpha"]
print(int((m.get("process_bytes", 0) + lanes[0]["total_bytes"]) * 1.10))')
echo "pool_compare: two lanes of $(stat -c %s "$work/a.gguf") bytes each; cgroup limit $one bytes (one lane + 10%); $duration s per mode"

run_mode() {
  local mode=$1; shift
  local group="$parent/laneway-pool-compare-$$-$mode"
  mkdir "$group"
  if [ $v2 = 1 ]; then echo "$one" >"$group/memory.max"; echo 0 >"$group/memory.swap.max" 2>/dev/null || true
  else echo "$one" >"$group/memory.limit_in_bytes"; echo "$one" >"$group/memory.memsw.limit_in_bytes" 2>/dev/null || true; fi
  local port=$((20000 + RANDOM % 20000))
  sh -c "echo \$\$ > '$group/cgroup.procs' && exec '$laneway' serve --config '$work/lanes.yaml' --port $port -t 1 $*" \
    >"$work/$mode.log" 2>&1 &
  local pid=$!
  for _ in $(seq 1 100); do curl -fsS "http://127.0.0.1:$port/health" >/dev/null 2>&1 && break; sleep 0.1; done
  python3 - "$port" "$duration" "$mode" >"$work/$mode.out" <<'PY'
import json, sys, threading, time, urllib.request, urllib.error
port, duration, mode = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
results, lock = [], threading.Lock()
def client(k):
    end, i = time.time() + duration, 0
    while time.time() < end:
        lane = ("alpha", "beta")[(i + k) % 2]
        i += 1
        body = json.dumps({"model": lane, "prompt": "Once upon a time", "max_tokens": 8, "temperature": 0}).encode()
        req = urllib.request.Request(f"http://127.0.0.1:{port}/v1/completions", body, {"Content-Type": "application/json"})
        t0 = time.time()
        try:
            with urllib.request.urlopen(req, timeout=120) as r:
                r.read(); outcome = "ok"
        except urllib.error.HTTPError as e:
            outcome = f"HTTP {e.code}"
        except Exception as e:
            outcome = type(e).__name__
        with lock:
            results.append((outcome, time.time() - t0))
        if outcome not in ("ok",) and not outcome.startswith("HTTP"):
            time.sleep(0.2)
threads = [threading.Thread(target=client, args=(k,)) for k in range(4)]
for t in threads: t.start()
for t in threads: t.join()
ok = sorted(d for o, d in results if o == "ok")
failed = {}
for o, _ in results:
    if o != "ok": failed[o] = failed.get(o, 0) + 1
pct = lambda q: ok[min(len(ok) - 1, int(q * len(ok)))] if ok else float("nan")
lanes = {}
try:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/lanes", timeout=5) as r:
        for l in json.load(r)["data"]:
            lanes[l["name"]] = (l["pool"]["loads"], l["pool"]["unloads"])
except Exception as e:
    lanes = f"server gone ({type(e).__name__})"
print(json.dumps({"mode": mode, "sent": len(results), "completed": len(ok), "failed": failed,
                  "p50_s": round(pct(0.5), 3), "p95_s": round(pct(0.95), 3), "lanes_loads_unloads": lanes}))
PY
  local alive=yes
  kill -0 $pid 2>/dev/null || alive=no
  kill -TERM $pid 2>/dev/null || true
  local rc=0
  wait $pid || rc=$?
  local oom peak
  if [ $v2 = 1 ]; then oom=$(sed -n 's/^oom_kill //p' "$group/memory.events"); peak=$(cat "$group/memory.peak" 2>/dev/null || echo "?")
  else oom=$(sed -n 's/^oom_kill //p' "$group/memory.oom_control"); peak=$(cat "$group/memory.max_usage_in_bytes"); fi
  rmdir "$group" 2>/dev/null || true
  echo "$mode: $(cat "$work/$mode.out")"
  echo "$mode: server alive at the end: $alive (exit status $rc), OOM kills in its cgroup: ${oom:-?}, peak charge $peak bytes"
  grep -m3 -i "killed\|error" "$work/$mode.log" | sed "s/^/$mode log: /" || true
}

run_mode budget
run_mode count --debug-pool-max-loaded 3

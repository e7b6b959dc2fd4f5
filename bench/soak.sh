#!/usr/bin/env bash
# Soak run (not part of .ci/run): 64 concurrent streaming clients for 10
# minutes against a two-lane `laneway serve` — an embedded lane and an
# upstream lane to a second Laneway — with mixed prompt lengths, 10% of the
# clients hanging up after the first chunk and 5% sending bad requests.
# Prints the outcomes (lost must be 0), RSS every minute, and open file
# descriptors and threads at the start and the end (bench/soak.py).
#   bench/soak.sh                     600 s, 64 clients
#   SOAK_SECONDS=120 SOAK_CLIENTS=16 bench/soak.sh
# Needs the release build (scripts/test or cmake --build --preset release)
# and ../shared/testdata/models/stories260K.gguf (or SOAK_MODEL=FILE).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${SOAK_SECONDS:-600}
clients=${SOAK_CLIENTS:-64}
model=${SOAK_MODEL:-../shared/testdata/models/stories260K.gguf}
laneway=build/release/src/cli/laneway
[ -x "$laneway" ] || cmake --build --preset release --target laneway
[ -f "$model" ] || { echo "soak: no model at $model (set SOAK_MODEL)" >&2; exit 2; }
model=$(realpath "$model")
work=$(mktemp -d /tmp/laneway-soak.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT

# The port a server printed ("listening on http://127.0.0.1:PORT").
port_of() {
  for _ in $(seq 1 300); do
    p=$(sed -n 's|.*listening on http://127.0.0.1:\([0-9]*\).*|\1|p' "$1" | head -1)
    if [ -n "$p" ]; then echo "$p"; return 0; fi
    sleep 0.1
  done
  echo "soak: no server port in $1" >&2; cat "$1" >&2; return 1
}

cat > "$work/upstream.yaml" <<EOF
lanes:
  - name: far
    model: $model
    context: 1024
    slots: 4
    queue: 64
    default: true
EOF
"$laneway" serve --config "$work/upstream.yaml" --port 0 -t 1 --log-level warn > "$work/upstream.log" 2>&1 &
pids+=($!)
up_port=$(port_of "$work/upstream.log")

cat > "$work/lanes.yaml" <<EOF
services:
  - name: second
    url: http://127.0.0.1:$up_port/v1
lanes:
  - name: near
    model: $model
    context: 1024
    slots: 4
    queue: 64
    default: true
  - name: remote
    service: second
    upstream_model: far
EOF
"$laneway" serve --config "$work/lanes.yaml" --port 0 -t 1 --log-level warn > "$work/server.log" 2>&1 &
server_pid=$!
pids+=($server_pid)
port=$(port_of "$work/server.log")
for _ in $(seq 1 100); do
  curl -sf "http://127.0.0.1:$port/health?lane=remote" >/dev/null && break
  sleep 0.2
done

echo "soak: $clients clients for $seconds s against http://127.0.0.1:$port (lanes near, remote -> :$up_port), pid $server_pid" >&2
status=0
python3 bench/soak.py --url "http://127.0.0.1:$port" --model near --model remote --clients "$clients" \
  --seconds "$seconds" --pid "$server_pid" --sample 60 > "$work/report.json" || status=$?
cat "$work/report.json"
if ! kill -0 "$server_pid" 2>/dev/null; then
  echo "soak: the server died" >&2
  tail -20 "$work/server.log" >&2
  status=1
fi
echo "soak: report in $work/report.json, logs in $work" >&2
exit $status

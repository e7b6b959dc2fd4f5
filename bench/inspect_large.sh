#!/usr/bin/env bash
# `laneway inspect` on a 2 GiB GGUF must not read tensor data: median wall
# time over repeated runs (target: well under 100 ms).
#   bench/inspect_large.sh [BUILD_DIR] [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build/release}
runs=${2:-11}
bin=$build/src/cli/laneway
[ -x "$bin" ] || { echo "build $bin first (cmake --build --preset release)" >&2; exit 1; }
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
file=$dir/large-2g.gguf
# A llama-shaped header (32000-token vocab) and one 2 GiB F16 tensor, written
# sparse: the data section is a hole, so creating it costs no disk.
python3 - "$file" <<'PY'
import struct, sys
def s(b): return struct.pack('<Q', len(b)) + b
kv = [s(b'general.architecture') + struct.pack('<I', 8) + s(b'llama'),
      s(b'llama.block_count') + struct.pack('<II', 4, 22)]
toks = b''.join(s(f'tok{i}'.encode()) for i in range(32000))
kv.append(s(b'tokenizer.ggml.tokens') + struct.pack('<IIQ', 9, 8, 32000) + toks)
n = 2048 * 524288  # 2 GiB of F16
t = s(b'big.weight') + struct.pack('<I', 2) + struct.pack('<QQ', 2048, 524288) + struct.pack('<IQ', 1, 0)
head = b'GGUF' + struct.pack('<IQQ', 3, 1, len(kv)) + b''.join(kv) + t
head += b'\0' * ((32 - len(head) % 32) % 32)
with open(sys.argv[1], 'wb') as f:
    f.write(head)
    f.truncate(len(head) + n * 2)
PY
ls -l "$file" | awk '{printf "file: %.2f GiB\n", $5/1073741824}'
sync; echo 3 > /proc/sys/vm/drop_caches 2>/dev/null || true
times=()
for _ in $(seq "$runs"); do
  t0=$(date +%s%N)
  "$bin" inspect --json "$file" > /dev/null
  t1=$(date +%s%N)
  times+=($(( (t1 - t0) / 1000 )))
done
printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {printf "inspect 2 GiB file: median %.1f ms, min %.1f ms, max %.1f ms over %d runs\n", a[int((NR+1)/2)]/1000, a[1]/1000, a[NR]/1000, NR}'

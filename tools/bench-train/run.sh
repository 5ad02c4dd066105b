#!/usr/bin/env bash
# Benchmark driver: OnnxLora (bench-train) vs the PyTorch eager peer (peer.py) on the same random
# bench-58m checkpoint, LoRA r=16 and full fine-tune, batch 4 x 256, fp32, AdamW. Each run is its
# own process so peak RSS (VmHWM) is per run. Prints a side-by-side table with the ratios.
# Usage: tools/bench-train/run.sh [steps=5] [warmup=2] [threads=2]   (tokens/s from the median step)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
steps="${1:-5}"; warmup="${2:-2}"; threads="${3:-2}"
model="${BENCH_MODEL:-${TMPDIR:-/tmp}/onnxlora-bench-58m}"
py="${PYTHON:-/usr/bin/python3}"
modes="${BENCH_MODES:-lora full}"

dotnet build "$here/bench-train.csproj" -c Release -v q -nologo >&2
bench="$root/artifacts/bin/bench-train/release/bench-train"
out="$(mktemp)"
trap 'rm -f "$out"' EXIT
for mode in $modes; do
  taskset -c "0-$((threads - 1))" "$bench" --threads "$threads" --model "$model" --mode "$mode" \
    --steps "$steps" --warmup "$warmup" | tee -a "$out"
  OMP_NUM_THREADS="$threads" taskset -c "0-$((threads - 1))" "$py" "$here/peer.py" --model "$model" \
    --fixtures "$root/../shared/fixtures/tiny-llama" --mode "$mode" --steps "$steps" --warmup "$warmup" \
    --threads "$threads" | tee -a "$out"
done

"$py" - "$out" <<'PY'
import sys
rows = {}
for line in open(sys.argv[1]):
    if line.startswith("RESULT "):
        kv = dict(p.split("=", 1) for p in line.split()[1:])
        rows[(kv["impl"], kv["mode"])] = kv
print()
print(f"{'mode':<6} {'impl':<9} {'tok/s':>9} {'step s':>8} {'peak RSS MB':>12}")
for mode in ("lora", "full"):
    for impl in ("onnxlora", "pytorch"):
        r = rows.get((impl, mode))
        if r:
            print(f"{mode:<6} {impl:<9} {float(r['tok_s']):>9.1f} {float(r['step_s']):>8.3f} {float(r['peak_rss_mb']):>12.0f}")
    o, p = rows.get(("onnxlora", mode)), rows.get(("pytorch", mode))
    if o and p:
        print(f"{mode:<6} {'ratio':<9} {float(o['tok_s']) / float(p['tok_s']):>8.2f}x {'':>8} "
              f"{float(o['peak_rss_mb']) / float(p['peak_rss_mb']):>11.2f}x  (onnxlora / pytorch)")
ol, of = rows.get(("onnxlora", "lora")), rows.get(("onnxlora", "full"))
if ol and of:
    print(f"onnxlora lora vs full: speed {float(ol['tok_s']) / float(of['tok_s']):.2f}x, "
          f"peak RSS {float(ol['peak_rss_mb']):.0f} vs {float(of['peak_rss_mb']):.0f} MB")
PY

#!/usr/bin/env bash
# Benchmark driver: OnnxLora (bench-train) vs the PyTorch eager peer (peer.py) on the same random checkpoint
# (preset bench-58m by default, or llama-3.2-1b), LoRA r=16 and full fine-tune, fp32, AdamW. Each run is its
# own process so peak RSS (VmHWM) is per run. Prints a side-by-side table: tokens/s, peak RSS, the weight bytes
# and the session time (ours: artifacts → sessions ready; PyTorch: safetensors → model and optimizer ready).
# Usage: tools/bench-train/run.sh [steps=5] [warmup=2] [threads=2]   (tokens/s from the median step)
# Environment: BENCH_PRESET (bench-58m | llama-3.2-1b), BENCH_BATCH (4), BENCH_SEQ (256), BENCH_MODES ("lora full"),
# BENCH_MODEL (checkpoint folder, written once per preset), BENCH_ARGS (extra bench-train flags, e.g.
# "--weight-views false"), BENCH_PEER=0 (ours only), PYTHON.
# The peer needs Debian's torch with OpenBLAS: apt-get install python3-torch libopenblas0-pthread. Without
# libopenblas Debian's torch falls back to the reference BLAS and runs about 14x slower.
# The 1B preset: ~5 GB checkpoint + 5 GB ONNX import on disk, ~6-7 GB RSS per LoRA run (10 GB for PyTorch);
# run it with --steps 3 --warmup 1 (e.g. `BENCH_PRESET=llama-3.2-1b BENCH_BATCH=1 BENCH_MODES=lora run.sh 3 1`).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
steps="${1:-5}"; warmup="${2:-2}"; threads="${3:-2}"
preset="${BENCH_PRESET:-bench-58m}"
batch="${BENCH_BATCH:-4}"; seq="${BENCH_SEQ:-256}"
model="${BENCH_MODEL:-${TMPDIR:-/tmp}/onnxlora-$preset}"
py="${PYTHON:-/usr/bin/python3}"
modes="${BENCH_MODES:-lora full}"

dotnet build "$here/bench-train.csproj" -c Release -v q -nologo >&2
bench="$root/artifacts/bin/bench-train/release/bench-train"
out="$(mktemp)"
trap 'rm -f "$out"' EXIT
for mode in $modes; do
  # shellcheck disable=SC2086
  taskset -c "0-$((threads - 1))" "$bench" --threads "$threads" --preset "$preset" --model "$model" --mode "$mode" \
    --batch "$batch" --seq "$seq" --steps "$steps" --warmup "$warmup" ${BENCH_ARGS:-} | tee -a "$out"
  if [ "${BENCH_PEER:-1}" != 0 ]; then
    OMP_NUM_THREADS="$threads" taskset -c "0-$((threads - 1))" "$py" "$here/peer.py" --model "$model" \
      --fixtures "$root/../shared/fixtures/tiny-llama" --mode "$mode" --batch "$batch" --seq "$seq" \
      --steps "$steps" --warmup "$warmup" --threads "$threads" | tee -a "$out"
  fi
done

"$py" - "$out" "$preset" "$batch" "$seq" <<'PY'
import sys
rows = {}
for line in open(sys.argv[1]):
    if line.startswith("RESULT "):
        kv = dict(p.split("=", 1) for p in line.split()[1:])
        rows[(kv["impl"], kv["mode"])] = kv
print()
print(f"{sys.argv[2]}, batch {sys.argv[3]} x {sys.argv[4]}, fp32")
print(f"{'mode':<6} {'impl':<9} {'tok/s':>9} {'step s':>8} {'peak RSS MB':>12} {'weights MB':>11} {'RSS/weights':>12} {'session s':>10}")
for mode in ("lora", "full"):
    for impl in ("onnxlora", "pytorch"):
        r = rows.get((impl, mode))
        if r:
            w = float(r.get("weight_mb", "nan"))
            print(f"{mode:<6} {impl:<9} {float(r['tok_s']):>9.1f} {float(r['step_s']):>8.3f} {float(r['peak_rss_mb']):>12.0f} "
                  f"{w:>11.0f} {float(r['peak_rss_mb']) / w:>11.2f}x {float(r.get('session_s', 'nan')):>10.1f}")
    o, p = rows.get(("onnxlora", mode)), rows.get(("pytorch", mode))
    if o and p:
        print(f"{mode:<6} {'ratio':<9} {float(o['tok_s']) / float(p['tok_s']):>8.2f}x {'':>8} "
              f"{float(o['peak_rss_mb']) / float(p['peak_rss_mb']):>11.2f}x  (onnxlora / pytorch)")
ol, of = rows.get(("onnxlora", "lora")), rows.get(("onnxlora", "full"))
if ol and of:
    print(f"onnxlora lora vs full: speed {float(ol['tok_s']) / float(of['tok_s']):.2f}x, "
          f"peak RSS {float(ol['peak_rss_mb']):.0f} vs {float(of['peak_rss_mb']):.0f} MB")
PY

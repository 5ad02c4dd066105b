#!/usr/bin/env bash
# Runs ON the H200 machine, from the repo root, after the chunks are in /tmp/h200-stage (README step 1-N).
# One stage per call so each stays well under 10 minutes:
#   device.sh unpack            reassemble + extract to /tmp/app, check the provider's sha256, ORT sanity
#   device.sh parity            fixture parity + 30-step trajectory on CUDA (≤1e-3), IOBinding engine; KV decode
#   device.sh probe             fp16 / bf16 op coverage of the CUDA EP (provider per op from ORT's profile)
#   device.sh bench             ours vs PEFT: 58M 8×512 and Llama-3.2-1B 8×1024 (bf16), Llama-3-8B 4×2048 PEFT only
# Writes logs and RESULT lines to $OUT.
set -uo pipefail
export LD_LIBRARY_PATH=/usr/local/cuda-13/lib64:/usr/lib/x86_64-linux-gnu:/tmp/app/app:${LD_LIBRARY_PATH:-}
export DOTNET_SYSTEM_GLOBALIZATION_INVARIANT=1 PYTHONUNBUFFERED=1
app=/tmp/app/app
out="${OUT:-/tmp/out}"; mkdir -p "$out"
F="$app/tiny-llama"
step="${1:?unpack|parity|probe|bench}"
case "$step" in
unpack)
  mkdir -p /tmp/app && cat /tmp/h200-stage/app.tar.xz.* | xz -d | tar -C /tmp/app -xf - || exit 1
  (cd "$app" && sha256sum -c providers_cuda.sha256) | tee "$out/unpack.log"
  ldd "$app/libonnxruntime_providers_cuda.so" | grep -E "not found|cuda|cublas|cudnn" | tee -a "$out/unpack.log"
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee -a "$out/unpack.log"
  ;;
parity)
  set -o pipefail
  "$app/onnxlora" parity --device cuda --model "$F/base" --adapter "$F/adapter" --trajectory "$F/trajectory.json" \
    --batch "$F/reference.safetensors" --compare 2>&1 | grep -v "trajectory step" | tee "$out/parity-cuda.log"
  "$app/onnxlora" import "$F/base" -o /tmp/fx-base > /dev/null
  for d in cpu cuda; do
    "$app/onnxlora" generate --engine ort --device $d --model /tmp/fx-base -p "Hello world" --max-new-tokens 24 2>&1 | tee "$out/generate-$d.log"
  done
  ;;
probe)
  python3 "$app/probe_ops.py" --app "$app" --fixture "$F" --out "$out" 2>&1 | tee "$out/probe.log"
  ;;
bench)
  B="$app/bench-train"
  for spec in "bench-58m 8 512 float32" "bench-58m 8 512 bfloat16" "llama-3.2-1b 8 1024 bfloat16"; do
    set -- $spec
    timeout 150 "$B" --preset $1 --model /tmp/rand-$1 --batch $2 --seq $3 --dtype $4 --device cuda --steps 5 --warmup 2 2>&1 \
      | tee -a "$out/bench-ours.log" | grep RESULT
    timeout 150 python3 "$app/peer_peft.py" --preset $1 --batch $2 --seq $3 --dtype $4 --steps 5 --warmup 2 2>&1 \
      | tee -a "$out/bench-peft.log" | grep RESULT
  done
  timeout 200 python3 "$app/peer_peft.py" --preset llama-3-8b --batch 4 --seq 2048 --dtype bfloat16 --steps 3 --warmup 1 2>&1 \
    | tee -a "$out/bench-peft.log" | grep RESULT
  ;;
*) echo "unknown step $step" >&2; exit 2 ;;
esac

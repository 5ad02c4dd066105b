#!/usr/bin/env bash
# Runs ON the H200 machine, from the repo root, after the chunks are in /tmp/h200-stage (README step 1-N).
# One stage per call so each stays well under 10 minutes:
#   device.sh unpack            reassemble + extract to /tmp/app, check the provider's sha256, ORT sanity
#   device.sh parity            fixture parity + 30-step trajectory on CUDA (≤1e-3), IOBinding engine; KV decode
#   device.sh probe             fp16 / bf16 op coverage of the CUDA EP (provider per op from ORT's profile)
#   device.sh bench58m          ours vs PEFT: 58M 8×512, fp32 and bf16
#   device.sh bench1b           ours vs PEFT: Llama-3.2-1B 8×1024 bf16 (ours also with recomputed logits)
#   device.sh bench8b           ours vs PEFT: Llama-3-8B 4×2048 bf16 (writes a 16 GB random bf16 checkpoint first)
#   device.sh profile           per-op profile of our 1B step (ORT profiler → profile_summary.py)
#   device.sh blocked           ours with query-block attention (memory.attention_blocks 4 and 8): 1B 8×1024, 8B 4×2048
#                               bf16 (PEFT's figures come from bench1b/bench8b); then the 1B profile with 8 blocks
# DRY_RUN=1 device.sh STAGE prints the commands a bench/blocked stage would run instead of running them (checked here).
# GPU memory for both sides: nvidia-smi memory.used sampled every 20 ms during the run, minus the idle
# baseline (context + arena + tensors, the same for both); PEFT also prints torch's max_memory_allocated.
# Writes logs and RESULT lines to $OUT.
set -uo pipefail
export LD_LIBRARY_PATH=/usr/local/cuda-13/lib64:/usr/lib/x86_64-linux-gnu:/tmp/app/app:${LD_LIBRARY_PATH:-}
export DOTNET_SYSTEM_GLOBALIZATION_INVARIANT=1 PYTHONUNBUFFERED=1
app=/tmp/app/app
out="${OUT:-/tmp/out}"; mkdir -p "$out"
F="$app/tiny-llama"
step="${1:?unpack|parity|probe|bench58m|bench1b|bench8b|profile|blocked}"

# gpumem LABEL "command": runs the command while sampling memory.used every 20 ms; prints the peak over the idle baseline
gpumem() {
  local label="$1" cmd="$2" base peak poll rc
  if [ "${DRY_RUN:-0}" = 1 ]; then echo "DRY $label: $cmd"; return 0; fi
  base=$(nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits | head -1)
  nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -lms 20 > /tmp/gpumem.log 2>/dev/null &
  poll=$!
  bash -c "$cmd"; rc=$?
  kill "$poll" 2>/dev/null; wait "$poll" 2>/dev/null
  peak=$(sort -n /tmp/gpumem.log | tail -1)
  echo "GPUMEM $label peak_mib=$(( ${peak:-0} - base )) baseline_mib=$base rc=$rc" | tee -a "$out/gpumem.log"
}
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
  # the chunked loss with recomputed logits (the fixture's 512-token vocabulary is unchunked by default)
  "$app/onnxlora" parity --device cuda --model "$F/base" --adapter "$F/adapter" --trajectory "$F/trajectory.json" \
    --batch "$F/reference.safetensors" --compare --loss-chunks 3 --recompute-logits 2>&1 | grep -E "trajectory.losses|error" | tee -a "$out/parity-cuda.log"
  "$app/onnxlora" import "$F/base" -o /tmp/fx-base > /dev/null
  for d in cpu cuda; do
    "$app/onnxlora" generate --engine ort --device $d --model /tmp/fx-base -p "Hello world" --max-new-tokens 24 2>&1 | tee "$out/generate-$d.log"
  done
  ;;
probe)
  python3 "$app/probe_ops.py" --app "$app" --fixture "$F" --out "$out" 2>&1 | tee "$out/probe.log"
  ;;
bench58m|bench1b|bench8b)
  B="$app/bench-train"
  case "$step" in
    bench58m) specs=("bench-58m 8 512 float32" "bench-58m 8 512 bfloat16") ;;
    bench1b) specs=("llama-3.2-1b 8 1024 bfloat16") ;;
    bench8b) specs=("llama-3-8b 4 2048 bfloat16") ;;
  esac
  for spec in "${specs[@]}"; do
    set -- $spec
    gpumem "ours $1 $2x$3 $4" "timeout 240 $B --preset $1 --model /tmp/rand-$1-$4 --batch $2 --seq $3 --dtype $4 --device cuda --steps 5 --warmup 2 2>&1 | tee -a $out/bench-ours.log | grep RESULT"
    if [ "$1" = llama-3.2-1b ]; then
      gpumem "ours $1 $2x$3 $4 recompute-logits" "timeout 150 $B --preset $1 --model /tmp/rand-$1-$4 --batch $2 --seq $3 --dtype $4 --device cuda --steps 5 --warmup 2 --recompute-logits true 2>&1 | tee -a $out/bench-ours.log | grep RESULT"
    fi
    gpumem "peft $1 $2x$3 $4" "timeout 180 python3 $app/peer_peft.py --preset $1 --batch $2 --seq $3 --dtype $4 --steps 5 --warmup 2 2>&1 | tee -a $out/bench-peft.log | grep RESULT"
  done
  ;;
profile)
  rm -rf /tmp/prof && mkdir -p /tmp/prof
  ONNXLORA_PROFILE=/tmp/prof/p timeout 200 "$app/bench-train" --preset llama-3.2-1b --model /tmp/rand-llama-3.2-1b-bfloat16 --batch 8 --seq 1024 \
    --dtype bfloat16 --device cuda --steps 2 --warmup 1 2>&1 | grep -E "RESULT|profile:" | tee "$out/profile-1b.log"
  for f in /tmp/prof/p_training_model*.json; do python3 "$app/profile_summary.py" "$f" 30 | tee -a "$out/profile-1b.txt"; done
  ;;
blocked)
  B="$app/bench-train"
  for spec in "llama-3.2-1b 8 1024 bfloat16 4" "llama-3.2-1b 8 1024 bfloat16 8" "llama-3-8b 4 2048 bfloat16 8"; do
    set -- $spec
    gpumem "ours $1 $2x$3 $4 attention-blocks $5" "timeout 240 $B --preset $1 --model /tmp/rand-$1-$4 --batch $2 --seq $3 --dtype $4 --device cuda --steps 5 --warmup 2 --attention-blocks $5 2>&1 | tee -a $out/bench-blocked.log | grep RESULT"
  done
  if [ "${DRY_RUN:-0}" != 1 ]; then
    rm -rf /tmp/prof && mkdir -p /tmp/prof
    ONNXLORA_PROFILE=/tmp/prof/b timeout 200 "$B" --preset llama-3.2-1b --model /tmp/rand-llama-3.2-1b-bfloat16 --batch 8 --seq 1024 \
      --dtype bfloat16 --device cuda --steps 2 --warmup 1 --attention-blocks 8 2>&1 | grep -E "RESULT|profile:" | tee "$out/profile-1b-blocked.log"
    for f in /tmp/prof/b_training_model*.json; do python3 "$app/profile_summary.py" "$f" 30 | tee -a "$out/profile-1b-blocked.txt"; done
  fi
  ;;
*) echo "unknown step $step" >&2; exit 2 ;;
esac

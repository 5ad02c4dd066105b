#!/usr/bin/env bash
# Issue 17, measured: LoRA vs full fine-tuning on the pretrained base of tools/pretrain (English text, never
# chat), fine-tuned on pirate-speech chat (the embedded pairs as user/assistant messages, rendered by the base
# tokenizer's chat template; 10% held out). Methods: full; LoRA r=4/8/16/64 on all 7 projections (alpha = 2r);
# LoRA r=16 on q_proj+v_proj. Each at 3 learning rates (full and LoRA r16, which decide the claim, at 4); every run has the same data order, batch, steps and
# tokens. One process per run (peak RSS is its own). Prints the markdown table and writes it to $out/table.md.
# Usage: tools/lora-vs-full/run.sh [steps=150] [base=runs/pretrained/model] [out=runs/lora-vs-full]
#   JOBS=n runs n trainings at once (default 1: tokens/s are then comparable). ONNXLORA_THREADS as usual.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
steps="${1:-150}"; base="$(realpath -m "${2:-$root/runs/pretrained/model}")"; out="$(realpath -m "${3:-$root/runs/lora-vs-full}")"
jobs="${JOBS:-1}"
[ -f "$base/model.onnx" ] || { echo "$base/model.onnx: no pretrained base; run tools/pretrain/run.sh first" >&2; exit 2; }
t0=$(date +%s)

dotnet build "$root/src/OnnxLora.Cli" -c Release -v q -nologo >/dev/null
dotnet build "$root/tools/pretrain" -c Release -v q -nologo >/dev/null
cli="$root/artifacts/bin/OnnxLora.Cli/release/onnxlora"
mkdir -p "$out"
"$root/artifacts/bin/pretrain/release/pretrain" pirate-chat --out "$out/pirate-chat.jsonl" >/dev/null

# method | train flags | learning rates
methods=(
  "full|--full-fine-tune true|1e-4 3e-4 1e-3 3e-3"
  "lora-r4|--lora-r 4 --lora-alpha 8|1e-3 3e-3 1e-2"
  "lora-r8|--lora-r 8 --lora-alpha 16|1e-3 3e-3 1e-2"
  "lora-r16|--lora-r 16 --lora-alpha 32|1e-3 3e-3 1e-2 3e-2"
  "lora-r64|--lora-r 64 --lora-alpha 128|1e-3 3e-3 1e-2"
  "lora-r16-qv|--lora-r 16 --lora-alpha 32 --targets q_proj,v_proj|1e-3 3e-3 1e-2"
)
common=(--model "$base" --data "$out/pirate-chat.jsonl" --val-split 0.1 --max-steps "$steps" --batch-size 8
        --max-seq-len 128 --seed 0 --schedule cosine --warmup-steps 10 --eval-every 15 --save-every 0 --keep-last 1)

run_one() { # name lr flags...
  local name="$1" lr="$2"; shift 2
  local dir="$out/runs/$name-lr$lr"
  if [ -f "$dir.done" ]; then return; fi
  rm -rf "$dir"
  /usr/bin/time -v -o "$dir.time" "$cli" train "${common[@]}" "$@" --lr "$lr" -o "$dir" > "$dir.log" 2>&1 \
    || { echo "FAILED: $name lr $lr (see $dir.log)" >&2; return 1; }
  touch "$dir.done"
  echo "[$(( $(date +%s) - t0 ))s] $name lr $lr: best eval loss $(best_eval "$dir")"
}
best_eval() { grep -Eo '"eval_loss":[0-9.eE+-]+' "$1/metrics.jsonl" | cut -d: -f2 | sort -g | head -1; }
mkdir -p "$out/runs"
for m in "${methods[@]}"; do
  IFS='|' read -r name flags lrs <<< "$m"
  for lr in $lrs; do
    # shellcheck disable=SC2086
    run_one "$name" "$lr" $flags &
    while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n || true; done
  done
done
wait
[ "$(ls "$out"/runs/*.done 2>/dev/null | wc -l)" -gt 0 ] || { echo "no run finished" >&2; exit 1; }

field() { grep -Eo "$2" "$1" | head -1 | grep -Eo '[0-9.]+' | head -1; }
table="$out/table.md"
{
  echo "Base: $base ($(grep -Eo '"parameters": [0-9]+' "$base/../corpus/stats.json" 2>/dev/null | grep -Eo '[0-9]+' || echo '?') parameters, pretrained)."
  echo "Task: pirate chat, $(wc -l < "$out/pirate-chat.jsonl") user/assistant pairs, 10% held out; $steps steps x batch 8, cosine, seed 0. Best of 3 learning rates per method (4 for full and lora-r16)."
  echo
  echo "| method | trainable params | best LR | best eval loss | eval ppl | tokens/s | peak RSS | adapter size |"
  echo "|---|---|---|---|---|---|---|---|"
} > "$table"
sweep="$out/sweep.md"
{ echo "| method | LR | best eval loss | final eval loss |"; echo "|---|---|---|---|"; } > "$sweep"
declare -A best_loss
for m in "${methods[@]}"; do
  IFS='|' read -r name flags lrs <<< "$m"
  best=""; best_lr=""
  for lr in $lrs; do
    d="$out/runs/$name-lr$lr"
    if [ ! -f "$d.done" ]; then echo "| $name | $lr | not run | |" >> "$sweep"; continue; fi
    l=$(best_eval "$d")
    printf "| %s | %s | %.4f | %.4f |\n" "$name" "$lr" "$l" "$(grep -Eo '"eval_loss":[0-9.eE+-]+' "$d/metrics.jsonl" | tail -1 | cut -d: -f2)" >> "$sweep"
    if [ -z "$best" ] || awk -v a="$l" -v b="$best" 'BEGIN{exit !(a < b)}'; then best="$l"; best_lr="$lr"; fi
  done
  best_loss[$name]="$best"
  if [ -z "$best" ]; then echo "| $name | | not run | | | | | |" >> "$table"; continue; fi
  d="$out/runs/$name-lr$best_lr"
  trainable=$(grep -E '^trainable parameters' "$d.log" | sed -E 's/trainable parameters: //; s/ of .*\(/ (/')
  if [ "$name" = full ]; then size=$(stat -c %s "$d/model/model.onnx.data"); else size=$(stat -c %s "$d/adapter/adapter_model.safetensors"); fi
  printf '| %s | %s | %s | %.4f | %.3f | %s | %s MiB | %s |\n' "$name" "$trainable" "$best_lr" "$best" \
    "$(awk -v a="$best" 'BEGIN{print exp(a)}')" "$(field "$d.log" '[0-9]+ tokens/s')" \
    "$(( $(grep -E 'Maximum resident' "$d.time" | grep -Eo '[0-9]+$') / 1024 ))" \
    "$(awk -v s="$size" 'BEGIN{ if (s >= 1048576) printf "%.1f MiB", s/1048576; else printf "%.0f KiB", s/1024 }')$([ "$name" = full ] && echo ' (whole model)')" >> "$table"
done
ratio=$(awk -v a="${best_loss[lora-r16]:-0}" -v b="${best_loss[full]:-0}" 'BEGIN{ if (a > 0 && b > 0) printf "%.3f", a / b; else print "n/a" }')
{
  echo
  echo "LoRA r16 / full best eval loss: $ratio ($(awk -v r="$ratio" 'BEGIN{ if (r == "n/a") print "a run is missing"; else if (r <= 1.05) print "within 5%: the claim holds here"; else printf "%.1f%% worse: the claim does not hold here", (r - 1) * 100 }'))."
  echo
  echo "Learning-rate sweep (best = lowest eval loss over the run's evaluations, every 15 steps and at the end):"
  echo
  cat "$sweep"
} >> "$table"
cat "$table"
echo "(table written to $table; $(( $(date +%s) - t0 ))s in all, JOBS=$jobs)"

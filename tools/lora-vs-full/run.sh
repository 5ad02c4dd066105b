#!/usr/bin/env bash
# Seed promise 3 ("performance preservation"), measured: LoRA r=16 vs full fine-tune on the same
# model, data, steps and seed. Each run is its own process, so peak RSS is per run.
# A random-init base has nothing to preserve, so the base is first pretrained (full fine-tune on
# the first half of the shipped pirate data); the task is then the second half.
# Usage: tools/lora-vs-full/run.sh [steps=200] [preset=tiny] [pretrain_steps=300]
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
steps="${1:-200}"; preset="${2:-tiny}"; pretrain="${3:-300}"
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
field() { grep -E "$2" "$1" | head -1 | sed -E "s/.*$2 *([0-9.]+).*/\1/"; }
cli=(dotnet run --project "$root/src/OnnxLora.Cli" -c Release --)
dotnet build "$root/src/OnnxLora.Cli" -c Release -v q -nologo >/dev/null
"${cli[@]}" init-model --preset "$preset" --onnx -o "$work/model" >/dev/null
all="$root/src/OnnxLora.Training/Data/Embedded/pirate.jsonl"
n=$(wc -l < "$all"); head -n $((n / 2)) "$all" > "$work/pretrain.jsonl"; tail -n +$((n / 2 + 1)) "$all" > "$work/task.jsonl"
"${cli[@]}" train --model "$work/model" --data "$work/pretrain.jsonl" -o "$work/pre" --full-fine-tune true --lr 2e-3 \
  --max-steps "$pretrain" --batch-size 8 --max-seq-len 128 --seed 1 --schedule cosine --warmup-steps 10 > "$work/pre.log"
data="$work/task.jsonl"
common=(--model "$work/pre/model" --data "$data" --max-steps "$steps" --batch-size 8 --max-seq-len 128
        --val-split 0.1 --seed 0 --schedule cosine --warmup-steps 10)
"${cli[@]}" train "${common[@]}" -o "$work/lora" --lora-r 16 --lora-alpha 32 --lr 3e-3 > "$work/lora.log"
"${cli[@]}" train "${common[@]}" -o "$work/full" --full-fine-tune true --lr 1e-3 > "$work/full.log"

echo "base: $preset, pretrained $pretrain full-FT steps (eval loss $(field "$work/pre.log" 'eval loss after' || true)); task: $steps steps"
printf '%-6s %-22s %-14s %-12s %-10s\n' mode trainable eval_loss tokens/s peak_MiB
for m in lora full; do
  log="$work/$m.log"
  printf '%-6s %-22s %-14s %-12s %-10s\n' "$m" \
    "$(grep -E '^trainable parameters' "$log" | sed -E 's/trainable parameters: //; s/ of .*\(/ (/')" \
    "$(field "$log" 'eval loss after')" \
    "$(grep -Eo '[0-9]+ tokens/s' "$log" | grep -Eo '[0-9]+')" \
    "$(grep -Eo 'peak RSS [0-9]+' "$log" | grep -Eo '[0-9]+')"
done
lora=$(field "$work/lora.log" 'eval loss after'); full=$(field "$work/full.log" 'eval loss after')
echo "eval-loss ratio LoRA/full: $(awk -v a="$lora" -v b="$full" 'BEGIN { printf "%.3f", a / b }')"

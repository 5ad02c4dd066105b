#!/usr/bin/env bash
# Pretrains the pretrain-8m Llama from random init on WordNet glosses + fortune cookies with our own trainer
# (full fine-tune mode), deterministically, into $out/model (a GenAI folder that train/merge/generate take).
# Needs root once to apt-get the corpus packages (CI never runs this tool). Prints its own timings.
# Usage: tools/pretrain/run.sh [out=runs/pretrained] [steps=1100] [seed=0]
#   steps × 8 rows × 256 tokens is the token budget (1100 steps: 2.25 M token slots, ~0.48 epoch; ~30 min on
#   2 quiet cores by the CPU time measured per step, see README.md).
#   Environment: PRETRAIN_LR (2e-3), PRETRAIN_EVAL_EVERY (250), PRETRAIN_NO_BUILD=1 (use the built binaries),
#   ONNXLORA_THREADS (ORT intra-op threads). An existing $out/init + $out/corpus for the same seed is reused.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
out="$(realpath -m "${1:-$root/runs/pretrained}")"; steps="${2:-1100}"; seed="${3:-0}"
lr="${PRETRAIN_LR:-2e-3}"; eval_every="${PRETRAIN_EVAL_EVERY:-250}"
warmup=$(( steps / 20 > 10 ? steps / 20 : 10 ))
t0=$(date +%s)
stamp() { echo "[$(( $(date +%s) - t0 ))s] $*"; }

if [ ! -f /usr/share/wordnet/data.noun ] || [ ! -f /usr/share/games/fortunes/fortunes ]; then
  stamp "installing the corpus packages (wordnet-base fortunes fortunes-min; needs root)"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wordnet-base fortunes fortunes-min >/dev/null
fi
echo "corpus packages: $(dpkg-query -W -f='${Package} ${Version}, ' wordnet-base fortunes fortunes-min)"

if [ "${PRETRAIN_NO_BUILD:-0}" != 1 ]; then
  stamp "building the CLI and the pretrain tool"
  dotnet build "$root/src/OnnxLora.Cli" -c Release -v q -nologo >/dev/null
  dotnet build "$root/tools/pretrain" -c Release -v q -nologo >/dev/null
fi
cli="$root/artifacts/bin/OnnxLora.Cli/release/onnxlora"
tool="$root/artifacts/bin/pretrain/release/pretrain"

if [ -f "$out/init/model.onnx" ] && [ -f "$out/corpus/stats.json" ] && grep -q "\"seed\": $seed," "$out/corpus/stats.json"; then
  stamp "reusing $out/init and $out/corpus (deterministic; delete $out to rebuild them)"
else
  stamp "corpus, tokenizer, random init"
  "$tool" prepare --out "$out" --seed "$seed"
fi

stamp "pretraining: $steps steps x 8 x 256 tokens, lr $lr cosine (warmup $warmup), seed $seed"
rm -rf "$out/run"
/usr/bin/time -v -o "$out/pretrain.time" "$cli" train --model "$out/init" --data "$out/corpus/train.jsonl" \
  --val-data "$out/corpus/heldout.jsonl" --format text --full-fine-tune true --packing true --max-seq-len 256 \
  --batch-size 8 --max-steps "$steps" --lr "$lr" --schedule cosine --warmup-steps "$warmup" --weight-decay 0.01 \
  --eval-every "$eval_every" --save-every 0 --keep-last 1 --seed "$seed" -o "$out/run" | tee "$out/pretrain.log" \
  | awk '!/^[█░]/ || /step [0-9]*[05]0\// { print; fflush() }' || true   # progress every 50 steps
[ -d "$out/run/model" ] || { echo "pretraining did not finish (see $out/pretrain.log)" >&2; exit 1; }
rm -rf "$out/model" && cp -r "$out/run/model" "$out/model"
secs=$(( $(date +%s) - t0 ))

before=$(grep -Eo 'eval loss before [0-9.]+' "$out/pretrain.log" | grep -Eo '[0-9.]+$')
after=$(grep -Eo 'eval loss after +[0-9.]+' "$out/pretrain.log" | grep -Eo '[0-9.]+$')
tps=$(grep -Eo '[0-9]+ tokens/s' "$out/pretrain.log" | tail -1 | grep -Eo '[0-9]+')
train_s=$(grep -E 'Elapsed \(wall' "$out/pretrain.time" | grep -Eo '[0-9:.]+$')
rss=$(grep -E 'Maximum resident' "$out/pretrain.time" | grep -Eo '[0-9]+$')
sha=$(sha256sum "$out/model/model.onnx.data" | cut -c1-16)
echo
echo "## pretraining summary"
echo "corpus:        WordNet 3.0 glosses + fortune cookies, $(grep -E '"train_tokens"' "$out/corpus/stats.json" | grep -Eo '[0-9]+') train tokens, $(grep -E '"heldout_tokens"' "$out/corpus/stats.json" | grep -Eo '[0-9]+') held-out tokens"
echo "model:         pretrain-8m, $(grep -E '"parameters"' "$out/corpus/stats.json" | grep -Eo '[0-9]+') parameters, vocab 4096, seed $seed"
echo "budget:        $steps steps x 2048 token slots (packed)"
echo "held-out loss: $before -> $after (perplexity $(awk -v a="$before" 'BEGIN{printf "%.1f", exp(a)}') -> $(awk -v a="$after" 'BEGIN{printf "%.2f", exp(a)}'))"
echo "training:      $train_s wall, $tps tokens/s, peak RSS $(( rss / 1024 )) MiB; whole script ${secs}s"
echo "weights:       $out/model (model.onnx.data sha256 $sha...)"

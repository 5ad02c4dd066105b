#!/usr/bin/env bash
# The int4-vs-fp32 export table (issue 13): `merge --quantize int4` against `merge` for the quickstart adapter on the
# embedded tiny model and for a LoRA adapter trained on bench-58m: model size, eval perplexity of each exported graph,
# the extra error of folding onto an int4 base, and (with --decode) GenAI CPU decode tokens/s.
# Models are made once under the work folder and reused: quickstart (1000 LoRA steps on the pirate set) and
# bench-58m (random init, seed 0: the weights tools/bench-train uses, plus the embedded tokenizer), LoRA r16/alpha 32
# trained 30 steps on the pirate set. Perplexity is measured on the pirate set (first 200 examples). The quickstart row
# also lists non-default options (asymmetric, block 16, lm_head float) with their size and perplexity.
# Usage: tools/int4-table/run.sh [--decode] [--model-dir DIR --adapter DIR --name LABEL [--data JSONL]] [work-dir]
#   --decode    also time GenAI decode (median and best of 5 round-robin runs of 128 tokens); use a quiet machine
#   --model-dir/--adapter/--name: one more row for any GenAI base + PEFT adapter (e.g. a pretrained base, issue 17),
#               evaluated on --data (default: the pirate set); --only-extra skips the quickstart and bench-58m rows
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
decode=false; extra_model=""; extra_adapter=""; extra_name="extra"; extra_data=""; only_extra=false; work=""
while [ $# -gt 0 ]; do
  case "$1" in
    -h|--help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    --decode) decode=true ;;
    --model-dir) extra_model="$2"; shift ;;
    --adapter) extra_adapter="$2"; shift ;;
    --name) extra_name="$2"; shift ;;
    --data) extra_data="$2"; shift ;;
    --only-extra) only_extra=true ;;
    -*) echo "error: unknown option '$1' (see --help)" >&2; exit 2 ;;
    *) work="$1" ;;
  esac
  shift
done
work="${work:-${TMPDIR:-/tmp}/onnxlora-int4-table}"
mkdir -p "$work"

dotnet build "$root/src/OnnxLora.Cli" -c Release -v q -nologo >&2
dotnet build "$here/int4-table.csproj" -c Release -v q -nologo >&2
cli="$root/artifacts/bin/OnnxLora.Cli/release/onnxlora"
tool="$root/artifacts/bin/int4-table/release/int4-table"

if [ ! -d "$work/quickstart/run/adapter" ]; then
  echo "== quickstart (tiny model + pirate adapter)" >&2
  "$cli" quickstart -o "$work/quickstart" >&2
fi
data="$work/quickstart/pirate.jsonl"
if [ ! -f "$work/bench-58m/model.onnx" ]; then
  echo "== bench-58m (random init, seed 0, embedded tokenizer)" >&2
  "$cli" init-model --preset bench-58m --seed 0 --onnx -o "$work/bench-58m" >&2
fi
if [ ! -d "$work/bench-58m-run/adapter" ]; then
  echo "== bench-58m LoRA r16, 30 steps on the pirate set" >&2
  "$cli" train --model "$work/bench-58m" --data "$data" -o "$work/bench-58m-run" --max-steps 30 --batch-size 4 \
    --max-seq-len 128 --lr 1e-3 --lora-r 16 --lora-alpha 32 --seed 0 >&2
fi

row() { "$tool" --model "$1" --adapter "$2" --data "${6:-$data}" --name "$3" --work "$work/table-$4" --decode "$decode" --pad-last-block "$5" --variants "${7:-false}"; }
if [ "$only_extra" = false ]; then
  # the tiny model's intermediate size 344 is not a multiple of 32: its down_proj's last block is zero-padded, as the builder pads it
  # with the option variants (asymmetric, block 16, lm_head float): the tiny model is where block-32 int4 loses most
  row "$work/quickstart/model" "$work/quickstart/run/adapter" "quickstart adapter on the tiny model" tiny true "$data" true
  row "$work/bench-58m" "$work/bench-58m-run/adapter" "bench-58m, LoRA r16 trained 30 steps" 58m false
fi
if [ -n "$extra_model" ]; then
  row "$extra_model" "$extra_adapter" "$extra_name" "extra-$(echo "$extra_name" | tr -c 'A-Za-z0-9' '-')" true "${extra_data:-$data}"
fi

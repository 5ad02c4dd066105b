#!/usr/bin/env bash
# Regenerates the committed reference data (tests/data/torch-onnx, left-pad, int4) with Debian's python3-torch,
# then runs every exported ONNX file through ONNX Runtime 1.31 (check-onnx) against the stored torch outputs.
# The test command never runs this (CI has no torch); the committed outputs are what tests read.
# Usage: tools/torch-ref/run.sh [--check-only]   (--check-only: skip the Python scripts, only run the ORT checks)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
py="${PYTHON:-/usr/bin/python3}"
case "${1:-}" in
  -h|--help) sed -n '2,5p' "$0" | sed 's/^# //'; exit 0 ;;
  --check-only|"") ;;
  *) echo "error: unknown argument '$1' (see --help)" >&2; exit 2 ;;
esac

if [ "${1:-}" != "--check-only" ]; then
  export PYTHONWARNINGS=ignore  # torch.onnx TracerWarnings about Python ints in shapes: expected, and checked below
  echo "== A: torch.onnx exports";            "$py" "$here/export_onnx.py"
  echo "== B: left-padded batch reference";   "$py" "$here/left_pad_ref.py"
  echo "== C: int4 quantization + QLoRA refs"; "$py" "$here/int4_ref.py"
fi

dotnet build "$here/check-onnx/check-onnx.csproj" -c Release -v q -nologo >&2
chk="$root/artifacts/bin/check-onnx/release/check-onnx"
d="$root/tests/data/torch-onnx"
q="$root/artifacts/torch-ref-int4-check"
echo "== ORT 1.31 on the torch.onnx exports (tolerance 1e-5)"
"$chk" --model "$d/tiny-llama/model.onnx" --cases "$d/cases.safetensors" --case fixture,left_pad
"$chk" --model "$d/tiny-llama-unfolded/model.onnx" --cases "$d/cases.safetensors" --case fixture,left_pad
"$chk" --model "$d/tiny-llama-with-past/model.onnx" --cases "$d/cases.safetensors" --case prefill,decode,decode1,fixture_past0
if [ -d "$q" ]; then
  echo "== ORT MatMulNBits (accuracy_level 0) reading our int4 tensors vs torch on the dequantized weights (1e-5)"
  for v in sym sym_fp32_lm_head asym asym_fp32_lm_head; do
    "$chk" --model "$q/${v}_acc0.onnx" --cases "$q/${v}_cases.safetensors" --case fixture
  done
  for k in sym asym; do
    "$chk" --model "$q/synthetic_k40_$k.onnx" --cases "$q/synthetic_k40_${k}_cases.safetensors" --case k40
  done
  echo "== the same with accuracy_level 4 (the builder's cpu default: A quantized to int8 inside the kernel), for scale"
  for v in sym asym; do
    "$chk" --model "$q/${v}_acc4.onnx" --cases "$q/${v}_cases.safetensors" --case fixture --tol 1e-2
  done
fi

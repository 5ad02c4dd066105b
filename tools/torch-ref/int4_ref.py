#!/usr/bin/env python3
# int4 (MatMulNBits) reference for issue 13: quantizes every projection (and lm_head) of the tiny-llama fixture
# the way the GenAI model builder does with `-p int4` (ORT's DefaultWeightOnlyQuantizer -> MLAS blockwise RTN,
# block 32, symmetric or asymmetric), written independently from the algorithm's description; stores the builder
# tensors (<weight>_Q4, _scales, _zero_points), dequantization check matrices, and, on the dequantized weights
# with the fixture adapter: logits, losses, every LoRA gradient and the 30-step AdamW trajectory.
# With --onnx-check it also exports MatMulNBits graphs so check-onnx can compare ORT's kernel with the dequantized
# reference. It does not build the GenAI layout (the C# side does) and is never run by the test command.
# K=in features, N=out features, kb=K blocks, B=batch, T=time, V=vocab
import argparse
import json
import os
import sys

import torch
import torch.nn as nn

import tinyllama as tl

BLOCK = 32          # builder default block_size
BITS = 4
ACCURACY_LEVEL = 4  # builder default on cpu (quant_config.py); an attribute of the node, not of the data
SYMMETRIC_ZERO_POINT = 8  # MatMulNBits' default zero point when the input is absent: 2^(bits-1)
DEQUANT_BOUND_SLACK = 1e-6      # |W - dequant| <= |scale| (clamped end) plus this relative slack
ORT_CHECK_ABS_TOL = 1e-5        # check-onnx: ORT MatMulNBits (accuracy_level 0) vs torch on dequantized weights
CHECK_WEIGHTS = ("model.layers.0.attn.q_proj.MatMul.weight", "model.layers.1.mlp.down_proj.MatMul.weight")
SYNTHETIC = "synthetic.k40.weight"  # (K=40, N=3) seeded normal: a K that is not a multiple of the block
VARIANTS = {  # name -> (symmetric, lm_head quantized)
    "sym": (True, True),                  # `-p int4 -e cpu` defaults
    "sym_fp32_lm_head": (True, False),    # ... with /lm_head/MatMul in nodes_to_exclude
    "asym": (False, True),                # --extra_options is_symmetric=false
    "asym_fp32_lm_head": (False, False),
}


# ---------------------------------------------------------------------------------------------------------------
# The quantizer. fp32 arithmetic throughout, in the order MLAS does it (see README: reciprocal scale, add the zero
# point, then C roundf = half away from zero, clamp to [0, 15]).
# ---------------------------------------------------------------------------------------------------------------

def roundf(x):
    """C roundf (ties away from zero) on float32, exact: trunc + compare of the exact fractional part."""
    t = torch.trunc(x)
    frac = x - t  # exact in fp32 for |x| < 2^23
    return t + torch.sign(x) * (frac.abs() >= 0.5).to(x.dtype)


def quantize_blockwise(w_kn, symmetric, block=BLOCK, scale_dtype=torch.float32):
    """w_kn: (K,N), the MatMul weight [in, out] as the builder stores it (float32, or float16 for fp16 models).
    Returns q4 (N,kb,block/2) uint8, scales (N*kb,) in scale_dtype, zero_points (N*ceil(kb/2),) uint8 or None,
    and the unpacked codes (N,kb*block) int64 (0 where K is padded). With scale_dtype float16 the scale is rounded
    to fp16 before its reciprocal is taken (MLAS stores the scale, then reads it back); the asymmetric zero point
    comes from the unrounded fp32 scale."""
    w_kn = w_kn.to(torch.float32)
    k, n = w_kn.shape
    kb = (k + block - 1) // block
    cols = w_kn.t()  # (N,K): MLAS quantizes each column of B along K
    codes = torch.zeros(n, kb * block, dtype=torch.int64)
    scales = torch.zeros(n, kb, dtype=torch.float32)
    zps = torch.full((n, kb), SYMMETRIC_ZERO_POINT, dtype=torch.int64)
    for j in range(kb):
        blk = cols[:, j * block: min(k, (j + 1) * block)]  # (N,<=block)
        mn, mx = blk.min(dim=1).values, blk.max(dim=1).values
        if symmetric:
            # range2scale: the value with the larger magnitude (ties -> min) maps to -8
            m = torch.where(mx.abs() > mn.abs(), mx, mn)
            scale = -m / 8.0
            zp = torch.full((n,), SYMMETRIC_ZERO_POINT, dtype=torch.int64)
        else:
            # range2scalezp: range widened to include 0, 15 steps, zero point rounded and clamped to [0, 15]
            mn, mx = torch.minimum(mn, torch.zeros_like(mn)), torch.maximum(mx, torch.zeros_like(mx))
            scale = (mx - mn) / 15.0
            zp_fp = torch.where(scale != 0, 0.0 - mn / torch.where(scale != 0, scale, torch.ones_like(scale)), mn)
            zp = torch.where(zp_fp < 0, torch.zeros_like(zp_fp),
                             torch.where(zp_fp > 15, torch.full_like(zp_fp, 15), roundf(zp_fp))).to(torch.int64)
        scale = scale.to(scale_dtype).to(torch.float32)  # the stored scale
        recip = torch.where(scale != 0, 1.0 / torch.where(scale != 0, scale, torch.ones_like(scale)), torch.zeros_like(scale))
        x = blk * recip[:, None] + zp[:, None].to(torch.float32)
        q = roundf(x).clamp(0, 15).to(torch.int64)
        codes[:, j * block: j * block + blk.shape[1]] = q
        scales[:, j], zps[:, j] = scale, zp
    pairs = codes.view(n, kb, block // 2, 2)
    q4 = (pairs[..., 0] | (pairs[..., 1] << 4)).to(torch.uint8)  # low nibble = even k, high nibble = odd k
    zero_points = None
    if not symmetric:
        padded = torch.full((n, 2 * ((kb + 1) // 2)), SYMMETRIC_ZERO_POINT, dtype=torch.int64)  # missing nibble = 8
        padded[:, :kb] = zps
        zero_points = (padded[:, 0::2] | (padded[:, 1::2] << 4)).to(torch.uint8).reshape(-1)
    return q4, scales.reshape(-1).to(scale_dtype), zero_points, codes


def dequantize(q4, scales, zero_points, k, n, block=BLOCK):
    """MatMulNBits' view of the weight: W[k, n] = (code - zero_point) * scale, float32 (K,N)."""
    kb = (k + block - 1) // block
    b = q4.to(torch.int64).view(n, kb, block // 2)
    codes = torch.stack([b & 0xF, b >> 4], dim=-1).reshape(n, kb * block)[:, :k]  # (N,K)
    if zero_points is None:
        zp = torch.full((n, kb), SYMMETRIC_ZERO_POINT, dtype=torch.int64)
    else:
        zb = zero_points.to(torch.int64).view(n, -1)
        zp = torch.stack([zb & 0xF, zb >> 4], dim=-1).reshape(n, -1)[:, :kb]
    s = scales.to(torch.float32).view(n, kb)
    blk = torch.arange(k) // block
    return ((codes - zp[:, blk]).to(torch.float32) * s[:, blk]).t().contiguous()  # (K,N)


# ---------------------------------------------------------------------------------------------------------------
# Names. HF module -> the builder's MatMul weight initializer (the quantizer appends _Q4/_scales/_zero_points).
# ---------------------------------------------------------------------------------------------------------------

def builder_weight_name(module):
    if module == "lm_head":
        return "lm_head.MatMul.weight"
    return module.replace(".self_attn.", ".attn.") + ".MatMul.weight"


def projection_modules(cfg, lm_head):
    mods = [f"model.layers.{i}.{kind}.{p}" for i in range(cfg.layers)
            for kind, ps in (("self_attn", ("q_proj", "k_proj", "v_proj", "o_proj")), ("mlp", ("gate_proj", "up_proj", "down_proj")))
            for p in ps]
    return mods + (["lm_head"] if lm_head else [])


def quantize_model(weights, cfg, symmetric):
    """Quantizes every projection and lm_head; returns (tensors for the safetensors file, {module: dequantized HF W})."""
    tensors, dequant = {}, {}
    for module in projection_modules(cfg, lm_head=True):
        w_hf = weights[module + ".weight"]  # (N,K) HF layout
        w_kn = w_hf.t().contiguous()         # (K,N) the builder's MatMul weight
        k, n = w_kn.shape
        q4, scales, zp, _ = quantize_blockwise(w_kn, symmetric)
        name = builder_weight_name(module)
        tensors[name + "_Q4"], tensors[name + "_scales"] = q4, scales
        if zp is not None:
            tensors[name + "_zero_points"] = zp
        d = dequantize(q4, scales, zp, k, n)
        check_bound(d, w_kn, scales.view(n, -1), name)
        dequant[module] = d.t().contiguous()  # back to HF (N,K)
        if name in CHECK_WEIGHTS:
            tensors["dequant." + name] = d
            tensors["weight." + name] = w_kn
    g = torch.Generator().manual_seed(0)
    w = torch.randn(40, 3, generator=g)
    w[5, 0] = 0.0  # one column block with an exact zero; column 2's second block all positive (asym zp 0)
    w[32:, 2] = w[32:, 2].abs()
    q4, scales, zp, _ = quantize_blockwise(w, symmetric)
    tensors[SYNTHETIC + "_Q4"], tensors[SYNTHETIC + "_scales"] = q4, scales
    if zp is not None:
        tensors[SYNTHETIC + "_zero_points"] = zp
    tensors["dequant." + SYNTHETIC], tensors["weight." + SYNTHETIC] = dequantize(q4, scales, zp, 40, 3), w
    for i in range(cfg.layers):  # the builder's default packed QKV: q, k, v concatenated along N
        packed = f"model.layers.{i}.attn.qkv_proj.MatMul.weight"
        parts = [f"model.layers.{i}.attn.{p}.MatMul.weight" for p in ("q_proj", "k_proj", "v_proj")]
        tensors[packed + "_Q4"] = torch.cat([tensors[p + "_Q4"] for p in parts], dim=0)
        tensors[packed + "_scales"] = torch.cat([tensors[p + "_scales"] for p in parts], dim=0)
        if not symmetric:
            tensors[packed + "_zero_points"] = torch.cat([tensors[p + "_zero_points"] for p in parts], dim=0)
        w_packed = torch.cat([weights[f"model.layers.{i}.self_attn.{p}.weight"] for p in ("q_proj", "k_proj", "v_proj")]).t()
        q4, scales, zp, _ = quantize_blockwise(w_packed.contiguous(), symmetric)
        if not (torch.equal(q4, tensors[packed + "_Q4"]) and torch.equal(scales, tensors[packed + "_scales"])
                and (zp is None or torch.equal(zp, tensors[packed + "_zero_points"]))):
            sys.exit(f"error: {packed}: quantizing the packed weight differs from concatenating q, k, v")
    return tensors, dequant


def quantize_fp16(weights, cfg, symmetric):
    """An fp16 model's int4 tensors (the builder's `-p int4` for cuda/dml: fp16 weights, fp16 scales): every projection
    and lm_head cast to float16 first, then quantized with fp16 scales; dequant./weight. check vectors as in fp32."""
    tensors = {}
    for module in projection_modules(cfg, lm_head=True):
        w_kn = weights[module + ".weight"].t().contiguous().to(torch.float16)
        k, n = w_kn.shape
        q4, scales, zp, _ = quantize_blockwise(w_kn, symmetric, scale_dtype=torch.float16)
        name = builder_weight_name(module)
        tensors[name + "_Q4"], tensors[name + "_scales"] = q4, scales
        if zp is not None:
            tensors[name + "_zero_points"] = zp
        d = dequantize(q4, scales, zp, k, n)
        check_bound(d, w_kn.to(torch.float32), scales.to(torch.float32).view(n, -1), name)
        if name in CHECK_WEIGHTS:
            tensors["dequant." + name] = d
            tensors["weight." + name] = w_kn
    return tensors


def check_bound(d, w, scales, name):
    """Each dequantized value is within one step of the original (half a step unless clamped)."""
    k, n = w.shape
    step = scales.abs()[:, torch.arange(k) // BLOCK].t()  # (K,N)
    err = (d - w).abs()
    if (err > step * (1 + DEQUANT_BOUND_SLACK) + 1e-12).any():
        sys.exit(f"error: {name}: dequantized value further than one step from the original")


# ---------------------------------------------------------------------------------------------------------------
# References on the dequantized weights.
# ---------------------------------------------------------------------------------------------------------------

def reference(dequant, lm_head, adapter, scaling, ref):
    replaced = {m + ".weight": w for m, w in dequant.items() if lm_head or m != "lm_head"}
    ids, mask, labels = ref["input_ids"], ref["attention_mask"], ref["labels"]
    base = tl.build(attn="sdpa", weights=replaced)
    with torch.no_grad():
        base_logits = base(ids, mask)
    model = tl.inject_lora(tl.build(attn="sdpa", weights=replaced), adapter, scaling)
    logits, loss, grads = tl.lora_forward_backward(model, ids, mask, labels)
    out = {"input_ids": ids, "attention_mask": mask, "labels": labels, "base.logits": base_logits,
           "base.loss": tl.hf_loss(base_logits, labels).reshape(1), "lora.logits": logits, "lora.loss": loss.reshape(1), **grads}
    traj_model = tl.inject_lora(tl.build(attn="sdpa", weights=replaced), adapter, scaling)
    # The same 30 steps in float64: how far fp32 rounding alone moves this trajectory (AdamW's first steps are
    # sign-like, so gradient entries whose sign is within rounding noise can amplify it; see README).
    traj64 = tl.inject_lora(tl.build(attn="sdpa", weights=replaced), adapter, scaling).double()
    losses64 = tl.run_trajectory(traj64, tl.fixture_trajectory())
    return out, tl.run_trajectory(traj_model, tl.fixture_trajectory()), losses64, replaced


def main():
    ap = argparse.ArgumentParser(description="int4 builder-layout tensors and QLoRA references (see tools/torch-ref/README.md)")
    ap.add_argument("--out", default=os.path.join(tl.repo_root(), "tests", "data", "int4"))
    ap.add_argument("--onnx-check", default=os.path.join(tl.repo_root(), "artifacts", "torch-ref-int4-check"),
                    help="folder for MatMulNBits exports + cases (git-ignored); '' skips")
    a = ap.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(1)
    print(tl.torch_version_line())
    tl.self_check("sdpa")
    fx = tl.fixture_dir()
    traj = tl.fixture_trajectory()
    adapter, scaling = tl.load_adapter(os.path.join(fx, "adapter"))
    fp_losses = tl.run_trajectory(tl.inject_lora(tl.build(attn="sdpa"), adapter, scaling), traj)
    traj_err = max(abs(x - y) for x, y in zip(fp_losses, traj["losses"]))
    print(f"self-check: fp32 30-step AdamW trajectory vs fixture max|d| {traj_err:.1e} -> "
          f"{'PASS' if traj_err <= tl.FIXTURE_TRAJ_ABS_TOL else 'FAIL'}")
    if traj_err > tl.FIXTURE_TRAJ_ABS_TOL:
        sys.exit("error: fp32 trajectory does not reproduce the fixture")

    base_dir = os.path.join(fx, "base")
    cfg = tl.Config.load(base_dir)
    weights = tl.load_safetensors(os.path.join(base_dir, "model.safetensors"))
    ref = tl.load_safetensors(os.path.join(fx, "reference.safetensors"))
    meta_common = {"producer": "tools/torch-ref/int4_ref.py", "torch": torch.__version__, "bits": BITS,
                   "block_size": BLOCK, "accuracy_level_builder_cpu": ACCURACY_LEVEL}
    quantized = {}
    for sym in (True, False):
        tensors, dequant = quantize_model(weights, cfg, sym)
        quantized[sym] = (tensors, dequant)
        kind = "sym" if sym else "asym"
        path = os.path.join(a.out, f"quantized_{kind}.safetensors")
        tl.save_safetensors(path, tensors, dict(meta_common, symmetric=sym,
                            layout="<w>_Q4 (N, ceil(K/32), 16) uint8 low nibble first; <w>_scales (N*ceil(K/32),) float32 "
                                   "column-major by N; <w>_zero_points (N*ceil(ceil(K/32)/2),) uint8 (asym only, padding nibble 8); "
                                   "dequant.<w>/weight.<w> (K,N) float32"))
        rel = max(tl.rel_err(dequant[m], weights[m + ".weight"]) for m in dequant)
        print(f"wrote {path} ({os.path.getsize(path)} B); max |W-dequant|/max|W| over weights {rel:.3f}")
        path16 = os.path.join(a.out, f"quantized_{kind}_fp16.safetensors")
        tl.save_safetensors(path16, quantize_fp16(weights, cfg, sym), dict(meta_common, symmetric=sym, scale_dtype="float16",
                            layout="as quantized_%s.safetensors, from the weights cast to float16; <w>_scales float16; "
                                   "weight.<w> float16 (K,N), dequant.<w> float32 (K,N)" % kind))
        print(f"wrote {path16} ({os.path.getsize(path16)} B)")

    for variant, (sym, lm_head) in VARIANTS.items():
        out, losses, losses64, replaced = reference(quantized[sym][1], lm_head, adapter, scaling, ref)
        path = os.path.join(a.out, f"reference_{variant}.safetensors")
        tl.save_safetensors(path, out, dict(meta_common, symmetric=sym, lm_head_quantized=lm_head,
                            weights="fixture base with every q,k,v,o,gate,up,down" + (" and lm_head" if lm_head else "")
                                    + " replaced by its int4 dequantization (quantized_%s.safetensors)" % ("sym" if sym else "asym"),
                            attention="sdpa semantics (no padding in this batch)", lora="fixture adapter/, scaling 2"))
        traj_out = {k: traj[k] for k in ("optimizer", "lr", "betas", "eps", "weight_decay", "labels", "batches")}
        traj_out["losses"] = losses
        traj_out["losses_fp64"] = losses64
        traj_out["fp32_vs_fp64_max_abs"] = max(abs(x - y) for x, y in zip(losses, losses64))
        traj_out["weights"] = f"int4 {('symmetric' if sym else 'asymmetric')} block {BLOCK} dequantized, lm_head " \
                              f"{'int4' if lm_head else 'fp32'}; tools/torch-ref/int4_ref.py, torch {torch.__version__}"
        tpath = os.path.join(a.out, f"trajectory_{variant}.json")
        tl.write_atomic(tpath, json.dumps(traj_out))
        print(f"{variant}: lora.loss {out['lora.loss'].item():.7f} (fp32 {ref['lora.loss'].item():.7f}), base.loss "
              f"{out['base.loss'].item():.7f}, lora.logits vs fp32 max|d| {tl.max_abs(out['lora.logits'], ref['lora.logits']):.2e}, "
              f"grads vs fp32 max rel {max(tl.rel_err(out[k], ref[k]) for k in out if k.startswith('grad.')):.2e}, "
              f"step-30 loss {losses[-1]:.7f} (fp32 {traj['losses'][-1]:.7f}), trajectory fp32 vs fp64 "
              f"max|d| {traj_out['fp32_vs_fp64_max_abs']:.1e}; wrote {os.path.basename(path)} "
              f"({os.path.getsize(path)} B), {os.path.basename(tpath)}")
        if a.onnx_check:
            export_matmulnbits(a.onnx_check, variant, quantized[sym][0], replaced, lm_head, sym, ref)
    if a.onnx_check:
        for sym in (True, False):
            export_synthetic(a.onnx_check, "sym" if sym else "asym", quantized[sym][0])
        print(f"wrote MatMulNBits check models to {a.onnx_check} (run tools/torch-ref/run.sh or check-onnx on them)")


# ---------------------------------------------------------------------------------------------------------------
# Optional ORT check: the HF-shaped model with each quantized Linear exported as com.microsoft MatMulNBits reading
# the tensors above; cases hold torch's logits on the dequantized weights. check-onnx then tells whether ORT's
# kernel reads our B/scales/zero_points layout the way dequantize() does.
# ---------------------------------------------------------------------------------------------------------------

class _MatMulNBits(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, q4, scales, zp, w_kn, k, n, acc):
        return x @ w_kn

    @staticmethod
    def symbolic(g, x, q4, scales, zp, w_kn, k, n, acc):
        inputs = [x, q4, scales] + ([zp] if zp is not None else [])
        return g.op("com.microsoft::MatMulNBits", *inputs, K_i=k, N_i=n, bits_i=BITS, block_size_i=BLOCK, accuracy_level_i=acc)


class QuantLinear(nn.Module):
    def __init__(self, q4, scales, zp, w_kn, acc):
        super().__init__()
        self.register_buffer("weight_Q4", q4)
        self.register_buffer("weight_scales", scales)
        self.register_buffer("weight_zero_points", zp if zp is not None else None)
        self.register_buffer("dequantized", w_kn)
        self.k, self.n, self.acc = w_kn.shape[0], w_kn.shape[1], acc

    def forward(self, x):
        return _MatMulNBits.apply(x, self.weight_Q4, self.weight_scales, self.weight_zero_points, self.dequantized,
                                  self.k, self.n, self.acc)


def export_matmulnbits(folder, variant, tensors, replaced, lm_head, sym, ref):
    os.makedirs(folder, exist_ok=True)
    cases = {}
    with torch.no_grad():
        for acc in (0, ACCURACY_LEVEL):
            model = tl.build(attn="eager", weights=replaced)
            for module in projection_modules(model.cfg, lm_head):
                parent_name, _, child = module.rpartition(".")
                parent = model.get_submodule(parent_name) if parent_name else model
                name = builder_weight_name(module)
                setattr(parent, child, QuantLinear(tensors[name + "_Q4"], tensors[name + "_scales"],
                                                   tensors.get(name + "_zero_points"), replaced[module + ".weight"].t().contiguous(), acc))
            ids, mask = ref["input_ids"], ref["attention_mask"]
            pos = torch.arange(ids.shape[1]).expand_as(ids).contiguous()
            logits = model(ids, mask, pos)
            cases.update({"fixture.in.input_ids": ids, "fixture.in.attention_mask": mask, "fixture.in.position_ids": pos,
                          "fixture.out.logits": logits})
            path = os.path.join(folder, f"{variant}_acc{acc}.onnx")
            torch.onnx.export(model, (ids, mask, pos), path, input_names=["input_ids", "attention_mask", "position_ids"],
                              output_names=["logits"], opset_version=14, custom_opsets={"com.microsoft": 1},
                              dynamic_axes={"input_ids": {0: "b", 1: "t"}, "attention_mask": {0: "b", 1: "t"},
                                            "position_ids": {0: "b", 1: "t"}, "logits": {0: "b", 1: "t"}})
    tl.save_safetensors(os.path.join(folder, f"{variant}_cases.safetensors"), cases)


class _One(nn.Module):
    def __init__(self, q):
        super().__init__()
        self.proj = q

    def forward(self, x):
        return self.proj(x)


def export_synthetic(folder, kind, tensors):
    """One MatMulNBits with K=40 (a partial second block): ORT's kernel vs x @ dequant."""
    name = SYNTHETIC
    model = _One(QuantLinear(tensors[name + "_Q4"], tensors[name + "_scales"], tensors.get(name + "_zero_points"),
                             tensors["dequant." + name], 0))
    x = torch.randn(2, 5, 40, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        y = model(x)
    path = os.path.join(folder, f"synthetic_k40_{kind}.onnx")
    torch.onnx.export(model, (x,), path, input_names=["x"], output_names=["y"], opset_version=14,
                      custom_opsets={"com.microsoft": 1})
    tl.save_safetensors(os.path.join(folder, f"synthetic_k40_{kind}_cases.safetensors"), {"k40.in.x": x, "k40.out.y": y})


if __name__ == "__main__":
    main()

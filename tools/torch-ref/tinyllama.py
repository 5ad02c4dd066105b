# Shared code of the torch-ref scripts: safetensors read/write without the safetensors package, a PyTorch
# Llama whose module tree and forward mirror transformers' LlamaForCausalLM (so torch.onnx node names are the
# real ones), PEFT-named LoRA injection, HF loss, relative-error helpers and the self-check against the shared
# tiny-llama fixture. It does not export, quantize or write references itself; the three scripts beside it do.
# B=batch, T=new tokens, P=past tokens, S=P+T keys, D=hidden, H=heads, K=kv heads, E=head dim, V=vocab, r=rank
import json
import math
import os
import struct
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

# Tolerances (fp32, CPU). The fixture README reports 4e-7 for a minimal re-implementation.
FIXTURE_LOGITS_ABS_TOL = 1e-5   # base/lora logits vs reference.safetensors
FIXTURE_LOSS_ABS_TOL = 1e-5     # base/lora loss
FIXTURE_GRAD_REL_TOL = 1e-4     # every LoRA gradient, relative to the tensor's max |value|
FIXTURE_TRAJ_ABS_TOL = 1e-4     # 30-step AdamW losses vs trajectory.json

_ST_TO_TORCH = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16, "F64": torch.float64,
                "I64": torch.int64, "I32": torch.int32, "U8": torch.uint8, "I8": torch.int8, "BOOL": torch.bool}
_TORCH_TO_ST = {v: k for k, v in _ST_TO_TORCH.items()}


def repo_root():
    """The folder holding OnnxLora.sln, found upwards from this file."""
    d = os.path.dirname(os.path.abspath(__file__))
    while not os.path.exists(os.path.join(d, "OnnxLora.sln")):
        parent = os.path.dirname(d)
        if parent == d:
            sys.exit("error: no OnnxLora.sln above " + os.path.abspath(__file__))
        d = parent
    return d


def fixture_dir():
    return os.path.normpath(os.path.join(repo_root(), "..", "shared", "fixtures", "tiny-llama"))


def load_safetensors(path):
    """Reads every tensor of a .safetensors file into a dict of torch tensors (copies, CPU)."""
    if not os.path.isfile(path):
        sys.exit(f"error: {path}: file not found")
    with open(path, "rb") as f:
        raw = f.read()
    if len(raw) < 8:
        sys.exit(f"error: {path}: too short for a safetensors header")
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    data = bytearray(raw[8 + n:])
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        a, b = info["data_offsets"]
        dtype = _ST_TO_TORCH[info["dtype"]]
        count = (b - a) // torch.tensor([], dtype=dtype).element_size()
        t = torch.frombuffer(data, dtype=dtype, count=count, offset=a) if count else torch.empty(0, dtype=dtype)
        out[name] = t.reshape(info["shape"]).clone()
    return out


def save_safetensors(path, tensors, metadata=None):
    """Writes tensors (sorted by name, contiguous little-endian) to path via a temp file and a rename."""
    header, blobs, offset = {}, [], 0
    if metadata:
        header["__metadata__"] = {k: str(v) for k, v in metadata.items()}
    for name in sorted(tensors):
        t = tensors[name].detach().contiguous().cpu()
        blob = t.numpy().tobytes() if t.numel() else b""
        header[name] = {"dtype": _TORCH_TO_ST[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    head = json.dumps(header, separators=(",", ":")).encode()
    head += b" " * ((8 - len(head) % 8) % 8)  # the format pads the header to 8 bytes with spaces
    write_atomic(path, struct.pack("<Q", len(head)) + head + b"".join(blobs))


def write_atomic(path, data):
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "wb" if isinstance(data, bytes) else "w") as f:
        f.write(data)
    os.replace(tmp, path)


class Config:
    """The config.json fields a Llama needs; rope_theta from either the top level or rope_parameters."""

    def __init__(self, d):
        self.vocab = d["vocab_size"]
        self.hidden = d["hidden_size"]
        self.inter = d["intermediate_size"]
        self.layers = d["num_hidden_layers"]
        self.heads = d["num_attention_heads"]
        self.kv_heads = d.get("num_key_value_heads") or self.heads
        self.head_dim = d.get("head_dim") or self.hidden // self.heads
        self.eps = d.get("rms_norm_eps", 1e-6)
        rp = d.get("rope_parameters") or {}
        self.theta = d.get("rope_theta", rp.get("rope_theta", 10000.0))
        self.tied = d.get("tie_word_embeddings", False)

    @staticmethod
    def load(folder):
        return Config(json.load(open(os.path.join(folder, "config.json"))))


# ---------------------------------------------------------------------------------------------------------------
# The model. Module names follow transformers' LlamaForCausalLM exactly; forward follows transformers 4.4x's
# eager path (what optimum's torch.onnx exports trace), with one switch for the attention semantics:
#   attn="eager": 4-D additive float mask, finfo.min where not allowed (transformers _update_causal_mask); a
#                 query row with no visible key then gets a uniform softmax over all keys, as real eager does.
#   attn="sdpa":  boolean mask causal AND key-not-padding (transformers 5 sdpa_mask); a query row with no visible
#                 key outputs zeros, as torch>=2.5 scaled_dot_product_attention does (its safe softmax). torch
#                 1.13 has no SDPA, so: softmax with finfo.min in masked places, then the probabilities of rows
#                 that see no key are multiplied by 0 (exact zeros forward and backward, no NaN).
# ---------------------------------------------------------------------------------------------------------------

class LlamaRMSNorm(nn.Module):
    def __init__(self, hidden, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(hidden))
        self.variance_epsilon = eps

    def forward(self, hidden_states):
        input_dtype = hidden_states.dtype
        hidden_states = hidden_states.to(torch.float32)
        variance = hidden_states.pow(2).mean(-1, keepdim=True)
        hidden_states = hidden_states * torch.rsqrt(variance + self.variance_epsilon)
        return self.weight * hidden_states.to(input_dtype)


class LlamaRotaryEmbedding(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        inv_freq = 1.0 / (cfg.theta ** (torch.arange(0, cfg.head_dim, 2, dtype=torch.int64).float() / cfg.head_dim))
        self.register_buffer("inv_freq", inv_freq, persistent=False)
        self.attention_scaling = 1.0  # rope_type "default"

    def forward(self, x, position_ids):  # position_ids (B,T) -> cos, sin (B,T,E)
        inv_freq_expanded = self.inv_freq[None, :, None].float().expand(position_ids.shape[0], -1, 1)
        position_ids_expanded = position_ids[:, None, :].float()
        freqs = (inv_freq_expanded.float() @ position_ids_expanded.float()).transpose(1, 2)
        emb = torch.cat((freqs, freqs), dim=-1)
        cos = emb.cos() * self.attention_scaling
        sin = emb.sin() * self.attention_scaling
        return cos.to(dtype=x.dtype), sin.to(dtype=x.dtype)


def rotate_half(x):
    x1 = x[..., : x.shape[-1] // 2]
    x2 = x[..., x.shape[-1] // 2:]
    return torch.cat((-x2, x1), dim=-1)


def apply_rotary_pos_emb(q, k, cos, sin):
    cos = cos.unsqueeze(1)
    sin = sin.unsqueeze(1)
    return (q * cos) + (rotate_half(q) * sin), (k * cos) + (rotate_half(k) * sin)


def repeat_kv(hidden_states, n_rep):  # (B,K,S,E) -> (B,K*n_rep,S,E)
    batch, num_key_value_heads, slen, head_dim = hidden_states.shape
    if n_rep == 1:
        return hidden_states
    hidden_states = hidden_states[:, :, None, :, :].expand(batch, num_key_value_heads, n_rep, slen, head_dim)
    return hidden_states.reshape(batch, num_key_value_heads * n_rep, slen, head_dim)


class LlamaAttention(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.head_dim = cfg.head_dim
        self.num_key_value_groups = cfg.heads // cfg.kv_heads
        self.scaling = cfg.head_dim ** -0.5
        self.q_proj = nn.Linear(cfg.hidden, cfg.heads * cfg.head_dim, bias=False)
        self.k_proj = nn.Linear(cfg.hidden, cfg.kv_heads * cfg.head_dim, bias=False)
        self.v_proj = nn.Linear(cfg.hidden, cfg.kv_heads * cfg.head_dim, bias=False)
        self.o_proj = nn.Linear(cfg.heads * cfg.head_dim, cfg.hidden, bias=False)

    def forward(self, hidden_states, position_embeddings, mask, attn, past=None):
        input_shape = hidden_states.shape[:-1]
        hidden_shape = (*input_shape, -1, self.head_dim)
        query_states = self.q_proj(hidden_states).view(hidden_shape).transpose(1, 2)  # (B,H,T,E)
        key_states = self.k_proj(hidden_states).view(hidden_shape).transpose(1, 2)    # (B,K,T,E)
        value_states = self.v_proj(hidden_states).view(hidden_shape).transpose(1, 2)  # (B,K,T,E)
        cos, sin = position_embeddings
        query_states, key_states = apply_rotary_pos_emb(query_states, key_states, cos, sin)
        if past is not None:  # the cache holds rotated keys, as transformers' DynamicCache does
            key_states = torch.cat([past[0], key_states], dim=-2)      # (B,K,S,E)
            value_states = torch.cat([past[1], value_states], dim=-2)  # (B,K,S,E)
        present = (key_states, value_states)
        k = repeat_kv(key_states, self.num_key_value_groups)
        v = repeat_kv(value_states, self.num_key_value_groups)
        attn_weights = torch.matmul(query_states, k.transpose(2, 3)) * self.scaling  # (B,H,T,S)
        if attn == "eager":
            attn_weights = attn_weights + mask[:, :, :, : k.shape[-2]]
            attn_weights = F.softmax(attn_weights, dim=-1, dtype=torch.float32).to(query_states.dtype)
        else:  # sdpa: mask is boolean (B,1,T,S), True = may attend
            attn_weights = attn_weights.masked_fill(~mask, torch.finfo(attn_weights.dtype).min)
            attn_weights = F.softmax(attn_weights, dim=-1, dtype=torch.float32).to(query_states.dtype)
            attn_weights = attn_weights * mask.any(dim=-1, keepdim=True).to(attn_weights.dtype)
        attn_output = torch.matmul(attn_weights, v).transpose(1, 2).contiguous()  # (B,T,H,E)
        attn_output = attn_output.reshape(*input_shape, -1).contiguous()
        return self.o_proj(attn_output), present


class LlamaMLP(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.gate_proj = nn.Linear(cfg.hidden, cfg.inter, bias=False)
        self.up_proj = nn.Linear(cfg.hidden, cfg.inter, bias=False)
        self.down_proj = nn.Linear(cfg.inter, cfg.hidden, bias=False)
        self.act_fn = nn.SiLU()

    def forward(self, x):
        return self.down_proj(self.act_fn(self.gate_proj(x)) * self.up_proj(x))


class LlamaDecoderLayer(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.self_attn = LlamaAttention(cfg)
        self.mlp = LlamaMLP(cfg)
        self.input_layernorm = LlamaRMSNorm(cfg.hidden, cfg.eps)
        self.post_attention_layernorm = LlamaRMSNorm(cfg.hidden, cfg.eps)

    def forward(self, hidden_states, position_embeddings, mask, attn, past=None):
        residual = hidden_states
        hidden_states = self.input_layernorm(hidden_states)
        hidden_states, present = self.self_attn(hidden_states, position_embeddings, mask, attn, past)
        hidden_states = residual + hidden_states
        residual = hidden_states
        hidden_states = self.post_attention_layernorm(hidden_states)
        hidden_states = self.mlp(hidden_states)
        return residual + hidden_states, present


class LlamaModel(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.embed_tokens = nn.Embedding(cfg.vocab, cfg.hidden)
        self.layers = nn.ModuleList([LlamaDecoderLayer(cfg) for _ in range(cfg.layers)])
        self.norm = LlamaRMSNorm(cfg.hidden, cfg.eps)
        self.rotary_emb = LlamaRotaryEmbedding(cfg)

    def forward(self, input_ids, attention_mask, position_ids, past_key_values, attn):
        inputs_embeds = self.embed_tokens(input_ids)  # (B,T,D)
        past_seen_tokens = past_key_values[0][0].shape[2] if past_key_values is not None else 0
        cache_position = torch.arange(past_seen_tokens, past_seen_tokens + inputs_embeds.shape[1])  # (T,)
        if position_ids is None:
            position_ids = cache_position.unsqueeze(0)  # training: 0..T-1 in every row
        if attention_mask is None:
            attention_mask = torch.ones(input_ids.shape[0], past_seen_tokens + input_ids.shape[1], dtype=torch.int64)
        if attn == "eager":
            mask = additive_causal_mask(attention_mask, inputs_embeds, cache_position)
        else:
            mask = boolean_causal_mask(attention_mask, cache_position)
        hidden_states = inputs_embeds
        position_embeddings = self.rotary_emb(hidden_states, position_ids)
        presents = []
        for i, layer in enumerate(self.layers):
            past = past_key_values[i] if past_key_values is not None else None
            hidden_states, present = layer(hidden_states, position_embeddings, mask, attn, past)
            presents.append(present)
        return self.norm(hidden_states), tuple(presents)


def additive_causal_mask(attention_mask, input_tensor, cache_position):
    """transformers 4.4x _update_causal_mask (eager / non-CUDA sdpa): (B,1,T,S) float, 0 or finfo.min."""
    dtype = input_tensor.dtype
    min_dtype = torch.finfo(dtype).min
    sequence_length = input_tensor.shape[1]
    target_length = attention_mask.shape[-1]
    causal_mask = torch.full((sequence_length, target_length), fill_value=min_dtype, dtype=dtype)
    causal_mask = torch.triu(causal_mask, diagonal=1)
    causal_mask = causal_mask * (torch.arange(target_length) > cache_position.reshape(-1, 1))
    causal_mask = causal_mask[None, None, :, :].expand(input_tensor.shape[0], 1, -1, -1)
    causal_mask = causal_mask.clone()
    mask_length = attention_mask.shape[-1]
    padding_mask = causal_mask[:, :, :, :mask_length] + attention_mask[:, None, None, :]
    padding_mask = padding_mask == 0
    causal_mask[:, :, :, :mask_length] = causal_mask[:, :, :, :mask_length].masked_fill(padding_mask, min_dtype)
    return causal_mask


def boolean_causal_mask(attention_mask, cache_position):
    """transformers 5 sdpa_mask: (B,1,T,S) bool, key index <= query's cache position and key not padding."""
    kv_idx = torch.arange(attention_mask.shape[-1])
    causal = kv_idx[None, :] <= cache_position[:, None]  # (T,S)
    return causal[None, None] & attention_mask.bool()[:, None, None, :]


class LlamaForCausalLM(nn.Module):
    """forward returns logits (B,T,V); with use_cache, (logits, presents), presents a (key, value) per layer."""

    def __init__(self, cfg, attn="eager", use_cache=False):
        super().__init__()
        self.cfg = cfg
        self.attn = attn
        self.use_cache = use_cache
        self.model = LlamaModel(cfg)
        self.lm_head = nn.Linear(cfg.hidden, cfg.vocab, bias=False)

    def forward(self, input_ids, attention_mask=None, position_ids=None, past_key_values=None):
        hidden_states, presents = self.model(input_ids, attention_mask, position_ids, past_key_values, self.attn)
        logits = self.lm_head(hidden_states)  # (B,T,V)
        return (logits, presents) if self.use_cache else logits

    def load_hf(self, weights):
        """Loads an HF state dict (model.safetensors); every parameter must be present."""
        if self.cfg.tied and "lm_head.weight" not in weights:
            weights = dict(weights, **{"lm_head.weight": weights["model.embed_tokens.weight"]})
        missing, unexpected = self.load_state_dict(weights, strict=False)
        if missing or unexpected:
            sys.exit(f"error: checkpoint mismatch: missing {missing}, unexpected {unexpected}")
        return self


# ---------------------------------------------------------------------------------------------------------------
# LoRA, PEFT layout: q_proj becomes a wrapper with base_layer, lora_A (r,in) and lora_B (out,r), so parameter
# names are PEFT's saved names without the "base_model.model." prefix.
# ---------------------------------------------------------------------------------------------------------------
PEFT_PREFIX = "base_model.model."
LORA_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


class LoraLinear(nn.Module):
    def __init__(self, base_layer, a, b, scaling):
        super().__init__()
        self.base_layer = base_layer
        self.lora_A = nn.Linear(a.shape[1], a.shape[0], bias=False)
        self.lora_B = nn.Linear(b.shape[1], b.shape[0], bias=False)
        with torch.no_grad():
            self.lora_A.weight.copy_(a)
            self.lora_B.weight.copy_(b)
        self.scaling = scaling

    def forward(self, x):
        return self.base_layer(x) + self.lora_B(self.lora_A(x)) * self.scaling


def inject_lora(model, adapter, scaling):
    """Wraps every targeted Linear with the adapter's A and B (PEFT names); freezes everything else."""
    for p in model.parameters():
        p.requires_grad_(False)
    for path, module in list(model.named_modules()):
        for target in LORA_TARGETS:
            child = getattr(module, target, None)
            if isinstance(child, nn.Linear):
                key = f"{PEFT_PREFIX}{path}.{target}"
                a, b = adapter.get(key + ".lora_A.weight"), adapter.get(key + ".lora_B.weight")
                if a is None or b is None:
                    sys.exit(f"error: adapter has no lora_A/lora_B for {key}")
                setattr(module, target, LoraLinear(child, a, b, scaling))
    params = lora_parameters(model)
    for p in params.values():
        p.requires_grad_(True)
    if len(params) != 2 * len(LORA_TARGETS) * model.cfg.layers:
        sys.exit(f"error: injected {len(params)} LoRA tensors, expected {2 * len(LORA_TARGETS) * model.cfg.layers}")
    return model


def lora_parameters(model):
    """PEFT name -> parameter, for every lora_A/lora_B."""
    return {PEFT_PREFIX + n: p for n, p in model.named_parameters() if ".lora_A." in n or ".lora_B." in n}


def load_adapter(folder):
    cfg = json.load(open(os.path.join(folder, "adapter_config.json")))
    scaling = cfg["lora_alpha"] / (math.sqrt(cfg["r"]) if cfg.get("use_rslora") else cfg["r"])
    return load_safetensors(os.path.join(folder, "adapter_model.safetensors")), scaling


def hf_loss(logits, labels):
    """transformers ForCausalLMLoss: mean CE of logits[:, :-1] against labels[:, 1:] over labels != -100."""
    return F.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]).float(), labels[:, 1:].reshape(-1),
                           ignore_index=-100)


def max_abs(a, b):
    return (a.double() - b.double()).abs().max().item()


def rel_err(a, ref):
    """max |a - ref| / max |ref| (one number per tensor; the tolerance statements in the READMEs use it)."""
    return max_abs(a, ref) / max(ref.double().abs().max().item(), 1e-30)


def build(folder=None, attn="sdpa", weights=None, use_cache=False):
    """The fixture's base model (or one whose weights replace some of model.safetensors)."""
    folder = folder or os.path.join(fixture_dir(), "base")
    cfg = Config.load(folder)
    w = load_safetensors(os.path.join(folder, "model.safetensors"))
    if weights:
        w.update(weights)
    return LlamaForCausalLM(cfg, attn, use_cache).load_hf(w).eval()


def lora_forward_backward(model, input_ids, attention_mask, labels, position_ids=None):
    """One forward + backward; returns logits, loss and {PEFT grad name: grad}."""
    params = lora_parameters(model)
    for p in params.values():
        p.grad = None
    logits = model(input_ids, attention_mask, position_ids)
    loss = hf_loss(logits, labels)
    loss.backward()
    grads = {"grad." + n: p.grad.detach().clone() for n, p in params.items()}
    return logits.detach(), loss.detach(), grads


def self_check(attn="sdpa", log=print):
    """Base logits/loss, LoRA logits/loss and every gradient against reference.safetensors; exits on failure."""
    fx = fixture_dir()
    ref = load_safetensors(os.path.join(fx, "reference.safetensors"))
    ids, mask, labels = ref["input_ids"], ref["attention_mask"], ref["labels"]
    model = build(attn=attn)
    with torch.no_grad():
        logits = model(ids, mask)
        loss = hf_loss(logits, labels)
    base_err, base_loss_err = max_abs(logits, ref["base.logits"]), abs(loss.item() - ref["base.loss"].item())
    adapter, scaling = load_adapter(os.path.join(fx, "adapter"))
    inject_lora(model, adapter, scaling)
    lora_logits, lora_loss, grads = lora_forward_backward(model, ids, mask, labels)
    lora_err, lora_loss_err = max_abs(lora_logits, ref["lora.logits"]), abs(lora_loss.item() - ref["lora.loss"].item())
    grad_err = max(rel_err(g, ref[k]) for k, g in grads.items())
    missing = sorted(k for k in ref if k.startswith("grad.") and k not in grads)
    ok = (base_err <= FIXTURE_LOGITS_ABS_TOL and base_loss_err <= FIXTURE_LOSS_ABS_TOL and lora_err <= FIXTURE_LOGITS_ABS_TOL
          and lora_loss_err <= FIXTURE_LOSS_ABS_TOL and grad_err <= FIXTURE_GRAD_REL_TOL and not missing)
    log(f"self-check vs fixture ({attn}): base.logits max|d| {base_err:.1e}, base.loss |d| {base_loss_err:.1e}, "
        f"lora.logits {lora_err:.1e}, lora.loss {lora_loss_err:.1e}, {len(grads)} grads max rel {grad_err:.1e} "
        f"-> {'PASS' if ok else 'FAIL'}")
    if not ok:
        sys.exit(f"error: self-check against {fx} failed" + (f"; grads missing: {missing}" if missing else ""))
    return {"base_logits_max_abs": base_err, "base_loss_abs": base_loss_err, "lora_logits_max_abs": lora_err,
            "lora_loss_abs": lora_loss_err, "grad_max_rel": grad_err}


# The left-padded batch shared by export_onnx.py (ORT check case) and left_pad_ref.py (reference).
PAD_TOKEN_ID = 0    # "<unk>": the fixture has no pad token; eos (2) would also be masked out of real labels
LEFT_PADS = (0, 3, 7)


def left_padded_batch():
    """B=3, T=16 from the fixture's rows: row 0 unpadded, row 1 = 3 pads + row 1[:13], row 2 = 7 pads + row 0[:9].
    attention_mask 0 on pads; labels = input_ids with -100 on pads (HF collators)."""
    src = load_safetensors(os.path.join(fixture_dir(), "reference.safetensors"))["input_ids"]  # (2,16)
    t = src.shape[1]
    rows = [src[0], torch.cat([torch.full((3,), PAD_TOKEN_ID), src[1, : t - 3]]),
            torch.cat([torch.full((7,), PAD_TOKEN_ID), src[0, : t - 7]])]
    input_ids = torch.stack(rows).to(torch.int64)  # (B,T)
    attention_mask = torch.ones_like(input_ids)
    for b, pads in enumerate(LEFT_PADS):
        attention_mask[b, :pads] = 0
    labels = input_ids.masked_fill(attention_mask == 0, -100)
    return input_ids, attention_mask, labels


def generation_position_ids(attention_mask):
    """What HF generate / optimum feed with left padding: cumsum(mask) - 1, pads set to 1."""
    position_ids = attention_mask.long().cumsum(-1) - 1
    return position_ids.masked_fill(attention_mask == 0, 1)


def fixture_trajectory():
    return json.load(open(os.path.join(fixture_dir(), "trajectory.json")))


def run_trajectory(model, traj):
    """torch.optim.AdamW over the trajectory's batches (labels: first 4 positions -100, no mask); losses list."""
    params = list(lora_parameters(model).values())
    opt = torch.optim.AdamW(params, lr=traj["lr"], betas=tuple(traj["betas"]), eps=traj["eps"],
                            weight_decay=traj["weight_decay"])
    losses = []
    for batch in traj["batches"]:
        ids = torch.tensor(batch, dtype=torch.int64)
        labels = ids.clone()
        labels[:, :4] = -100
        opt.zero_grad(set_to_none=True)
        loss = hf_loss(model(ids), labels)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses


def torch_version_line():
    return f"torch {torch.__version__} (python {sys.version.split()[0]}, {torch.get_num_threads()} threads)"

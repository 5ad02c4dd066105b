#!/usr/bin/env python3
# Left-padded batch reference for issue 12 §3: the fixture model + adapter on a B=3, T=16 batch with 0/3/7 left
# pads, with transformers 5 + torch SDPA semantics (causal AND key-not-padding boolean mask; a query row that sees
# no key outputs zeros). Writes logits, losses and every LoRA gradient in reference.safetensors' key layout, once
# with training positions (0..T-1 per row) and once with generate-style positions (cumsum(mask)-1, pads 1).
# It does not export or quantize anything and is never run by the test command.
# B=batch, T=time, V=vocab
import argparse
import os
import sys

import torch

import tinyllama as tl

ROW_EQUIVALENCE_ABS_TOL = 1e-5  # unpadded row vs fixture; padded row's real tokens vs the same tokens unpadded
FILES = {"positions_arange": "reference_positions_arange.safetensors",
         "positions_cumsum": "reference_positions_cumsum.safetensors"}


def main():
    ap = argparse.ArgumentParser(description="left-padded batch reference, SDPA semantics (see tools/torch-ref/README.md)")
    ap.add_argument("--out", default=os.path.join(tl.repo_root(), "tests", "data", "left-pad"))
    a = ap.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(1)
    print(tl.torch_version_line())
    tl.self_check("sdpa")

    fx = tl.fixture_dir()
    ref = tl.load_safetensors(os.path.join(fx, "reference.safetensors"))
    adapter, scaling = tl.load_adapter(os.path.join(fx, "adapter"))
    ids, mask, labels = tl.left_padded_batch()
    first_masked = labels.clone()  # the pad position predicting the first real token no longer counts
    for b, pads in enumerate(tl.LEFT_PADS):
        if pads:
            first_masked[b, pads] = -100
    positions = {"positions_arange": torch.arange(ids.shape[1]).expand_as(ids).contiguous(),
                 "positions_cumsum": tl.generation_position_ids(mask)}

    results = {}
    for key, pos in positions.items():
        base = tl.build(attn="sdpa")
        with torch.no_grad():
            base_logits = base(ids, mask, pos)
        lora = tl.inject_lora(tl.build(attn="sdpa"), adapter, scaling)
        seen = capture_attention_output(lora)
        logits, loss, grads = tl.lora_forward_backward(lora, ids, mask, labels, pos)
        check_zero_rows(seen, mask)
        with torch.no_grad():
            eager = tl.inject_lora(tl.build(attn="eager"), adapter, scaling)
            eager_loss = tl.hf_loss(eager(ids, mask, pos), labels)
        out = {"input_ids": ids, "attention_mask": mask, "labels": labels, "position_ids": pos,
               "labels_first_token_masked": first_masked,
               "base.logits": base_logits, "base.loss": tl.hf_loss(base_logits, labels).reshape(1),
               "base.loss_first_token_masked": tl.hf_loss(base_logits, first_masked).reshape(1),
               "lora.logits": logits, "lora.loss": loss.reshape(1),
               "lora.loss_first_token_masked": tl.hf_loss(logits, first_masked).detach().reshape(1),
               "lora.loss_eager_attention": eager_loss.reshape(1), **grads}
        results[key] = out
        check_rows(out, ref, key)
        print(f"{key}: lora.loss {loss.item():.7f}, first-token label masked {out['lora.loss_first_token_masked'].item():.7f} "
              f"(gap {loss.item() - out['lora.loss_first_token_masked'].item():+.2e}), eager-attention loss "
              f"{eager_loss.item():.7f} (gap {eager_loss.item() - loss.item():+.2e}); base.loss {out['base.loss'].item():.7f}")

    a_, c_ = results["positions_arange"], results["positions_cumsum"]
    real = mask.bool()
    print("arange vs cumsum positions (RoPE depends on q-k offsets only): lora.logits real positions max|d| "
          f"{tl.max_abs(a_['lora.logits'][real], c_['lora.logits'][real]):.1e}, all positions "
          f"{tl.max_abs(a_['lora.logits'], c_['lora.logits']):.1e}, loss |d| "
          f"{abs(a_['lora.loss'].item() - c_['lora.loss'].item()):.1e}, grads max rel "
          f"{max(tl.rel_err(a_[k], c_[k]) for k in a_ if k.startswith('grad.')):.1e}")
    for key, out in results.items():
        path = os.path.join(a.out, FILES[key])
        tl.save_safetensors(path, out, {
            "producer": "tools/torch-ref/left_pad_ref.py", "torch": torch.__version__,
            "attention": "sdpa semantics: bool mask causal & key not padding; rows without a visible key output 0",
            "position_ids": ("0..T-1 in every row (transformers training, position_ids not passed)" if key == "positions_arange"
                             else "cumsum(attention_mask)-1, pads set to 1 (HF generate / optimum)"),
            "pad_token_id": tl.PAD_TOKEN_ID, "left_pads_per_row": list(tl.LEFT_PADS),
            "lora": "fixture adapter/, scaling 2, q,k,v,o,gate,up,down", "loss": "HF shifted mean CE over labels != -100"})
        print(f"wrote {path} ({os.path.getsize(path)} B)")


def capture_attention_output(model):
    """Records layer 0's attention output (the o_proj input) so the zero-row semantics can be asserted."""
    seen = {}
    model.model.layers[0].self_attn.o_proj.register_forward_hook(lambda m, i, o: seen.__setitem__("x", i[0].detach()))
    return seen


def check_zero_rows(seen, mask):
    for b, pads in enumerate(tl.LEFT_PADS):
        if pads and seen["x"][b, :pads].abs().max().item() != 0.0:
            sys.exit(f"error: row {b}: a query that sees no key did not output zeros")


def check_rows(out, ref, key):
    """Row 0 is the fixture's row 0 unpadded (same logits); row 2's real tokens are row 0's first 9 tokens."""
    d0 = tl.max_abs(out["lora.logits"][0], ref["lora.logits"][0])
    pads = tl.LEFT_PADS[2]
    d2 = tl.max_abs(out["lora.logits"][2, pads:], out["lora.logits"][0, : out["lora.logits"].shape[1] - pads])
    print(f"{key}: row 0 vs fixture lora.logits[0] max|d| {d0:.1e}; row 2 real tokens vs row 0 prefix max|d| {d2:.1e}")
    if max(d0, d2) > ROW_EQUIVALENCE_ABS_TOL:
        sys.exit(f"error: {key}: padded rows do not reproduce the unpadded computation")


if __name__ == "__main__":
    main()

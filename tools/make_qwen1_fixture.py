#!/usr/bin/env python3
"""tools/make_qwen1_fixture.py — the Qwen-1 reference fixture, from Qwen's own remote code.

Qwen-1 is not in transformers: its reference is the `modeling_qwen.py` shipped with the
checkpoints.  This script runs that file unmodified (trust_remote_code) on a tiny
random-weight model and records, like tools/make_fixtures.py:

  tests/fixtures/qwen1/config.json, model.safetensors   the checkpoint (f32, Qwen-1 names)
  prompt_ids.txt, logits.bin, greedy_ids.txt, decode_logits.bin, meta.json

The remote code is NOT part of archc and is never committed.  Get it from a public mirror
of the Qwen/Qwen-7B hub repository and point this script at it:

  git clone https://github.com/zhangningboo/Qwen-7B /tmp/Qwen-7B   # modeling_qwen.py last changed in d4efd21e
  python3 tools/make_qwen1_fixture.py /tmp/Qwen-7B                  # needs torch, transformers==4.57.6, einops

The shape is chosen so that both per-call features change the result: seq_length is 8, the
prompt has 28 tokens, so the dynamic-NTK alpha chosen at prefill is 7
(ceil(log2(28/8) + 1) = 3 -> 2^3 - 1) and LogN scales every query past position 7; the 8
cached decode steps take the context from 28 to 36, past the next doubling (32), where a
cache-free pass would switch to alpha 15 — the cached pass keeps 7.
"""
import json, math, os, shutil, subprocess, sys, tempfile

import torch
import transformers
from transformers import AutoConfig, AutoModelForCausalLM
from safetensors.torch import save_file

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "qwen1")
T, STEPS, V, SEQ = 28, 8, 1024, 8  # V covers the test tiktoken vocabulary (908 ids)
FILES = ["modeling_qwen.py", "configuration_qwen.py", "qwen_generation_utils.py", "cpp_kernels.py"]
CONFIG = dict(
    architectures=["QWenLMHeadModel"], model_type="qwen", vocab_size=V, hidden_size=64, num_hidden_layers=2,
    num_attention_heads=4, kv_channels=16, intermediate_size=192, layer_norm_epsilon=1e-6, rotary_pct=0.5,
    rotary_emb_base=10000, seq_length=SEQ, max_position_embeddings=256, use_dynamic_ntk=True, use_logn_attn=True,
    no_bias=True, tie_word_embeddings=False, use_flash_attn=False, bf16=False, fp16=False, fp32=True,
    torch_dtype="float32",
    auto_map={"AutoConfig": "configuration_qwen.QWenConfig", "AutoModelForCausalLM": "modeling_qwen.QWenLMHeadModel"})
FEATURES = ["fused c_attn with bias (q|k|v)", "MLP branches of intermediate_size/2 (96), silu on w2",
            "partial rotary (rotary_pct 0.5: 8 of 16 dims)", f"dynamic NTK frozen at prefill (seq_length {SEQ}, alpha 7)",
            "cached decode crosses the next NTK doubling (context 28 -> 36)", f"LogN query scaling past position {SEQ - 1}"]


def remote_code(src, dst):
    """Copy the remote code files from a checkout (or a bare mirror: read with git show)."""
    for f in FILES:
        p = os.path.join(src, f)
        if os.path.exists(p):
            shutil.copy(p, os.path.join(dst, f))
        else:
            with open(os.path.join(dst, f), "wb") as out:
                out.write(subprocess.check_output(["git", "--git-dir", src, "show", "HEAD:" + f]))


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    work = tempfile.mkdtemp(prefix="qwen1-remote-")
    remote_code(sys.argv[1], work)
    # modeling_qwen.py imports transformers_stream_generator inside chat_stream() only, which this
    # script never calls; transformers' import check still wants it importable, and the released
    # package no longer imports under transformers 4.57 — an empty stand-in satisfies the check.
    stub = os.path.join(work, "stub", "transformers_stream_generator")
    os.makedirs(stub)
    open(os.path.join(stub, "__init__.py"), "w").close()
    sys.path.insert(0, os.path.join(work, "stub"))
    with open(os.path.join(work, "config.json"), "w") as f:
        json.dump(CONFIG, f, indent=1)
    cfg = AutoConfig.from_pretrained(work, trust_remote_code=True)
    torch.manual_seed(5000)
    model = AutoModelForCausalLM.from_config(cfg, trust_remote_code=True, torch_dtype=torch.float32).float().eval()
    g = torch.Generator().manual_seed(5000)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("ln_1.weight") or name.endswith("ln_2.weight") or name.endswith("ln_f.weight"):
                p.copy_(1.0 + 0.2 * (torch.rand(p.shape, generator=g) * 2 - 1))
            else:
                p.copy_(torch.randn(p.shape, generator=g) * 0.08)
    ids = torch.randint(0, V, (T,), generator=torch.Generator().manual_seed(5001)).tolist()
    with torch.no_grad():
        out = model(torch.tensor([ids]), use_cache=True)
        logits = out.logits[0].float()
        alphas = [model.transformer.rotary_emb._ntk_alpha_cached_list[0]]
        pkv, nxt, gen, dec = out.past_key_values, logits[-1], [], []
        for _ in range(STEPS):                      # greedy, cached: the alpha stays frozen
            dec.append(nxt.clone())
            tok = int(torch.argmax(nxt))
            gen.append(tok)
            o = model(torch.tensor([[tok]]), past_key_values=pkv, use_cache=True)
            pkv, nxt = o.past_key_values, o.logits[0, -1].float()
            alphas.append(model.transformer.rotary_emb._ntk_alpha_cached_list[0])
        # a cache-free pass over the final context would choose a larger alpha: the fixture must depend on freezing
        full = model(torch.tensor([ids + gen]), use_cache=False).logits[0, -1].float()
        diff = (full - nxt).abs().max().item()
    assert alphas[0] == 7 and all(a == 7 for a in alphas), alphas
    assert diff > 1e-4, f"recomputing alpha does not change the logits ({diff})"
    print(f"qwen1: alpha {alphas[0]} frozen over {STEPS} cached steps; a cache-free pass at context {T + STEPS} differs by {diff:.3g}")
    os.makedirs(ROOT, exist_ok=True)
    save_file({k: v.detach().contiguous() for k, v in model.state_dict().items() if "rotary_emb" not in k and "logn" not in k},
              os.path.join(ROOT, "model.safetensors"), metadata={"format": "pt"})
    cfg_out = {k: v for k, v in CONFIG.items() if k != "auto_map"}
    with open(os.path.join(ROOT, "config.json"), "w") as f:
        json.dump(cfg_out, f, indent=1)
    with open(os.path.join(ROOT, "prompt_ids.txt"), "w") as f:
        f.write(",".join(map(str, ids)) + "\n")
    with open(os.path.join(ROOT, "greedy_ids.txt"), "w") as f:
        f.write(",".join(map(str, gen)) + "\n")
    logits.numpy().astype("<f4").tofile(os.path.join(ROOT, "logits.bin"))
    torch.stack(dec).numpy().astype("<f4").tofile(os.path.join(ROOT, "decode_logits.bin"))
    meta = dict(name="qwen1", family="qwen", seed=5000, transformers=transformers.__version__, torch=torch.__version__,
                remote_code="Qwen/Qwen-7B modeling_qwen.py (mirror zhangningboo/Qwen-7B, d4efd21e)", features=FEATURES,
                prompt_tokens=T, decode_steps=STEPS, ntk_alpha=alphas[0],
                logn_factors={p: math.log(p + 1) / math.log(SEQ) for p in range(SEQ, T + STEPS)})
    with open(os.path.join(ROOT, "meta.json"), "w") as f:
        json.dump(meta, f, indent=1)
    shutil.rmtree(work)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""tools/make_fixtures.py — reference fixtures from Hugging Face transformers.

For each dense family, builds a tiny random-weight checkpoint with every feature
of that family switched on, and records what transformers (fp32, eager
attention) computes for it:

  tests/fixtures/<name>/config.json, model.safetensors   the checkpoint (f32)
  prompt_ids.txt      32 prompt token ids, comma-separated
  logits.bin          float32 [32][vocab] prefill logits
  greedy_ids.txt      8 greedy tokens generated with the KV cache
  decode_logits.bin   float32 [8][vocab] logits each greedy token was picked from
  meta.json           versions, seed, features

Weights are drawn wider than HF's default init (std 0.08, norms 1 ± 0.2) so the
logits are far from uniform and a wrong mask, rope or norm shows up clearly.
Each windowed fixture is checked to really depend on its window.

Usage: python3 tools/make_fixtures.py [NAME ...]   (needs torch, transformers==4.57.6)
"""
import json, os, sys

import torch
import transformers
from transformers import (Llama4TextConfig, Llama4ForCausalLM, GptOssConfig, GptOssForCausalLM, DeepseekV2Config, DeepseekV2ForCausalLM, DeepseekV3Config, DeepseekV3ForCausalLM, Glm4MoeConfig, Glm4MoeForCausalLM, Qwen3MoeConfig, Qwen3MoeForCausalLM, LlamaConfig, LlamaForCausalLM, MistralConfig, MistralForCausalLM, Qwen2Config,
                          Qwen2ForCausalLM, Qwen3Config, Qwen3ForCausalLM, Olmo2Config, Olmo2ForCausalLM,
                          SmolLM3Config, SmolLM3ForCausalLM, Gemma3TextConfig, Gemma3ForCausalLM)

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures")
T, STEPS, V = 32, 8, 512

COMMON = dict(vocab_size=V, hidden_size=64, intermediate_size=160, max_position_embeddings=256,
              attn_implementation="eager", torch_dtype="float32")


def fixtures():
    """name -> (config class, model class, config kwargs, features, window key or None)"""
    return {
        "llama": (LlamaConfig, LlamaForCausalLM, dict(
            num_hidden_layers=3, num_attention_heads=8, num_key_value_heads=2, head_dim=16, rms_norm_eps=1e-5,
            rope_theta=10000.0, attention_bias=True, mlp_bias=True, tie_word_embeddings=False,
            rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                          "original_max_position_embeddings": 32}),
            ["GQA 8/2", "llama3 rope scaling (all three bands)", "attention bias q/k/v/o", "mlp bias", "untied"], None),
        "llama_tied": (LlamaConfig, LlamaForCausalLM, dict(
            num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=4, head_dim=32, rope_theta=500000.0,
            tie_word_embeddings=True),
            ["tied embeddings", "head_dim 32 with hidden 64 (nh*d=128 != hidden)", "MHA"], None),
        "mistral": (MistralConfig, MistralForCausalLM, dict(
            num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2, head_dim=16, rope_theta=1e6,
            sliding_window=8, tie_word_embeddings=False),
            ["sliding window 8 on every layer", "GQA"], "sliding_window"),
        "qwen2": (Qwen2Config, Qwen2ForCausalLM, dict(
            num_hidden_layers=4, num_attention_heads=4, num_key_value_heads=2, rope_theta=1e6, tie_word_embeddings=True,
            use_sliding_window=True, sliding_window=8, max_window_layers=2),
            ["q/k/v bias", "tied", "sliding window 8 on layers >= max_window_layers (2)"], "sliding_window"),
        "qwen3": (Qwen3Config, Qwen3ForCausalLM, dict(
            num_hidden_layers=3, num_attention_heads=6, num_key_value_heads=2, head_dim=16, rope_theta=1e6,
            tie_word_embeddings=False, use_sliding_window=True, sliding_window=8, max_window_layers=1),
            ["per-head q/k norm", "GQA 3 groups", "untied", "sliding window 8 on layers >= 1"], "sliding_window"),
        "qwen3_yarn": (Qwen3Config, Qwen3ForCausalLM, dict(
            num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2, head_dim=16, rope_theta=10000.0,
            tie_word_embeddings=True,
            rope_scaling={"rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": 64}),
            ["yarn rope scaling (factor 4, attention factor on cos/sin)", "per-head q/k norm", "tied"], None),
        "olmo2": (Olmo2Config, Olmo2ForCausalLM, dict(
            num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=4, rope_theta=500000.0, rms_norm_eps=1e-6,
            tie_word_embeddings=False),
            ["whole-projection q/k norm", "post-norms only (no input norm)"], None),
        "smollm3": (SmolLM3Config, SmolLM3ForCausalLM, dict(
            num_hidden_layers=4, num_attention_heads=4, num_key_value_heads=2, rope_theta=5e6, tie_word_embeddings=True,
            no_rope_layer_interval=4, use_sliding_window=True, sliding_window=8, pad_token_id=None),
            ["NoPE every 4th layer", "sliding window 8 on the NoPE layers", "tied"], "sliding_window"),
        "gemma3": (Gemma3TextConfig, Gemma3ForCausalLM, dict(
            num_hidden_layers=6, num_attention_heads=4, num_key_value_heads=2, head_dim=16, query_pre_attn_scalar=24,
            sliding_window=8, rope_theta=1e6, rope_local_base_freq=10000.0,
            rope_scaling={"rope_type": "linear", "factor": 8.0}, final_logit_softcapping=30.0),
            ["(1+w) RMSNorm", "sandwich norms", "embed * sqrt(hidden)", "GeGLU tanh", "query_pre_attn_scalar 24",
             "per-head q/k norm", "5 local : 1 global, window 8", "local theta 1e4 / global theta 1e6 + linear x8",
             "final logit soft-cap 30"], "sliding_window"),
        "qwen3_moe": (Qwen3MoeConfig, Qwen3MoeForCausalLM, dict(
            num_hidden_layers=3, num_attention_heads=4, num_key_value_heads=2, head_dim=16, rope_theta=1e6,
            tie_word_embeddings=False, num_experts=8, num_experts_per_tok=2, moe_intermediate_size=48,
            norm_topk_prob=True, decoder_sparse_step=1, mlp_only_layers=[1], use_sliding_window=True, sliding_window=8),
            ["MoE 8 experts top-2, softmax router, renormalised top-k", "dense layer 1 (mlp_only_layers)",
             "per-head q/k norm", "sliding window 8 on every layer (qwen3_moe ignores max_window_layers)"], "sliding_window"),
        "glm4_moe": (Glm4MoeConfig, Glm4MoeForCausalLM, dict(
            num_hidden_layers=3, num_attention_heads=4, num_key_value_heads=2, head_dim=32, partial_rotary_factor=0.5,
            rope_theta=1e6, attention_bias=True, use_qk_norm=True, rms_norm_eps=1e-5, tie_word_embeddings=False,
            n_routed_experts=8, num_experts_per_tok=3, n_shared_experts=1, moe_intermediate_size=48, first_k_dense_replace=1,
            n_group=2, topk_group=1, norm_topk_prob=True, routed_scaling_factor=2.5, num_nextn_predict_layers=0),
            ["sigmoid noaux_tc router with selection-only correction bias", "2 expert groups, top 1 group (top-2-sum ranking)",
             "renormalised top-3 x 2.5", "shared expert", "first layer dense", "partial rotary (16 of 32 dims, half-split)",
             "q/k/v bias", "per-head q/k norm"], None),
        # DeepSeek MLA: T=32 prompt, so the YaRN mscale^2 softmax scale and the interleaved rope show
        "deepseek_v3": (DeepseekV3Config, DeepseekV3ForCausalLM, dict(
            num_hidden_layers=3, num_attention_heads=4, num_key_value_heads=4, q_lora_rank=48, kv_lora_rank=32,
            qk_nope_head_dim=16, qk_rope_head_dim=8, v_head_dim=12, head_dim=8, rms_norm_eps=1e-5, rope_theta=10000.0,
            rope_scaling={"rope_type": "yarn", "factor": 40.0, "original_max_position_embeddings": 16, "beta_fast": 32.0,
                          "beta_slow": 1.0, "mscale": 1.0, "mscale_all_dim": 1.0},
            n_routed_experts=8, num_experts_per_tok=3, n_shared_experts=1, moe_intermediate_size=32, first_k_dense_replace=1,
            n_group=4, topk_group=2, norm_topk_prob=True, routed_scaling_factor=2.5, tie_word_embeddings=False),
            ["MLA with q_lora_rank (q_a_proj, q_a_layernorm eps 1e-6, q_b_proj)", "kv latent 32 + decoupled rope key 8 (interleaved)",
             "v_head_dim 12 != qk head 24", "YaRN factor 40 with mscale_all_dim: softmax scale x mscale^2",
             "rms_norm_eps 1e-5 (latent norms stay 1e-6)", "sigmoid noaux_tc router, 4 groups top 2, x2.5", "shared expert",
             "first layer dense"], None),
        "kimi_k2": (DeepseekV3Config, DeepseekV3ForCausalLM, dict(
            num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=4, q_lora_rank=40, kv_lora_rank=24,
            qk_nope_head_dim=16, qk_rope_head_dim=16, v_head_dim=16, head_dim=16, rms_norm_eps=1e-6, rope_theta=50000.0,
            rope_scaling={"rope_type": "yarn", "factor": 32.0, "original_max_position_embeddings": 16, "beta_fast": 1.0,
                          "beta_slow": 1.0, "mscale": 1.0, "mscale_all_dim": 1.0},
            n_routed_experts=12, num_experts_per_tok=4, n_shared_experts=1, moe_intermediate_size=24, first_k_dense_replace=1,
            n_group=1, topk_group=1, norm_topk_prob=True, routed_scaling_factor=2.827, tie_word_embeddings=False),
            ["Kimi K2 shape: deepseek_v3 with one dense layer, no expert groups", "YaRN theta 5e4, factor 32, beta 1/1 (step ramp)",
             "rope dim 16", "sigmoid router x2.827"], None),
        "deepseek_v2": (DeepseekV2Config, DeepseekV2ForCausalLM, dict(
            num_hidden_layers=3, num_attention_heads=4, num_key_value_heads=4, q_lora_rank=None, kv_lora_rank=32,
            qk_nope_head_dim=16, qk_rope_head_dim=8, v_head_dim=16, head_dim=8, rms_norm_eps=1e-6, rope_theta=10000.0,
            rope_scaling={"rope_type": "yarn", "factor": 40.0, "original_max_position_embeddings": 16, "beta_fast": 32.0,
                          "beta_slow": 1.0, "mscale": 0.707, "mscale_all_dim": 0.707},
            n_routed_experts=8, num_experts_per_tok=3, n_shared_experts=2, moe_intermediate_size=24, first_k_dense_replace=1,
            topk_method="group_limited_greedy", n_group=4, topk_group=2, norm_topk_prob=False, routed_scaling_factor=16.0,
            tie_word_embeddings=False),
            ["MLA without q_lora_rank (q_proj)", "complex (interleaved) rope, YaRN mscale 0.707 (cos/sin factor 1)",
             "plain qk_head_dim^-0.5 scale (HF 4.57)", "softmax router, group_limited_greedy 4 groups top 2 (max)",
             "weights x16 never renormalised", "2 shared experts", "first layer dense"], None),
        "gpt_oss": (GptOssConfig, GptOssForCausalLM, dict(
            num_hidden_layers=4, num_attention_heads=4, num_key_value_heads=2, head_dim=16, rms_norm_eps=1e-5,
            rope_theta=150000.0, sliding_window=8, num_local_experts=8, num_experts_per_tok=2, intermediate_size=32,
            rope_scaling={"rope_type": "yarn", "factor": 32.0, "beta_fast": 32.0, "beta_slow": 1.0, "truncate": False,
                          "original_max_position_embeddings": 16}, tie_word_embeddings=False),
            ["attention sinks (per query head, denominator only)", "sliding window 8 on even layers, full on odd",
             "YaRN factor 32 without truncation (attention factor on cos/sin)", "q/k/v/o bias",
             "router with bias, top-2 then softmax", "clamped SwiGLU (limit 7, alpha 1.702, up + 1) with gate/up interleaved",
             "expert biases", "experts stored [E, in, out] as HF saves them"], "sliding_window"),
        "llama4": (Llama4TextConfig, Llama4ForCausalLM, dict(
            num_hidden_layers=4, num_attention_heads=4, num_key_value_heads=2, head_dim=16, rms_norm_eps=1e-5,
            rope_theta=500000.0, attention_chunk_size=8, use_qk_norm=True, attn_temperature_tuning=True, floor_scale=4,
            attn_scale=0.1, num_local_experts=4, num_experts_per_tok=1, intermediate_size=32, intermediate_size_mlp=96,
            interleave_moe_layer_step=2, tie_word_embeddings=False,
            rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                          "original_max_position_embeddings": 16}),
            ["NoPE on layer 3 (no_rope_layers), interleaved (complex) RoPE with llama3 scaling elsewhere",
             "chunked attention (chunk 8) on the RoPE layers", "weightless L2 q/k norm after RoPE on RoPE layers",
             "attention temperature tuning on the NoPE layer (floor_scale 4, so it engages from position 3)",
             "MoE on odd layers (interleave step 2): 4 experts top-1, sigmoid score scales the input, shared expert",
             "dense layers with intermediate_size_mlp 96", "experts stored [E, in, out], gate|up halves"], "attention_chunk_size"),
        # bf16 / f16 checkpoints: weights rounded to the storage format, reference run in fp32
        "llama_bf16": (LlamaConfig, LlamaForCausalLM, dict(
            num_hidden_layers=2, num_attention_heads=8, num_key_value_heads=2, head_dim=16, rms_norm_eps=1e-5,
            rope_theta=10000.0, attention_bias=True, tie_word_embeddings=False),
            ["bf16 checkpoint (weights exactly bf16; reference computed in fp32)", "GQA", "attention bias"], None),
        "qwen3_f16": (Qwen3Config, Qwen3ForCausalLM, dict(
            num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2, head_dim=16, rope_theta=1e6,
            tie_word_embeddings=True),
            ["f16 checkpoint (weights exactly f16; reference computed in fp32)", "per-head q/k norm", "tied"], None),
        # hidden 96: sqrt(96) = 9.7980 is not a bf16 value (sqrt(64) = 8 is), so a normaliser
        # rounded to the checkpoint's dtype (9.8125, what a bf16 run would use) shows here
        "gemma3_bf16": (Gemma3TextConfig, Gemma3ForCausalLM, dict(
            hidden_size=96, num_hidden_layers=3, num_attention_heads=4, num_key_value_heads=2, head_dim=24,
            query_pre_attn_scalar=24, sliding_window=8, rope_theta=1e6, rope_local_base_freq=10000.0,
            layer_types=["sliding_attention", "full_attention", "sliding_attention"], final_logit_softcapping=30.0),
            ["bf16 checkpoint (weights exactly bf16; reference computed in fp32)", "embedding x f32(sqrt(96)), not bf16-rounded",
             "(1+w) norms stored bf16", "local/global layers, window 8"], "sliding_window"),
    }

STORAGE = {"llama_bf16": torch.bfloat16, "gemma3_bf16": torch.bfloat16, "qwen3_f16": torch.float16}

# FP8 fixtures: (base fixture, weight_block_size).  The checkpoint is written the
# way DeepSeek ships V3: every projection float8_e4m3fn with an f32
# `<name>_scale_inv` multiplier per block, embeddings / lm_head / routers bf16,
# norms f32.  The reference runs transformers in fp32 on exactly the weights
# those files decode to (e4m3 value × block multiplier, rounded to f32).
# Blocks of 16 × 24 leave partial blocks on both axes (40 rows, 64 columns).
FP8 = {"deepseek_v3_fp8": ("deepseek_v3", [16, 24])}


# MTP fixtures: the base checkpoint plus a multi-token-prediction module as layer
# num_hidden_layers (transformers ignores it; the reference logits are unchanged).
# The module is built so that its draft is the main model's own next token again
# ("the last token repeats"): eh_proj = [0 | I] keeps only the normalised hidden
# state, the decoder layer is a copy of the last one with its output projections
# zeroed (so it passes z through), and the head is lm_head.  Drafts are then
# accepted exactly where greedy decoding repeats a token, so the test sees both
# accepted and rejected drafts.
MTP = {"deepseek_v3_mtp": "deepseek_v3"}

# MXFP4 fixtures: gpt-oss as OpenAI ships it — the routed experts as
# *_blocks [E, out, in/32, 16] (32 e2m1 values, low nibble first) and *_scales
# [E, out, in/32] (e8m0 exponents), everything else bf16.  The reference runs
# on the values those blocks decode to.
MXFP4 = {"gpt_oss_mxfp4": "gpt_oss"}
FP4 = [0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0, -0.0, -0.5, -1.0, -1.5, -2.0, -3.0, -4.0, -6.0]


def mxfp4_quantise(model):
    import math
    tensors = {}
    table = torch.tensor(FP4)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("experts.gate_up_proj") or name.endswith("experts.down_proj"):
                w = p.detach().transpose(1, 2).contiguous()          # [E, out, in]
                E, R, K = w.shape
                blocks = w.view(E, R, K // 32, 32)
                amax = blocks.abs().amax(dim=-1).clamp(min=1e-30)
                exp = torch.ceil(torch.log2(amax / 6.0)).clamp(-127, 127)
                scale = torch.pow(2.0, exp)
                idx = (blocks / scale[..., None]).unsqueeze(-1).sub(table).abs().argmin(dim=-1)   # nearest e2m1 code
                deq = table[idx] * scale[..., None]
                p.copy_(deq.view(E, R, K).transpose(1, 2))
                codes = idx.to(torch.uint8)
                packed = (codes[..., 0::2] | (codes[..., 1::2] << 4)).contiguous()              # [E, R, K/32, 16]
                tensors[name + "_blocks"] = packed
                tensors[name + "_scales"] = (exp + 127).to(torch.uint8).contiguous()
            elif name.endswith("bias") or "norm" in name or name.endswith("sinks"):
                tensors[name] = p.detach().clone()
            else:
                p.copy_(p.to(torch.bfloat16).float())
                tensors[name] = p.detach().to(torch.bfloat16)
    return tensors


def add_mtp_module(d, cfg):
    from safetensors.torch import load_file, save_file
    path = os.path.join(d, "model.safetensors")
    sd = load_file(path)
    last, mtp, H = f"model.layers.{cfg.num_hidden_layers - 1}.", f"model.layers.{cfg.num_hidden_layers}.", cfg.hidden_size
    for k in list(sd):
        if k.startswith(last):
            t = sd[k].clone()
            if k.endswith("self_attn.o_proj.weight") or k.endswith("down_proj.weight"):
                t.zero_()
            sd[mtp + k[len(last):]] = t
    sd[mtp + "embed_tokens.weight"] = sd["model.embed_tokens.weight"].clone()
    sd[mtp + "shared_head.head.weight"] = sd["lm_head.weight"].clone()
    for n in ("enorm.weight", "hnorm.weight", "shared_head.norm.weight"):
        sd[mtp + n] = torch.ones(H)
    eh = torch.zeros(H, 2 * H)
    eh[:, H:] = torch.eye(H)
    sd[mtp + "eh_proj.weight"] = eh
    save_file(sd, path, metadata={"format": "pt"})
    with open(os.path.join(d, "config.json")) as f:
        c = json.load(f)
    c["num_nextn_predict_layers"] = 1
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(c, f, indent=2)


def fp8_quantise(model, block):
    """Quantise the projections in place; return {name: tensor} to save."""
    bo, bi = block
    tensors = {}
    with torch.no_grad():
        for name, p in model.named_parameters():
            bf16 = name.endswith("embed_tokens.weight") or name == "lm_head.weight" or name.endswith("mlp.gate.weight")
            if p.dim() != 2 or bf16:
                if bf16:
                    p.copy_(p.to(torch.bfloat16).float())
                tensors[name] = p.detach().to(torch.bfloat16) if bf16 else p.detach().clone()
                continue
            rows, cols = p.shape
            nr, nc = -(-rows // bo), -(-cols // bi)
            padded = torch.zeros(nr * bo, nc * bi)
            padded[:rows, :cols] = p
            blocks = padded.view(nr, bo, nc, bi)
            amax = blocks.abs().amax(dim=(1, 3)).clamp(min=1e-12)
            scale = (amax / 448.0).float()                       # weight_scale_inv: the multiplier
            q = (blocks / scale[:, None, :, None]).to(torch.float8_e4m3fn)
            deq = (q.float() * scale[:, None, :, None]).view(nr * bo, nc * bi)[:rows, :cols]
            p.copy_(deq)
            tensors[name] = q.view(nr * bo, nc * bi)[:rows, :cols].contiguous()
            tensors[name + "_scale_inv"] = scale.contiguous()
        for name, b in model.named_buffers():
            if "e_score_correction_bias" in name:
                tensors[name] = b.detach().clone()
    return tensors


def init_weights(model, seed):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, b in model.named_buffers():
            if "e_score_correction_bias" in name:   # make selection differ from weighting
                b.copy_(torch.randn(b.shape, generator=g) * 0.05)  # small: keeps every score > 0 (see 0.0-fill tie note)
        for name, p in model.named_parameters():
            if "norm" in name:
                base = 0.0 if isinstance(model, Gemma3ForCausalLM) else 1.0
                p.copy_(base + 0.2 * (torch.rand(p.shape, generator=g) * 2 - 1))
            elif name.endswith("sinks"):
                p.copy_(torch.randn(p.shape, generator=g))
            elif name.endswith("experts.gate_up_proj"):   # gpt-oss: wide enough that the +-7 clamps engage
                p.copy_(torch.randn(p.shape, generator=g) * 0.6)
            else:
                p.copy_(torch.randn(p.shape, generator=g) * 0.08)


def run(model, ids):
    with torch.no_grad():
        logits = model(torch.tensor([ids])).logits[0].float()
        # an explicit all-ones mask: without one, generate() masks every prompt token equal to
        # pad_token_id (0), and a prompt holding token 0 gets decode logits of another sequence
        out = model.generate(torch.tensor([ids]), attention_mask=torch.ones(1, len(ids), dtype=torch.long),
                             max_new_tokens=STEPS, do_sample=False, use_cache=True,
                             output_logits=True, return_dict_in_generate=True, pad_token_id=0,
                             eos_token_id=None)
    gen = out.sequences[0, len(ids):].tolist()
    dec = torch.stack([l[0].float() for l in out.logits])
    return logits, gen, dec


def make(name, spec, seed, fp8_block=None, mtp=False, mxfp4=False):
    cfg_cls, model_cls, kw, features, window_key = spec
    torch.manual_seed(seed)
    cfg = cfg_cls(**{**COMMON, **kw})
    model = model_cls(cfg).eval()
    init_weights(model, seed)
    g0 = torch.Generator().manual_seed(seed + 1)
    ids0 = torch.randint(0, V, (T,), generator=g0).tolist()
    fp32_logits = None
    if fp8_block or mxfp4:   # the unquantised model's logits: quantisation error is judged against them (KL)
        with torch.no_grad():
            fp32_logits = model(torch.tensor([ids0])).logits[0].float()
    fp8_tensors = fp8_quantise(model, fp8_block) if fp8_block else None
    quant_config = None
    if fp8_block:
        quant_config = {"quant_method": "fp8", "fmt": "e4m3", "activation_scheme": "dynamic", "weight_block_size": fp8_block}
    if mxfp4:
        fp8_tensors = mxfp4_quantise(model)
        quant_config = {"quant_method": "mxfp4", "modules_to_not_convert": ["model.layers.*.self_attn", "model.layers.*.mlp.router",
                                                                           "model.embed_tokens", "lm_head"]}
    storage = STORAGE.get(name)
    if storage is not None:
        with torch.no_grad():
            for p in model.parameters():
                p.copy_(p.to(storage).float())
    g = torch.Generator().manual_seed(seed + 1)
    ids = torch.randint(0, V, (T,), generator=g).tolist()
    logits, gen, dec = run(model, ids)
    if window_key:
        # the fixture must really depend on its window: compare with the window switched off
        cfg2 = cfg_cls(**{**COMMON, **kw, window_key: 4096})  # wider than the prompt
        m2 = model_cls(cfg2).eval()
        m2.load_state_dict(model.state_dict())
        with torch.no_grad():
            l2 = m2(torch.tensor([ids])).logits[0].float()
        diff = (l2 - logits).abs().max().item()
        assert diff > 1e-3, f"{name}: the window does not change the logits ({diff})"
        print(f"  {name}: window changes logits by {diff:.3g}")
    d = os.path.join(ROOT, name)
    os.makedirs(d, exist_ok=True)
    if fp8_tensors is not None:
        from safetensors.torch import save_file
        cfg_dict = cfg.to_dict()
        cfg_dict["quantization_config"] = quant_config
        with open(os.path.join(d, "config.json"), "w") as f:
            json.dump(cfg_dict, f, indent=2)
        save_file(fp8_tensors, os.path.join(d, "model.safetensors"), metadata={"format": "pt"})
    elif storage is not None:
        model.to(storage).save_pretrained(d, safe_serialization=True)
        model.float()
    else:
        model.save_pretrained(d, safe_serialization=True)
    if mtp:
        add_mtp_module(d, cfg)
    with open(os.path.join(d, "prompt_ids.txt"), "w") as f:
        f.write(",".join(map(str, ids)) + "\n")
    with open(os.path.join(d, "greedy_ids.txt"), "w") as f:
        f.write(",".join(map(str, gen)) + "\n")
    logits.numpy().astype("<f4").tofile(os.path.join(d, "logits.bin"))
    if fp32_logits is not None:
        # The quantisation loss itself: KL(fp32 model || quantised model) over the prompt, as DESIGN.md
        # judges quantised formats.  The limit is about twice what these random weights give (fp8:
        # mean 0.009 nats; MXFP4 with experts drawn wide enough to hit the SwiGLU clamps: 0.086).
        assert ids == ids0
        fp32_logits.numpy().astype("<f4").tofile(os.path.join(d, "fp32_logits.bin"))
        with open(os.path.join(d, "fp32_kl_limit.txt"), "w") as f:
            f.write("0.02\n" if fp8_block else "0.2\n")
    dec.numpy().astype("<f4").tofile(os.path.join(d, "decode_logits.bin"))
    meta = dict(name=name, family=cfg.model_type, seed=seed, transformers=transformers.__version__,
                torch=torch.__version__, features=features, prompt_tokens=T, decode_steps=STEPS,
                layer_types=getattr(cfg, "layer_types", None))
    with open(os.path.join(d, "meta.json"), "w") as f:
        json.dump(meta, f, indent=1)
    gen_cfg = os.path.join(d, "generation_config.json")
    if os.path.exists(gen_cfg):
        os.remove(gen_cfg)
    print(f"{name}: {', '.join(features)}; layer_types={meta['layer_types']}")


def main():
    want = sys.argv[1:]
    specs = fixtures()
    for i, (name, spec) in enumerate(specs.items()):
        if want and name not in want:
            continue
        make(name, spec, 1000 + i)
    for j, (name, (base, block)) in enumerate(FP8.items()):
        if want and name not in want:
            continue
        cls, mcls, kw, features, wk = specs[base]
        make(name, (cls, mcls, kw, features + [f"fp8 e4m3 checkpoint, {block[0]}x{block[1]} blocks"], wk), 2000 + j, block)
    for j, (name, base) in enumerate(MXFP4.items()):
        if want and name not in want:
            continue
        cls, mcls, kw, features, wk = specs[base]
        make(name, (cls, mcls, kw, features + ["MXFP4 experts (blocks + e8m0 scales), the rest bf16"], wk), 4000 + j, mxfp4=True)
    for j, (name, base) in enumerate(MTP.items()):
        if want and name not in want:
            continue
        cls, mcls, kw, features, wk = specs[base]
        make(name, (cls, mcls, kw, features + ["MTP module (layer 3): drafts repeat the main model's next token"], wk),
             3000 + j, mtp=True)


if __name__ == "__main__":
    main()

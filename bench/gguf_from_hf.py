#!/usr/bin/env python3
"""bench/gguf_from_hf.py - write a GGUF file that llama.cpp loads from an
archc checkpoint (`archc init-weights MODEL.yaml -o DIR`: model.safetensors +
config.json, Hugging Face tensor names), so that llama.cpp and archc run the
very same random weights in bench/vs_llamacpp.sh.

    python3 bench/gguf_from_hf.py MODEL.yaml CKPT_DIR OUT.gguf

Needs the PyPI packages `gguf`, `numpy` and `pyyaml` (pip install gguf numpy pyyaml).

Supported description families and the llama.cpp architecture they become:
    qwen3        -> qwen3       (dense GQA, q/k head norm)
    qwen3_moe    -> qwen3moe    (softmax top-k router, renormalised)
    deepseek_v3  -> deepseek2   (MLA with q_lora, sigmoid router with groups,
    deepseek_v2     deepseek2    selection bias, shared experts; V2: softmax)

Limits: deepseek_v2 descriptions without q_lora_rank load in llama.cpp only
at 26 or 27 layers (its loader treats only those as "Lite"); its groups are
always ranked by the top-2 sum (V3), not by the best score (V2's
group_limited_greedy).  Sliding windows, chunks and per-layer rope variants
are refused.

Hyperparameters come from the YAML description (config.json written by
init-weights is minimal); tensors from the safetensors file, which is read
in place (np.memmap) and written one tensor at a time, so converting a 6 GB
checkpoint needs about one expert stack of memory, not the whole model.

Tensor types: the checkpoint's matrices keep their type (F32 or BF16 bit for
bit); 1-D tensors (norms, biases) and the MoE router matrix are written as
F32, which is what llama.cpp's own converter does and what its CPU kernels
expect.  The vocabulary is a stand-in: llama-bench feeds random token ids, so
the file carries a "gpt2"-type vocabulary of n_vocab tokens named by their
index ("<t123>") and a single merge; it can't tokenize text and doesn't need to.
MLA: kv_b_proj is split into per-head k_b (transposed) and v_b, the layout
llama.cpp's absorbed-MLA graph reads.  No RoPE permutation is needed: qwen3 is
NEOX-style (half rotation) in both programs, DeepSeek interleaved in both.
"""
import argparse
import json
import os
import struct
import sys

import numpy as np

try:
    import gguf
    import yaml
except ImportError as e:  # pragma: no cover - a message, not a traceback
    sys.exit(f"gguf_from_hf.py: {e}; install with: pip install gguf numpy pyyaml")

T = gguf.MODEL_TENSOR


class Checkpoint:
    """model.safetensors (one file, or an index with shards) read with np.memmap."""

    def __init__(self, d):
        self.tensors = {}
        idx = os.path.join(d, "model.safetensors.index.json")
        files = sorted(set(json.load(open(idx))["weight_map"].values())) if os.path.exists(idx) else ["model.safetensors"]
        for fn in files:
            path = os.path.join(d, fn)
            with open(path, "rb") as f:
                (n,) = struct.unpack("<Q", f.read(8))
                header = json.loads(f.read(n))
            base = 8 + n
            for name, info in header.items():
                if name == "__metadata__":
                    continue
                self.tensors[name] = (path, base, info)

    def has(self, name):
        return name in self.tensors

    def dtype(self, name):
        return self.tensors[name][2]["dtype"]

    def get(self, name):
        """The tensor as stored: float32 for F32, uint16 (raw bits) for BF16."""
        path, base, info = self.tensors[name]
        dt = {"F32": np.float32, "BF16": np.uint16}.get(info["dtype"])
        if dt is None:
            sys.exit(f"gguf_from_hf.py: {name}: dtype {info['dtype']} not supported (f32 or bf16 checkpoints)")
        b, e = info["data_offsets"]
        shape = tuple(info["shape"])
        return np.memmap(path, dtype=dt, mode="r", offset=base + b, shape=shape if shape else (1,))


def bf16_to_f32(a):
    return (a.astype(np.uint32) << 16).view(np.float32)


class Writer:
    """Two passes over the same list: tensor infos first, then the data."""

    def __init__(self, out, arch):
        self.w = gguf.GGUFWriter(out, arch)
        self.items = []  # (gguf name, producer, shape, ggml type, numpy dtype)

    def add(self, name, produce, shape, stored):
        # stored: "F32" or "BF16", the element type of what produce() returns
        if stored == "BF16":
            self.items.append((name, produce, tuple(shape), gguf.GGMLQuantizationType.BF16, np.uint16))
        else:
            self.items.append((name, produce, tuple(shape), gguf.GGMLQuantizationType.F32, np.float32))

    def finish(self):
        for name, _, shape, qt, dt in self.items:
            nbytes = int(np.prod(shape)) * np.dtype(dt).itemsize
            self.w.add_tensor_info(name, shape, np.dtype(dt), nbytes, raw_dtype=qt)
        self.w.write_header_to_file()
        self.w.write_kv_data_to_file()
        self.w.write_ti_data_to_file()
        for name, produce, shape, _, dt in self.items:
            a = np.ascontiguousarray(produce(), dtype=dt)
            if a.shape != shape:
                sys.exit(f"gguf_from_hf.py: {name}: produced shape {a.shape}, expected {shape}")
            self.w.write_tensor_data(a)
        self.w.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model_yaml")
    ap.add_argument("ckpt_dir")
    ap.add_argument("out")
    args = ap.parse_args()

    spec = yaml.safe_load(open(args.model_yaml))
    ck = Checkpoint(args.ckpt_dir)
    family = spec["family"]
    arch = {"qwen3": "qwen3", "qwen3_moe": "qwen3moe", "deepseek_v3": "deepseek2", "deepseek_v2": "deepseek2"}.get(family)
    if arch is None:
        sys.exit(f"gguf_from_hf.py: family {family!r} not supported (qwen3, qwen3_moe, deepseek_v2, deepseek_v3)")
    if spec.get("blocks") and any(k in b for b in spec["blocks"] for k in ("window", "chunk", "rope")):
        sys.exit("gguf_from_hf.py: per-layer windows/chunks/rope variants are not supported")

    mat_dtype = ck.dtype("model.embed_tokens.weight")
    W = Writer(args.out, arch)
    w = W.w
    L = int(spec["layers"])
    H = int(spec["hidden"])
    V = int(spec["vocab"])
    att = spec["attention"]
    ffn = spec["ffn"]
    rope = spec.get("rope", {})
    norm = spec.get("norm", {})

    def tname(t, bid=None, suffix="weight"):
        n = gguf.TENSOR_NAMES[t]
        return (n.format(bid=bid) if bid is not None else n) + "." + suffix

    def mat(gname, hfname):
        """A matrix as stored (HF [out, in] is GGUF ne {in, out}: same bytes)."""
        W.add(gname, lambda: ck.get(hfname), ck.tensors[hfname][2]["shape"], ck.dtype(hfname))

    def as_f32(gname, hfname):
        """Norms, biases and the router matrix: always F32."""
        def produce():
            a = ck.get(hfname)
            return bf16_to_f32(a) if ck.dtype(hfname) == "BF16" else np.asarray(a)
        W.add(gname, produce, ck.tensors[hfname][2]["shape"], "F32")

    def stacked(gname, names):
        """Experts [E, out, in] in one tensor (GGUF ne {in, out, E})."""
        shape0 = ck.tensors[names[0]][2]["shape"]
        W.add(gname, lambda: np.stack([np.asarray(ck.get(n)) for n in names]), [len(names)] + list(shape0), ck.dtype(names[0]))

    # ---- metadata
    w.add_name(spec.get("name", "archc-bench"))
    w.add_file_type(gguf.LlamaFileType.MOSTLY_BF16 if mat_dtype == "BF16" else gguf.LlamaFileType.ALL_F32)
    w.add_context_length(int(spec.get("max_context", 4096)))
    w.add_embedding_length(H)
    w.add_block_count(L)
    w.add_layer_norm_rms_eps(float(norm.get("eps", 1e-6)))
    w.add_head_count(int(att["heads"]))
    w.add_rope_freq_base(float(rope.get("theta", 10000)))
    w.add_vocab_size(V)

    # stand-in vocabulary (see the header)
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("default")
    w.add_token_list([f"<t{i}>" for i in range(V)])
    w.add_token_types([gguf.TokenType.NORMAL] * V)
    w.add_token_merges(["<t0> <t1>"])  # llama.cpp requires the key; one harmless merge
    tok = spec.get("tokens", {})
    w.add_bos_token_id(int(tok.get("bos", 0)))
    w.add_eos_token_id(int(tok.get("eos", 1)))
    w.add_add_bos_token(False)

    # ---- global tensors
    mat(tname(T.TOKEN_EMBD), "model.embed_tokens.weight")
    as_f32(tname(T.OUTPUT_NORM), "model.norm.weight")
    if ck.has("lm_head.weight") and not spec.get("tie_embeddings", False):
        mat(tname(T.OUTPUT), "lm_head.weight")

    def moe_variant():
        if isinstance(ffn, dict) and "moe" in ffn:
            return ffn["moe"], ffn.get("dense")
        return ffn, None

    if arch in ("qwen3", "qwen3moe"):
        if att.get("kind") != "gqa":
            sys.exit("gguf_from_hf.py: qwen3 expects attention kind gqa")
        w.add_head_count_kv(int(att["kv_heads"]))
        hd = int(att["head_dim"])
        w.add_key_length(hd)
        w.add_value_length(hd)
        if rope.get("kind", "default") != "default":
            sys.exit("gguf_from_hf.py: qwen3: only default rope")
        if arch == "qwen3":
            w.add_feed_forward_length(int(ffn["intermediate"]))
        else:
            E = int(ffn["experts"])
            w.add_feed_forward_length(int(ffn["intermediate"]))
            w.add_expert_feed_forward_length(int(ffn["intermediate"]))
            w.add_expert_count(E)
            w.add_expert_used_count(int(ffn["top_k"]))
            if not ffn.get("router", {}).get("normalize", False):
                sys.exit("gguf_from_hf.py: qwen3moe in llama.cpp always renormalises the top-k weights")
        for i in range(L):
            p = f"model.layers.{i}."
            as_f32(tname(T.ATTN_NORM, i), p + "input_layernorm.weight")
            mat(tname(T.ATTN_Q, i), p + "self_attn.q_proj.weight")
            mat(tname(T.ATTN_K, i), p + "self_attn.k_proj.weight")
            mat(tname(T.ATTN_V, i), p + "self_attn.v_proj.weight")
            mat(tname(T.ATTN_OUT, i), p + "self_attn.o_proj.weight")
            as_f32(tname(T.ATTN_Q_NORM, i), p + "self_attn.q_norm.weight")
            as_f32(tname(T.ATTN_K_NORM, i), p + "self_attn.k_norm.weight")
            as_f32(tname(T.FFN_NORM, i), p + "post_attention_layernorm.weight")
            if arch == "qwen3":
                mat(tname(T.FFN_GATE, i), p + "mlp.gate_proj.weight")
                mat(tname(T.FFN_UP, i), p + "mlp.up_proj.weight")
                mat(tname(T.FFN_DOWN, i), p + "mlp.down_proj.weight")
            else:
                E = int(ffn["experts"])
                as_f32(tname(T.FFN_GATE_INP, i), p + "mlp.gate.weight")
                for t, proj in ((T.FFN_GATE_EXP, "gate_proj"), (T.FFN_UP_EXP, "up_proj"), (T.FFN_DOWN_EXP, "down_proj")):
                    stacked(tname(t, i), [f"{p}mlp.experts.{e}.{proj}.weight" for e in range(E)])
    else:  # deepseek2
        if att.get("kind") != "mla":
            sys.exit("gguf_from_hf.py: deepseek expects attention kind mla")
        nh = int(att["heads"])
        r = int(att["kv_lora_rank"])
        dn, dr, dv = int(att["qk_nope_dim"]), int(att["qk_rope_dim"]), int(att["v_dim"])
        qr = att.get("q_lora_rank")
        moe, dense = moe_variant()
        # leading dense layers: the blocks entry with ffn: dense (0, 0-2, ...)
        n_dense = 0
        for b in spec.get("blocks", []):
            if b.get("ffn") == "dense":
                ls = str(b["layers"])
                n_dense = max(n_dense, int(ls.split("-")[-1]) + 1)
        w.add_leading_dense_block_count(n_dense)
        w.add_head_count_kv(1)
        if qr:
            w.add_q_lora_rank(int(qr))
        w.add_kv_lora_rank(r)
        w.add_key_length(r + dr)
        w.add_value_length(r)
        w.add_key_length_mla(dn + dr)
        w.add_value_length_mla(dv)
        w.add_rope_dimension_count(dr)
        w.add_feed_forward_length(int(dense["intermediate"]) if dense else int(moe["intermediate"]))
        w.add_expert_feed_forward_length(int(moe["intermediate"]))
        E = int(moe["experts"])
        w.add_expert_count(E)
        w.add_expert_used_count(int(moe["top_k"]))
        w.add_expert_shared_count(int(moe.get("shared", 0)))
        router = moe.get("router", {})
        if router.get("scale") is not None:
            w.add_expert_weights_scale(float(router["scale"]))
        if router.get("normalize"):
            w.add_expert_weights_norm(True)
        w.add_expert_gating_func(gguf.ExpertGatingFuncType.SIGMOID if router.get("score") == "sigmoid"
                                 else gguf.ExpertGatingFuncType.SOFTMAX)
        if int(router.get("groups", 1)) > 1:
            w.add_expert_group_count(int(router["groups"]))
            w.add_expert_group_used_count(int(router["top_groups"]))
        if rope.get("kind") == "yarn":
            w.add_rope_scaling_type(gguf.RopeScalingType.YARN)
            w.add_rope_scaling_factor(float(rope["factor"]))
            w.add_rope_scaling_orig_ctx_len(int(rope["original_max_position"]))
            # llama.cpp's deepseek2 loader divides this key by 0.1 (its converter's convention)
            w.add_rope_scaling_yarn_log_mul(0.1 * float(rope.get("mscale_all_dim", 0)))
        for i in range(L):
            p = f"model.layers.{i}."
            a = p + "self_attn."
            as_f32(tname(T.ATTN_NORM, i), p + "input_layernorm.weight")
            if qr:
                mat(tname(T.ATTN_Q_A, i), a + "q_a_proj.weight")
                as_f32(tname(T.ATTN_Q_A_NORM, i), a + "q_a_layernorm.weight")
                mat(tname(T.ATTN_Q_B, i), a + "q_b_proj.weight")
            else:
                mat(tname(T.ATTN_Q, i), a + "q_proj.weight")
            mat(tname(T.ATTN_KV_A_MQA, i), a + "kv_a_proj_with_mqa.weight")
            as_f32(tname(T.ATTN_KV_A_NORM, i), a + "kv_a_layernorm.weight")
            kvb = a + "kv_b_proj.weight"
            st = ck.dtype(kvb)
            # kv_b_proj [nh*(dn+dv), r]: per head dn rows of K_nope then dv rows of V
            W.add(tname(T.ATTN_K_B, i),
                  lambda kvb=kvb: np.asarray(ck.get(kvb)).reshape(nh, dn + dv, r)[:, :dn, :].transpose(0, 2, 1),
                  (nh, r, dn), st)
            W.add(tname(T.ATTN_V_B, i),
                  lambda kvb=kvb: np.asarray(ck.get(kvb)).reshape(nh, dn + dv, r)[:, dn:, :],
                  (nh, dv, r), st)
            mat(tname(T.ATTN_OUT, i), a + "o_proj.weight")
            as_f32(tname(T.FFN_NORM, i), p + "post_attention_layernorm.weight")
            if i < n_dense:
                mat(tname(T.FFN_GATE, i), p + "mlp.gate_proj.weight")
                mat(tname(T.FFN_UP, i), p + "mlp.up_proj.weight")
                mat(tname(T.FFN_DOWN, i), p + "mlp.down_proj.weight")
                continue
            as_f32(tname(T.FFN_GATE_INP, i), p + "mlp.gate.weight")
            if ck.has(p + "mlp.gate.e_score_correction_bias"):
                as_f32(tname(T.FFN_EXP_PROBS_B, i, "bias"), p + "mlp.gate.e_score_correction_bias")
            for t, proj in ((T.FFN_GATE_EXP, "gate_proj"), (T.FFN_UP_EXP, "up_proj"), (T.FFN_DOWN_EXP, "down_proj")):
                stacked(tname(t, i), [f"{p}mlp.experts.{e}.{proj}.weight" for e in range(E)])
            if int(moe.get("shared", 0)) > 0:
                mat(tname(T.FFN_GATE_SHEXP, i), p + "mlp.shared_experts.gate_proj.weight")
                mat(tname(T.FFN_UP_SHEXP, i), p + "mlp.shared_experts.up_proj.weight")
                mat(tname(T.FFN_DOWN_SHEXP, i), p + "mlp.shared_experts.down_proj.weight")

    W.finish()
    print(f"wrote {args.out}: arch {arch}, {len(W.items)} tensors, matrices {mat_dtype}")


if __name__ == "__main__":
    main()

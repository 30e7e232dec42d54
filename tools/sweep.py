#!/usr/bin/env python3
"""tools/sweep.py — differential sweep: random sizes and feature mixes per family
against Hugging Face transformers.

The committed fixtures (tools/make_fixtures.py) fix one size per family (hidden
64, vocab 512, 32-token prompt).  This script draws, per family, random shapes
around them — hidden sizes and intermediate sizes that are not multiples of 16
or 32 (kernel tails), head dims from 8 to 128, GQA group counts 1–4, expert
counts and top-k, MLA ranks, windows shorter and longer than the prompt,
vocabularies that are not multiples of 8, prompt lengths 3–70 — builds the
random-weight checkpoint with transformers (fp32, eager), records its logits
the way make_fixtures.py does, then runs archc on it with tests/run_fixture.sh
(import, compile, prefill + 8 cached decode steps, max relative error 1e-4,
identical greedy tokens).  Optionally each case also runs a second time with
extra archc flags (--flags=--prefill-chunk=5, --flags=--target=cuda-emu, …),
is quantised and checked by tests/quant/run_quant.sh (--quant int8,int4,fp8,mxfp4:
codes against tools/quant_ref.py, KL to the fp32 logits, the kernels against the
f32 model on the decoded weights), or is stored as bf16 / f16 (--storage).
Gemma 3, gpt-oss, Qwen2/3 and SmolLM3 cases also draw random layer_types, the
dense families a RoPE theta and scaling (none, linear, llama3, yarn).

Other kernels than the machine's best: tests/run_fixture.sh puts
$ARCHC_TEST_RUNNER before the binary, so
    ARCHC_TEST_RUNNER="env ARCHC_ISA=x86-64-v3" python3 tools/sweep.py --flags=--target=x86_64-linux-gnu
runs the second build on its AVX2 variant (x86-64: the scalar floor);
ARCHC_TEST_THREADS sets the thread count, ARCHC_QUANTIZE_FLAGS archc quantize's flags.

    python3 tools/sweep.py --cases 5 [--seed S] [--family llama,qwen3_moe] [--build build]
                          [--work /tmp/archc-sweep] [--flags=--prefill-chunk=3]
                          [--quant int8,int4] [--storage bf16]

Needs torch and transformers==4.57.6 (not CI: a developer's tool).  Prints one
line per case (family, seed, the drawn shape) and PASS / FAIL; a failing case's
directory is kept under --work with the fixture files, so it can be rerun
alone (bash tests/run_fixture.sh build/archc build/compare_logits DIR OUT) or
copied into tests/fixtures as a regression test.  Exit status 1 if any failed.
"""
import argparse, contextlib, copy, io, os, random, shutil, subprocess, sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_fixtures as mf  # noqa: E402


def heads(r, max_q=8):
    kv = r.choice([1, 2, 4])
    g = r.choice([1, 2, 3, 4])
    while kv * g > max_q:
        g -= 1
    return kv * g, kv


def draw(family, kw, r, big=False):
    """A mutated copy of the fixture's config kwargs (and the COMMON sizes); big:
    hidden and FFN sizes past the kernels' blockings (GEMM depth blocks of 256,
    the quantised GEMV's 16-block steps), with their tails."""
    kw = copy.deepcopy(kw)
    common = dict(mf.COMMON)
    common["vocab_size"] = r.randrange(200, 1200)
    common["hidden_size"] = r.choice([264, 520, 776, 1032, 1064] if big else [24, 40, 48, 56, 64, 72, 88, 96, 120, 128, 136, 160])
    common["intermediate_size"] = r.randrange(256, 2200, 4) if big else r.randrange(8, 320, 4)
    nh, nkv = heads(r)
    if "num_attention_heads" in kw:
        kw["num_attention_heads"], kw["num_key_value_heads"] = nh, nkv
    if "head_dim" in kw and family not in ("deepseek_v3", "kimi_k2", "deepseek_v2"):
        kw["head_dim"] = r.choice([8, 16, 24, 32, 40, 64, 80, 128] if family != "glm4_moe" else [8, 16, 24, 32, 64])
    if "num_hidden_layers" in kw:
        kw["num_hidden_layers"] = max(1, kw["num_hidden_layers"] + r.choice([-1, 0, 0, 1, 2]))
    if "sliding_window" in kw:
        kw["sliding_window"] = r.randrange(2, 40)
    if "attention_chunk_size" in kw:
        kw["attention_chunk_size"] = r.randrange(2, 24)
    if "max_window_layers" in kw:
        kw["max_window_layers"] = r.randrange(0, kw["num_hidden_layers"] + 1)
    if family in ("llama", "llama_tied", "mistral", "llama_bf16"):
        kw["attention_bias"] = r.random() < 0.5
        kw["mlp_bias"] = r.random() < 0.5
        if family == "llama_tied":
            kw.pop("head_dim", None) if r.random() < 0.5 else None
    if family == "qwen3_moe":
        E = r.randrange(2, 17)
        kw.update(num_experts=E, num_experts_per_tok=r.randrange(1, min(E, 4) + 1), moe_intermediate_size=r.randrange(8, 96, 4),
                  norm_topk_prob=r.random() < 0.5, decoder_sparse_step=r.choice([1, 2]),
                  mlp_only_layers=[i for i in range(kw["num_hidden_layers"]) if r.random() < 0.3])
    if family in ("glm4_moe", "deepseek_v3", "kimi_k2", "deepseek_v2"):
        groups = r.choice([1, 2, 4])
        per = r.choice([2, 3, 4])
        E = groups * per
        kw.update(n_routed_experts=E, n_group=groups, topk_group=r.randrange(1, groups + 1),
                  moe_intermediate_size=r.randrange(8, 80, 4), n_shared_experts=r.choice([0, 1, 2]) if family != "glm4_moe" else r.choice([1, 2]),
                  first_k_dense_replace=r.randrange(0, min(2, kw["num_hidden_layers"]) + 1),
                  routed_scaling_factor=round(r.uniform(0.5, 3.0), 3))
        kw["num_experts_per_tok"] = r.randrange(1, min(kw["topk_group"] * per, 4) + 1)
        if family != "deepseek_v2":
            kw["norm_topk_prob"] = r.random() < 0.7
        if family == "glm4_moe":
            kw["partial_rotary_factor"] = r.choice([0.25, 0.5, 1.0])
            kw["head_dim"] = r.choice([16, 32, 64])
            kw["attention_bias"] = r.random() < 0.5
            kw["use_qk_norm"] = r.random() < 0.5
    if family in ("deepseek_v3", "kimi_k2", "deepseek_v2"):
        kw["num_key_value_heads"] = kw["num_attention_heads"]
        kw["kv_lora_rank"] = r.randrange(8, 72, 4)
        if family != "deepseek_v2" or r.random() < 0.3:
            kw["q_lora_rank"] = r.randrange(8, 80, 4) if r.random() < 0.8 else None
        kw["qk_nope_head_dim"] = r.choice([8, 16, 24, 32])
        kw["qk_rope_head_dim"] = r.choice([4, 8, 16])
        kw["head_dim"] = kw["qk_rope_head_dim"]
        kw["v_head_dim"] = r.choice([8, 12, 16, 32])
    if family == "gpt_oss":
        E = r.randrange(2, 12)
        kw.update(num_local_experts=E, num_experts_per_tok=r.randrange(1, min(E, 4) + 1))
        common["intermediate_size"] = r.randrange(8, 96, 4)
    if family == "llama4":
        E = r.randrange(2, 8)
        kw.update(num_local_experts=E, num_experts_per_tok=1, intermediate_size_mlp=r.randrange(16, 160, 4),
                  interleave_moe_layer_step=r.choice([1, 2]), attn_temperature_tuning=r.random() < 0.7,
                  use_qk_norm=r.random() < 0.7)
        common["intermediate_size"] = r.randrange(8, 96, 4)
    if family in ("llama", "llama_tied", "mistral", "qwen2", "qwen3", "qwen3_yarn", "olmo2", "smollm3", "llama_bf16", "qwen3_f16"):
        kw["rope_theta"] = r.choice([1e4, 5e5, 1e6])
        kind = r.choice([None, "linear", "llama3", "yarn"]) if family != "olmo2" else None   # Olmo2Config validates the old {type, factor} form only
        orig = r.choice([8, 16, 32, 64])
        kw["rope_scaling"] = None if kind is None else {
            "linear": {"rope_type": "linear", "factor": r.choice([2.0, 4.0, 8.0])},
            "llama3": {"rope_type": "llama3", "factor": r.choice([2.0, 8.0, 32.0]), "low_freq_factor": r.choice([1.0, 2.0]),
                       "high_freq_factor": r.choice([4.0, 8.0]), "original_max_position_embeddings": orig},
            "yarn": {"rope_type": "yarn", "factor": r.choice([2.0, 4.0, 40.0]), "original_max_position_embeddings": orig,
                     **({"beta_fast": 16.0, "beta_slow": 2.0} if r.random() < 0.5 else {})},
        }[kind]
    # windowed families whose config takes layer_types (Qwen3-MoE's and Mistral's do not in 4.57)
    if "layer_types" in kw or ("sliding_window" in kw and family not in ("qwen3_moe", "mistral") and r.random() < 0.5):
        kw["layer_types"] = [r.choice(["sliding_attention", "full_attention"]) for _ in range(kw["num_hidden_layers"])]
    if family == "smollm3":
        kw["no_rope_layer_interval"] = r.choice([2, 3, 4])
    if family == "gemma3":
        kw["query_pre_attn_scalar"] = r.choice([kw["head_dim"], 24, 100])
        kw["final_logit_softcapping"] = r.choice([None, 30.0, 5.0])
    return kw, common


# mean KL to the fp32 logits allowed per format in --quant runs: loose, since a
# random shape with few prompt rows can lose much to quantisation itself (a
# Llama 4 case, 5 rows: int8 0.14 nats, the f32 model on the same decoded
# weights alike); the sharp check is run_quant.sh's kernels against the f32
# model on the decoded weights (3e-2)
QUANT_KL = {"int8": 1.0, "int4": 3.0, "fp8": 1.0, "mxfp4": 3.0}


def row_kl(work, V):
    """Per-row KL of the quantised model's prompt logits to the f32 model on the
    decoded weights (run_quant.sh's deq.bin / logits.bin): a few large rows over a
    small median is routing or a clamp flipping on a random case (read-only
    diagnosis; rerun with --prefill-chunk=1 to compare the decode kernels too)."""
    import numpy as np
    a, b = os.path.join(work, "deq.bin"), os.path.join(work, "logits.bin")
    if not (os.path.exists(a) and os.path.exists(b)):
        return ""
    la, lb = (np.fromfile(f, dtype="<f4").astype(np.float64).reshape(-1, V) for f in (a, b))
    la, lb = (x - x.max(1, keepdims=True) for x in (la, lb))
    la, lb = (x - np.log(np.exp(x).sum(1, keepdims=True)) for x in (la, lb))
    kl = (np.exp(la) * (la - lb)).sum(1)
    return f"\n    per-row KL (kernels vs decoded f32): median {np.median(kl):.2g}, {int((kl > 0.05).sum())} of {len(kl)} rows > 0.05"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", type=int, default=3, help="cases per family")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--family", default="", help="comma-separated fixture names (default: every dense/MoE/MLA family)")
    ap.add_argument("--build", default="build")
    ap.add_argument("--work", default="/tmp/archc-sweep")
    ap.add_argument("--flags", default="", help="extra archc flags for a second run of each case")
    ap.add_argument("--storage", default="f32", choices=["f32", "bf16", "f16"],
                    help="checkpoint dtype: weights rounded to it, the reference computed in fp32 on them")
    ap.add_argument("--big", action="store_true", help="hidden 264-1064 and FFN 256-2196: past the kernels' blockings")
    ap.add_argument("--keep", action="store_true", help="keep passing cases' directories too")
    ap.add_argument("--quant", default="", help="comma-separated formats (int8,int4,fp8,mxfp4): also quantise each case "
                    "and run tests/quant/run_quant.sh on it (KL bounds of QUANT_KL, the kernels against the decoded weights)")
    a = ap.parse_args()
    root = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
    archc = os.path.abspath(os.path.join(a.build, "archc"))
    compare = os.path.abspath(os.path.join(a.build, "tests", "compare_logits"))
    if not os.path.exists(compare):
        sys.exit(f"sweep.py: {compare} missing (cmake --build {a.build} --target compare_logits)")
    specs = mf.fixtures()
    fams = [f for f in (a.family.split(",") if a.family else specs) if f]
    os.makedirs(a.work, exist_ok=True)
    fails = 0
    for fam in fams:
        cls, mcls, kw0, features, _ = specs[fam]
        for c in range(a.cases):
            seed = a.seed * 100003 + c * 7919 + sum(map(ord, fam))
            r = random.Random(seed)
            kw, common = draw(fam, kw0, r, a.big)
            name = f"{fam}-s{seed}"
            if a.storage != "f32":
                import torch
                mf.STORAGE[name] = torch.bfloat16 if a.storage == "bf16" else torch.float16
            mf.ROOT, mf.COMMON, mf.V, mf.T = a.work, common, common["vocab_size"], r.randrange(3, 71)
            shape = {k: v for k, v in {**common, **kw}.items() if k not in ("torch_dtype", "attn_implementation", "max_position_embeddings")}
            try:
                with contextlib.redirect_stdout(io.StringIO()):
                    mf.make(name, (cls, mcls, kw, features, None), seed)
            except Exception as e:   # a config transformers itself rejects: not archc's failure
                print(f"SKIP {name}: transformers: {type(e).__name__}: {str(e)[:120]}")
                shutil.rmtree(os.path.join(a.work, name), ignore_errors=True)
                continue
            def check(what, cmd, extra=""):
                """Run one check script; on failure print the case and its last lines."""
                out = subprocess.run(cmd, capture_output=True, text=True)
                if out.returncode != 0:
                    print(f"FAIL {name}{what} T={mf.T} {shape}\n" + "\n".join("    " + l for l in (out.stdout + out.stderr).strip().splitlines()[-8:])
                          + (extra() if extra else ""))
                return out.returncode == 0
            fx = os.path.join(a.work, name)
            ok = all(check(" " + " ".join(fl), ["bash", os.path.join(root, "tests", "run_fixture.sh"), archc, compare, fx, f"{fx}-run{i}"] + fl)
                     for i, fl in enumerate([[]] + ([a.flags.split()] if a.flags else [])))
            ok = ok and all(check(f" quant {fmt}", ["bash", os.path.join(root, "tests", "quant", "run_quant.sh"), archc, compare, fx, fmt,
                                                    f"{fx}-run{fmt}", str(QUANT_KL[fmt]), "0"],
                                  lambda fmt=fmt: row_kl(f"{fx}-run{fmt}", common["vocab_size"]))
                            for fmt in a.quant.split(",") if fmt)
            if ok:
                print(f"PASS {name} T={mf.T}")
                if not a.keep:
                    for d in os.listdir(a.work):
                        if d == name or d.startswith(name + "-run"):
                            shutil.rmtree(os.path.join(a.work, d), ignore_errors=True)
            else:
                fails += 1
            sys.stdout.flush()
    print(f"{fails} failed")
    sys.exit(1 if fails else 0)


if __name__ == "__main__":
    main()

/*
 * frontend/spec.h — the validated model description (ModelSpec).
 *
 * A ModelSpec is what frontend/parse.c builds from a YAML description and what
 * ir/lower.c turns into a graph.  It is a plain tree of structs:
 *
 *   ModelSpec
 *     ├── norm                      the model's RMSNorm flavour and eps
 *     ├── rope[]   (named)          RoPE variants ("default", or "local"/"global", …)
 *     ├── attn[]   (named)          attention variants (GQA/MHA or MLA)
 *     ├── ffn[]    (named)          FFN variants (dense GLU or MoE)
 *     ├── layer[]  (resolved)       one LayerSpec per layer, after applying `blocks:`
 *     ├── mtp, weights, embedding / logits options
 *
 * Everything is resolved at parse time: `blocks:` patterns are applied in order and
 * each layer ends up with indices into the variant tables plus its own window /
 * chunk / rope / norm placement.  Later stages never look at YAML again, but every
 * struct keeps the SrcLoc of the YAML node it came from so diagnostics and the
 * emitted C can point back at the description.
 *
 * Numbers are doubles where HF keeps Python floats (theta, eps, factors) so that
 * constant folding can reproduce HF's f32 rounding exactly.
 */
#ifndef ARCHC_SPEC_H
#define ARCHC_SPEC_H

#include <stdbool.h>
#include <stdio.h>
#include <stddef.h>
#include <stdint.h>

#define SPEC_NAME_MAX 48
#define SPEC_MAX_VARIANTS 8
#define SPEC_MAX_LAYERS 256
#define SPEC_MAX_EXPERT_LAYERS 65536  /* routed experts summed over layers (DeepSeek-V3: 14,848) */

typedef struct SrcLoc {
    const char *file; /* path of the YAML file (owned by the ModelSpec) */
    int line, col;    /* 1-based; 0 when unknown */
} SrcLoc;

/* ── norms ─────────────────────────────────────────────────────────────────── */
typedef enum {
    NORM_RMS,        /* y = w * (x / sqrt(mean(x^2) + eps))                     */
    NORM_RMS_GEMMA,  /* y = (1 + w) * (x / sqrt(mean(x^2) + eps)), Gemma 3       */
    NORM_L2,         /* weightless: x / sqrt(mean(x^2) + eps) (Llama 4 q/k norm) */
} NormKind;

typedef struct NormSpec {
    NormKind kind;
    double eps;
    SrcLoc loc;
} NormSpec;

/* Where a layer's norms sit relative to its two sublayers.                     */
typedef enum {
    NORMS_PRE,      /* x += f(norm(x))                 Llama, Qwen, Mistral, …      */
    NORMS_POST,     /* x += norm(f(x))                 OLMo 2 (no input norm)       */
    NORMS_SANDWICH, /* x += post_norm(f(pre_norm(x)))  Gemma 3                      */
} NormPlacement;

/* ── rotary position embedding ────────────────────────────────────────────── */
typedef enum {
    ROPE_DEFAULT,     /* inv_f[i] = theta^(-2i/dims)                               */
    ROPE_LINEAR,      /* inv_f /= factor                                           */
    ROPE_LLAMA3,      /* Llama 3.1 band-wise interpolation                         */
    ROPE_YARN,        /* YaRN: ramped interpolation + attention factor on cos/sin  */
    ROPE_DYNAMIC_NTK, /* Qwen-1: base scaled by alpha chosen at prefill (per call) */
} RopeKind;

typedef enum {
    ROPE_LAYOUT_HALF,        /* HF rotate_half: pairs (i, i + dims/2)              */
    ROPE_LAYOUT_INTERLEAVED, /* pairs (2i, 2i+1) (DeepSeek k_pe/q_pe, GLM)         */
} RopeLayout;

typedef struct RopeSpec {
    char name[SPEC_NAME_MAX];
    RopeKind kind;
    RopeLayout layout;
    double theta;              /* base                                               */
    int dims;                  /* rotary dims; 0 = the head's full rope dim          */
    double factor;             /* linear / llama3 / yarn factor                     */
    int original_max_position; /* llama3 L, yarn L0                                  */
    double low_freq_factor, high_freq_factor;          /* llama3                    */
    double beta_fast, beta_slow;                       /* yarn (32, 1)              */
    bool truncate;                                     /* yarn floor/ceil (default) */
    bool has_attention_factor; double attention_factor;/* yarn explicit m           */
    bool has_mscale;           double mscale;          /* yarn mscale               */
    bool has_mscale_all_dim;   double mscale_all_dim;  /* yarn mscale_all_dim       */
    int ntk_seq_length;        /* dynamic NTK: training length (Qwen-1 seq_length)  */
    SrcLoc loc;
} RopeSpec;

/* ── attention ─────────────────────────────────────────────────────────────── */
typedef enum {
    ATTN_GQA, /* multi-head / grouped-query attention (MHA when kv_heads == heads) */
    ATTN_MLA, /* DeepSeek multi-head latent attention                              */
} AttnKind;

typedef enum {
    QKNORM_NONE,
    QKNORM_HEAD,       /* per head over head_dim, weight [head_dim], before RoPE (Qwen3, Gemma 3) */
    QKNORM_WHOLE,      /* over the whole projection, weight [n*head_dim] (OLMo 2)                 */
    QKNORM_L2_AFTER,   /* weightless L2 norm per head after RoPE (Llama 4)                        */
} QkNormKind;

typedef struct AttnSpec {
    char name[SPEC_NAME_MAX];
    AttnKind kind;
    int heads;          /* query heads                                                */
    int kv_heads;       /* GQA: key/value heads (== heads for MHA)                    */
    int head_dim;       /* GQA: per-head dim                                          */
    bool q_bias, k_bias, v_bias, o_bias;
    QkNormKind qk_norm;
    double scale;       /* softmax scale; 0 = head_dim^-0.5 (MLA: qk_head_dim^-0.5 · mscale²) */
    bool sinks;         /* gpt-oss: learned per-head sink logit in the denominator    */
    double softcap;     /* 0 = none                                                   */
    bool fused_qkv;     /* checkpoint stores q|k|v as one tensor (Qwen-1 c_attn)      */
    /* MLA (kind == ATTN_MLA) */
    int q_lora_rank;    /* 0 = no low-rank q path (DeepSeek-V2-Lite)                  */
    int kv_lora_rank;
    int qk_nope_dim, qk_rope_dim, v_dim;
    /* Llama 4 attention temperature tuning (on NoPE layers) */
    bool temperature_tuning; double floor_scale, attn_scale;
    /* Qwen-1 LogN query scaling past logn_seq_length */
    bool logn; int logn_seq_length;
    SrcLoc loc;
} AttnSpec;

/* ── feed-forward ──────────────────────────────────────────────────────────── */
typedef enum {
    ACT_SWIGLU,       /* down(silu(gate x) * up x)                                   */
    ACT_GEGLU_TANH,   /* down(gelu_tanh(gate x) * up x)        Gemma 3               */
    ACT_SWIGLU_OAI,   /* gpt-oss clamped SwiGLU: (clamp(up)+1) * g * sigmoid(alpha g) */
} ActKind;

typedef enum { ROUTER_SOFTMAX, ROUTER_SIGMOID } RouterScore;

typedef struct RouterSpec {
    RouterScore score;
    bool select_bias;      /* DeepSeek-V3 e_score_correction_bias: selection only   */
    bool bias;             /* gpt-oss router bias (added to logits)                  */
    bool softmax_after_topk; /* gpt-oss: top-k on logits, then softmax over the k     */
    int groups, top_groups;/* group-limited routing (0 = none)                       */
    bool group_max;        /* groups ranked by their best score (DeepSeek-V2), else by the sum of the top two */
    bool normalize;        /* renormalise the top-k weights                          */
    double scale;          /* routed_scaling_factor (1 = none)                       */
    bool scale_input;      /* Llama 4: router score multiplies the expert input      */
    SrcLoc loc;
} RouterSpec;

typedef struct FfnSpec {
    char name[SPEC_NAME_MAX];
    bool moe;
    ActKind act;
    int intermediate;      /* dense width, or each routed expert's width             */
    bool bias;             /* biases on gate/up/down (Llama mlp_bias; gpt-oss experts) */
    bool gate_up_interleaved; /* gpt-oss: gate/up rows interleaved in one tensor     */
    double act_limit, act_alpha; /* gpt-oss clamp limit (7) and alpha (1.702)        */
    /* MoE (moe == true) */
    int experts, top_k;
    int shared;            /* number of shared experts (0 = none)                    */
    int shared_intermediate; /* width of the shared expert(s) block; 0 = shared * intermediate */
    RouterSpec router;
    SrcLoc loc;
} FfnSpec;

/* ── per-layer resolution of `blocks:` ─────────────────────────────────────── */
typedef struct LayerSpec {
    int attn;              /* index into ModelSpec.attn                              */
    int ffn;               /* index into ModelSpec.ffn                               */
    int rope;              /* index into ModelSpec.rope, -1 = NoPE                   */
    NormPlacement norms;
    int window;            /* sliding window in keys incl. self; 0 = full causal     */
    int chunk;             /* chunked attention (Llama 4); 0 = none                  */
    SrcLoc loc;            /* the `blocks:` entry that last set this layer           */
} LayerSpec;

/* ── weights ───────────────────────────────────────────────────────────────── */
typedef enum {
    WFMT_F32,
    WFMT_BF16,
    WFMT_F16,
    WFMT_FP8_E4M3,   /* float8 e4m3 with block scales (weight_scale_inv)            */
    WFMT_MXFP4,      /* 32 e2m1 values + e8m0 scale per block (gpt-oss experts)     */
    WFMT_U8,         /* raw bytes (the e8m0 exponents of MXFP4 blocks); IR only    */
    /* `archc quantize` checkpoints (docs/quantize.md): blocks of 32 along the input dim */
    WFMT_I8,         /* int8, one f16 (or f32) scale per block (X.weight_scale)     */
    WFMT_I4,         /* int4 nibbles (2 per byte), one f16 (or f32) scale per block */
    WFMT_MXFP4_DENSE,/* model-wide only: every projection MXFP4 (X.weight_blocks / X.weight_scales);
                        the weights themselves are WFMT_MXFP4 with 2 dims           */
} WeightFormat;

typedef enum {
    NAMES_HF,        /* model.layers.N.self_attn.q_proj.weight …                    */
    NAMES_QWEN1,     /* transformer.h.N.attn.c_attn.weight …                         */
} NameScheme;

typedef struct WeightsSpec {
    NameScheme names;
    WeightFormat format;     /* storage format of matrices                          */
    int block[2];            /* FP8 block shape (128, 128)                           */
    WeightFormat kept;       /* int8/int4/mxfp4_dense: the format of the matrices left
                                unquantised (embeddings, routers, …); default bf16   */
    char keep[16][128];      /* int8/int4/mxfp4_dense: tensors `archc quantize --keep` left
                                unquantised (fnmatch pattern or substring of the name) */
    int n_keep;
    bool scale_f16;          /* int8/int4: block scales stored f16 (archc quantize's
                                default, `scale: f16`), else f32 (`scale: f32`, the
                                default of a description without the key) */
    bool quantize_embeddings; /* int8/int4/mxfp4_dense: the embedding (and a tied lm_head,
                                the MTP embedding) quantised too (archc quantize
                                --quantize-embeddings)                                */
    char prefix[64];         /* tensor-name prefix, "" or e.g. "language_model."    */
    SrcLoc loc;
} WeightsSpec;

typedef struct ModelSpec {
    char name[128];
    char family[32];         /* llama, qwen2, qwen3, mistral, olmo2, smollm3, gemma3_text,
                                gpt_oss, llama4_text, qwen3_moe, deepseek_v3, deepseek_v2,
                                kimi_k2, glm4_moe, qwen — informational + defaults  */
    const char *file;        /* YAML path                                            */
    int vocab;
    int hidden;
    int n_layers;
    int max_context;         /* compiled maximum context (KV cache length)           */

    NormSpec norm;           /* every norm in the model uses this flavour/eps        */
    RopeSpec rope[SPEC_MAX_VARIANTS];  int n_rope;
    AttnSpec attn[SPEC_MAX_VARIANTS];  int n_attn;
    FfnSpec  ffn[SPEC_MAX_VARIANTS];   int n_ffn;
    LayerSpec layer[SPEC_MAX_LAYERS];

    bool tie_embeddings;     /* logits reuse the embedding matrix                    */
    double embed_scale;      /* 0 = none; Gemma: sqrt(hidden) rounded to weight dtype */
    double final_softcap;    /* 0 = none                                             */
    int mtp_depth;           /* DeepSeek multi-token prediction layers (0 = none)     */
    WeightsSpec weights;
    int bos_token;           /* -1 = none; informational (the tokenizer decides)     */
    int eos_token;           /* -1 = none; generation stops here                      */
    SrcLoc loc;              /* the document root                                    */
} ModelSpec;

/* frontend/parse.c — parse and validate a YAML description.
 * On error: prints "file:line:col: error: …" to stderr and returns non-zero. */
int spec_parse_file(const char *path, ModelSpec *out);
int spec_parse_string(const char *name, const char *text, ModelSpec *out);
int spec_parse_buffer(const char *name, const char *text, size_t len, ModelSpec *out); /* need not be NUL-terminated */

/* frontend/import.c — write a YAML description from a Hugging Face config.json
 * (or a directory holding one). Returns 0 on success; errors go to stderr. */
int spec_import_hf(const char *config_path_or_dir, const char *out_yaml_path);
/* The same from config.json text in memory (fuzzing, tests): the YAML text in
 * *yaml_out (malloc'd) on success; `name` is used in messages. */
int spec_import_json(const char *name, const char *text, size_t len, char **yaml_out);

/* frontend/hf_config.c — a Hugging Face config.json for s, the inverse of
 * spec_import_*: `archc import` of it gives back s where the family's config
 * can say everything s says.  fmt names the checkpoint's torch_dtype. */
int hf_config_write(const ModelSpec *s, FILE *o, WeightFormat fmt);

/* Names for printing (frontend/spec_names.c). */
const char *norm_kind_name(NormKind k);
const char *rope_kind_name(RopeKind k);
const char *act_kind_name(ActKind k);
const char *wfmt_name(WeightFormat f);

#endif

/*
 * frontend/import.c — `archc import`: a Hugging Face config.json → archc YAML.
 *
 * One function per family reads the config keys that affect the forward pass
 * (per ../shared/docs/arch-*.md, transformers 4.57 semantics) and fills a small
 * Imported struct; one writer prints it as YAML in the schema of docs/yaml.md.
 * Per-layer differences (sliding windows, NoPE layers, dense-vs-MoE layers) are
 * written as `blocks:` entries, grouping runs of equal layers into ranges.
 *
 * Rope configurations are accepted in all three forms: rope_theta + rope_scaling
 * (with `type` or `rope_type`), and transformers ≥ 5 `rope_parameters` (flat,
 * or nested per layer type as Gemma 3 writes it).
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "json.h"
#include "spec.h"

#define MAXL SPEC_MAX_LAYERS

typedef struct Rope {
    int present;
    char kind[16];
    double theta, factor, low, high, beta_fast, beta_slow, attention_factor, mscale, mscale_all_dim;
    int orig, has_attention_factor, has_mscale, has_mscale_all_dim, has_truncate, truncate, dims, seq_length;
    char layout[16];
} Rope;

typedef struct Layer {
    int window, chunk, nope, moe;
    const char *rope;   /* variant name */
} Layer;

typedef struct Imported {
    const char *path;
    const JsonValue *cfg;
    char family[32];
    char name[128];
    int vocab, hidden, layers, max_context;
    double eps;
    int gemma_norm;
    Rope rope[2];
    const char *rope_names[2];
    int n_rope;
    /* attention */
    int heads, kv_heads, head_dim;
    const char *bias;
    const char *qk_norm;
    double scale;
    int sinks;
    int temp_tuning;
    double floor_scale, attn_scale;
    int mla, q_lora, kv_lora, nope_dim, rope_dim, v_dim;
    /* ffn */
    const char *act;
    int intermediate, mlp_bias;
    int experts, top_k, moe_inter, shared, shared_inter;
    const char *router_score;
    int select_bias, router_bias, softmax_after_topk, groups, top_groups, group_max, normalize, scale_input;
    double mla_scale;      /* MLA softmax scale with the YaRN mscale² (DeepSeek-V3), 0 = default */
    int qwen1;             /* Qwen-1: fused c_attn, transformer.h.N names */
    int ntk_seq, logn_seq; /* Qwen-1 dynamic NTK / LogN training length (0 = off) */
    double routed_scale;
    const char *norms;
    int tie;
    double embed_scale_sqrt;  /* 1 = sqrt_hidden */
    double final_softcap;
    int mtp;
    const char *format;
    int block[2];
    int bos, eos;
    Layer layer[MAXL];
} Imported;

static const char *g_path;

static int ierr(const char *fmt, const char *a) {
    fprintf(stderr, "%s: error: ", g_path);
    fprintf(stderr, fmt, a);
    fputc('\n', stderr);
    return -1;
}

static int need_int(const JsonValue *c, const char *key, int *out) {
    const JsonValue *v = json_get(c, key);
    if (!v || v->type != JSON_NUMBER) return ierr("missing key '%s' (expected an integer)", key);
    *out = (int)v->number;
    return 0;
}

static int get_int(const JsonValue *c, const char *key, int dflt) {
    const JsonValue *v = json_get(c, key);
    return v && v->type == JSON_NUMBER ? (int)v->number : dflt;
}

static double get_num(const JsonValue *c, const char *key, double dflt) {
    const JsonValue *v = json_get(c, key);
    return v && v->type == JSON_NUMBER ? v->number : dflt;
}

static int get_bool(const JsonValue *c, const char *key, int dflt) {
    const JsonValue *v = json_get(c, key);
    return v && v->type == JSON_BOOL ? v->boolean : dflt;
}

static int first_int(const JsonValue *v, int dflt) {
    if (!v) return dflt;
    if (v->type == JSON_NUMBER) return (int)v->number;
    if (v->type == JSON_ARRAY && v->count && v->items[0]->type == JSON_NUMBER) return (int)v->items[0]->number;
    return dflt;
}

/* Read one rope parameter set (rope_scaling / rope_parameters object). */
static int read_rope_obj(const JsonValue *o, double theta, Rope *r) {
    memset(r, 0, sizeof *r);
    r->present = 1;
    r->theta = get_num(o, "rope_theta", theta);
    snprintf(r->kind, sizeof r->kind, "default");
    snprintf(r->layout, sizeof r->layout, "half");
    if (!o || o->type != JSON_OBJECT) return 0;
    const char *t = json_get_string(o, "rope_type", json_get_string(o, "type", "default"));
    if (!strcmp(t, "default") || !strcmp(t, "linear") || !strcmp(t, "llama3") || !strcmp(t, "yarn")) snprintf(r->kind, sizeof r->kind, "%s", t);
    else return ierr("rope type '%s' is not supported (supported: default, linear, llama3, yarn)", t);
    r->factor = get_num(o, "factor", 0);
    r->low = get_num(o, "low_freq_factor", 0);
    r->high = get_num(o, "high_freq_factor", 0);
    r->orig = get_int(o, "original_max_position_embeddings", 0);
    r->beta_fast = get_num(o, "beta_fast", 0);
    r->beta_slow = get_num(o, "beta_slow", 0);
    const JsonValue *v;
    if ((v = json_get(o, "attention_factor")) && v->type == JSON_NUMBER) { r->has_attention_factor = 1; r->attention_factor = v->number; }
    if ((v = json_get(o, "mscale")) && v->type == JSON_NUMBER) { r->has_mscale = 1; r->mscale = v->number; }
    if ((v = json_get(o, "mscale_all_dim")) && v->type == JSON_NUMBER) { r->has_mscale_all_dim = 1; r->mscale_all_dim = v->number; }
    if ((v = json_get(o, "truncate")) && v->type == JSON_BOOL) { r->has_truncate = 1; r->truncate = v->boolean; }
    if (strcmp(r->kind, "default") && r->factor == 0) return ierr("rope scaling '%s' needs a factor", r->kind);
    return 0;
}

/* rope_theta + rope_scaling, or rope_parameters (flat or per layer type). */
static int read_rope(const JsonValue *c, const char *layer_type, double dflt_theta, Rope *r) {
    const JsonValue *rp = json_get(c, "rope_parameters");
    if (rp && rp->type == JSON_OBJECT) {
        const JsonValue *sub = layer_type ? json_get(rp, layer_type) : NULL;
        if (sub && sub->type == JSON_OBJECT) rp = sub;
        return read_rope_obj(rp, get_num(rp, "rope_theta", dflt_theta), r);
    }
    double theta = get_num(c, "rope_theta", dflt_theta);
    const JsonValue *rs = json_get(c, "rope_scaling");
    return read_rope_obj(rs && rs->type == JSON_OBJECT ? rs : NULL, theta, r);
}

/* layer_types from the config when present: 1 = sliding. */
static int read_layer_types(const JsonValue *c, int L, int *sliding) {
    const JsonValue *lt = json_get(c, "layer_types");
    if (!lt || lt->type != JSON_ARRAY) return 0;
    if ((int)lt->count != L) return ierr("layer_types has the wrong length (%s)", "expected num_hidden_layers entries");
    for (int i = 0; i < L; i++) {
        const char *s = lt->items[i]->type == JSON_STRING ? lt->items[i]->string : "";
        sliding[i] = !strcmp(s, "sliding_attention");
        if (!sliding[i] && strcmp(s, "full_attention") && strcmp(s, "chunked_attention")) return ierr("unknown layer type '%s' in layer_types", s);
    }
    return 1;
}

static const char *dtype_format(const JsonValue *c) {
    const char *d = json_get_string(c, "torch_dtype", json_get_string(c, "dtype", "bfloat16"));
    const JsonValue *q = json_get(c, "quantization_config");
    if (q && q->type == JSON_OBJECT) {
        const char *m = json_get_string(q, "quant_method", "");
        if (!strcmp(m, "fp8")) return "fp8_e4m3";
        if (!strcmp(m, "mxfp4")) return "mxfp4";
    }
    if (!strcmp(d, "float32")) return "f32";
    if (!strcmp(d, "float16")) return "f16";
    return "bf16";
}

/* What a description says when the config does not say otherwise. */
static void set_defaults(Imported *m) {
    m->act = "swiglu";
    m->norms = "pre";
    m->bias = "none";
    m->qk_norm = "none";
    m->router_score = "softmax";
    m->routed_scale = 1.0;
}

/* The common dense decoder keys (Llama skeleton). */
static int read_common(Imported *m, const JsonValue *c) {
    if (need_int(c, "hidden_size", &m->hidden) || need_int(c, "num_hidden_layers", &m->layers) || need_int(c, "num_attention_heads", &m->heads))
        return -1;
    /* Gemma 3 configs leave vocab_size to the class default (262208) */
    m->vocab = get_int(c, "vocab_size", !strcmp(json_get_string(c, "model_type", ""), "gemma3_text") ? 262208 : -1);
    if (m->vocab <= 0) return ierr("missing key '%s' (expected an integer)", "vocab_size");
    if (m->layers > MAXL) return ierr("num_hidden_layers is larger than archc's limit of %s layers", "256");
    m->kv_heads = get_int(c, "num_key_value_heads", m->heads);
    m->head_dim = get_int(c, "head_dim", m->hidden / m->heads);
    m->intermediate = get_int(c, "intermediate_size", 0);
    m->eps = get_num(c, "rms_norm_eps", 1e-6);
    m->max_context = get_int(c, "max_position_embeddings", 4096);
    m->tie = get_bool(c, "tie_word_embeddings", 0);
    m->format = dtype_format(c);
    m->bos = first_int(json_get(c, "bos_token_id"), -1);
    m->eos = first_int(json_get(c, "eos_token_id"), -1);
    set_defaults(m);
    if (m->bos >= m->vocab) m->bos = -1;
    if (m->eos >= m->vocab) m->eos = -1;
    return 0;
}

static int import_dense(Imported *m, const JsonValue *c, const char *mt) {
    if (read_common(m, c)) return -1;
    if (m->intermediate <= 0) return ierr("missing key '%s'", "intermediate_size");
    m->n_rope = 1;
    m->rope_names[0] = "default";
    if (read_rope(c, NULL, 10000.0, &m->rope[0])) return -1;
    int L = m->layers, sliding[MAXL] = {0};
    int has_lt = read_layer_types(c, L, sliding);
    if (has_lt < 0) return -1;
    int window = get_int(c, "sliding_window", 0);
    if (!strcmp(mt, "llama")) {
        if (get_bool(c, "attention_bias", 0)) m->bias = "qkvo";
        m->mlp_bias = get_bool(c, "mlp_bias", 0);
    } else if (!strcmp(mt, "mistral")) {
        /* no layer_types: a non-null window applies to every layer */
        for (int i = 0; i < L; i++) sliding[i] = window > 0;
    } else if (!strcmp(mt, "qwen2") || !strcmp(mt, "qwen3")) {
        if (!strcmp(mt, "qwen2")) m->bias = "qkv";
        else {
            m->qk_norm = "head";
            if (get_bool(c, "attention_bias", 0)) m->bias = "qkvo";
        }
        int use = get_bool(c, "use_sliding_window", 0);
        if (!has_lt) {
            int mwl = get_int(c, "max_window_layers", L);
            for (int i = 0; i < L; i++) sliding[i] = use && window > 0 && i >= mwl;
        }
        if (!use) window = 0;
    } else if (!strcmp(mt, "olmo2")) {
        m->qk_norm = "whole";
        m->norms = "post";
        if (get_bool(c, "attention_bias", 0)) m->bias = "qkvo";
    } else if (!strcmp(mt, "smollm3")) {
        m->tie = get_bool(c, "tie_word_embeddings", 1); /* SmolLM3Config defaults to tied */
        const JsonValue *nr = json_get(c, "no_rope_layers");
        int interval = get_int(c, "no_rope_layer_interval", 4);
        for (int i = 0; i < L; i++) {
            int uses_rope;
            if (nr && nr->type == JSON_ARRAY && (int)nr->count == L) uses_rope = first_int(nr->items[i], 1) != 0;
            else uses_rope = (i + 1) % interval != 0;
            m->layer[i].nope = !uses_rope;
        }
        int use = get_bool(c, "use_sliding_window", 0);
        if (!has_lt) for (int i = 0; i < L; i++) sliding[i] = use && window > 0 && m->layer[i].nope;
        if (!use && !has_lt) window = 0;
        if (get_bool(c, "attention_bias", 0)) m->bias = "qkvo";
        m->mlp_bias = get_bool(c, "mlp_bias", 0);
    }
    for (int i = 0; i < L; i++) {
        if (sliding[i] && window <= 0) return ierr("layer %s is sliding but sliding_window is null", "");
        m->layer[i].window = sliding[i] ? window : 0;
        m->layer[i].rope = m->layer[i].nope ? NULL : "default";
    }
    return 0;
}

static int import_gemma3(Imported *m, const JsonValue *c) {
    if (read_common(m, c)) return -1;
    m->gemma_norm = 1;
    m->norms = "sandwich";
    m->qk_norm = "head";
    m->act = "geglu_tanh";
    m->tie = get_bool(c, "tie_word_embeddings", 1);
    m->head_dim = get_int(c, "head_dim", 256);
    m->scale = 1.0 / sqrt(get_num(c, "query_pre_attn_scalar", 256));
    m->embed_scale_sqrt = 1;
    m->final_softcap = get_num(c, "final_logit_softcapping", 0);
    m->n_rope = 2;
    m->rope_names[0] = "local";
    m->rope_names[1] = "global";
    if (read_rope(c, "full_attention", 1000000.0, &m->rope[1])) return -1;
    /* local layers: default rope at rope_local_base_freq (or their own rope_parameters) */
    const JsonValue *rp = json_get(c, "rope_parameters");
    if (rp && rp->type == JSON_OBJECT && json_get(rp, "sliding_attention")) {
        if (read_rope(c, "sliding_attention", 10000.0, &m->rope[0])) return -1;
    } else {
        read_rope_obj(NULL, get_num(c, "rope_local_base_freq", 10000.0), &m->rope[0]);
    }
    int L = m->layers, sliding[MAXL];
    int has_lt = read_layer_types(c, L, sliding);
    if (has_lt < 0) return -1;
    int pattern = get_int(c, "sliding_window_pattern", 6);
    if (!has_lt) for (int i = 0; i < L; i++) sliding[i] = (i + 1) % pattern != 0;
    int window = get_int(c, "sliding_window", 4096);
    for (int i = 0; i < L; i++) {
        m->layer[i].window = sliding[i] ? window : 0;
        m->layer[i].rope = sliding[i] ? "local" : "global";
    }
    return 0;
}

static int import_gpt_oss(Imported *m, const JsonValue *c) {
    if (read_common(m, c)) return -1;
    m->eps = get_num(c, "rms_norm_eps", 1e-5);
    m->bias = "qkvo";
    m->sinks = 1;
    m->act = "swiglu_oai";
    m->mlp_bias = 1;
    m->experts = get_int(c, "num_local_experts", 32);
    m->top_k = get_int(c, "num_experts_per_tok", 4);
    m->moe_inter = m->intermediate;
    m->router_bias = 1;
    m->softmax_after_topk = 1;
    m->n_rope = 1;
    m->rope_names[0] = "default";
    if (read_rope(c, NULL, 150000.0, &m->rope[0])) return -1;
    if (!m->rope[0].has_truncate && !strcmp(m->rope[0].kind, "yarn")) { m->rope[0].has_truncate = 1; m->rope[0].truncate = 1; }
    int L = m->layers, sliding[MAXL];
    int has_lt = read_layer_types(c, L, sliding);
    if (has_lt < 0) return -1;
    if (!has_lt) for (int i = 0; i < L; i++) sliding[i] = i % 2 == 0;
    int window = get_int(c, "sliding_window", 128);
    for (int i = 0; i < L; i++) { m->layer[i].window = sliding[i] ? window : 0; m->layer[i].moe = 1; m->layer[i].rope = "default"; }
    return 0;
}

static int import_qwen3_moe(Imported *m, const JsonValue *c) {
    if (read_common(m, c)) return -1;
    m->qk_norm = "head";
    m->experts = get_int(c, "num_experts", 128);
    m->top_k = get_int(c, "num_experts_per_tok", 8);
    m->moe_inter = get_int(c, "moe_intermediate_size", 768);
    m->normalize = get_bool(c, "norm_topk_prob", 0);
    m->n_rope = 1;
    m->rope_names[0] = "default";
    if (read_rope(c, NULL, 10000.0, &m->rope[0])) return -1;
    int step = get_int(c, "decoder_sparse_step", 1);
    const JsonValue *only = json_get(c, "mlp_only_layers");
    int window = get_bool(c, "use_sliding_window", 0) ? get_int(c, "sliding_window", 0) : 0;
    for (int i = 0; i < m->layers; i++) {
        int dense = 0;
        if (only && only->type == JSON_ARRAY)
            for (size_t k = 0; k < only->count; k++) dense |= first_int(only->items[k], -1) == i;
        m->layer[i].moe = !dense && m->experts > 0 && (i + 1) % step == 0;
        m->layer[i].window = window;
        m->layer[i].rope = "default";
    }
    return 0;
}

static int import_deepseek(Imported *m, const JsonValue *c, const char *mt) {
    if (read_common(m, c)) return -1;
    m->mla = 1;
    m->q_lora = get_int(c, "q_lora_rank", 0);
    if (need_int(c, "kv_lora_rank", &m->kv_lora) || need_int(c, "qk_nope_head_dim", &m->nope_dim) ||
        need_int(c, "qk_rope_head_dim", &m->rope_dim) || need_int(c, "v_head_dim", &m->v_dim))
        return -1;
    m->n_rope = 1;
    m->rope_names[0] = "default";
    if (read_rope(c, NULL, 10000.0, &m->rope[0])) return -1;
    snprintf(m->rope[0].layout, sizeof m->rope[0].layout, "interleaved");
    m->rope[0].dims = m->rope_dim;
    int is_v2 = !strcmp(mt, "deepseek_v2");
    /* The MLA softmax scale.  HF deepseek_v3 (and Kimi K2 through it) multiplies
     * qk_head_dim^-0.5 by mscale(factor, mscale_all_dim)² whenever rope_scaling
     * is present with a non-zero mscale_all_dim; HF deepseek_v2 (4.57) never does. */
    if (!is_v2 && m->rope[0].factor > 0 && m->rope[0].has_mscale_all_dim && m->rope[0].mscale_all_dim != 0) {
        double f = m->rope[0].factor, ms = f <= 1 ? 1.0 : 0.1 * m->rope[0].mscale_all_dim * log(f) + 1.0;
        m->mla_scale = ms * ms / sqrt((double)(m->nope_dim + m->rope_dim));
    }
    m->experts = get_int(c, "n_routed_experts", 0);
    m->top_k = get_int(c, "num_experts_per_tok", 0);
    m->moe_inter = get_int(c, "moe_intermediate_size", 0);
    m->shared = get_int(c, "n_shared_experts", 0);
    m->routed_scale = get_num(c, "routed_scaling_factor", 1.0);
    if (is_v2) {
        /* HF deepseek_v2 hard-codes softmax scores; topk_method greedy or
         * group_limited_greedy (groups ranked by their best score); the weights
         * are never renormalised (norm_topk_prob is ignored) and always scaled. */
        m->router_score = "softmax";
        m->select_bias = 0;
        if (!strcmp(json_get_string(c, "topk_method", "greedy"), "group_limited_greedy")) {
            m->groups = get_int(c, "n_group", 0);
            m->top_groups = get_int(c, "topk_group", 0);
            m->group_max = 1;
        }
        m->normalize = 0;
    } else {
        /* HF deepseek_v3 hard-codes sigmoid noaux_tc (scoring_func and topk_method ignored) */
        m->router_score = "sigmoid";
        m->select_bias = 1;
        m->groups = get_int(c, "n_group", 0);
        m->top_groups = get_int(c, "topk_group", 0);
        m->normalize = get_bool(c, "norm_topk_prob", 1);
    }
    if (get_bool(c, "attention_bias", 0)) m->bias = "qkvo";
    m->mtp = get_int(c, "num_nextn_predict_layers", 0);
    const JsonValue *q = json_get(c, "quantization_config");
    if (q && q->type == JSON_OBJECT) {
        const JsonValue *b = json_get(q, "weight_block_size");
        if (b && b->type == JSON_ARRAY && b->count == 2) { m->block[0] = first_int(b->items[0], 128); m->block[1] = first_int(b->items[1], 128); }
    }
    /* HF (v2 and v3) makes layer l MoE iff l >= first_k_dense_replace; moe_layer_freq is ignored */
    int first_dense = get_int(c, "first_k_dense_replace", 0);
    for (int i = 0; i < m->layers; i++) {
        m->layer[i].moe = m->experts > 0 && i >= first_dense;
        m->layer[i].rope = "default";
    }
    return 0;
}

static int import_glm4_moe(Imported *m, const JsonValue *c) {
    if (read_common(m, c)) return -1;
    m->bias = get_bool(c, "attention_bias", 1) ? "qkv" : "none";
    m->qk_norm = get_bool(c, "use_qk_norm", 0) ? "head" : "none";
    m->n_rope = 1;
    m->rope_names[0] = "default";
    if (read_rope(c, NULL, 10000.0, &m->rope[0])) return -1;
    double prf = get_num(c, "partial_rotary_factor", 0.5);
    m->rope[0].dims = (int)(m->head_dim * prf);
    m->experts = get_int(c, "n_routed_experts", 0);
    m->top_k = get_int(c, "num_experts_per_tok", 0);
    m->moe_inter = get_int(c, "moe_intermediate_size", 0);
    m->shared = get_int(c, "n_shared_experts", 0);
    m->router_score = "sigmoid";
    m->select_bias = 1;
    m->groups = get_int(c, "n_group", 1);
    m->top_groups = get_int(c, "topk_group", 1);
    m->normalize = get_bool(c, "norm_topk_prob", 1);
    m->routed_scale = get_num(c, "routed_scaling_factor", 1.0);
    m->mtp = get_int(c, "num_nextn_predict_layers", 0);
    int first_dense = get_int(c, "first_k_dense_replace", 0);
    for (int i = 0; i < m->layers; i++) { m->layer[i].moe = m->experts > 0 && i >= first_dense; m->layer[i].rope = "default"; }
    return 0;
}

/* Qwen-1 (model_type qwen, QWenLMHeadModel, remote code): one fused c_attn with
 * bias, MLP branches of intermediate_size / 2, RMSNorm eps layer_norm_epsilon,
 * partial rotary (rotary_pct), dynamic NTK and LogN both keyed to seq_length. */
static int import_qwen1(Imported *m, const JsonValue *c) {
    if (need_int(c, "hidden_size", &m->hidden) || need_int(c, "num_attention_heads", &m->heads) ||
        need_int(c, "num_hidden_layers", &m->layers) || need_int(c, "vocab_size", &m->vocab) ||
        need_int(c, "intermediate_size", &m->intermediate))
        return -1;
    if (m->layers > MAXL) return ierr("num_hidden_layers is larger than archc's limit of %s layers", "256");
    m->qwen1 = 1;
    m->kv_heads = m->heads;
    m->head_dim = get_int(c, "kv_channels", m->hidden / m->heads);
    if (m->head_dim * m->heads != m->hidden) return ierr("kv_channels must equal hidden_size / num_attention_heads%s", "");
    m->intermediate /= 2;  /* w1 and w2 are each intermediate_size / 2 wide */
    m->eps = get_num(c, "layer_norm_epsilon", 1e-6);
    m->max_context = get_int(c, "max_position_embeddings", 8192);
    m->tie = get_bool(c, "tie_word_embeddings", 0);
    m->format = dtype_format(c);
    m->bos = m->eos = -1;
    set_defaults(m);
    m->bias = "qkv";
    int seq = get_int(c, "seq_length", 2048);
    double pct = get_num(c, "rotary_pct", 1.0);
    m->n_rope = 1;
    m->rope_names[0] = "default";
    Rope *r = &m->rope[0];
    r->present = 1;
    r->theta = get_num(c, "rotary_emb_base", 10000.0);
    r->dims = pct == 1.0 ? 0 : (int)(m->head_dim * pct);
    snprintf(r->layout, sizeof r->layout, "half");
    if (get_bool(c, "use_dynamic_ntk", 0)) {
        snprintf(r->kind, sizeof r->kind, "dynamic_ntk");
        r->seq_length = seq;
    } else {
        snprintf(r->kind, sizeof r->kind, "default");
    }
    if (get_bool(c, "use_logn_attn", 0)) m->logn_seq = seq;
    for (int i = 0; i < m->layers; i++) m->layer[i].rope = "default";
    return 0;
}

static int import_llama4(Imported *m, const JsonValue *c) {
    if (read_common(m, c)) return -1;
    m->experts = get_int(c, "num_local_experts", 16);
    m->top_k = get_int(c, "num_experts_per_tok", 1);
    m->moe_inter = m->intermediate;
    m->intermediate = get_int(c, "intermediate_size_mlp", m->intermediate);
    m->shared = 1;
    m->router_score = "sigmoid";
    m->scale_input = 1;
    if (get_bool(c, "use_qk_norm", 1)) m->qk_norm = "l2_after";
    /* attn_temperature_tuning is stored as a number (4) in the released files: truthy */
    const JsonValue *tt = json_get(c, "attn_temperature_tuning");
    m->temp_tuning = tt && ((tt->type == JSON_BOOL && tt->boolean) || (tt->type == JSON_NUMBER && tt->number != 0));
    m->floor_scale = get_num(c, "floor_scale", 8192);
    m->attn_scale = get_num(c, "attn_scale", 0.1);
    m->n_rope = 1;
    m->rope_names[0] = "default";
    if (read_rope(c, NULL, 500000.0, &m->rope[0])) return -1;
    /* HF keeps Meta's q/k row order: RoPE rotates interleaved pairs (complex form) */
    snprintf(m->rope[0].layout, sizeof m->rope[0].layout, "interleaved");
    const JsonValue *nr = json_get(c, "no_rope_layers");
    int chunk = get_int(c, "attention_chunk_size", 0), step = get_int(c, "interleave_moe_layer_step", 1);
    const JsonValue *moe_layers = json_get(c, "moe_layers");
    for (int i = 0; i < m->layers; i++) {
        int uses_rope = (nr && nr->type == JSON_ARRAY && (int)nr->count == m->layers) ? first_int(nr->items[i], 1) != 0 : (i + 1) % 4 != 0;
        m->layer[i].nope = !uses_rope;
        m->layer[i].rope = uses_rope ? "default" : NULL;
        m->layer[i].chunk = uses_rope ? chunk : 0;
        int moe = (i + 1) % step == 0;
        if (moe_layers && moe_layers->type == JSON_ARRAY) {
            moe = 0;
            for (size_t k = 0; k < moe_layers->count; k++) moe |= first_int(moe_layers->items[k], -1) == i;
        }
        m->layer[i].moe = moe;
    }
    return 0;
}

/* ── writer ──────────────────────────────────────────────────────────────── */

static void write_rope(FILE *f, const Rope *r, const char *ind) {
    fprintf(f, "%skind: %s\n%stheta: %.17g\n", ind, r->kind, ind, r->theta);
    if (r->dims) fprintf(f, "%sdims: %d\n", ind, r->dims);
    if (strcmp(r->layout, "half")) fprintf(f, "%slayout: %s\n", ind, r->layout);
    if (!strcmp(r->kind, "dynamic_ntk")) fprintf(f, "%sseq_length: %d\n", ind, r->seq_length);
    else if (strcmp(r->kind, "default")) fprintf(f, "%sfactor: %.17g\n", ind, r->factor);
    if (!strcmp(r->kind, "llama3"))
        fprintf(f, "%soriginal_max_position: %d\n%slow_freq_factor: %.17g\n%shigh_freq_factor: %.17g\n", ind, r->orig, ind, r->low, ind, r->high);
    if (!strcmp(r->kind, "yarn")) {
        if (r->orig) fprintf(f, "%soriginal_max_position: %d\n", ind, r->orig);
        if (r->beta_fast) fprintf(f, "%sbeta_fast: %.17g\n", ind, r->beta_fast);
        if (r->beta_slow) fprintf(f, "%sbeta_slow: %.17g\n", ind, r->beta_slow);
        if (r->has_truncate) fprintf(f, "%struncate: %s\n", ind, r->truncate ? "true" : "false");
        if (r->has_attention_factor) fprintf(f, "%sattention_factor: %.17g\n", ind, r->attention_factor);
        if (r->has_mscale) fprintf(f, "%smscale: %.17g\n", ind, r->mscale);
        if (r->has_mscale_all_dim) fprintf(f, "%smscale_all_dim: %.17g\n", ind, r->mscale_all_dim);
    }
}

static int same_layer(const Layer *a, const Layer *b) {
    return a->window == b->window && a->chunk == b->chunk && a->moe == b->moe &&
           ((!a->rope && !b->rope) || (a->rope && b->rope && !strcmp(a->rope, b->rope)));
}

static void write_yaml(FILE *f, const Imported *m, const char *src) {
    fprintf(f, "# archc model description, imported from %s by `archc import`.\n", src);
    fprintf(f, "# Schema: docs/yaml.md.\n");
    fprintf(f, "name: %s\nfamily: %s\n", m->name, m->family);
    fprintf(f, "vocab: %d\nhidden: %d\nlayers: %d\nmax_context: %d\n", m->vocab, m->hidden, m->layers, m->max_context);
    fprintf(f, "norm: {kind: %s, eps: %.9g}\n", m->gemma_norm ? "rmsnorm_gemma" : "rmsnorm", m->eps);
    if (m->n_rope == 1 && !strcmp(m->rope_names[0], "default")) {
        fprintf(f, "rope:\n");
        write_rope(f, &m->rope[0], "  ");
    } else if (m->n_rope > 0) {
        fprintf(f, "rope:\n");
        for (int r = 0; r < m->n_rope; r++) {
            fprintf(f, "  %s:\n", m->rope_names[r]);
            write_rope(f, &m->rope[r], "    ");
        }
    }
    fprintf(f, "attention:\n");
    if (m->mla) {
        fprintf(f, "  kind: mla\n  heads: %d\n", m->heads);
        if (m->q_lora) fprintf(f, "  q_lora_rank: %d\n", m->q_lora);
        fprintf(f, "  kv_lora_rank: %d\n  qk_nope_dim: %d\n  qk_rope_dim: %d\n  v_dim: %d\n", m->kv_lora, m->nope_dim, m->rope_dim, m->v_dim);
        if (strcmp(m->bias, "none")) fprintf(f, "  bias: qkvo   # q_a_proj, kv_a_proj_with_mqa and o_proj\n");
        if (m->mla_scale) fprintf(f, "  scale: %.17g   # qk_head_dim^-0.5 * yarn mscale(factor, mscale_all_dim)^2\n", m->mla_scale);
    } else {
        fprintf(f, "  kind: gqa\n  heads: %d\n  kv_heads: %d\n  head_dim: %d\n", m->heads, m->kv_heads, m->head_dim);
        if (strcmp(m->bias, "none")) fprintf(f, "  bias: %s\n", m->bias);
        if (m->qwen1) fprintf(f, "  fused_qkv: true   # c_attn: q | k | v in one tensor\n");
        if (m->logn_seq) fprintf(f, "  logn: true\n  logn_seq_length: %d\n", m->logn_seq);
        if (strcmp(m->qk_norm, "none")) fprintf(f, "  qk_norm: %s\n", m->qk_norm);
        if (m->scale) fprintf(f, "  scale: %.17g\n", m->scale);
        if (m->sinks) fprintf(f, "  sinks: true\n");
        if (m->temp_tuning) fprintf(f, "  temperature_tuning: true\n  floor_scale: %.17g\n  attn_scale: %.17g\n", m->floor_scale, m->attn_scale);
    }
    int any_moe = 0, any_dense = 0;
    for (int i = 0; i < m->layers; i++) { any_moe |= m->layer[i].moe; any_dense |= !m->layer[i].moe; }
    fprintf(f, "ffn:\n");
    if (any_dense) {
        const char *ind = any_moe ? "    " : "  ";
        if (any_moe) fprintf(f, "  dense:\n");
        fprintf(f, "%skind: %s\n%sintermediate: %d\n", ind, m->act, ind, m->intermediate);
        if (m->mlp_bias && !any_moe) fprintf(f, "%sbias: true\n", ind);
    }
    if (any_moe) {
        const char *ind = any_dense ? "    " : "  ";
        if (any_dense) fprintf(f, "  moe:\n");
        fprintf(f, "%skind: %s\n%sintermediate: %d\n%sexperts: %d\n%stop_k: %d\n", ind, m->act, ind, m->moe_inter, ind, m->experts, ind, m->top_k);
        if (m->mlp_bias) fprintf(f, "%sbias: true\n", ind);
        if (!strcmp(m->act, "swiglu_oai")) fprintf(f, "%sgate_up_interleaved: true\n", ind);
        if (m->shared) fprintf(f, "%sshared: %d\n", ind, m->shared);
        if (m->shared_inter) fprintf(f, "%sshared_intermediate: %d\n", ind, m->shared_inter);
        fprintf(f, "%srouter: {score: %s", ind, m->router_score);
        if (m->select_bias) fprintf(f, ", select_bias: true");
        if (m->router_bias) fprintf(f, ", bias: true");
        if (m->softmax_after_topk) fprintf(f, ", softmax_after_topk: true");
        if (m->groups > 1) fprintf(f, ", groups: %d, top_groups: %d%s", m->groups, m->top_groups, m->group_max ? ", group_score: max" : "");
        if (m->normalize) fprintf(f, ", normalize: true");
        if (m->routed_scale != 1.0) fprintf(f, ", scale: %.17g", m->routed_scale);
        if (m->scale_input) fprintf(f, ", scale_input: true");
        fprintf(f, "}\n");
    }
    /* blocks: the default for all layers, then runs that differ */
    const char *default_rope = m->n_rope ? m->rope_names[0] : NULL;
    fprintf(f, "blocks:\n  - {layers: all, norms: %s", m->norms);
    if (any_moe && any_dense) fprintf(f, ", ffn: moe");
    fprintf(f, "}\n");
    for (int i = 0; i < m->layers;) {
        int j = i;
        while (j + 1 < m->layers && same_layer(&m->layer[j + 1], &m->layer[i])) j++;
        const Layer *l = &m->layer[i];
        int rope_differs = (l->rope == NULL) != (default_rope == NULL) || (l->rope && default_rope && strcmp(l->rope, default_rope));
        if (l->window || l->chunk || (any_moe && any_dense && !l->moe) || rope_differs) {
            if (i == j) fprintf(f, "  - {layers: %d", i);
            else fprintf(f, "  - {layers: %d-%d", i, j);
            if (l->window) fprintf(f, ", window: %d", l->window);
            if (l->chunk) fprintf(f, ", chunk: %d", l->chunk);
            if (any_moe && any_dense && !l->moe) fprintf(f, ", ffn: dense");
            if (rope_differs) fprintf(f, ", rope: %s", l->rope ? l->rope : "none");
            fprintf(f, "}\n");
        }
        i = j + 1;
    }
    if (m->tie) fprintf(f, "tie_embeddings: true\n");
    if (m->embed_scale_sqrt) fprintf(f, "embed_scale: sqrt_hidden\n");
    if (m->final_softcap) fprintf(f, "final_softcap: %.17g\n", m->final_softcap);
    if (m->mtp) fprintf(f, "mtp: {depth: %d}\n", m->mtp);
    fprintf(f, "weights: {names: %s, format: %s", m->qwen1 ? "qwen1" : "hf", m->format);
    if (m->block[0]) fprintf(f, ", block: [%d, %d]", m->block[0], m->block[1]);
    fprintf(f, "}\n");
    if (m->bos >= 0 || m->eos >= 0) {
        fprintf(f, "tokens: {");
        if (m->bos >= 0) fprintf(f, "bos: %d", m->bos);
        if (m->eos >= 0) fprintf(f, "%seos: %d", m->bos >= 0 ? ", " : "", m->eos);
        fprintf(f, "}\n");
    }
}

int spec_import_hf(const char *in, const char *out_path) {
    char path[4096];
    struct stat st;
    if (stat(in, &st) == 0 && S_ISDIR(st.st_mode)) snprintf(path, sizeof path, "%s/config.json", in);
    else snprintf(path, sizeof path, "%s", in);
    g_path = path;
    char err[512];
    JsonValue *root = json_parse_file(path, err, sizeof err);
    if (!root) { fprintf(stderr, "error: %s\n", err); return -1; }
    if (root->type != JSON_OBJECT) { json_free(root); return ierr("expected a JSON object%s", ""); }
    const JsonValue *c = root;
    const char *mt = json_get_string(c, "model_type", NULL);
    /* multimodal wrappers keep the language model in text_config */
    if (mt && (!strcmp(mt, "gemma3") || !strcmp(mt, "llama4") || !strcmp(mt, "mistral3"))) {
        const JsonValue *tc = json_get(c, "text_config");
        if (!tc || tc->type != JSON_OBJECT) { ierr("model_type '%s' needs a text_config object", mt); json_free(root); return -1; }
        c = tc;
        mt = json_get_string(c, "model_type", !strcmp(mt, "gemma3") ? "gemma3_text" : !strcmp(mt, "llama4") ? "llama4_text" : "mistral");
    }
    if (!mt) {
        const JsonValue *arch = json_get(c, "architectures");
        if (arch && arch->type == JSON_ARRAY && arch->count && arch->items[0]->type == JSON_STRING &&
            !strcmp(arch->items[0]->string, "QWenLMHeadModel"))
            mt = "qwen";
    }
    if (!mt) { ierr("missing key '%s'", "model_type"); json_free(root); return -1; }
    static Imported m;
    memset(&m, 0, sizeof m);
    m.path = path;
    m.cfg = c;
    /* name: the directory or file stem */
    const char *base = strrchr(in, '/');
    base = base && base[1] ? base + 1 : in;
    snprintf(m.name, sizeof m.name, "%s", base);
    char *dot = strstr(m.name, ".json");
    if (dot) *dot = 0;
    if (!strcmp(m.name, "config") || !m.name[0]) snprintf(m.name, sizeof m.name, "%s", mt);
    for (char *p = m.name; *p; p++) if (*p == ':' || *p == '#' || *p == ' ') *p = '_';
    int rc;
    const char *fam = mt;
    if (!strcmp(mt, "llama") || !strcmp(mt, "mistral") || !strcmp(mt, "qwen2") || !strcmp(mt, "qwen3") || !strcmp(mt, "olmo2") ||
        !strcmp(mt, "smollm3"))
        rc = import_dense(&m, c, mt);
    else if (!strcmp(mt, "gemma3_text")) rc = import_gemma3(&m, c);
    else if (!strcmp(mt, "gpt_oss")) rc = import_gpt_oss(&m, c);
    else if (!strcmp(mt, "qwen3_moe")) rc = import_qwen3_moe(&m, c);
    else if (!strcmp(mt, "deepseek_v3") || !strcmp(mt, "deepseek_v2") || !strcmp(mt, "kimi_k2")) rc = import_deepseek(&m, c, mt);
    else if (!strcmp(mt, "glm4_moe")) rc = import_glm4_moe(&m, c);
    else if (!strcmp(mt, "llama4_text")) rc = import_llama4(&m, c);
    else if (!strcmp(mt, "qwen")) rc = import_qwen1(&m, c);
    else {
        rc = ierr("unsupported model_type '%s' (supported: llama, mistral, qwen2, qwen3, olmo2, smollm3, gemma3_text, gpt_oss, "
                  "qwen3_moe, deepseek_v2, deepseek_v3, kimi_k2, glm4_moe, llama4_text, qwen)", mt);
    }
    if (rc == 0) {
        snprintf(m.family, sizeof m.family, "%s", fam);
        char tmp[4200];
        snprintf(tmp, sizeof tmp, "%s.tmp", out_path);
        FILE *f = fopen(tmp, "w");
        if (!f) { fprintf(stderr, "%s: error: cannot write: %s\n", tmp, strerror(errno)); rc = -1; }
        else {
            write_yaml(f, &m, path);
            int ok = !ferror(f);
            if (fclose(f) != 0) ok = 0;
            if (!ok || rename(tmp, out_path) != 0) {
                unlink(tmp);
                fprintf(stderr, "%s: error: write failed\n", out_path);
                rc = -1;
            }
        }
    }
    json_free(root);
    return rc;
}

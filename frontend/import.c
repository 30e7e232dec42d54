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
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "diag.h"
#include "fileio.h"
#include "json.h"
#include "outfile.h"
#include "safetensors.h"
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
    const char *kept;        /* archc quantize formats: the unquantised matrices' format */
    int scale_f16;           /* int8 / int4: quantization_config.scale_dtype "float16" */
    const char *keep[16];    /* archc quantize --keep patterns (modules_to_not_convert) */
    int n_keep;
    int quant_embed;         /* archc quantize --quantize-embeddings */
    int block[2];
    int bos, eos;
    Layer layer[MAXL];
} Imported;

static const char *g_path;
static int g_failed;   /* the first error was printed; later ones are not */

/* An error about the config: "PATH: error: …", or "PATH:LINE:COL: error: key 'K': …"
 * when it is about one value.  Only the first error of an import is printed. */
__attribute__((format(printf, 3, 4)))
static int verr(const JsonValue *at, const char *key, const char *fmt, ...) {
    if (g_failed++) return -1;
    if (at && at->line > 0) fprintf(stderr, "%s:%d:%d: error: ", g_path, at->line, at->col);
    else fprintf(stderr, "%s: error: ", g_path);
    if (key) fprintf(stderr, "key '%s': ", key);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return -1;
}

static int ierr(const char *fmt, const char *a) { return verr(NULL, NULL, fmt, a); }

static const char *type_name(const JsonValue *v) {
    switch (v->type) {
    case JSON_NULL: return "null";
    case JSON_BOOL: return v->boolean ? "true" : "false";
    case JSON_NUMBER: return "a number";
    case JSON_STRING: return "a string";
    case JSON_ARRAY: return "a list";
    default: return "an object";
    }
}

/* Integer keys are read within [lo, hi]; a present value of another type, a
 * fraction, or one out of range is an error (reported once, see verr) and the
 * default is returned so the caller can go on without dividing by zero. */
static int int_in(const JsonValue *v, const char *key, int dflt, long lo, long hi) {
    if (!v || v->type == JSON_NULL) return dflt;
    if (v->type != JSON_NUMBER) {
        if (v->type == JSON_STRING) verr(v, key, "expected an integer, got a string \"%.40s\"", v->string);
        else verr(v, key, "expected an integer, got %s", type_name(v));
        return dflt;
    }
    double x = v->number;
    if (!(x >= (double)lo && x <= (double)hi)) { verr(v, key, "%.17g is out of range (expected %ld … %ld)", x, lo, hi); return dflt; }
    if (x != floor(x)) { verr(v, key, "expected an integer, got %.17g", x); return dflt; }
    return (int)x;
}

/* Default range of integer keys without a narrower one: what fits archc's ints. */
#define ANY_INT_LO (-(1L << 30))
#define ANY_INT_HI (1L << 30)

static int get_int_r(const JsonValue *c, const char *key, int dflt, long lo, long hi) { return int_in(json_get(c, key), key, dflt, lo, hi); }

static int need_int_r(const JsonValue *c, const char *key, long lo, long hi, int *out) {
    const JsonValue *v = json_get(c, key);
    if (!v || v->type == JSON_NULL) return verr(NULL, NULL, "missing key '%s' (expected an integer)", key);
    int before = g_failed;
    *out = int_in(v, key, 0, lo, hi);
    return g_failed != before ? -1 : 0;
}

/* Real keys: finite, within [lo, hi]. */
static double get_num_r(const JsonValue *c, const char *key, double dflt, double lo, double hi) {
    const JsonValue *v = json_get(c, key);
    if (!v || v->type == JSON_NULL) return dflt;
    if (v->type != JSON_NUMBER) {
        if (v->type == JSON_STRING) verr(v, key, "expected a number, got a string \"%.40s\"", v->string);
        else verr(v, key, "expected a number, got %s", type_name(v));
        return dflt;
    }
    if (!isfinite(v->number)) { verr(v, key, "expected a finite number, got %g", v->number); return dflt; }
    if (!(v->number >= lo && v->number <= hi)) { verr(v, key, "%.17g is out of range (expected %g … %g)", v->number, lo, hi); return dflt; }
    return v->number;
}

static int get_bool(const JsonValue *c, const char *key, int dflt) {
    const JsonValue *v = json_get(c, key);
    if (!v || v->type == JSON_NULL) return dflt;
    if (v->type != JSON_BOOL) { verr(v, key, "expected true or false, got %s", type_name(v)); return dflt; }
    return v->boolean;
}

/* A number, or the first element of a list of numbers (eos_token_id may be either). */
static int first_int(const JsonValue *v, const char *key, int dflt) {
    if (!v) return dflt;
    if (v->type == JSON_ARRAY) return v->count ? int_in(v->items[0], key, dflt, ANY_INT_LO, ANY_INT_HI) : dflt;
    return int_in(v, key, dflt, ANY_INT_LO, ANY_INT_HI);
}

/* Read one rope parameter set (rope_scaling / rope_parameters object). */
static int read_rope_obj(const JsonValue *o, double theta, Rope *r) {
    memset(r, 0, sizeof *r);
    r->present = 1;
    r->theta = get_num_r(o, "rope_theta", theta, 1e-6, 1e12);
    snprintf(r->kind, sizeof r->kind, "default");
    snprintf(r->layout, sizeof r->layout, "half");
    if (!o || o->type != JSON_OBJECT) return 0;
    const char *t = json_get_string(o, "rope_type", json_get_string(o, "type", "default"));
    if (!strcmp(t, "default") || !strcmp(t, "linear") || !strcmp(t, "llama3") || !strcmp(t, "yarn")) snprintf(r->kind, sizeof r->kind, "%s", t);
    else return ierr("rope type '%s' is not supported (supported: default, linear, llama3, yarn)", t);
    r->factor = get_num_r(o, "factor", 0, 0, 1e6);
    r->low = get_num_r(o, "low_freq_factor", 0, 0, 1e6);
    r->high = get_num_r(o, "high_freq_factor", 0, 0, 1e6);
    r->orig = get_int_r(o, "original_max_position_embeddings", 0, 1, 1 << 30);
    r->beta_fast = get_num_r(o, "beta_fast", 0, 0, 1e6);
    r->beta_slow = get_num_r(o, "beta_slow", 0, 0, 1e6);
    const JsonValue *v;
    if ((v = json_get(o, "attention_factor")) && v->type != JSON_NULL) { r->has_attention_factor = 1; r->attention_factor = get_num_r(o, "attention_factor", 1, 0, 1e6); }
    if ((v = json_get(o, "mscale")) && v->type != JSON_NULL) { r->has_mscale = 1; r->mscale = get_num_r(o, "mscale", 1, 0, 1e6); }
    if ((v = json_get(o, "mscale_all_dim")) && v->type != JSON_NULL) { r->has_mscale_all_dim = 1; r->mscale_all_dim = get_num_r(o, "mscale_all_dim", 0, 0, 1e6); }
    if ((v = json_get(o, "truncate")) && v->type != JSON_NULL) { r->has_truncate = 1; r->truncate = get_bool(o, "truncate", 1); }
    if (strcmp(r->kind, "default") && r->factor == 0) return verr(o, NULL, "rope scaling '%s' needs a factor > 0", r->kind);
    if (!strcmp(r->kind, "llama3") && (r->low <= 0 || r->high <= 0 || !r->orig))
        return verr(o, NULL, "rope scaling 'llama3' needs low_freq_factor, high_freq_factor and original_max_position_embeddings");

    return 0;
}

/* rope_theta + rope_scaling, or rope_parameters (flat or per layer type). */
static int read_rope(const JsonValue *c, const char *layer_type, double dflt_theta, Rope *r) {
    const JsonValue *rp = json_get(c, "rope_parameters");
    if (rp && rp->type == JSON_OBJECT) {
        const JsonValue *sub = layer_type ? json_get(rp, layer_type) : NULL;
        if (sub && sub->type == JSON_OBJECT) rp = sub;
        return read_rope_obj(rp, get_num_r(rp, "rope_theta", dflt_theta, 1e-6, 1e12), r);
    }
    double theta = get_num_r(c, "rope_theta", dflt_theta, 1e-6, 1e12);
    const JsonValue *rs = json_get(c, "rope_scaling");
    return read_rope_obj(rs && rs->type == JSON_OBJECT ? rs : NULL, theta, r);
}

/* layer_types from the config when present: 1 = sliding. */
static int read_layer_types(const JsonValue *c, int L, int *sliding) {
    const JsonValue *lt = json_get(c, "layer_types");
    if (!lt || lt->type != JSON_ARRAY) return 0;
    if (lt->count != (size_t)L) return verr(lt, "layer_types", "%zu entries, expected num_hidden_layers (%d)", lt->count, L);
    for (int i = 0; i < L; i++) {
        if (lt->items[i]->type != JSON_STRING) return verr(lt->items[i], "layer_types", "expected a string, got %s", type_name(lt->items[i]));
        const char *s = lt->items[i]->string;
        sliding[i] = !strcmp(s, "sliding_attention");
        if (!sliding[i] && strcmp(s, "full_attention") && strcmp(s, "chunked_attention"))
            return verr(lt->items[i], "layer_types", "unknown layer type \"%.40s\" (expected sliding_attention, full_attention or chunked_attention)", s);
    }
    return 1;
}

static const char *dtype_format(const JsonValue *c) {
    const char *d = json_get_string(c, "torch_dtype", json_get_string(c, "dtype", "bfloat16"));
    const JsonValue *q = json_get(c, "quantization_config");
    if (q && q->type == JSON_OBJECT) {
        const char *m = json_get_string(q, "quant_method", "");
        if (!strcmp(m, "fp8")) return "fp8_e4m3";
        /* archc quantize (docs/quantize.md): every projection in blocks of 32 */
        if (!strcmp(m, "mxfp4") && json_get_bool(q, "archc_dense", 0)) return "mxfp4_dense";
        if (!strcmp(m, "mxfp4")) return "mxfp4";
        if (!strcmp(m, "archc")) {
            const char *f = json_get_string(q, "format", "");
            if (!strcmp(f, "int8")) return "int8";
            if (!strcmp(f, "int4")) return "int4";
            return NULL;
        }
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
    if (need_int_r(c, "hidden_size", 1, 1 << 20, &m->hidden) || need_int_r(c, "num_hidden_layers", 1, MAXL, &m->layers) ||
        need_int_r(c, "num_attention_heads", 1, 4096, &m->heads))
        return -1;
    /* Gemma 3 configs leave vocab_size to the class default (262208) */
    m->vocab = get_int_r(c, "vocab_size", !strcmp(json_get_string(c, "model_type", ""), "gemma3_text") ? 262208 : -1, 1, 1 << 24);
    if (m->vocab <= 0) return ierr("missing key '%s' (expected an integer)", "vocab_size");
    m->kv_heads = get_int_r(c, "num_key_value_heads", m->heads, 1, 4096);
    if (m->heads % m->kv_heads)
        return verr(json_get(c, "num_key_value_heads"), "num_key_value_heads", "%d does not divide num_attention_heads (%d)", m->kv_heads, m->heads);
    m->head_dim = get_int_r(c, "head_dim", m->hidden / m->heads, 1, 4096);
    if (m->head_dim < 1)
        return verr(json_get(c, "num_attention_heads"), "num_attention_heads", "%d is more than hidden_size (%d) and there is no head_dim", m->heads, m->hidden);
    m->intermediate = get_int_r(c, "intermediate_size", 0, 0, 1 << 24);
    m->eps = get_num_r(c, "rms_norm_eps", 1e-6, 1e-30, 1.0);
    m->max_context = get_int_r(c, "max_position_embeddings", 4096, 1, 1 << 30);
    if (m->max_context > 1 << 24) m->max_context = 1 << 24; /* archc's limit; compile a shorter context with max_context */
    m->tie = get_bool(c, "tie_word_embeddings", 0);
    m->format = dtype_format(c);
    m->bos = first_int(json_get(c, "bos_token_id"), "bos_token_id", -1);
    m->eos = first_int(json_get(c, "eos_token_id"), "eos_token_id", -1);
    set_defaults(m);
    if (m->bos >= m->vocab || m->bos < 0) m->bos = -1;
    if (m->eos >= m->vocab || m->eos < 0) m->eos = -1;
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
    int window = get_int_r(c, "sliding_window", 0, 0, 1 << 30);
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
            int mwl = get_int_r(c, "max_window_layers", L, 0, 1 << 30);
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
        int interval = get_int_r(c, "no_rope_layer_interval", 4, 1, 1 << 20);
        for (int i = 0; i < L; i++) {
            int uses_rope;
            if (nr && nr->type == JSON_ARRAY && (int)nr->count == L) uses_rope = first_int(nr->items[i], "no_rope_layers", 1) != 0;
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
        if (sliding[i] && window <= 0) return verr(json_get(c, "sliding_window"), "sliding_window", "layer %d is sliding but sliding_window is null or 0", i);
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
    m->head_dim = get_int_r(c, "head_dim", 256, 1, 4096);
    m->scale = 1.0 / sqrt(get_num_r(c, "query_pre_attn_scalar", 256, 1e-6, 1e12));
    m->embed_scale_sqrt = 1;
    m->final_softcap = get_num_r(c, "final_logit_softcapping", 0, 0, 1e9);
    m->n_rope = 2;
    m->rope_names[0] = "local";
    m->rope_names[1] = "global";
    if (read_rope(c, "full_attention", 1000000.0, &m->rope[1])) return -1;
    /* local layers: default rope at rope_local_base_freq (or their own rope_parameters) */
    const JsonValue *rp = json_get(c, "rope_parameters");
    if (rp && rp->type == JSON_OBJECT && json_get(rp, "sliding_attention")) {
        if (read_rope(c, "sliding_attention", 10000.0, &m->rope[0])) return -1;
    } else {
        read_rope_obj(NULL, get_num_r(c, "rope_local_base_freq", 10000.0, 1e-6, 1e12), &m->rope[0]);
    }
    int L = m->layers, sliding[MAXL];
    int has_lt = read_layer_types(c, L, sliding);
    if (has_lt < 0) return -1;
    int pattern = get_int_r(c, "sliding_window_pattern", 6, 1, 1 << 20);
    if (!has_lt) for (int i = 0; i < L; i++) sliding[i] = (i + 1) % pattern != 0;
    int window = get_int_r(c, "sliding_window", 4096, 1, 1 << 30);
    for (int i = 0; i < L; i++) {
        m->layer[i].window = sliding[i] ? window : 0;
        m->layer[i].rope = sliding[i] ? "local" : "global";
    }
    return 0;
}

static int import_gpt_oss(Imported *m, const JsonValue *c) {
    if (read_common(m, c)) return -1;
    m->eps = get_num_r(c, "rms_norm_eps", 1e-5, 1e-30, 1.0);
    m->bias = "qkvo";
    m->sinks = 1;
    m->act = "swiglu_oai";
    m->mlp_bias = 1;
    m->experts = get_int_r(c, "num_local_experts", 32, 1, 1 << 16);
    m->top_k = get_int_r(c, "num_experts_per_tok", 4, 1, 1 << 16);
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
    int window = get_int_r(c, "sliding_window", 128, 1, 1 << 30);
    for (int i = 0; i < L; i++) { m->layer[i].window = sliding[i] ? window : 0; m->layer[i].moe = 1; m->layer[i].rope = "default"; }
    return 0;
}

static int import_qwen3_moe(Imported *m, const JsonValue *c) {
    if (read_common(m, c)) return -1;
    m->qk_norm = "head";
    m->experts = get_int_r(c, "num_experts", 128, 0, 1 << 16);
    m->top_k = get_int_r(c, "num_experts_per_tok", 8, 1, 1 << 16);
    m->moe_inter = get_int_r(c, "moe_intermediate_size", 768, 1, 1 << 24);
    m->normalize = get_bool(c, "norm_topk_prob", 0);
    m->n_rope = 1;
    m->rope_names[0] = "default";
    if (read_rope(c, NULL, 10000.0, &m->rope[0])) return -1;
    int step = get_int_r(c, "decoder_sparse_step", 1, 1, 1 << 20);
    const JsonValue *only = json_get(c, "mlp_only_layers");
    int window = get_bool(c, "use_sliding_window", 0) ? get_int_r(c, "sliding_window", 0, 0, 1 << 30) : 0;
    for (int i = 0; i < m->layers; i++) {
        int dense = 0;
        if (only && only->type == JSON_ARRAY)
            for (size_t k = 0; k < only->count; k++) dense |= first_int(only->items[k], "mlp_only_layers", -1) == i;
        m->layer[i].moe = !dense && m->experts > 0 && (i + 1) % step == 0;
        m->layer[i].window = window;
        m->layer[i].rope = "default";
    }
    return 0;
}

static int import_deepseek(Imported *m, const JsonValue *c, const char *mt) {
    if (read_common(m, c)) return -1;
    m->mla = 1;
    m->q_lora = get_int_r(c, "q_lora_rank", 0, 0, 1 << 20);
    if (need_int_r(c, "kv_lora_rank", 1, 1 << 20, &m->kv_lora) || need_int_r(c, "qk_nope_head_dim", 1, 1 << 16, &m->nope_dim) ||
        need_int_r(c, "qk_rope_head_dim", 2, 1 << 16, &m->rope_dim) || need_int_r(c, "v_head_dim", 1, 1 << 16, &m->v_dim))
        return -1;
    if (m->rope_dim % 2) return verr(json_get(c, "qk_rope_head_dim"), "qk_rope_head_dim", "must be even, got %d", m->rope_dim);
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
    m->experts = get_int_r(c, "n_routed_experts", 0, 0, 1 << 16);
    m->top_k = get_int_r(c, "num_experts_per_tok", 0, 0, 1 << 16);
    m->moe_inter = get_int_r(c, "moe_intermediate_size", 0, 0, 1 << 24);
    m->shared = get_int_r(c, "n_shared_experts", 0, 0, 1 << 10);
    m->routed_scale = get_num_r(c, "routed_scaling_factor", 1.0, 0, 1e6);
    if (is_v2) {
        /* HF deepseek_v2 hard-codes softmax scores; topk_method greedy or
         * group_limited_greedy (groups ranked by their best score); the weights
         * are never renormalised (norm_topk_prob is ignored) and always scaled. */
        m->router_score = "softmax";
        m->select_bias = 0;
        if (!strcmp(json_get_string(c, "topk_method", "greedy"), "group_limited_greedy")) {
            m->groups = get_int_r(c, "n_group", 1, 1, 1 << 16);
            m->top_groups = get_int_r(c, "topk_group", 1, 1, 1 << 16);
            m->group_max = 1;
        }
        m->normalize = 0;
    } else {
        /* HF deepseek_v3 hard-codes sigmoid noaux_tc (scoring_func and topk_method ignored) */
        m->router_score = "sigmoid";
        m->select_bias = 1;
        /* an explicit n_group of 0 is an error in transformers too (scores.view(-1, n_group, …)) */
        m->groups = get_int_r(c, "n_group", 0, 1, 1 << 16);
        m->top_groups = get_int_r(c, "topk_group", 0, 1, 1 << 16);
        m->normalize = get_bool(c, "norm_topk_prob", 1);
    }
    if (get_bool(c, "attention_bias", 0)) m->bias = "qkvo";
    m->mtp = get_int_r(c, "num_nextn_predict_layers", 0, 0, 16);
    const JsonValue *q = json_get(c, "quantization_config");
    if (q && q->type == JSON_OBJECT) {
        const JsonValue *b = json_get(q, "weight_block_size");
        if (b && b->type == JSON_ARRAY && b->count == 2) {
            m->block[0] = int_in(b->items[0], "weight_block_size", 128, 1, 1 << 20);
            m->block[1] = int_in(b->items[1], "weight_block_size", 128, 1, 1 << 20);
        }
    }
    /* HF (v2 and v3) makes layer l MoE iff l >= first_k_dense_replace; moe_layer_freq is ignored */
    int first_dense = get_int_r(c, "first_k_dense_replace", 0, 0, 1 << 30);
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
    double prf = get_num_r(c, "partial_rotary_factor", 0.5, 1e-6, 1.0);
    m->rope[0].dims = (int)(m->head_dim * prf);
    if (m->rope[0].dims < 2 || m->rope[0].dims % 2)
        return verr(json_get(c, "partial_rotary_factor"), "partial_rotary_factor", "gives %d rotary dims of head_dim %d (expected an even number >= 2)",
                    m->rope[0].dims, m->head_dim);
    m->experts = get_int_r(c, "n_routed_experts", 0, 0, 1 << 16);
    m->top_k = get_int_r(c, "num_experts_per_tok", 0, 0, 1 << 16);
    m->moe_inter = get_int_r(c, "moe_intermediate_size", 0, 0, 1 << 24);
    m->shared = get_int_r(c, "n_shared_experts", 0, 0, 1 << 10);
    m->router_score = "sigmoid";
    m->select_bias = 1;
    m->groups = get_int_r(c, "n_group", 1, 1, 1 << 16);
    m->top_groups = get_int_r(c, "topk_group", 1, 1, 1 << 16);
    m->normalize = get_bool(c, "norm_topk_prob", 1);
    m->routed_scale = get_num_r(c, "routed_scaling_factor", 1.0, 0, 1e6);
    m->mtp = get_int_r(c, "num_nextn_predict_layers", 0, 0, 16);
    int first_dense = get_int_r(c, "first_k_dense_replace", 0, 0, 1 << 30);
    for (int i = 0; i < m->layers; i++) { m->layer[i].moe = m->experts > 0 && i >= first_dense; m->layer[i].rope = "default"; }
    return 0;
}

/* Qwen-1 (model_type qwen, QWenLMHeadModel, remote code): one fused c_attn with
 * bias, MLP branches of intermediate_size / 2, RMSNorm eps layer_norm_epsilon,
 * partial rotary (rotary_pct), dynamic NTK and LogN both keyed to seq_length. */
static int import_qwen1(Imported *m, const JsonValue *c) {
    if (need_int_r(c, "hidden_size", 1, 1 << 20, &m->hidden) || need_int_r(c, "num_attention_heads", 1, 4096, &m->heads) ||
        need_int_r(c, "num_hidden_layers", 1, MAXL, &m->layers) || need_int_r(c, "vocab_size", 1, 1 << 24, &m->vocab) ||
        need_int_r(c, "intermediate_size", 2, 1 << 25, &m->intermediate))
        return -1;
    m->qwen1 = 1;
    m->kv_heads = m->heads;
    m->head_dim = get_int_r(c, "kv_channels", m->hidden / m->heads, 1, 4096);
    if ((long)m->head_dim * m->heads != m->hidden)
        return verr(json_get(c, "kv_channels"), json_get(c, "kv_channels") ? "kv_channels" : "num_attention_heads",
                    "kv_channels (%d) × num_attention_heads (%d) must equal hidden_size (%d)", m->head_dim, m->heads, m->hidden);
    m->intermediate /= 2;  /* w1 and w2 are each intermediate_size / 2 wide */
    m->eps = get_num_r(c, "layer_norm_epsilon", 1e-6, 1e-30, 1.0);
    m->max_context = get_int_r(c, "max_position_embeddings", 8192, 1, 1 << 24);
    m->tie = get_bool(c, "tie_word_embeddings", 0);
    m->format = dtype_format(c);
    /* Qwen-1's remote code picks the dtype from its own flags (fp32 / bf16 / fp16);
     * a quantised checkpoint (archc quantize) says its format in quantization_config */
    if (!json_get(c, "quantization_config")) {
        if (get_bool(c, "fp32", 0)) m->format = "f32";
        else if (get_bool(c, "bf16", 0)) m->format = "bf16";
        else if (get_bool(c, "fp16", 0)) m->format = "f16";
    }
    m->bos = m->eos = -1;
    set_defaults(m);
    m->bias = "qkv";
    int seq = get_int_r(c, "seq_length", 2048, 1, 1 << 30);
    double pct = get_num_r(c, "rotary_pct", 1.0, 1e-6, 1.0);
    m->n_rope = 1;
    m->rope_names[0] = "default";
    Rope *r = &m->rope[0];
    r->present = 1;
    r->theta = get_num_r(c, "rotary_emb_base", 10000.0, 1e-6, 1e12);
    r->dims = pct == 1.0 ? 0 : (int)(m->head_dim * pct);
    if (pct != 1.0 && (r->dims < 2 || r->dims % 2))
        return verr(json_get(c, "rotary_pct"), "rotary_pct", "gives %d rotary dims of head_dim %d (expected an even number >= 2)", r->dims, m->head_dim);
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
    m->experts = get_int_r(c, "num_local_experts", 16, 1, 1 << 16);
    m->top_k = get_int_r(c, "num_experts_per_tok", 1, 1, 1 << 16);
    m->moe_inter = m->intermediate;
    m->intermediate = get_int_r(c, "intermediate_size_mlp", m->intermediate, 1, 1 << 24);
    m->shared = 1;
    m->router_score = "sigmoid";
    m->scale_input = 1;
    if (get_bool(c, "use_qk_norm", 1)) m->qk_norm = "l2_after";
    /* attn_temperature_tuning is stored as a number (4) in the released files: truthy */
    const JsonValue *tt = json_get(c, "attn_temperature_tuning");
    m->temp_tuning = tt && ((tt->type == JSON_BOOL && tt->boolean) || (tt->type == JSON_NUMBER && tt->number != 0));
    m->floor_scale = get_num_r(c, "floor_scale", 8192, 0, 1e12);
    m->attn_scale = get_num_r(c, "attn_scale", 0.1, 0, 1e6);
    m->n_rope = 1;
    m->rope_names[0] = "default";
    if (read_rope(c, NULL, 500000.0, &m->rope[0])) return -1;
    /* HF keeps Meta's q/k row order: RoPE rotates interleaved pairs (complex form) */
    snprintf(m->rope[0].layout, sizeof m->rope[0].layout, "interleaved");
    const JsonValue *nr = json_get(c, "no_rope_layers");
    int chunk = get_int_r(c, "attention_chunk_size", 0, 0, 1 << 30), step = get_int_r(c, "interleave_moe_layer_step", 1, 1, 1 << 20);
    const JsonValue *moe_layers = json_get(c, "moe_layers");
    for (int i = 0; i < m->layers; i++) {
        int uses_rope = (nr && nr->type == JSON_ARRAY && (int)nr->count == m->layers) ? first_int(nr->items[i], "no_rope_layers", 1) != 0 : (i + 1) % 4 != 0;
        m->layer[i].nope = !uses_rope;
        m->layer[i].rope = uses_rope ? "default" : NULL;
        m->layer[i].chunk = uses_rope ? chunk : 0;
        int moe = (i + 1) % step == 0;
        if (moe_layers && moe_layers->type == JSON_ARRAY) {
            moe = 0;
            for (size_t k = 0; k < moe_layers->count; k++) moe |= first_int(moe_layers->items[k], "moe_layers", -1) == i;
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
    if (m->kept) fprintf(f, ", kept: %s", m->kept);
    if (m->n_keep) {
        fprintf(f, ", keep: [");
        for (int i = 0; i < m->n_keep; i++) fprintf(f, "%s\"%s\"", i ? ", " : "", m->keep[i]);   /* characters checked above */
        fprintf(f, "]");
    }
    if (m->quant_embed) fprintf(f, ", quantize_embeddings: true");
    if (m->scale_f16) fprintf(f, ", scale: f16");
    fprintf(f, "}\n");
    if (m->bos >= 0 || m->eos >= 0) {
        fprintf(f, "tokens: {");
        if (m->bos >= 0) fprintf(f, "bos: %d", m->bos);
        if (m->eos >= 0) fprintf(f, "%seos: %d", m->bos >= 0 ? ", " : "", m->eos);
        fprintf(f, "}\n");
    }
}

/* The storage format of the checkpoint's matrices, read from its tensors when
 * `dir` holds one (the config's torch_dtype is only a hint: Qwen-1 configs say
 * fp32/bf16/fp16 in their own flags, and many configs name the dtype of the
 * training run, not of the saved files).  NULL when there is no readable
 * checkpoint or its matrices are not one plain float format. */
static const char *checkpoint_format(const char *dir) {
    char err[512];
    struct stat st;
    char probe[4200];
    snprintf(probe, sizeof probe, "%s/model.safetensors", dir);
    int have = stat(probe, &st) == 0;
    snprintf(probe, sizeof probe, "%s/model.safetensors.index.json", dir);
    have |= stat(probe, &st) == 0;
    if (!have) return NULL;
    StCheckpoint *ck = st_open(dir, err, sizeof err);
    if (!ck) {
        fprintf(stderr, "%s: note: the checkpoint's dtypes cannot be read (%s); the format is taken from config.json\n", dir, err);
        return NULL;
    }
    int count[ST_DTYPE_COUNT] = {0};
    for (int i = 0; i < st_count(ck); i++) {
        const StTensor *t = st_tensor(ck, i);
        if (t->ndim >= 2 && (unsigned)t->dtype < ST_DTYPE_COUNT) count[t->dtype]++;
    }
    st_close(ck);
    int best = -1;
    for (int d = 0; d < ST_DTYPE_COUNT; d++)
        if (count[d] && (best < 0 || count[d] > count[best])) best = d;
    return best == ST_F32 ? "f32" : best == ST_BF16 ? "bf16" : best == ST_F16 ? "f16" : NULL;
}

/* Keep a name that goes into the YAML (and from there into comments of the
 * emitted C) to letters, digits and . _ - */
static void safe_name(char *s) {
    for (char *p = s; *p; p++)
        if (!(isalnum((unsigned char)*p) || *p == '.' || *p == '_' || *p == '-')) *p = '_';
}

/* archc quantize checkpoints (int8, int4, mxfp4_dense): the format of the
 * matrices left unquantised is the config's torch_dtype (quantize writes it),
 * and the --keep patterns (fp8 too: modules_to_not_convert, kept bf16);
 * what the compiler cannot follow yet is refused here, by its config key. */
static int check_quantized(Imported *m, const JsonValue *c) {
    const JsonValue *q = json_get(c, "quantization_config");
    if (q && q->type == JSON_OBJECT && !m->format) {
        const char *meth = json_get_string(q, "quant_method", "?");
        return verr(json_get(q, "format"), "quantization_config.format", "quant_method '%.40s': unknown format '%.40s' (archc quantize writes int8 or int4)",
                    meth, json_get_string(q, "format", "?"));
    }
    if (!m->format) return 0;
    int fp8 = !strcmp(m->format, "fp8_e4m3");   /* DeepSeek's layout; archc quantize --format fp8 may add --keep patterns */
    if (!fp8 && strcmp(m->format, "int8") && strcmp(m->format, "int4") && strcmp(m->format, "mxfp4_dense")) return 0;
    if (!fp8) {
        const char *d = json_get_string(c, "torch_dtype", json_get_string(c, "dtype", "bfloat16"));
        m->kept = !strcmp(d, "float32") ? "f32" : !strcmp(d, "float16") ? "f16" : "bf16";
        m->quant_embed = json_get_bool(q, "quantized_embeddings", 0);
    }
    const JsonValue *keep = json_get(q, "modules_to_not_convert");   /* archc quantize --keep */
    if (keep && keep->type != JSON_ARRAY && keep->type != JSON_NULL)
        return verr(keep, "quantization_config.modules_to_not_convert", "expected a list of tensor-name patterns");
    for (size_t i = 0; keep && keep->type == JSON_ARRAY && i < keep->count; i++) {
        const JsonValue *k = keep->items[i];
        if (k->type != JSON_STRING || !k->len || k->len > 127 || strlen(k->string) != k->len || i >= 16)
            return verr(k, "quantization_config.modules_to_not_convert", "expected at most 16 patterns of 1 … 127 characters");
        for (const char *ch = k->string; *ch; ch++)
            if (!isalnum((unsigned char)*ch) && !strchr("._-/*?[]", *ch))
                return verr(k, "quantization_config.modules_to_not_convert", "pattern character 0x%02x: expected letters, digits or . _ - / * ? [ ]",
                            (unsigned char)*ch);
        m->keep[m->n_keep++] = k->string;
    }
    if (fp8) return 0;
    if (strcmp(m->format, "mxfp4_dense")) {   /* int8 / int4: the block scales' dtype (absent: f32, as archc wrote before f16) */
        const JsonValue *sd = json_get(q, "scale_dtype");
        const char *s = json_get_string(q, "scale_dtype", "float32");
        if (!strcmp(s, "float16")) m->scale_f16 = 1;
        else if (strcmp(s, "float32"))
            return verr(sd, "quantization_config.scale_dtype", "'%.40s': expected \"float16\" or \"float32\"", s);
    }
    int64_t gs = (int64_t)json_get_number(q, "group_size", 32);
    if (gs != 32) return verr(json_get(q, "group_size"), "quantization_config.group_size", "%lld: archc reads blocks of 32 only", (long long)gs);
    return 0;
}

/* Cross-checks the per-family readers leave to one place: what the
 * description's schema would reject, named by the config key. */
static int validate(const Imported *m, const JsonValue *c) {
    int any_moe = 0, any_dense = 0;
    for (int i = 0; i < m->layers; i++) { any_moe |= m->layer[i].moe; any_dense |= !m->layer[i].moe; }
    if (any_dense && m->intermediate <= 0) return verr(NULL, NULL, "missing key 'intermediate_size' (dense layers need it)");
    if (any_moe) {
        const char *ek = json_get(c, "n_routed_experts") ? "n_routed_experts" : json_get(c, "num_local_experts") ? "num_local_experts" : "num_experts";
        if (m->experts < 1) return verr(json_get(c, ek), ek, "MoE layers need at least one expert");
        if (m->top_k < 1 || m->top_k > m->experts)
            return verr(json_get(c, "num_experts_per_tok"), "num_experts_per_tok", "%d is not in 1 … %d (the number of experts)", m->top_k, m->experts);
        if (m->moe_inter < 1) return verr(json_get(c, "moe_intermediate_size"), "moe_intermediate_size", "MoE layers need an expert width >= 1");
        if (m->groups > 1 && (m->top_groups < 1 || m->top_groups > m->groups))
            return verr(json_get(c, "topk_group"), "topk_group", "%d is not in 1 … n_group (%d)", m->top_groups, m->groups);
        long total = 0;
        for (int i = 0; i < m->layers; i++) total += m->layer[i].moe ? m->experts : 0;
        if (total > SPEC_MAX_EXPERT_LAYERS)
            return verr(json_get(c, ek), ek, "%d experts on %ld layers: more than archc's limit of %d routed experts in all", m->experts,
                        total / m->experts, SPEC_MAX_EXPERT_LAYERS);
        if (m->groups > 1 && m->experts % m->groups)
            return verr(json_get(c, "n_group"), "n_group", "%d does not divide the %d experts", m->groups, m->experts);
    }
    for (int r = 0; r < m->n_rope; r++) {
        const Rope *rp = &m->rope[r];
        if (rp->dims > (m->mla ? m->rope_dim : m->head_dim)) return verr(NULL, NULL, "%d rotary dims exceed the head dim", rp->dims);
        if (!strcmp(rp->kind, "yarn") && !rp->orig)
            return verr(NULL, NULL, "rope scaling 'yarn' needs original_max_position_embeddings");
    }
    return 0;
}

/* config.json text → YAML text (malloc'd in *yaml_out).  `name` is the file
 * name used in messages; `in` is what the user named (directory or file, for
 * the model's name); `dir` the checkpoint directory or NULL. */
static int import_text(const char *name, const char *in, const char *dir, const char *text, size_t len, char **yaml_out) {
    char err[512];
    g_path = name;
    g_failed = 0;
    *yaml_out = NULL;
    JsonValue *root = json_parse(text, len, err, sizeof err);
    if (!root) {
        int l, c, k = 0;
        if (sscanf(err, "line %d, column %d: %n", &l, &c, &k) == 2 && k > 0) fprintf(stderr, "%s:%d:%d: error: %s\n", name, l, c, err + k);
        else fprintf(stderr, "%s: error: %s\n", name, err);
        return -1;
    }
    if (root->type != JSON_OBJECT) { json_free(root); return ierr("expected a JSON object%s", ""); }
    const JsonValue *c = root;
    const JsonValue *mtv = json_get(c, "model_type");
    if (mtv && mtv->type != JSON_STRING && mtv->type != JSON_NULL) {
        verr(mtv, "model_type", "expected a string, got %s", type_name(mtv));
        json_free(root);
        return -1;
    }
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
    m.path = name;
    m.cfg = c;
    /* name: the directory or file stem */
    char stem[4096];
    snprintf(stem, sizeof stem, "%s", in);
    while (strlen(stem) > 1 && stem[strlen(stem) - 1] == '/') stem[strlen(stem) - 1] = 0;
    const char *base = strrchr(stem, '/');
    base = base && base[1] ? base + 1 : stem;
    snprintf(m.name, sizeof m.name, "%.100s", base);
    char *dot = strstr(m.name, ".json");
    if (dot) *dot = 0;
    if (!strcmp(m.name, "config") || !m.name[0] || !strcmp(m.name, ".") || !strcmp(m.name, "..")) snprintf(m.name, sizeof m.name, "%s", mt);
    safe_name(m.name);
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
        rc = verr(mtv, "model_type", "unsupported model_type '%.40s' (supported: llama, mistral, qwen2, qwen3, olmo2, smollm3, gemma3_text, "
                  "gpt_oss, qwen3_moe, deepseek_v2, deepseek_v3, kimi_k2, glm4_moe, llama4_text, qwen)", mt);
    }
    if (rc == 0 && g_failed) rc = -1;  /* a value was read with an error (printed) */
    if (rc == 0) rc = validate(&m, c);
    if (rc == 0) rc = check_quantized(&m, c);
    if (rc == 0 && dir && m.format && strcmp(m.format, "fp8_e4m3") && strcmp(m.format, "mxfp4") && !m.kept) {
        const char *f = checkpoint_format(dir);
        if (f) m.format = f;
    }
    if (rc == 0) {
        snprintf(m.family, sizeof m.family, "%s", fam);
        char *buf = NULL;
        size_t blen = 0;
        FILE *f = open_memstream(&buf, &blen);
        if (!f) rc = ierr("out of memory%s", "");
        else {
            char shown[256];
            snprintf(shown, sizeof shown, "%s", name);
            for (char *p = shown; *p; p++) if ((unsigned char)*p < 0x20 || *p == 0x7f) *p = '?';
            write_yaml(f, &m, shown);
            if (fclose(f) != 0 || !buf) rc = ierr("out of memory%s", "");
            else *yaml_out = buf;
        }
    }
    json_free(root);
    if (rc == 0) {
        /* The description must be one archc accepts; everything above checks the
         * config key by key, so this is the second line of defence. */
        static ModelSpec spec;
        if (spec_parse_buffer("(imported description)", *yaml_out, strlen(*yaml_out), &spec) != 0) {
            fprintf(stderr, "%s: error: the config gives a description archc rejects (above)\n", name);
            free(*yaml_out);
            *yaml_out = NULL;
            rc = -1;
        }
        free((char *)spec.file);
    }
    return rc;
}

int spec_import_json(const char *name, const char *text, size_t len, char **yaml_out) {
    return import_text(name, name, NULL, text, len, yaml_out);
}

int spec_import_hf(const char *in, const char *out_path) {
    char path[4096];
    struct stat st;
    const char *dir = NULL;
    if (stat(in, &st) == 0 && S_ISDIR(st.st_mode)) {
        snprintf(path, sizeof path, "%s/config.json", in);
        dir = in;
    } else snprintf(path, sizeof path, "%s", in);
    const char *inputs[] = {path, in};
    if (out_check(out_path, inputs, 2)) return -1;
    char err[512];
    size_t n;
    char *text = rt_read_file(path, 64 << 20, &n, err, sizeof err); /* a regular file, bounded, FIFOs never block */
    if (!text) return diag_file_error(path, err);
    char *yaml = NULL;
    int rc = import_text(path, in, dir, text, n, &yaml);
    free(text);
    if (rc != 0) return -1;
    char tmp[4200];
    FILE *f = out_open(out_path, tmp, sizeof tmp);
    if (!f) { free(yaml); return -1; }
    fputs(yaml, f);
    free(yaml);
    return out_commit(f, tmp, out_path, 1);
}

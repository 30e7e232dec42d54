/*
 * frontend/hf_config.c — a Hugging Face config.json for a model description:
 * the inverse of `archc import` (frontend/import.c), family by family.
 *
 * `archc init-weights` writes it beside the random weights, so that the
 * directory is a checkpoint like any other: `archc import` reads it back,
 * `archc quantize` copies it, transformers loads it (the dense families).
 * Each family writes the keys its transformers config class (and archc's
 * importer) reads, in the spelling of the released checkpoints:
 *
 *   llama, mistral, qwen2, qwen3, olmo2, smollm3   the Llama skeleton + the family's switches
 *   gemma3_text                                     local/global rope, query_pre_attn_scalar, softcap
 *   gpt_oss                                         experts, sinks, yarn, alternating windows
 *   qwen3_moe                                       experts, mlp_only_layers
 *   deepseek_v2, deepseek_v3, kimi_k2               MLA ranks, routing, first_k_dense_replace, MTP
 *   glm4_moe                                        partial rotary, routing, MTP
 *   llama4_text                                     no_rope_layers, moe_layers, chunked attention
 *   qwen (Qwen-1)                                   its own key names (kv_channels, rotary_pct, …)
 *
 * A description can say more than its family's config can (a Llama with a
 * Gemma norm, say): what a config cannot carry is simply not written, and
 * `archc init-weights` compares the model `archc import` makes of the config
 * with the description (hf_config_roundtrip in frontend/driver.c) and warns.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "spec.h"

/* s as a JSON string literal */
static void jstr(FILE *o, const char *s) {
    fputc('"', o);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') fprintf(o, "\\%c", *p);
        else if (*p < 0x20 || *p == 0x7f) fprintf(o, "\\u%04x", *p);
        else fputc(*p, o);
    }
    fputc('"', o);
}

/* v in the fewest digits that read back as v (1e-05, not 1.0000000000000001e-05) */
static void num(FILE *o, double v) {
    char b[40];
    for (int p = 6; p <= 17; p++) {
        snprintf(b, sizeof b, "%.*g", p, v);
        if (strtod(b, NULL) == v) break;
    }
    fputs(b, o);
}

/* Keys are written one per line, each line but the first preceded by ",\n". */
typedef struct { FILE *o; int n; } J;

static void key(J *j, const char *k) {
    fprintf(j->o, "%s  \"%s\": ", j->n++ ? ",\n" : "", k);
}
static void kint(J *j, const char *k, long v) { key(j, k); fprintf(j->o, "%ld", v); }
static void knum(J *j, const char *k, double v) { key(j, k); num(j->o, v); }
static void kbool(J *j, const char *k, bool v) { key(j, k); fputs(v ? "true" : "false", j->o); }
static void kstr(J *j, const char *k, const char *v) { key(j, k); jstr(j->o, v); }
static void knull(J *j, const char *k) { key(j, k); fputs("null", j->o); }

/* The rope_scaling object of r (nothing for the default rope). */
static void rope_scaling(J *j, const RopeSpec *r) {
    if (r->kind == ROPE_DEFAULT || r->kind == ROPE_DYNAMIC_NTK) return;
    FILE *o = j->o;
    key(j, "rope_scaling");
    fprintf(o, "{\"rope_type\": \"%s\", \"factor\": ", r->kind == ROPE_LINEAR ? "linear" : r->kind == ROPE_LLAMA3 ? "llama3" : "yarn");
    num(o, r->factor);
    if (r->kind == ROPE_LLAMA3) {
        fputs(", \"low_freq_factor\": ", o);
        num(o, r->low_freq_factor);
        fputs(", \"high_freq_factor\": ", o);
        num(o, r->high_freq_factor);
    }
    if (r->kind != ROPE_LINEAR && r->original_max_position) fprintf(o, ", \"original_max_position_embeddings\": %d", r->original_max_position);
    if (r->kind == ROPE_YARN) {
        fputs(", \"beta_fast\": ", o);
        num(o, r->beta_fast);
        fputs(", \"beta_slow\": ", o);
        num(o, r->beta_slow);
        fprintf(o, ", \"truncate\": %s", r->truncate ? "true" : "false");
        if (r->has_attention_factor) { fputs(", \"attention_factor\": ", o); num(o, r->attention_factor); }
        if (r->has_mscale) { fputs(", \"mscale\": ", o); num(o, r->mscale); }
        if (r->has_mscale_all_dim) { fputs(", \"mscale_all_dim\": ", o); num(o, r->mscale_all_dim); }
    }
    fputc('}', o);
}

/* The first FFN of the kind wanted (moe or dense) that some layer uses, or NULL. */
static const FfnSpec *ffn_of(const ModelSpec *s, bool moe) {
    for (int i = 0; i < s->n_layers; i++)
        if (s->ffn[s->layer[i].ffn].moe == moe) return &s->ffn[s->layer[i].ffn];
    return NULL;
}

/* The rope used by the first layer that has one (by window: sliding or not when want_window >= 0). */
static const RopeSpec *rope_of(const ModelSpec *s, int want_window) {
    for (int i = 0; i < s->n_layers; i++)
        if (s->layer[i].rope >= 0 && (want_window < 0 || (s->layer[i].window > 0) == want_window)) return &s->rope[s->layer[i].rope];
    return s->n_rope ? &s->rope[0] : NULL;
}

/* The window of the sliding layers (the first one's), 0 when none. */
static int window_of(const ModelSpec *s) {
    for (int i = 0; i < s->n_layers; i++)
        if (s->layer[i].window) return s->layer[i].window;
    return 0;
}

/* "layer_types": sliding_attention / full_attention per layer. */
static void layer_types(J *j, const ModelSpec *s) {
    key(j, "layer_types");
    fputc('[', j->o);
    for (int i = 0; i < s->n_layers; i++)
        fprintf(j->o, "%s\"%s\"", i ? ", " : "", s->layer[i].window ? "sliding_attention" : "full_attention");
    fputc(']', j->o);
}

/* A per-layer 0/1 list: no_rope_layers (1 = the layer uses rope). */
static void uses_rope_list(J *j, const ModelSpec *s) {
    key(j, "no_rope_layers");
    fputc('[', j->o);
    for (int i = 0; i < s->n_layers; i++) fprintf(j->o, "%s%d", i ? ", " : "", s->layer[i].rope >= 0);
    fputc(']', j->o);
}

/* The indices of the layers whose FFN is (moe == want) as a JSON list. */
static void layer_list(J *j, const char *k, const ModelSpec *s, bool want_moe) {
    key(j, k);
    fputc('[', j->o);
    int n = 0;
    for (int i = 0; i < s->n_layers; i++)
        if (s->ffn[s->layer[i].ffn].moe == want_moe) fprintf(j->o, "%s%d", n++ ? ", " : "", i);
    fputc(']', j->o);
}

/* How many layers from the first are dense (DeepSeek / GLM first_k_dense_replace). */
static int leading_dense(const ModelSpec *s) {
    int n = 0;
    while (n < s->n_layers && !s->ffn[s->layer[n].ffn].moe) n++;
    return n == s->n_layers ? 0 : n;
}

static void routing(J *j, const FfnSpec *m) {
    kint(j, "n_routed_experts", m->experts);
    kint(j, "num_experts_per_tok", m->top_k);
    kint(j, "moe_intermediate_size", m->intermediate);
    kint(j, "n_shared_experts", m->shared);
    knum(j, "routed_scaling_factor", m->router.scale);
    kint(j, "n_group", m->router.groups > 1 ? m->router.groups : 1);
    kint(j, "topk_group", m->router.groups > 1 ? m->router.top_groups : 1);
    kbool(j, "norm_topk_prob", m->router.normalize);
}

static const char *dtype_name(WeightFormat fmt) {
    return fmt == WFMT_F32 ? "float32" : fmt == WFMT_F16 ? "float16" : "bfloat16";
}

/* The Qwen-1 remote-code config: its own names for everything. */
static void write_qwen1(J *j, const ModelSpec *s, WeightFormat fmt) {
    const AttnSpec *a = &s->attn[0];
    const FfnSpec *f = &s->ffn[0];
    const RopeSpec *r = rope_of(s, -1);
    kstr(j, "model_type", "qwen");
    key(j, "architectures");
    fputs("[\"QWenLMHeadModel\"]", j->o);
    kint(j, "vocab_size", s->vocab);
    kint(j, "hidden_size", s->hidden);
    kint(j, "intermediate_size", 2L * f->intermediate);   /* w1 and w2 are each half of it */
    kint(j, "num_hidden_layers", s->n_layers);
    kint(j, "num_attention_heads", a->heads);
    kint(j, "kv_channels", a->head_dim);
    knum(j, "layer_norm_epsilon", s->norm.eps);
    kint(j, "max_position_embeddings", s->max_context);
    kint(j, "seq_length", r && r->kind == ROPE_DYNAMIC_NTK ? r->ntk_seq_length : a->logn ? a->logn_seq_length : 2048);
    if (r) {
        knum(j, "rotary_emb_base", r->theta);
        knum(j, "rotary_pct", r->dims ? (double)r->dims / a->head_dim : 1.0);
    }
    kbool(j, "use_dynamic_ntk", r && r->kind == ROPE_DYNAMIC_NTK);
    kbool(j, "use_logn_attn", a->logn);
    kbool(j, "tie_word_embeddings", s->tie_embeddings);
    kbool(j, "fp32", fmt == WFMT_F32);
    kbool(j, "bf16", fmt == WFMT_BF16);
    kbool(j, "fp16", fmt == WFMT_F16);
}

int hf_config_write(const ModelSpec *s, FILE *o, WeightFormat fmt) {
    J jj = {o, 0}, *j = &jj;
    const char *fam = s->family;
    const AttnSpec *a = &s->attn[s->layer[0].attn];
    const FfnSpec *dense = ffn_of(s, false), *moe = ffn_of(s, true);
    const FfnSpec *f0 = dense ? dense : moe;
    int window = window_of(s);
    bool mla = a->kind == ATTN_MLA;
    fputs("{\n", o);
    if (!strcmp(fam, "qwen")) {
        write_qwen1(j, s, fmt);
        fputs("\n}\n", o);
        return 0;
    }
    kstr(j, "model_type", fam);
    key(j, "archc_description");
    jstr(o, s->name);
    kint(j, "vocab_size", s->vocab);
    kint(j, "hidden_size", s->hidden);
    kint(j, "num_hidden_layers", s->n_layers);
    kint(j, "num_attention_heads", a->heads);
    kint(j, "num_key_value_heads", mla ? a->heads : a->kv_heads);
    kint(j, "head_dim", mla ? a->qk_rope_dim : a->head_dim);   /* DeepseekV3Config sets head_dim = qk_rope_head_dim */
    knum(j, "rms_norm_eps", s->norm.eps);
    kint(j, "max_position_embeddings", s->max_context);
    kbool(j, "tie_word_embeddings", s->tie_embeddings);
    if (s->bos_token >= 0) kint(j, "bos_token_id", s->bos_token);
    if (s->eos_token >= 0) kint(j, "eos_token_id", s->eos_token);
    kstr(j, "torch_dtype", dtype_name(fmt));
    /* the rope of full-attention layers; Gemma's local rope is written below */
    const RopeSpec *r = !strcmp(fam, "gemma3_text") ? rope_of(s, 0) : rope_of(s, -1);
    if (r) {
        knum(j, "rope_theta", r->theta);
        rope_scaling(j, r);
    }
    bool qkvo = a->q_bias && a->o_bias;

    if (!strcmp(fam, "llama") || !strcmp(fam, "mistral") || !strcmp(fam, "qwen2") || !strcmp(fam, "qwen3") || !strcmp(fam, "olmo2") ||
        !strcmp(fam, "smollm3")) {
        kint(j, "intermediate_size", f0->intermediate);
        kstr(j, "hidden_act", "silu");
        if (!strcmp(fam, "qwen2")) {
            /* Qwen2 always has q/k/v biases: nothing to say */
        } else if (strcmp(fam, "mistral")) {
            kbool(j, "attention_bias", qkvo);
        }
        if (!strcmp(fam, "llama") || !strcmp(fam, "smollm3")) kbool(j, "mlp_bias", f0->bias);
        if (!strcmp(fam, "mistral")) {
            /* MistralConfig: one window for every layer, or none */
            if (window) kint(j, "sliding_window", window);
            else knull(j, "sliding_window");
        } else {
            if (!strcmp(fam, "qwen2") || !strcmp(fam, "qwen3") || !strcmp(fam, "smollm3")) kbool(j, "use_sliding_window", window > 0);
            if (window) {
                kint(j, "sliding_window", window);
                layer_types(j, s);
            } else if (strcmp(fam, "llama")) {
                knull(j, "sliding_window");
            }
        }
        if (!strcmp(fam, "smollm3")) uses_rope_list(j, s);
    } else if (!strcmp(fam, "gemma3_text")) {
        kint(j, "intermediate_size", f0->intermediate);
        kstr(j, "hidden_activation", "gelu_pytorch_tanh");
        double scale = a->scale ? a->scale : 1.0 / sqrt((double)a->head_dim);
        knum(j, "query_pre_attn_scalar", 1.0 / (scale * scale));
        const RopeSpec *local = rope_of(s, 1);
        if (local) knum(j, "rope_local_base_freq", local->theta);
        if (window) kint(j, "sliding_window", window);
        layer_types(j, s);
        if (s->final_softcap) knum(j, "final_logit_softcapping", s->final_softcap);
        else knull(j, "final_logit_softcapping");
        kbool(j, "attention_bias", false);
    } else if (!strcmp(fam, "gpt_oss")) {
        kint(j, "intermediate_size", moe ? moe->intermediate : f0->intermediate);
        if (moe) {
            kint(j, "num_local_experts", moe->experts);
            kint(j, "num_experts_per_tok", moe->top_k);
            knum(j, "swiglu_limit", moe->act_limit);
        }
        kbool(j, "attention_bias", true);
        if (window) kint(j, "sliding_window", window);
        layer_types(j, s);
    } else if (!strcmp(fam, "qwen3_moe")) {
        kint(j, "intermediate_size", dense ? dense->intermediate : moe->intermediate);
        kstr(j, "hidden_act", "silu");
        if (moe) {
            kint(j, "num_experts", moe->experts);
            kint(j, "num_experts_per_tok", moe->top_k);
            kint(j, "moe_intermediate_size", moe->intermediate);
            kbool(j, "norm_topk_prob", moe->router.normalize);
        } else {
            kint(j, "num_experts", 0);
        }
        kint(j, "decoder_sparse_step", 1);
        layer_list(j, "mlp_only_layers", s, false);
        kbool(j, "use_sliding_window", window > 0);
        if (window) kint(j, "sliding_window", window);
        else knull(j, "sliding_window");
        kbool(j, "attention_bias", qkvo);
    } else if (!strcmp(fam, "deepseek_v3") || !strcmp(fam, "deepseek_v2") || !strcmp(fam, "kimi_k2")) {
        bool v2 = !strcmp(fam, "deepseek_v2");
        kint(j, "intermediate_size", dense ? dense->intermediate : moe->intermediate);
        kstr(j, "hidden_act", "silu");
        if (a->q_lora_rank) kint(j, "q_lora_rank", a->q_lora_rank);
        else knull(j, "q_lora_rank");
        kint(j, "kv_lora_rank", a->kv_lora_rank);
        kint(j, "qk_nope_head_dim", a->qk_nope_dim);
        kint(j, "qk_rope_head_dim", a->qk_rope_dim);
        kint(j, "v_head_dim", a->v_dim);
        kbool(j, "attention_bias", a->q_bias);
        if (moe) {
            routing(j, moe);
            if (v2) {
                kstr(j, "topk_method", moe->router.groups > 1 ? "group_limited_greedy" : "greedy");
                kstr(j, "scoring_func", "softmax");
            } else {
                kstr(j, "topk_method", "noaux_tc");
                kstr(j, "scoring_func", "sigmoid");
            }
        } else {
            kint(j, "n_routed_experts", 0);
        }
        kint(j, "first_k_dense_replace", leading_dense(s));
        kint(j, "moe_layer_freq", 1);
        kint(j, "num_nextn_predict_layers", s->mtp_depth);
    } else if (!strcmp(fam, "glm4_moe")) {
        kint(j, "intermediate_size", dense ? dense->intermediate : moe->intermediate);
        kstr(j, "hidden_act", "silu");
        kbool(j, "attention_bias", a->q_bias);
        kbool(j, "use_qk_norm", a->qk_norm == QKNORM_HEAD);
        if (r) knum(j, "partial_rotary_factor", r->dims ? (double)r->dims / a->head_dim : 1.0);
        if (moe) routing(j, moe);
        else kint(j, "n_routed_experts", 0);
        kint(j, "first_k_dense_replace", leading_dense(s));
        kint(j, "num_nextn_predict_layers", s->mtp_depth);
    } else if (!strcmp(fam, "llama4_text")) {
        kint(j, "intermediate_size", moe ? moe->intermediate : f0->intermediate);
        kint(j, "intermediate_size_mlp", dense ? dense->intermediate : f0->intermediate);
        kstr(j, "hidden_act", "silu");
        if (moe) {
            kint(j, "num_local_experts", moe->experts);
            kint(j, "num_experts_per_tok", moe->top_k);
        }
        kint(j, "interleave_moe_layer_step", 1);
        layer_list(j, "moe_layers", s, true);
        kbool(j, "use_qk_norm", a->qk_norm == QKNORM_L2_AFTER);
        kbool(j, "attn_temperature_tuning", a->temperature_tuning);
        knum(j, "floor_scale", a->floor_scale);
        knum(j, "attn_scale", a->attn_scale);
        int chunk = 0;
        for (int i = 0; i < s->n_layers; i++)
            if (s->layer[i].chunk) { chunk = s->layer[i].chunk; break; }
        if (chunk) kint(j, "attention_chunk_size", chunk);
        else knull(j, "attention_chunk_size");
        uses_rope_list(j, s);
        kbool(j, "attention_bias", false);
    } else {
        /* parse.c admits only the families above */
        kint(j, "intermediate_size", f0->intermediate);
    }
    fputs("\n}\n", o);
    return 0;
}

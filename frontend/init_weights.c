/*
 * frontend/init_weights.c — `archc init-weights`: random weights for any
 * description, written as a Hugging Face-style directory (config.json +
 * model.safetensors) that the generated binary (and, for the dense families,
 * transformers) can load.
 *
 * Values: matrices uniform with std 0.02 (HF's initializer_range), norm weights
 * 1 (Gemma-style (1+w) norms: 0), biases and sinks small uniform.  The stream
 * is a splitmix64 generator seeded with --seed, so a seed always gives the
 * same checkpoint.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "ir.h"
#include "outfile.h"
#include "safetensors.h"

static uint64_t splitmix(uint64_t *s) {
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* uniform in [-a, a) */
static float uniform(uint64_t *s, float a) {
    return (float)((double)(splitmix(s) >> 11) * (1.0 / 9007199254740992.0) * 2.0 - 1.0) * a;
}

/* s as the body of a JSON string: quotes, backslashes and control characters escaped */
static void json_str(FILE *o, const char *s) {
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') fprintf(o, "\\%c", *p);
        else if (*p < 0x20 || *p == 0x7f) fprintf(o, "\\u%04x", *p);
        else fputc(*p, o);
    }
}

static int write_config(const ModelSpec *s, const char *dir, WeightFormat fmt) {
    const AttnSpec *a = &s->attn[0];
    const FfnSpec *f = &s->ffn[0];
    char path[4096], tmp[4200];
    snprintf(path, sizeof path, "%s/config.json", dir);
    const char *inputs[] = {s->file};
    if (out_check(path, inputs, 1)) return -1;
    FILE *o = out_open(path, tmp, sizeof tmp);
    if (!o) return -1;
    fprintf(o, "{\n  \"model_type\": \"%s\",\n", s->family);
    fprintf(o, "  \"archc_description\": \"");
    json_str(o, s->name);
    fprintf(o, "\",\n");
    fprintf(o, "  \"vocab_size\": %d,\n  \"hidden_size\": %d,\n  \"intermediate_size\": %d,\n", s->vocab, s->hidden, f->intermediate);
    fprintf(o, "  \"num_hidden_layers\": %d,\n  \"num_attention_heads\": %d,\n  \"num_key_value_heads\": %d,\n", s->n_layers,
            a->heads, a->kv_heads);
    fprintf(o, "  \"head_dim\": %d,\n  \"rms_norm_eps\": %.9g,\n  \"max_position_embeddings\": %d,\n", a->head_dim, s->norm.eps,
            s->max_context);
    if (s->n_rope > 0) {
        const RopeSpec *r = &s->rope[0];
        fprintf(o, "  \"rope_theta\": %.17g,\n", r->theta);
        if (r->kind == ROPE_LLAMA3)
            fprintf(o, "  \"rope_scaling\": {\"rope_type\": \"llama3\", \"factor\": %.17g, \"low_freq_factor\": %.17g, "
                       "\"high_freq_factor\": %.17g, \"original_max_position_embeddings\": %d},\n",
                    r->factor, r->low_freq_factor, r->high_freq_factor, r->original_max_position);
        else if (r->kind == ROPE_LINEAR)
            fprintf(o, "  \"rope_scaling\": {\"rope_type\": \"linear\", \"factor\": %.17g},\n", r->factor);
        else if (r->kind == ROPE_YARN)
            fprintf(o, "  \"rope_scaling\": {\"rope_type\": \"yarn\", \"factor\": %.17g, \"original_max_position_embeddings\": %d},\n",
                    r->factor, r->original_max_position);
    }
    fprintf(o, "  \"attention_bias\": %s,\n", a->q_bias ? "true" : "false");
    fprintf(o, "  \"mlp_bias\": %s,\n", f->bias ? "true" : "false");
    fprintf(o, "  \"hidden_act\": \"%s\",\n", f->act == ACT_GEGLU_TANH ? "gelu_pytorch_tanh" : "silu");
    fprintf(o, "  \"tie_word_embeddings\": %s,\n", s->tie_embeddings ? "true" : "false");
    if (s->bos_token >= 0) fprintf(o, "  \"bos_token_id\": %d,\n", s->bos_token);
    if (s->eos_token >= 0) fprintf(o, "  \"eos_token_id\": %d,\n", s->eos_token);
    fprintf(o, "  \"torch_dtype\": \"%s\"\n}\n", fmt == WFMT_F32 ? "float32" : fmt == WFMT_BF16 ? "bfloat16" : "float16");
    return out_commit(o, tmp, path, 1);
}

int init_weights(const ModelSpec *s, const Graph *g, const char *dir, WeightFormat fmt, unsigned long long seed) {
    if (mkdir(dir, 0777) != 0) {
        struct stat st;
        if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
            fprintf(stderr, "archc init-weights: error: %s: cannot create the output directory: %s\n", dir,
                    stat(dir, &st) == 0 ? "a file of that name exists" : strerror(errno));
            return -1;
        }
    }
    /* random weights are made in memory: refuse what cannot fit rather than be killed */
    double total = 0;
    for (int i = 0; i < g->n_weights; i++) {
        const Weight *w = &g->weights[i];
        if (w->alias >= 0) continue;
        double numel = 1;
        for (int d = 0; d < w->ndim; d++) numel *= (double)w->shape[d];
        total += numel * (fmt == WFMT_F32 ? 4 : 2);
    }
    if (total > 16.0 * (1 << 30)) {
        fprintf(stderr, "archc init-weights: error: %s: %.1f GB of weights: too large for random test weights (at most 16 GB)\n", s->file,
                total / 1e9);
        return -1;
    }
    char probe[4096];
    snprintf(probe, sizeof probe, "%s/model.safetensors", dir);
    const char *inputs[] = {s->file};
    if (out_check(probe, inputs, 1)) return -1;
    int n = 0;
    StWrite *t = calloc((size_t)g->n_weights, sizeof *t);
    void **bufs = calloc((size_t)g->n_weights, sizeof *bufs);
    uint64_t state = seed * 0x2545F4914F6CDD1DULL + 1;
    int rc = 0;
    for (int i = 0; i < g->n_weights; i++) {
        const Weight *w = &g->weights[i];
        if (w->alias >= 0) continue;
        int64_t numel = 1;
        for (int d = 0; d < w->ndim; d++) numel *= w->shape[d];
        int is_norm = (w->flags & W_VECTOR) && (strstr(w->name, "norm") != NULL);
        StDtype dt = fmt == WFMT_F32 ? ST_F32 : fmt == WFMT_BF16 ? ST_BF16 : ST_F16;
        size_t es = st_dtype_size(dt);
        void *buf = malloc((size_t)numel * es);
        if (!buf) { fprintf(stderr, "archc init-weights: error: out of memory for %s\n", w->name); rc = -1; break; }
        const float amp = 0.02f * sqrtf(3.0f);
        for (int64_t k = 0; k < numel; k++) {
            float v = is_norm ? (s->norm.kind == NORM_RMS_GEMMA ? 0.0f : 1.0f) : uniform(&state, amp);
            if (dt == ST_F32) ((float *)buf)[k] = v;
            else if (dt == ST_BF16) ((uint16_t *)buf)[k] = st_f32_to_bf16(v);
            else ((uint16_t *)buf)[k] = st_f32_to_f16(v);
        }
        bufs[n] = buf;
        t[n].name = w->name;
        t[n].dtype = dt;
        t[n].ndim = w->ndim;
        for (int d = 0; d < w->ndim; d++) t[n].shape[d] = w->shape[d];
        t[n].data = buf;
        n++;
    }
    if (rc == 0) {
        char path[4096], err[512];
        snprintf(path, sizeof path, "%s/model.safetensors", dir);
        if (st_write(path, t, n, err, sizeof err) != 0) {
            fprintf(stderr, "archc init-weights: error: %s\n", err);
            rc = -1;
        }
    }
    if (rc == 0) rc = write_config(s, dir, fmt);
    for (int i = 0; i < n; i++) free(bufs[i]);
    free(bufs);
    free(t);
    return rc;
}

/*
 * frontend/init_weights.c — `archc init-weights`: random weights for any
 * description, written as a Hugging Face-style directory (config.json +
 * model.safetensors) that the generated binary (and, for the dense families,
 * transformers) can load, and `archc import` reads back (frontend/hf_config.c).
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

/* config.json: frontend/hf_config.c, the inverse of `archc import` */
static int write_config(const ModelSpec *s, const char *dir, WeightFormat fmt) {
    char path[4096], tmp[4200];
    snprintf(path, sizeof path, "%s/config.json", dir);
    const char *inputs[] = {s->file};
    if (out_check(path, inputs, 1)) return -1;
    FILE *o = out_open(path, tmp, sizeof tmp);
    if (!o) return -1;
    hf_config_write(s, o, fmt);
    return out_commit(o, tmp, path, 1);
}

int init_weights(const ModelSpec *s, const Graph *g, const char *dir, WeightFormat fmt, unsigned long long seed, int config_only) {
    if (mkdir(dir, 0777) != 0) {
        struct stat st;
        if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
            fprintf(stderr, "archc init-weights: error: %s: cannot create the output directory: %s\n", dir,
                    stat(dir, &st) == 0 ? "a file of that name exists" : strerror(errno));
            return -1;
        }
    }
    if (config_only) return write_config(s, dir, fmt);
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

/*
 * frontend/quantize.c — `archc quantize HF_DIR -o OUT_DIR --format int8|int4|fp8|mxfp4`.
 *
 * Reads an f32/bf16/f16 checkpoint (model.safetensors or a sharded index), and
 * writes a Hugging Face-style directory: the quantised tensors and their scales
 * (model.safetensors, or shards + model.safetensors.index.json when large),
 * config.json with a `quantization_config`, and the tokenizer files copied.
 *
 * Memory is bounded: the input is mmap'd (runtime/safetensors.c), the output
 * header is computed from the input's header alone, and tensors are converted
 * and written one at a time (one tensor's output in memory at most).
 * Everything goes to a temporary directory next to OUT_DIR, renamed into place
 * only when complete: a failed run leaves no half-written directory.
 *
 * Layouts (docs/quantize.md):
 *   int8   X.weight I8 [N, K], X.weight_scale F16 [N, K/32]: w ≈ q · scale,
 *          q = round(w / scale), scale = max|w| / 127 per block of 32 along K
 *          (F16 rounded away from zero, so no code leaves [-127, 127]; F32 with
 *          --scale-dtype f32)
 *   (K not a multiple of 32: the last block of a row is partial, padded with
 *   zeros: int4/mxfp4 rows are stored as whole blocks, [N, ceil(K/32)·16])
 *   int4   X.weight U8 [N, K/2] (byte j of a block: element 2j low nibble,
 *          2j+1 high nibble, as gpt-oss packs MXFP4), nibble = q + 8,
 *          q in [-8, 7]; X.weight_scale F16 (or F32) [N, K/32]: scale = m / -8 where
 *          m is the block's value of largest magnitude (Q4_0-style)
 *   fp8    X.weight F8_E4M3 [N, K], X.weight_scale_inv F32 [ceil(N/128), ceil(K/128)]
 *          (DeepSeek-V3: scale_inv = max|w| / 448 per 128×128 block, round to
 *          nearest even, saturating)
 *   mxfp4  X.weight_blocks U8 [N, K/32, 16] (e2m1 nibbles, gpt-oss order),
 *          X.weight_scales U8 [N, K/32] (e8m0: 2^(s−127); OCP MX:
 *          scale = 2^(floor(log2 max|w|) − 2), values round to nearest even)
 *
 * Tied embeddings (int8/int4/mxfp4) are untied: lm_head.weight is written,
 * quantised from the embedding, which stays as stored (tie_word_embeddings: false).
 *
 * What is quantised: the 2-D ".weight" matrices of the decoder (attention and
 * MLA projections, kv_b_proj included, dense and routed/shared expert FFNs, an untied lm_head for
 * int8/int4/mxfp4), and stacked 3-D experts (gpt-oss, Llama 4: [E, in, out],
 * written per expert output-major, [E, out, in], as the 2-D layouts above;
 * mxfp4 in gpt-oss's _blocks/_scales).  Kept: embeddings, norms, biases,
 * routers (mlp.gate, router), fused c_attn, the MTP embed/head, and with fp8
 * the lm_head
 * (DeepSeek's layout).  Kept matrices are written in one float format (the
 * checkpoint's own when it has one; bf16 for fp8, as DeepSeek stores them).
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <dirent.h>
#include "json.h"
#include "safetensors.h"

enum { QF_INT8, QF_INT4, QF_FP8, QF_MXFP4 };
static const char *const qf_names[] = {"int8", "int4", "fp8", "mxfp4"};

#define QMAX_KEEP 16

typedef struct QOut {           /* one output tensor                                    */
    char name[320];
    StDtype dtype;
    int ndim;
    int64_t shape[4];
    uint64_t nbytes;
    int src;                    /* input tensor index                                    */
    int kind;                   /* 0 copy/convert, 1 quantised weight, 2 its scales      */
    int shard;
    uint64_t offset;            /* within the shard's data section                       */
} QOut;

static int g_fmt;
static int g_scale_f16 = 1;   /* int8 / int4 block scales: f16 (default, as Q8_0 / Q4_0) or f32 (--scale-dtype f32) */

/* An int8 / int4 block scale as stored: f32 as computed, or the f16 nearest d
 * on the far side from zero (|stored| ≥ |d|, so every code stays in range and
 * the block's largest value keeps its code), which the codes are then computed
 * against.  f16 has 11 significant bits: ≤ 2^-10 relative above 2^-14; below
 * that (blocks whose largest |w| < 0.0078 for int8) its step is 2^-24.
 * The bytes go to out unless it is NULL.  Returns -1 when |d| exceeds f16's
 * largest finite value. */
static int scale_store(float d, float *stored, uint8_t *out) {
    if (!g_scale_f16) { *stored = d; if (out) memcpy(out, &d, 4); return 0; }
    if (!(fabsf(d) <= 65504.0f)) return -1;
    uint16_t h = st_f32_to_f16(d);
    if (fabsf(st_f16_to_f32(h)) < fabsf(d)) h++;   /* one f16 step away from zero (same sign; 65504 is not passed) */
    *stored = st_f16_to_f32(h);
    if (out) memcpy(out, &h, 2);
    return 0;
}

/* ── number formats ─────────────────────────────────────────────────────── */

static float src_get(const StTensor *t, size_t i) {
    switch (t->dtype) {
    case ST_F32: { float f; memcpy(&f, (const char *)t->data + 4 * i, 4); return f; }
    case ST_BF16: { uint16_t h; memcpy(&h, (const char *)t->data + 2 * i, 2); return st_bf16_to_f32(h); }
    default: { uint16_t h; memcpy(&h, (const char *)t->data + 2 * i, 2); return st_f16_to_f32(h); }
    }
}

/* f32 → e4m3fn, round to nearest even, saturating at ±448 (NaN → 0x7f). */
static uint8_t f32_to_e4m3(float x) {
    uint8_t sign = signbit(x) ? 0x80 : 0;
    float a = fabsf(x);
    if (isnan(x)) return 0x7f;
    if (a >= 448.0f) return sign | 0x7e;
    if (a < 0.015625f) {                         /* below 2^-6: subnormal, steps of 2^-9 */
        int q = (int)rintf(a * 512.0f);          /* q = 8 is the smallest normal, 0x08 */
        return sign | (uint8_t)q;
    }
    int e;
    float m = frexpf(a, &e);                     /* a = m · 2^e, m in [0.5, 1) */
    e -= 1;                                      /* a = (2m) · 2^e, 2m in [1, 2) */
    int q = (int)rintf((2.0f * m - 1.0f) * 8.0f);
    if (q == 8) { q = 0; e++; }
    if (e > 8 || (e == 8 && q > 6)) return sign | 0x7e;
    return sign | (uint8_t)(((e + 7) << 3) | q);
}

/* |x| (already divided by the block scale) → e2m1 code 0…7, nearest, ties to even code. */
static uint8_t e2m1_code(float a) {
    if (a <= 0.25f) return 0;
    if (a < 0.75f) return 1;
    if (a <= 1.25f) return 2;
    if (a < 1.75f) return 3;
    if (a <= 2.5f) return 4;
    if (a < 3.5f) return 5;
    if (a <= 5.0f) return 6;
    return 7;
}

/* ── tensor classification ──────────────────────────────────────────────── */

static int ends_with(const char *s, const char *suf) {
    size_t n = strlen(s), m = strlen(suf);
    return n >= m && !strcmp(s + n - m, suf);
}

/* Stacked experts (gpt-oss, Llama 4): all of a layer's experts in one [E, in, out] tensor. */
static int is_stacked_experts(const StTensor *t) {
    return t->ndim == 3 && (ends_with(t->name, ".experts.gate_up_proj") || ends_with(t->name, ".experts.down_proj"));
}

/* Whether the tensor is a matrix of the decoder that gets quantised. */
static int wants_quant(const StTensor *t, const char *const *keep, int n_keep, int quant_embed) {
    const char *n = t->name;
    if (!(t->ndim == 2 && ends_with(n, ".weight")) && !is_stacked_experts(t)) return 0;
    if (t->dtype != ST_F32 && t->dtype != ST_BF16 && t->dtype != ST_F16) return 0;
    for (int i = 0; i < n_keep; i++)
        if (fnmatch(keep[i], n, 0) == 0 || strstr(n, keep[i])) return 0;
    if (t->ndim == 3) return 1;
    if (strstr(n, "embed_tokens") || strstr(n, ".wte.") || strstr(n, "embed_tokens.")) return quant_embed;
    if (strstr(n, "shared_head.head")) return 0;           /* the MTP head: kept, like the embedding */
    if (strstr(n, "lm_head")) return g_fmt != QF_FP8;
    if (ends_with(n, "mlp.gate.weight") || strstr(n, ".router.") || strstr(n, "shared_expert_gate")) return 0;
    if (strstr(n, "norm")) return 0;
    if (strstr(n, "c_attn")) return 0;
    return 1;
}

/* ── JSON output ────────────────────────────────────────────────────────── */

static void jstr(FILE *o, const char *s, size_t len) {
    fputc('"', o);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') fprintf(o, "\\%c", c);
        else if (c < 0x20 || c == 0x7f) fprintf(o, "\\u%04x", c);
        else fputc(c, o);
    }
    fputc('"', o);
}

static void jnum(FILE *o, double v) {
    if (v == floor(v) && fabs(v) < 9007199254740992.0) { fprintf(o, "%.0f", v); return; }
    char b[40];
    for (int p = 15; p <= 17; p++) {
        snprintf(b, sizeof b, "%.*g", p, v);
        if (strtod(b, NULL) == v) break;
    }
    fputs(b, o);
}

static void jval(FILE *o, const JsonValue *v, int ind) {
    switch (v->type) {
    case JSON_NULL: fputs("null", o); break;
    case JSON_BOOL: fputs(v->boolean ? "true" : "false", o); break;
    case JSON_NUMBER: jnum(o, v->number); break;
    case JSON_STRING: jstr(o, v->string, v->len); break;
    case JSON_ARRAY:
        fputc('[', o);
        for (size_t i = 0; i < v->count; i++) { if (i) fputs(", ", o); jval(o, v->items[i], ind + 2); }
        fputc(']', o);
        break;
    case JSON_OBJECT:
        fputs("{", o);
        for (size_t i = 0; i < v->count; i++) {
            fprintf(o, "%s\n%*s", i ? "," : "", ind + 2, "");
            jstr(o, v->keys[i], v->key_lens[i]);
            fputs(": ", o);
            jval(o, v->items[i], ind + 2);
        }
        fprintf(o, "\n%*s}", ind, "");
        break;
    }
}

/* ── helpers ────────────────────────────────────────────────────────────── */

static char g_tmpdir[4200];

static void rm_tmpdir(void) {
    if (!g_tmpdir[0]) return;
    DIR *d = opendir(g_tmpdir);
    if (d) {
        struct dirent *e;
        char p[4600];
        while ((e = readdir(d))) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
            snprintf(p, sizeof p, "%s/%s", g_tmpdir, e->d_name);
            unlink(p);
        }
        closedir(d);
    }
    rmdir(g_tmpdir);
    g_tmpdir[0] = 0;
}

static int qerr(const char *fmt, const char *a, const char *b) {
    fprintf(stderr, "archc quantize: error: ");
    fprintf(stderr, fmt, a, b);
    fputc('\n', stderr);
    return -1;
}

static int copy_file(const char *src, const char *dst) {
    FILE *i = fopen(src, "rb");
    if (!i) return 0;                             /* absent: nothing to copy */
    struct stat st;
    if (fstat(fileno(i), &st) != 0 || !S_ISREG(st.st_mode)) { fclose(i); return 0; }
    FILE *o = fopen(dst, "wb");
    if (!o) { fclose(i); return qerr("%s: cannot write: %s", dst, strerror(errno)); }
    char buf[65536];
    size_t n;
    int rc = 0;
    while ((n = fread(buf, 1, sizeof buf, i)) > 0)
        if (fwrite(buf, 1, n, o) != n) { rc = -1; break; }
    if (ferror(i)) rc = -1;
    fclose(i);
    if (fclose(o) != 0) rc = -1;
    if (rc) qerr("%s: writing failed%s", dst, "");
    return rc;
}

/* Quantise one N × K matrix whose element (r, c) is input element base + r·rs + c·cs
 * (a 2-D weight: rs = K, cs = 1; one expert of a stacked [E, in, out] tensor:
 * its transpose) into buf: the codes (q->kind 1) or the scales (2) of that matrix.
 * -1 when it holds a NaN or an infinity. */
static int quant_matrix(const QOut *q, const StTensor *t, size_t base, int64_t rs, int64_t cs, int64_t N, int64_t K, uint8_t *buf,
                        float *row) {
#define W(r, c) src_get(t, base + (size_t)(r) * (size_t)rs + (size_t)(c) * (size_t)cs)
    for (int64_t r = 0; r < N; r++)
        for (int64_t c = 0; c < K; c++)
            if (!isfinite(W(r, c))) return -1;
    if (g_fmt == QF_FP8) {
        int64_t nb = (N + 127) / 128, kb = (K + 127) / 128;
        for (int64_t bi = 0; bi < nb; bi++)
            for (int64_t bj = 0; bj < kb; bj++) {
                float amax = 0.0f;
                for (int64_t r = bi * 128; r < N && r < bi * 128 + 128; r++)
                    for (int64_t c = bj * 128; c < K && c < bj * 128 + 128; c++) {
                        float a = fabsf(W(r, c));
                        if (a > amax) amax = a;
                    }
                float s = amax / 448.0f;
                if (q->kind == 2) { memcpy(buf + 4 * (bi * kb + bj), &s, 4); continue; }
                for (int64_t r = bi * 128; r < N && r < bi * 128 + 128; r++)
                    for (int64_t c = bj * 128; c < K && c < bj * 128 + 128; c++)
                        buf[r * K + c] = s > 0 ? f32_to_e4m3(W(r, c) / s) : 0;
            }
        return 0;
    }
    int64_t nb = (K + 31) / 32;   /* a last partial block is padded with zeros */
    for (int64_t r = 0; r < N; r++) {
        for (int64_t c = 0; c < nb * 32; c++) row[c] = c < K ? W(r, c) : 0.0f;
        for (int64_t b = 0; b < nb; b++) {
            const float *x = row + b * 32;
            float amax = 0.0f, m = 0.0f;
            for (int i = 0; i < 32; i++)
                if (fabsf(x[i]) > amax) { amax = fabsf(x[i]); m = x[i]; }
            size_t sb = (size_t)(r * nb + b), sbytes = g_scale_f16 ? 2 : 4;
            if (g_fmt == QF_INT8) {
                float d;
                if (scale_store(amax / 127.0f, &d, q->kind == 2 ? buf + sbytes * sb : NULL)) return -2;
                if (q->kind == 2) continue;
                float id = d > 0 ? 1.0f / d : 0.0f;
                for (int i = 0; i < 32 && b * 32 + i < K; i++) {
                    int v = (int)roundf(x[i] * id);
                    buf[r * K + b * 32 + i] = (uint8_t)(int8_t)(v > 127 ? 127 : v < -127 ? -127 : v);
                }
            } else if (g_fmt == QF_INT4) {
                float d;
                if (scale_store(m / -8.0f, &d, q->kind == 2 ? buf + sbytes * sb : NULL)) return -2;
                if (q->kind == 2) continue;
                float id = d != 0 ? 1.0f / d : 0.0f;
                uint8_t *o = buf + (r * nb + b) * 16;
                for (int j = 0; j < 16; j++) {
                    int lo = (int)roundf(x[2 * j] * id), hi = (int)roundf(x[2 * j + 1] * id);
                    lo = lo < -8 ? -8 : lo > 7 ? 7 : lo;
                    hi = hi < -8 ? -8 : hi > 7 ? 7 : hi;
                    o[j] = (uint8_t)((lo + 8) | ((hi + 8) << 4));
                }
            } else {  /* mxfp4 */
                int e = -127;
                if (amax > 0) {
                    int ex;
                    frexpf(amax, &ex);            /* amax = f · 2^ex, f in [0.5, 1): floor(log2) = ex − 1 */
                    e = ex - 1 - 2;
                    if (e < -127) e = -127;
                    if (e > 127) e = 127;
                }
                if (q->kind == 2) { buf[sb] = (uint8_t)(e + 127); continue; }
                float inv = ldexpf(1.0f, -e);
                uint8_t *o = buf + (r * nb + b) * 16;
                for (int j = 0; j < 16; j++) {
                    uint8_t c[2];
                    for (int h = 0; h < 2; h++) {
                        float v = x[2 * j + h] * inv;
                        c[h] = (uint8_t)(e2m1_code(fabsf(v)) | (signbit(v) ? 8 : 0));
                    }
                    o[j] = (uint8_t)(c[0] | (c[1] << 4));
                }
            }
        }
    }
    return 0;
#undef W
}

/* Quantise (or convert) output tensor q from its input tensor into buf (q->nbytes).
 * -1 when a tensor to quantise holds a NaN or an infinity (no scale represents it),
 * -2 when a block scale exceeds f16's range (int8 / int4 with f16 scales). */
static int produce(const QOut *q, const StTensor *t, StDtype keep_dt, uint8_t *buf, float *row) {
    if (q->kind == 0) {
        if (t->dtype == q->dtype) { memcpy(buf, t->data, q->nbytes); return 0; }
        size_t n = q->nbytes / st_dtype_size(q->dtype);
        for (size_t i = 0; i < n; i++) {
            float v = src_get(t, i);
            if (keep_dt == ST_F32 || q->dtype == ST_F32) memcpy(buf + 4 * i, &v, 4);
            else {
                uint16_t h = q->dtype == ST_BF16 ? st_f32_to_bf16(v) : st_f32_to_f16(v);
                memcpy(buf + 2 * i, &h, 2);
            }
        }
        return 0;
    }
    if (t->ndim == 3) {   /* stacked experts [E, in, out]: each expert's out × in matrix, output-major */
        int64_t E = t->shape[0], K = t->shape[1], N = t->shape[2];
        for (int64_t e = 0; e < E; e++) {
            int rc = quant_matrix(q, t, (size_t)(e * K * N), 1, N, N, K, buf + (size_t)e * (q->nbytes / (uint64_t)E), row);
            if (rc) return rc;
        }
        return 0;
    }
    return quant_matrix(q, t, 0, t->shape[1], 1, t->shape[0], t->shape[1], buf, row);
}

/* Drop the input tensor's pages from this process (the mapping is read-only and
 * file-backed: they are read again if touched), so that resident memory stays
 * about one tensor, not the whole checkpoint. */
static void release(const StTensor *t) {
    long pg = sysconf(_SC_PAGESIZE);
    uintptr_t a = ((uintptr_t)t->data + (uintptr_t)pg - 1) & ~((uintptr_t)pg - 1);
    uintptr_t e = ((uintptr_t)t->data + t->nbytes) & ~((uintptr_t)pg - 1);
    if (pg > 0 && e > a) madvise((void *)a, e - a, MADV_DONTNEED);
}

static void progress(int i, int n, const char *name, uint64_t done, uint64_t total) {
    if (!isatty(2)) return;
    fprintf(stderr, "\r\033[K[%d/%d] %5.1f%%  %.60s", i, n, total ? 100.0 * (double)done / (double)total : 100.0, name);
    if (i == n) fputc('\n', stderr);
}

/* The header of one shard: its tensors in order, data offsets from 0. */
static char *shard_header(const QOut *q, int n, int shard, size_t *len) {
    char *buf = NULL;
    size_t blen = 0;
    FILE *f = open_memstream(&buf, &blen);
    if (!f) return NULL;
    fprintf(f, "{\"__metadata__\":{\"format\":\"pt\",\"quantized_by\":\"archc\"}");
    for (int i = 0; i < n; i++) {
        if (q[i].shard != shard) continue;
        fprintf(f, ",");
        jstr(f, q[i].name, strlen(q[i].name));
        fprintf(f, ":{\"dtype\":\"%s\",\"shape\":[", st_dtype_name(q[i].dtype));
        for (int d = 0; d < q[i].ndim; d++) fprintf(f, "%s%lld", d ? "," : "", (long long)q[i].shape[d]);
        fprintf(f, "],\"data_offsets\":[%llu,%llu]}", (unsigned long long)q[i].offset, (unsigned long long)(q[i].offset + q[i].nbytes));
    }
    fputc('}', f);
    while ((ftell(f) + 8) % 8) fputc(' ', f);     /* data starts 8-aligned */
    if (fclose(f) != 0) { free(buf); return NULL; }
    *len = blen;
    return buf;
}

int cmd_quantize(int argc, char **argv) {
    const char *in = NULL, *outd = NULL, *fmt = NULL;
    const char *keep[QMAX_KEEP];
    int n_keep = 0, quant_embed = 0, scale_opt = 0;
    g_scale_f16 = 1;
    uint64_t shard_bytes = (uint64_t)4 << 30;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "-o") && i + 1 < argc) outd = argv[++i];
        else if (!strcmp(argv[i], "--format") && i + 1 < argc) fmt = argv[++i];
        else if (!strncmp(argv[i], "--format=", 9)) fmt = argv[i] + 9;
        else if (!strcmp(argv[i], "--keep") && i + 1 < argc) {
            if (n_keep >= QMAX_KEEP) { fprintf(stderr, "archc quantize: error: more than %d --keep patterns\n", QMAX_KEEP); return 2; }
            keep[n_keep++] = argv[++i];
            /* the patterns travel through config.json and the YAML description: a tensor-name alphabet */
            size_t kl = strlen(keep[n_keep - 1]);
            int bad = kl == 0 || kl > 127;
            for (const char *c = keep[n_keep - 1]; *c; c++) bad |= !isalnum((unsigned char)*c) && !strchr("._-/*?[]", *c);
            if (bad) {
                fprintf(stderr, "archc quantize: error: --keep '%s': expected 1 … 127 letters, digits or . _ - / * ? [ ]\n", keep[n_keep - 1]);
                return 2;
            }
        } else if (!strcmp(argv[i], "--quantize-embeddings")) quant_embed = 1;
        else if ((!strcmp(argv[i], "--scale-dtype") && i + 1 < argc) || !strncmp(argv[i], "--scale-dtype=", 14)) {
            const char *v = argv[i][13] == '=' ? argv[i] + 14 : argv[++i];
            if (!strcmp(v, "f16")) g_scale_f16 = 1;
            else if (!strcmp(v, "f32")) g_scale_f16 = 0;
            else { fprintf(stderr, "archc quantize: error: --scale-dtype '%s': expected f16 or f32\n", v); return 2; }
            scale_opt = 1;
        }
        else if (!strcmp(argv[i], "--shard-size") && i + 1 < argc) {
            char *end;
            unsigned long long v = strtoull(argv[++i], &end, 10);
            if (*end || v < 1024) { fprintf(stderr, "archc quantize: error: --shard-size: expected bytes >= 1024, got '%s'\n", argv[i]); return 2; }
            shard_bytes = v;
        } else if (argv[i][0] == '-') { fprintf(stderr, "archc quantize: error: unknown option '%s'\n", argv[i]); return 2; }
        else if (!in) in = argv[i];
        else { fprintf(stderr, "archc quantize: error: unexpected argument '%s'\n", argv[i]); return 2; }
    }
    if (!in || !outd || !fmt) {
        fprintf(stderr, "usage: archc quantize HF_DIR -o OUT_DIR --format int8|int4|fp8|mxfp4 [--keep PATTERN]... [--quantize-embeddings]\n"
                        "                      [--scale-dtype f16|f32] [--shard-size BYTES]\n");
        return 2;
    }
    g_fmt = -1;
    for (int f = 0; f < 4; f++) if (!strcmp(fmt, qf_names[f])) g_fmt = f;
    if (g_fmt < 0) { fprintf(stderr, "archc quantize: error: --format %s: expected int8, int4, fp8 or mxfp4\n", fmt); return 2; }
    if (g_fmt == QF_FP8 && quant_embed) {   /* the embedding lookup reads int8 / int4 / MXFP4 rows only */
        fprintf(stderr, "archc quantize: error: --quantize-embeddings: not with --format fp8 (DeepSeek's fp8 layout keeps the embedding and lm_head bf16)\n");
        return 2;
    }
    if (scale_opt && g_fmt != QF_INT8 && g_fmt != QF_INT4) {   /* fp8: f32 multipliers (DeepSeek's); mxfp4: e8m0 */
        fprintf(stderr, "archc quantize: error: --scale-dtype: only with --format int8 or int4 (fp8 stores f32 block multipliers, mxfp4 e8m0 exponents)\n");
        return 2;
    }

    char err[1024], path[4400];
    struct stat st;
    if (stat(in, &st) != 0 || !S_ISDIR(st.st_mode)) return qerr("%s: not a checkpoint directory%s", in, ""), 1;
    if (stat(outd, &st) == 0) {
        char a[4096], b[4096];
        if (realpath(in, a) && realpath(outd, b) && !strcmp(a, b)) return qerr("%s: the output is the input directory%s", outd, ""), 1;
    }
    snprintf(path, sizeof path, "%s/config.json", in);
    JsonValue *cfg = json_parse_file(path, err, sizeof err);
    if (!cfg) return qerr("%s%s", err, ""), 1;
    if (cfg->type != JSON_OBJECT) { json_free(cfg); return qerr("%s: expected a JSON object%s", path, ""), 1; }
    if (json_get(cfg, "quantization_config")) {
        json_free(cfg);
        return qerr("%s: the checkpoint is already quantised (quantization_config); quantise an f32, bf16 or f16 checkpoint%s", path, ""), 1;
    }
    st_load_mode = ST_LOAD_LAZY;   /* a file mapping, touched tensor by tensor: release() relies on it
                                      (MADV_DONTNEED would zero an anonymous copy) */
    StCheckpoint *ck = st_open(in, err, sizeof err);
    if (!ck) { json_free(cfg); return qerr("%s%s", err, ""), 1; }
    int nt = st_count(ck);

    /* the float format of kept matrices: the checkpoint's (most common among matrices); bf16 for fp8 */
    int cnt[ST_DTYPE_COUNT] = {0};
    for (int i = 0; i < nt; i++) {
        const StTensor *t = st_tensor(ck, i);
        if (t->dtype != ST_F32 && t->dtype != ST_BF16 && t->dtype != ST_F16)
            { qerr("tensor %s: dtype %s cannot be quantised (expected F32, BF16 or F16)", t->name, st_dtype_name(t->dtype)); goto fail0; }
        if (t->ndim >= 2) cnt[t->dtype]++;
    }
    StDtype keep_dt = cnt[ST_F32] >= cnt[ST_BF16] && cnt[ST_F32] >= cnt[ST_F16] ? ST_F32 : cnt[ST_BF16] >= cnt[ST_F16] ? ST_BF16 : ST_F16;
    if (g_fmt == QF_FP8) keep_dt = ST_BF16;

    /* the output tensors */
    QOut *q = calloc((size_t)nt * 2 + 3, sizeof *q);
    if (!q) { qerr("out of memory%s%s", "", ""); goto fail0; }
    int nq = 0, n_quant = 0;
    int64_t maxk = 1;
    /* Tied embeddings (int8/int4/mxfp4): the logits matrix is read whole every
     * token, the embedding one row: untie them, the lm_head quantised from the
     * embedding, the embedding kept (config.json says tie_word_embeddings: false). */
    int untie = -1;
    if (g_fmt != QF_FP8 && json_get_bool(cfg, "tie_word_embeddings", 0) && !st_find(ck, "lm_head.weight") && !quant_embed) {
        const StTensor *e = st_find(ck, "model.embed_tokens.weight");
        if (e && e->ndim == 2)
            for (int i = 0; i < nt; i++) if (st_tensor(ck, i) == e) untie = i;
    }
    for (int ii = 0; ii < nt + (untie >= 0); ii++) {
        int i = ii < nt ? ii : untie;
        StTensor head;
        const StTensor *t = st_tensor(ck, i);
        if (ii == nt) { head = *t; head.name = "lm_head.weight"; t = &head; }
        if (strlen(t->name) > 280) { qerr("tensor %.80s…: name too long%s", t->name, ""); goto fail1; }
        QOut *o = &q[nq++];
        snprintf(o->name, sizeof o->name, "%s", t->name);
        o->src = i;
        o->ndim = t->ndim;
        if (t->ndim > 4) { qerr("tensor %s: %s dimensions (at most 4)", t->name, "more than 4"); goto fail1; }
        uint64_t numel = 1;
        for (int d = 0; d < t->ndim; d++) { o->shape[d] = t->shape[d]; numel *= (uint64_t)t->shape[d]; }
        if (!wants_quant(t, keep, n_keep, quant_embed)) {
            o->dtype = t->ndim >= 2 ? keep_dt : t->dtype;
            o->nbytes = numel * st_dtype_size(o->dtype);
            continue;
        }
        /* a 2-D matrix [N, K]; stacked experts [E, K, N] (HF's x · W layout) are written
         * output-major per expert, [E, N, K], as the 2-D matrices (docs/quantize.md) */
        int st3 = t->ndim == 3;
        int64_t E = st3 ? t->shape[0] : 1, N = st3 ? t->shape[2] : t->shape[0], K = t->shape[1];
        int64_t nb = (K + 31) / 32;   /* blocks of 32 along K; the last may be partial (zero-padded) */
        if (st3 && g_fmt == QF_MXFP4 && K % 32) {
            qerr("tensor %s: stacked experts in gpt-oss's MXFP4 layout need a multiple of 32 inputs (this one has %s); keep them with --keep",
                 t->name, (snprintf(err, sizeof err, "%lld", (long long)K), err));
            goto fail1;
        }
        if (nb * 32 > maxk) maxk = nb * 32;
        n_quant++;
        o->kind = 1;
        QOut *s = &q[nq++];
        *s = *o;
        s->kind = 2;
        /* the codes: [N, …] or [E, N, …]; d = the index of N */
        int d = st3;
        o->ndim = s->ndim = 2 + st3;
        o->shape[0] = s->shape[0] = E;
        o->shape[d] = s->shape[d] = N;
        o->shape[d + 1] = s->shape[d + 1] = K;
        uint64_t rows = (uint64_t)E * (uint64_t)N;
        switch (g_fmt) {
        case QF_INT8:
            o->dtype = ST_I8; o->nbytes = rows * (uint64_t)K;
            snprintf(s->name, sizeof s->name, "%s_scale", t->name);
            s->dtype = g_scale_f16 ? ST_F16 : ST_F32; s->shape[d + 1] = nb; s->nbytes = rows * nb * (g_scale_f16 ? 2 : 4);
            break;
        case QF_INT4:
            o->dtype = ST_U8; o->shape[d + 1] = nb * 16; o->nbytes = rows * nb * 16;
            snprintf(s->name, sizeof s->name, "%s_scale", t->name);
            s->dtype = g_scale_f16 ? ST_F16 : ST_F32; s->shape[d + 1] = nb; s->nbytes = rows * nb * (g_scale_f16 ? 2 : 4);
            break;
        case QF_FP8:
            o->dtype = ST_F8_E4M3; o->nbytes = rows * (uint64_t)K;
            snprintf(s->name, sizeof s->name, "%s_scale_inv", t->name);
            s->dtype = ST_F32; s->shape[d] = (N + 127) / 128; s->shape[d + 1] = (K + 127) / 128;
            s->nbytes = (uint64_t)E * s->shape[d] * s->shape[d + 1] * 4;
            break;
        default:
            snprintf(o->name, sizeof o->name, "%s_blocks", t->name);
            o->dtype = ST_U8; o->ndim = 3 + st3; o->shape[d + 1] = nb; o->shape[d + 2] = 16; o->nbytes = rows * nb * 16;
            snprintf(s->name, sizeof s->name, "%s_scales", t->name);
            s->dtype = ST_U8; s->shape[d + 1] = nb; s->nbytes = rows * nb;
            break;
        }
    }
    if (!n_quant) { qerr("%s: no tensor to quantise (no 2-D float .weight matrices of the decoder)%s", in, ""); goto fail1; }
    /* a name collision (an input that already has X.weight_scale, …) */
    for (int i = 0; i < nq; i++)
        for (int j = i + 1; j < nq; j++)
            if (q[i].kind != q[j].kind && !strcmp(q[i].name, q[j].name)) { qerr("tensor %s: the checkpoint already has this name%s", q[i].name, ""); goto fail1; }

    /* shards: in input order, a new one when the current one would exceed shard_bytes */
    int n_shards = 1;
    uint64_t off = 0, total = 0;
    for (int i = 0; i < nq; i++) {
        if (off > 0 && off + q[i].nbytes > shard_bytes) { n_shards++; off = 0; }
        q[i].shard = n_shards - 1;
        q[i].offset = off;
        off += q[i].nbytes;
        total += q[i].nbytes;
    }

    /* the temporary directory next to OUT_DIR */
    {
        char parent[4096];
        if (strlen(outd) >= sizeof parent) { qerr("-o: the path is longer than %s bytes%s", "4095", ""); goto fail1; }
        snprintf(parent, sizeof parent, "%s", outd);
        while (strlen(parent) > 1 && parent[strlen(parent) - 1] == '/') parent[strlen(parent) - 1] = 0;
        char *sl = strrchr(parent, '/');
        const char *base = sl ? sl + 1 : parent;
        if (!*base || !strcmp(base, ".") || !strcmp(base, "..")) { qerr("-o %s: name a new directory%s", outd, ""); goto fail1; }
        int len;
        if (sl) { *sl = 0; len = snprintf(g_tmpdir, sizeof g_tmpdir, "%s/.%s.XXXXXX", sl == parent ? "" : parent, base); }
        else len = snprintf(g_tmpdir, sizeof g_tmpdir, ".%s.XXXXXX", base);
        if (len < 0 || (size_t)len >= sizeof g_tmpdir) { g_tmpdir[0] = 0; qerr("-o %s: the path is too long%s", outd, ""); goto fail1; }
        if (!mkdtemp(g_tmpdir)) { g_tmpdir[0] = 0; qerr("%s: cannot create a directory next to it: %s", outd, strerror(errno)); goto fail1; }
        mode_t um = umask(0);
        umask(um);
        chmod(g_tmpdir, 0777 & ~um);
        if (stat(outd, &st) == 0 && !S_ISDIR(st.st_mode)) { qerr("%s: exists and is not a directory%s", outd, ""); goto fail1; }
    }

    /* the data */
    {
        uint64_t maxb = 0;
        for (int i = 0; i < nq; i++) if (q[i].nbytes > maxb) maxb = q[i].nbytes;
        uint8_t *buf = malloc(maxb ? maxb : 1);
        float *row = malloc(sizeof(float) * (size_t)maxk);
        if (!buf || !row) { free(buf); free(row); qerr("out of memory (%s bytes for one tensor)%s", (snprintf(err, sizeof err, "%llu", (unsigned long long)maxb), err), ""); goto fail1; }
        uint64_t done = 0;
        for (int s = 0; s < n_shards; s++) {
            char fn[64];
            if (n_shards == 1) snprintf(fn, sizeof fn, "model.safetensors");
            else snprintf(fn, sizeof fn, "model-%05d-of-%05d.safetensors", s + 1, n_shards);
            snprintf(path, sizeof path, "%s/%s", g_tmpdir, fn);
            FILE *f = fopen(path, "wb");
            size_t hl;
            char *h = shard_header(q, nq, s, &hl);
            int ok = f && h;
            if (ok) {
                uint64_t len = hl;
                uint8_t le[8];
                for (int b = 0; b < 8; b++) le[b] = (uint8_t)(len >> (8 * b));
                ok = fwrite(le, 1, 8, f) == 8 && fwrite(h, 1, hl, f) == hl;
            }
            free(h);
            for (int i = 0; ok && i < nq; i++) {
                if (q[i].shard != s) continue;
                progress(i + 1, nq, q[i].name, done, total);
                int rc = produce(&q[i], st_tensor(ck, q[i].src), keep_dt, buf, row);
                if (rc != 0) {
                    if (f) fclose(f);
                    free(buf);
                    free(row);
                    if (rc == -2)
                        qerr("tensor %s: a block scale exceeds the largest f16 (65504): quantise with --scale-dtype f32, or keep it with --keep%s",
                             st_tensor(ck, q[i].src)->name, "");
                    else
                        qerr("tensor %s: holds a NaN or an infinity; it cannot be quantised (keep it with --keep)%s", st_tensor(ck, q[i].src)->name, "");
                    goto fail1;
                }
                ok = fwrite(buf, 1, q[i].nbytes, f) == q[i].nbytes;
                done += q[i].nbytes;
                if (q[i].kind != 1 && (q[i].src != untie || q[i].kind == 2)) release(st_tensor(ck, q[i].src));   /* read for the last time */
            }
            if (f && fclose(f) != 0) ok = 0;
            if (!ok) { free(buf); free(row); qerr("%s: writing failed: %s", path, strerror(errno)); goto fail1; }
        }
        progress(nq, nq, "done", total, total);
        free(buf);
        free(row);
    }
    if (n_shards > 1) {
        snprintf(path, sizeof path, "%s/model.safetensors.index.json", g_tmpdir);
        FILE *f = fopen(path, "w");
        if (!f) { qerr("%s: cannot write: %s", path, strerror(errno)); goto fail1; }
        fprintf(f, "{\n  \"metadata\": {\"total_size\": %llu},\n  \"weight_map\": {", (unsigned long long)total);
        for (int i = 0; i < nq; i++) {
            fprintf(f, "%s\n    ", i ? "," : "");
            jstr(f, q[i].name, strlen(q[i].name));
            fprintf(f, ": \"model-%05d-of-%05d.safetensors\"", q[i].shard + 1, n_shards);
        }
        fprintf(f, "\n  }\n}\n");
        if (fclose(f) != 0) { qerr("%s: writing failed%s", path, ""); goto fail1; }
    }
    /* config.json: the input's, torch_dtype = the kept matrices' format, + quantization_config */
    {
        snprintf(path, sizeof path, "%s/config.json", g_tmpdir);
        FILE *f = fopen(path, "w");
        if (!f) { qerr("%s: cannot write: %s", path, strerror(errno)); goto fail1; }
        const char *td = keep_dt == ST_F32 ? "float32" : keep_dt == ST_BF16 ? "bfloat16" : "float16";
        fputs("{", f);
        int first = 1;
        for (size_t i = 0; i < cfg->count; i++) {
            if (!strcmp(cfg->keys[i], "torch_dtype") || !strcmp(cfg->keys[i], "dtype")) continue;
            if (untie >= 0 && !strcmp(cfg->keys[i], "tie_word_embeddings")) continue;
            fprintf(f, "%s\n  ", first ? "" : ",");
            first = 0;
            jstr(f, cfg->keys[i], cfg->key_lens[i]);
            fputs(": ", f);
            jval(f, cfg->items[i], 2);
        }
        fprintf(f, "%s\n  \"torch_dtype\": \"%s\",\n", first ? "" : ",", td);
        if (untie >= 0) fprintf(f, "  \"tie_word_embeddings\": false,\n");
        fprintf(f, "  \"quantization_config\": {\n");
        if (g_fmt == QF_FP8)
            fprintf(f, "    \"quant_method\": \"fp8\",\n    \"fmt\": \"e4m3\",\n    \"activation_scheme\": \"dynamic\",\n"
                       "    \"weight_block_size\": [128, 128]");
        else if (g_fmt == QF_MXFP4)
            fprintf(f, "    \"quant_method\": \"mxfp4\",\n    \"format\": \"mxfp4\",\n    \"group_size\": 32,\n    \"archc_dense\": true");
        else
            fprintf(f, "    \"quant_method\": \"archc\",\n    \"format\": \"%s\",\n    \"group_size\": 32,\n    \"symmetric\": true,\n"
                       "    \"scale_dtype\": \"%s\"", qf_names[g_fmt], g_scale_f16 ? "float16" : "float32");
        fprintf(f, ",\n    \"quantized_embeddings\": %s", quant_embed ? "true" : "false");
        if (untie >= 0) fprintf(f, ",\n    \"untied_lm_head\": true");
        fprintf(f, ",\n    \"modules_to_not_convert\": [");
        for (int i = 0; i < n_keep; i++) { fputs(i ? ", " : "", f); jstr(f, keep[i], strlen(keep[i])); }
        fprintf(f, "]\n  }\n}\n");
        if (fclose(f) != 0) { qerr("%s: writing failed%s", path, ""); goto fail1; }
    }
    {
        static const char *const files[] = {"tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.json",
                                            "merges.txt", "tokenizer.model", "qwen.tiktoken", "generation_config.json",
                                            "chat_template.jinja", "chat_template.json", "added_tokens.json", NULL};
        for (int i = 0; files[i]; i++) {
            char src[4400];
            snprintf(src, sizeof src, "%s/%s", in, files[i]);
            snprintf(path, sizeof path, "%s/%s", g_tmpdir, files[i]);
            if (copy_file(src, path)) goto fail1;
        }
    }
    if (rename(g_tmpdir, outd) != 0) {
        qerr("%s: cannot create it (%s; an existing directory must be empty)", outd, strerror(errno));
        goto fail1;
    }
    g_tmpdir[0] = 0;
    fprintf(stderr, "archc quantize: %s: %d tensors quantised to %s, %d kept%s; %.1f MB\n", outd, n_quant, qf_names[g_fmt],
            nt + (untie >= 0) - n_quant, untie >= 0 ? " (tied embeddings: lm_head.weight quantised from the embedding)" : "",
            (double)total / 1e6);
    free(q);
    st_close(ck);
    json_free(cfg);
    return 0;
fail1:
    free(q);
fail0:
    rm_tmpdir();
    st_close(ck);
    json_free(cfg);
    return 1;
}

/*
 * tests/fuzz/test_seed_errors.c — the malformed seeds of the runtime fuzz
 * corpora (tests/fuzz/corpus/{json,safetensors,tokenizer,tiktoken}/seed_bad_*)
 * must each be rejected by the loader that reads that kind of file, with one
 * line that starts with the file's path and names the place (line:col, tensor,
 * token, id), and the fixes for issue 13 that are not about loading: the
 * sampler's nucleus is never empty and never yields a NaN token, and a
 * misaligned tensor is handed out aligned with the right contents.
 *
 *   test_seed_errors CORPUS_DIR SAFETENSORS_SEED
 */
#include <dirent.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "fileio.h"
#include "json.h"
#include "safetensors.h"
#include "sampler.h"
#include "tokenizer.h"

static int pass, fail;
#define CHECK(cond, ...) do { if (cond) pass++; else { fail++; printf("FAIL: "); printf(__VA_ARGS__); printf("\n"); } } while (0)

/* what the message must also say, for the cases the issue names */
static const struct { const char *file, *want; } expect[] = {
    {"seed_bad_1e400.json", "line 1, column 11: number out of range"},
    {"seed_bad_deep.json", "nesting deeper than 512 levels"},
    {"seed_bad_surrogate.json", "unpaired surrogate"},
    {"seed_bad_utf8.json", "line 1, column 3: invalid UTF-8"},
    {"seed_bad_begin_gt_end.safetensors", "tensor 'a': data_offsets [8, 4] out of range"},
    {"seed_bad_bytes_overflow.safetensors", "tensor 'a': 0 bytes of data for 4611686018427387904 elements"},
    {"seed_bad_shape_overflow.safetensors", "tensor 'a': shape has more than 2^64 elements"},
    {"seed_bad_duplicate_name.safetensors", "tensor 'a' appears twice"},
    {"seed_bad_header_max.safetensors", "header says 18446744073709551615 bytes"},
    {"seed_bad_offset_nan.safetensors", "tensor 'a': data_offsets must be two integers"},
    {"seed_bad_index_traversal.json", "tensor 'a' contains '..'"},
    {"seed_bad_index_absolute.json", "tensor 'a' is an absolute path"},
    {"seed_bad_bos_negative.json", "special token '<|begin_of_text|>' has id -1"},
    {"seed_bad_bos_out_of_vocab.json", "has id 1000000, outside the vocabulary"},
    {"seed_bad_added_id_2p31.json", "added token '<big>' has id 2147483647"},
    {"seed_bad_added_id_1p5e9.json", "added token '<big>' has id 1500000000"},
    {"seed_bad_merge_unknown.json", "'qqq' is not in the vocabulary"},
    {"seed_bad_vocab_duplicate_id.json", "both have id 7"},
    {"seed_bad_duplicate_token.json", "token 'a' appears twice"},
    {"seed_bad_base64.tiktoken", ":257: bad base64"},
    {"seed_bad_rank_duplicate.tiktoken", ":257: rank 255, expected 256"},
    {"seed_bad_rank_huge.tiktoken", ":257: rank too large"},
    {"seed_bad_duplicate_bytes.tiktoken", "rank 256 has the same bytes as rank 65"},
};

static int load(const char *kind, const char *path, char *err, size_t errlen) {
    if (!strcmp(kind, "json")) { JsonValue *v = json_parse_file(path, err, errlen); json_free(v); return v != NULL; }
    if (!strcmp(kind, "safetensors") && strstr(path, ".json")) {
        size_t n;
        char *text = rt_read_file(path, 1 << 20, &n, err, errlen), **s, **f;
        int ns, ok = text && st_index_shards(text, n, path, &s, &f, &ns, err, errlen) == 0;
        free(text);
        for (int i = 0; ok && i < ns; i++) { free(s[i]); free(f[i]); }
        if (ok) { free(s); free(f); }
        return ok;
    }
    if (!strcmp(kind, "safetensors")) { StCheckpoint *c = st_open(path, err, errlen); st_close(c); return c != NULL; }
    Tokenizer *t = tok_load(path, err, errlen);
    tok_free(t);
    return t != NULL;
}

static void seeds(const char *corpus, const char *kind) {
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/%s", corpus, kind);
    DIR *d = opendir(dir);
    CHECK(d != NULL, "%s: cannot open", dir);
    if (!d) return;
    for (struct dirent *e; (e = readdir(d));) {
        if (strncmp(e->d_name, "seed_bad_", 9)) continue;
        char path[8192], err[1024] = "";
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        int ok = load(kind, path, err, sizeof err);
        CHECK(!ok, "%s: accepted", path);
        if (ok) continue;
        CHECK(!strncmp(err, path, strlen(path)) && !strchr(err, '\n'), "%s: message does not start with the path or is not one line: %s", path, err);
        for (size_t i = 0; i < sizeof expect / sizeof *expect; i++)
            if (!strcmp(expect[i].file, e->d_name)) CHECK(strstr(err, expect[i].want) != NULL, "%s: message lacks '%s': %s", path, expect[i].want, err);
    }
    closedir(d);
}

static void sampler_cases(void) {
    /* a flat distribution and top-p below 1/n: before the fix no token passed
     * the cut and idx[-1] was returned */
    Sampler s;
    float lg[8];
    for (int seed = 0; seed < 200; seed++) {
        sampler_init(&s, 8, 1.0f, 0.05f, (uint64_t)seed);
        for (int i = 0; i < 8; i++) lg[i] = 0.0f;
        int t = sampler_sample(&s, lg);
        CHECK(t == 0, "flat logits, top-p 0.05, seed %d: token %d (expected the first of the tied top tokens)", seed, t);
        sampler_free(&s);
        /* NaN logits are never drawn, whatever the seed */
        sampler_init(&s, 8, 2.0f, 1.0f, (uint64_t)seed);
        for (int i = 0; i < 8; i++) lg[i] = i % 2 ? NAN : (float)i;
        t = sampler_sample(&s, lg);
        CHECK(t >= 0 && t < 8 && t % 2 == 0, "NaN logits, seed %d: token %d", seed, t);
        sampler_free(&s);
        /* top-p 0 keeps only the most likely token */
        sampler_init(&s, 8, 1.0f, 0.0f, (uint64_t)seed);
        for (int i = 0; i < 8; i++) lg[i] = (float)(i == 5);
        t = sampler_sample(&s, lg);
        CHECK(t == 5, "top-p 0, seed %d: token %d", seed, t);
        sampler_free(&s);
    }
    sampler_init(&s, 1, 1.0f, 0.5f, 1);   /* one-token vocabulary: (n - 1) was a division by zero */
    lg[0] = 3.0f;
    CHECK(sampler_sample(&s, lg) == 0, "vocab 1");
    sampler_free(&s);
}

static void misaligned(const char *path) {
    char err[1024];
    StCheckpoint *ck = st_open(path, err, sizeof err);
    CHECK(ck != NULL, "%s: %s", path, err);
    if (!ck) return;
    const void *f = NULL, *g = NULL, *w = NULL;
    StExpect want[3] = {
        {.name = "f", .dtype = ST_F32, .ndim = 1, .shape = {2}, .slot = &f},
        {.name = "g", .dtype = ST_BF16, .ndim = 1, .shape = {1}, .slot = &g},
        {.name = "f", .dtype = ST_F32, .ndim = 1, .shape = {2}, .flags = ST_WIDEN_TO_F32, .slot = &w},
    };
    CHECK(st_bind(ck, want, 3, err, sizeof err) == 0, "%s: bind: %s", path, err);
    const StTensor *tf = st_find(ck, "f");
    CHECK(f && (uintptr_t)f % 4 == 0 && w && (uintptr_t)w % 4 == 0 && g && (uintptr_t)g % 2 == 0, "misaligned tensors handed out misaligned");
    CHECK(f && tf && !memcmp(f, tf->data, 8) && !memcmp(w, tf->data, 8), "misaligned tensor copied wrongly");
    st_close(ck);
}

int main(int argc, char **argv) {
    if (argc != 3) { fprintf(stderr, "usage: test_seed_errors CORPUS_DIR MISALIGNED.safetensors\n"); return 2; }
    const char *kinds[] = {"json", "safetensors", "tokenizer", "tiktoken"};
    for (int k = 0; k < 4; k++) seeds(argv[1], kinds[k]);
    sampler_cases();
    misaligned(argv[2]);
    printf("%d passed, %d failed\n", pass, fail);
    return fail ? 1 : 0;
}

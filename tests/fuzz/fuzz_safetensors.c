/*
 * tests/fuzz/fuzz_safetensors.c — libFuzzer harness for the checkpoint loader:
 * the input is parsed both as a .safetensors file (st_open_memory: header
 * length, JSON header, dtypes, shapes, offsets, overlaps, duplicate names) and
 * as model.safetensors.index.json text (st_index_shards: weight_map and shard
 * names).  Every tensor of a file that loads is then bound with its own dtype
 * and shape (1-D floats widened to f32) and its first and last elements read
 * through a pointer of the element type, so a misaligned tensor handed out
 * without a copy is a UBSan report.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "safetensors.h"

static double first_last(const void *p, StDtype t, size_t nbytes) {
    size_t sz = st_dtype_size(t);
    if (!p || !nbytes || !sz) return 0;
    size_t n = nbytes / sz;
    switch (sz) {
    case 8: return (double)((const uint64_t *)p)[0] + (double)((const uint64_t *)p)[n - 1];
    case 4: return (double)((const uint32_t *)p)[0] + (double)((const uint32_t *)p)[n - 1];
    case 2: return (double)((const uint16_t *)p)[0] + (double)((const uint16_t *)p)[n - 1];
    default: return (double)((const uint8_t *)p)[0] + (double)((const uint8_t *)p)[n - 1];
    }
}

/* empty, absolute, or with a ".." component */
static int escapes(const char *s) {
    if (!s[0] || s[0] == '/') return 1;
    for (const char *c = s;;) {
        const char *e = strchr(c, '/');
        size_t l = e ? (size_t)(e - c) : strlen(c);
        if (l == 2 && c[0] == '.' && c[1] == '.') return 1;
        if (!e) return 0;
        c = e + 1;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char err[1024];
    StCheckpoint *ck = st_open_memory(data, size, "fuzz.safetensors", err, sizeof err);
    if (ck) {
        int n = st_count(ck);
        StExpect *want = calloc((size_t)n + 1, sizeof *want);
        const void **slots = calloc((size_t)n + 1, sizeof *slots);
        for (int i = 0; i < n; i++) {
            const StTensor *t = st_tensor(ck, i);
            want[i].name = t->name;
            want[i].dtype = t->dtype;
            want[i].ndim = t->ndim;
            memcpy(want[i].shape, t->shape, sizeof t->shape);
            int fl = t->dtype == ST_F32 || t->dtype == ST_BF16 || t->dtype == ST_F16;
            want[i].flags = fl && t->ndim == 1 && (i & 1) ? ST_WIDEN_TO_F32 : 0;
            want[i].slot = &slots[i];
            if (st_find(ck, t->name) != t) __builtin_trap();   /* names are unique */
        }
        if (st_bind(ck, want, n, err, sizeof err) == 0) {
            volatile double acc = 0;
            for (int i = 0; i < n; i++) {
                const StTensor *t = st_tensor(ck, i);
                if (want[i].flags & ST_WIDEN_TO_F32) acc += first_last(slots[i], ST_F32, t->nbytes / st_dtype_size(t->dtype) * 4);
                else acc += first_last(slots[i], t->dtype, t->nbytes);
            }
            (void)acc;
        }
        free(want);
        free(slots);
        st_close(ck);
    }
    char **shards = NULL, **first = NULL;
    int ns = 0;
    if (st_index_shards((const char *)data, size, "fuzz/model.safetensors.index.json", &shards, &first, &ns, err, sizeof err) == 0) {
        for (int i = 0; i < ns; i++) {
            if (escapes(shards[i])) __builtin_trap();   /* st_index_shards let a path out of the directory */
            free(shards[i]);
            free(first[i]);
        }
        free(shards);
        free(first);
    }
    return 0;
}

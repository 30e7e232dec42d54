/*
 * runtime/safetensors.c — safetensors checkpoints: open (mmap), validate, bind
 * tensors to the slots a generated model expects, and write.
 *
 * File layout: u64 little-endian header length N, N bytes of JSON header
 * {"name": {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": …},
 * then the data buffer; offsets are relative to the buffer.  A directory holds
 * model.safetensors, or model.safetensors.index.json whose weight_map sends
 * each tensor name to a shard.  Every check names the file and the tensor.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include "json.h"
#include "safetensors.h"

static const struct { const char *name; size_t size; } dtype_info[ST_DTYPE_COUNT] = {
    [ST_F32] = {"F32", 4}, [ST_F16] = {"F16", 2}, [ST_BF16] = {"BF16", 2}, [ST_F64] = {"F64", 8},
    [ST_I64] = {"I64", 8}, [ST_I32] = {"I32", 4}, [ST_I16] = {"I16", 2}, [ST_I8] = {"I8", 1},
    [ST_U64] = {"U64", 8}, [ST_U32] = {"U32", 4}, [ST_U16] = {"U16", 2}, [ST_U8] = {"U8", 1},
    [ST_BOOL] = {"BOOL", 1}, [ST_F8_E4M3] = {"F8_E4M3", 1}, [ST_F8_E5M2] = {"F8_E5M2", 1}, [ST_F8_E8M0] = {"F8_E8M0", 1},
};

const char *st_dtype_name(StDtype t) { return t >= 0 && t < ST_DTYPE_COUNT ? dtype_info[t].name : "?"; }
size_t st_dtype_size(StDtype t) { return t >= 0 && t < ST_DTYPE_COUNT ? dtype_info[t].size : 0; }

static int dtype_from_name(const char *s) {
    for (int i = 0; i < ST_DTYPE_COUNT; i++) if (!strcmp(dtype_info[i].name, s)) return i;
    return -1;
}

typedef struct StFile { char *path; void *map; size_t size; } StFile;

struct StCheckpoint {
    char *path;
    StFile *files; int n_files;
    StTensor *tensors; int n_tensors;
    char **names;               /* owned copies of tensor names */
    void **owned;               /* widened copies handed out by st_bind */
    int n_owned, cap_owned;
    int *index;                 /* open-addressing hash: name → tensor + 1 (DeepSeek has ~90k tensors) */
    size_t index_cap;
};

static uint64_t name_hash(const char *s) {
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++) { h ^= (unsigned char)*s; h *= 1099511628211ULL; }
    return h;
}

static void build_index(StCheckpoint *ck) {
    free(ck->index);
    ck->index_cap = 16;
    while (ck->index_cap < (size_t)ck->n_tensors * 2) ck->index_cap *= 2;
    ck->index = calloc(ck->index_cap, sizeof(int));
    for (int i = 0; i < ck->n_tensors; i++) {
        size_t b = name_hash(ck->tensors[i].name) & (ck->index_cap - 1);
        while (ck->index[b]) b = (b + 1) & (ck->index_cap - 1);
        ck->index[b] = i + 1;
    }
}

float st_bf16_to_f32(uint16_t h) {
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

uint16_t st_f32_to_bf16(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40); /* quiet NaN */
    u += 0x7fffu + ((u >> 16) & 1);
    return (uint16_t)(u >> 16);
}

float st_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h >> 15) << 31, exp = (h >> 10) & 31, man = h & 1023, u;
    if (exp == 0) {
        if (man == 0) u = sign;
        else {
            int e = -1;
            do { e++; man <<= 1; } while (!(man & 1024));
            u = sign | (uint32_t)(127 - 15 - e) << 23 | (man & 1023) << 13;
        }
    } else if (exp == 31) u = sign | 0x7f800000u | man << 13;
    else u = sign | (exp + 127 - 15) << 23 | man << 13;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

uint16_t st_f32_to_f16(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    uint32_t sign = (u >> 16) & 0x8000, exp = (u >> 23) & 0xff, man = u & 0x7fffff;
    if (exp == 0xff) return (uint16_t)(sign | 0x7c00 | (man ? 0x200 : 0));
    int e = (int)exp - 127 + 15;
    if (e >= 31) return (uint16_t)(sign | 0x7c00);
    if (e <= 0) {
        if (e < -10) return (uint16_t)sign;
        man |= 0x800000;
        int shift = 14 - e;
        uint32_t h = man >> shift, rem = man & ((1u << shift) - 1), half = 1u << (shift - 1);
        if (rem > half || (rem == half && (h & 1))) h++;
        return (uint16_t)(sign | h);
    }
    uint32_t h = (uint32_t)e << 10 | man >> 13, rem = man & 0x1fff;
    if (rem > 0x1000 || (rem == 0x1000 && (h & 1))) h++;
    return (uint16_t)(sign | h);
}

static int is_dir(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static int file_exists(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

/* mmap one file and add its tensors. */
static int add_file(StCheckpoint *ck, const char *path, char *err, size_t errlen) {
    int fd = open(path, O_RDONLY);
    if (fd < 0) { snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno)); return -1; }
    struct stat st;
    if (fstat(fd, &st) != 0) { close(fd); snprintf(err, errlen, "%s: cannot stat", path); return -1; }
    size_t size = (size_t)st.st_size;
    if (size < 8) { close(fd); snprintf(err, errlen, "%s: file truncated (%zu bytes, no header)", path, size); return -1; }
    void *map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED) { snprintf(err, errlen, "%s: cannot mmap: %s", path, strerror(errno)); return -1; }
    ck->files = realloc(ck->files, sizeof(StFile) * (size_t)(ck->n_files + 1));
    StFile *f = &ck->files[ck->n_files++];
    f->path = strdup(path);
    f->map = map;
    f->size = size;

    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = hlen << 8 | ((const unsigned char *)map)[i];
    if (hlen > size - 8) {
        snprintf(err, errlen, "%s: file truncated: header says %llu bytes, file has %zu", path, (unsigned long long)hlen, size - 8);
        return -1;
    }
    char jerr[300];
    JsonValue *h = json_parse((const char *)map + 8, (size_t)hlen, jerr, sizeof jerr);
    if (!h) { snprintf(err, errlen, "%s: bad header JSON: %s", path, jerr); return -1; }
    if (h->type != JSON_OBJECT) { json_free(h); snprintf(err, errlen, "%s: header is not a JSON object", path); return -1; }
    const char *data = (const char *)map + 8 + hlen;
    size_t data_size = size - 8 - (size_t)hlen;
    int rc = 0;
    int first = ck->n_tensors;
    ck->tensors = realloc(ck->tensors, sizeof(StTensor) * (size_t)(ck->n_tensors + (int)h->count));
    ck->names = realloc(ck->names, sizeof(char *) * (size_t)(ck->n_tensors + (int)h->count));
    for (size_t i = 0; i < h->count && rc == 0; i++) {
        const char *name = h->keys[i];
        const JsonValue *t = h->items[i];
        if (!strcmp(name, "__metadata__")) continue;
        const char *dt = json_get_string(t, "dtype", NULL);
        const JsonValue *shape = json_get(t, "shape"), *off = json_get(t, "data_offsets");
        if (!dt || !shape || shape->type != JSON_ARRAY || !off || off->type != JSON_ARRAY || off->count != 2) {
            snprintf(err, errlen, "%s: tensor '%s': header entry needs dtype, shape and data_offsets", path, name);
            rc = -1;
            break;
        }
        int d = dtype_from_name(dt);
        if (d < 0) { snprintf(err, errlen, "%s: tensor '%s': unknown dtype '%s'", path, name, dt); rc = -1; break; }
        if (shape->count > ST_MAX_DIMS) { snprintf(err, errlen, "%s: tensor '%s': too many dimensions", path, name); rc = -1; break; }
        StTensor *tt = &ck->tensors[ck->n_tensors];
        memset(tt, 0, sizeof *tt);
        tt->dtype = (StDtype)d;
        tt->ndim = (int)shape->count;
        uint64_t numel = 1;
        for (size_t k = 0; k < shape->count; k++) {
            if (shape->items[k]->type != JSON_NUMBER || shape->items[k]->number < 0) {
                snprintf(err, errlen, "%s: tensor '%s': bad shape", path, name);
                rc = -1;
                break;
            }
            tt->shape[k] = (int64_t)shape->items[k]->number;
            numel *= (uint64_t)tt->shape[k];
        }
        if (rc) break;
        double b = off->items[0]->number, e = off->items[1]->number;
        if (off->items[0]->type != JSON_NUMBER || off->items[1]->type != JSON_NUMBER || b < 0 || e < b || e > (double)data_size) {
            snprintf(err, errlen, "%s: tensor '%s': data_offsets [%.0f, %.0f] out of range (data buffer is %zu bytes%s)", path, name, b, e,
                     data_size, e > (double)data_size ? ": file truncated?" : "");
            rc = -1;
            break;
        }
        if ((uint64_t)(e - b) != numel * st_dtype_size(tt->dtype)) {
            snprintf(err, errlen, "%s: tensor '%s': %.0f bytes of data for %llu elements of %s", path, name, e - b,
                     (unsigned long long)numel, dt);
            rc = -1;
            break;
        }
        tt->data = data + (size_t)b;
        tt->nbytes = (size_t)(e - b);
        ck->names[ck->n_tensors] = strdup(name);
        tt->name = ck->names[ck->n_tensors];
        ck->n_tensors++;
    }
    /* overlapping ranges inside this file */
    for (int i = first; i < ck->n_tensors && rc == 0; i++)
        for (int j = i + 1; j < ck->n_tensors; j++) {
            const char *a0 = ck->tensors[i].data, *a1 = a0 + ck->tensors[i].nbytes;
            const char *b0 = ck->tensors[j].data, *b1 = b0 + ck->tensors[j].nbytes;
            if (a0 < b1 && b0 < a1 && ck->tensors[i].nbytes && ck->tensors[j].nbytes) {
                snprintf(err, errlen, "%s: tensors '%s' and '%s' overlap", path, ck->tensors[i].name, ck->tensors[j].name);
                rc = -1;
                break;
            }
            if (ck->n_tensors - first > 4096) break; /* quadratic check only for small files */
        }
    json_free(h);
    return rc;
}

StCheckpoint *st_open(const char *path, char *err, size_t errlen) {
    StCheckpoint *ck = calloc(1, sizeof *ck);
    ck->path = strdup(path);
    int rc;
    if (is_dir(path)) {
        char p[4096];
        snprintf(p, sizeof p, "%s/model.safetensors.index.json", path);
        if (file_exists(p)) {
            char jerr[400];
            JsonValue *idx = json_parse_file(p, jerr, sizeof jerr);
            const JsonValue *map = idx ? json_get(idx, "weight_map") : NULL;
            if (!map || map->type != JSON_OBJECT) {
                snprintf(err, errlen, "%s", idx ? "model.safetensors.index.json: no weight_map object" : jerr);
                json_free(idx);
                st_close(ck);
                return NULL;
            }
            rc = 0;
            /* each distinct shard once */
            for (size_t i = 0; i < map->count && rc == 0; i++) {
                const JsonValue *v = map->items[i];
                if (v->type != JSON_STRING) continue;
                int seen = 0;
                for (size_t j = 0; j < i && !seen; j++) seen = map->items[j]->type == JSON_STRING && !strcmp(map->items[j]->string, v->string);
                if (seen) continue;
                char sp[4096];
                snprintf(sp, sizeof sp, "%s/%s", path, v->string);
                if (!file_exists(sp)) {
                    snprintf(err, errlen, "%s: shard %s (holding tensor '%s') is missing", p, v->string, map->keys[i]);
                    rc = -1;
                } else rc = add_file(ck, sp, err, errlen);
            }
            json_free(idx);
        } else {
            snprintf(p, sizeof p, "%s/model.safetensors", path);
            if (!file_exists(p)) {
                snprintf(err, errlen, "%s: no model.safetensors or model.safetensors.index.json in this directory", path);
                rc = -1;
            } else rc = add_file(ck, p, err, errlen);
        }
    } else if (file_exists(path)) {
        rc = add_file(ck, path, err, errlen);
    } else {
        snprintf(err, errlen, "%s: no such file or directory", path);
        rc = -1;
    }
    if (rc != 0) { st_close(ck); return NULL; }
    build_index(ck);
    return ck;
}

const StTensor *st_find(const StCheckpoint *ck, const char *name) {
    if (!ck->index) return NULL;
    size_t b = name_hash(name) & (ck->index_cap - 1);
    while (ck->index[b]) {
        const StTensor *t = &ck->tensors[ck->index[b] - 1];
        if (!strcmp(t->name, name)) return t;
        b = (b + 1) & (ck->index_cap - 1);
    }
    return NULL;
}

int st_count(const StCheckpoint *ck) { return ck->n_tensors; }
const StTensor *st_tensor(const StCheckpoint *ck, int i) { return i >= 0 && i < ck->n_tensors ? &ck->tensors[i] : NULL; }

static void shape_str(char *buf, size_t cap, int ndim, const int64_t *shape) {
    size_t n = (size_t)snprintf(buf, cap, "[");
    for (int i = 0; i < ndim && n < cap; i++) n += (size_t)snprintf(buf + n, cap - n, "%s%lld", i ? ", " : "", (long long)shape[i]);
    if (n < cap) snprintf(buf + n, cap - n, "]");
}

int st_bind(StCheckpoint *ck, const StExpect *want, int n, char *err, size_t errlen) {
    for (int i = 0; i < n; i++) {
        const StExpect *w = &want[i];
        const StTensor *t = st_find(ck, w->name);
        if (!t) {
            if (w->flags & ST_OPTIONAL) { *w->slot = NULL; continue; }
            snprintf(err, errlen, "tensor %s: missing from checkpoint %s", w->name, ck->path);
            return -1;
        }
        int same_shape = t->ndim == w->ndim;
        for (int d = 0; same_shape && d < w->ndim; d++) same_shape = t->shape[d] == w->shape[d];
        if (!same_shape) {
            char a[128], b[128];
            shape_str(a, sizeof a, w->ndim, w->shape);
            shape_str(b, sizeof b, t->ndim, t->shape);
            snprintf(err, errlen, "tensor %s: expected shape %s, checkpoint has %s", w->name, a, b);
            return -1;
        }
        if (w->flags & ST_WIDEN_TO_F32) {
            if (t->dtype == ST_F32) { *w->slot = t->data; continue; }
            if (t->dtype != ST_BF16 && t->dtype != ST_F16) {
                snprintf(err, errlen, "tensor %s: expected a float dtype (F32, BF16 or F16), checkpoint has %s", w->name, st_dtype_name(t->dtype));
                return -1;
            }
            size_t numel = t->nbytes / 2;
            float *buf = malloc(numel * sizeof(float) + 1);
            if (!buf) { snprintf(err, errlen, "tensor %s: out of memory", w->name); return -1; }
            const uint16_t *src = t->data;
            for (size_t k = 0; k < numel; k++) {
                uint16_t h;
                memcpy(&h, src + k, 2);
                buf[k] = t->dtype == ST_BF16 ? st_bf16_to_f32(h) : st_f16_to_f32(h);
            }
            if (ck->n_owned == ck->cap_owned) {
                ck->cap_owned = ck->cap_owned ? ck->cap_owned * 2 : 64;
                ck->owned = realloc(ck->owned, sizeof(void *) * (size_t)ck->cap_owned);
            }
            ck->owned[ck->n_owned++] = buf;
            *w->slot = buf;
            continue;
        }
        if (t->dtype != w->dtype) {
            snprintf(err, errlen, "tensor %s: expected dtype %s, checkpoint has %s", w->name, st_dtype_name(w->dtype), st_dtype_name(t->dtype));
            return -1;
        }
        *w->slot = t->data;
    }
    return 0;
}

void st_close(StCheckpoint *ck) {
    if (!ck) return;
    for (int i = 0; i < ck->n_files; i++) { munmap(ck->files[i].map, ck->files[i].size); free(ck->files[i].path); }
    for (int i = 0; i < ck->n_tensors; i++) free(ck->names[i]);
    for (int i = 0; i < ck->n_owned; i++) free(ck->owned[i]);
    free(ck->files); free(ck->tensors); free(ck->names); free(ck->owned); free(ck->path); free(ck->index);
    free(ck);
}

int st_write(const char *path, const StWrite *t, int n, char *err, size_t errlen) {
    /* header */
    size_t cap = 256 + (size_t)n * 256, len = 0;
    char *h = malloc(cap);
    if (!h) { snprintf(err, errlen, "%s: out of memory", path); return -1; }
    len += (size_t)snprintf(h + len, cap - len, "{\"__metadata__\":{\"format\":\"pt\"}");
    uint64_t off = 0;
    for (int i = 0; i < n; i++) {
        uint64_t numel = 1;
        for (int d = 0; d < t[i].ndim; d++) numel *= (uint64_t)t[i].shape[d];
        uint64_t bytes = numel * st_dtype_size(t[i].dtype);
        if (cap - len < strlen(t[i].name) + 256) {
            cap = cap * 2 + strlen(t[i].name) + 256;
            h = realloc(h, cap);
        }
        len += (size_t)snprintf(h + len, cap - len, ",\"%s\":{\"dtype\":\"%s\",\"shape\":[", t[i].name, st_dtype_name(t[i].dtype));
        for (int d = 0; d < t[i].ndim; d++) len += (size_t)snprintf(h + len, cap - len, "%s%lld", d ? "," : "", (long long)t[i].shape[d]);
        len += (size_t)snprintf(h + len, cap - len, "],\"data_offsets\":[%llu,%llu]}", (unsigned long long)off, (unsigned long long)(off + bytes));
        off += bytes;
    }
    len += (size_t)snprintf(h + len, cap - len, "}");
    while (len % 8) { h[len++] = ' '; }
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "wb");
    if (!f) { free(h); snprintf(err, errlen, "%s: cannot write: %s", tmp, strerror(errno)); return -1; }
    unsigned char lenbuf[8];
    for (int i = 0; i < 8; i++) lenbuf[i] = (unsigned char)((uint64_t)len >> (8 * i));
    int ok = fwrite(lenbuf, 1, 8, f) == 8 && fwrite(h, 1, len, f) == len;
    for (int i = 0; i < n && ok; i++) {
        uint64_t numel = 1;
        for (int d = 0; d < t[i].ndim; d++) numel *= (uint64_t)t[i].shape[d];
        size_t bytes = (size_t)(numel * st_dtype_size(t[i].dtype));
        ok = bytes == 0 || fwrite(t[i].data, 1, bytes, f) == bytes;
    }
    free(h);
    if (fclose(f) != 0) ok = 0;
    if (!ok || rename(tmp, path) != 0) {
        unlink(tmp);
        snprintf(err, errlen, "%s: write failed: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

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
#include "fileio.h"
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

typedef struct StFile { char *path; void *map; size_t size, map_size; } StFile;   /* map_size: what to munmap */

struct StCheckpoint {
    char *path;
    StFile *files; int n_files;
    StTensor *tensors; int n_tensors;
    int *file_of;               /* tensor → index in files (error messages) */
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

/* A JSON number that is an integer in [0, max] (max ≤ 2^53, where doubles
 * are still exact).  NaN, infinities, fractions and negatives fail. */
static int json_uint(const JsonValue *v, uint64_t max, uint64_t *out) {
    if (!v || v->type != JSON_NUMBER) return -1;
    double d = v->number;
    if (!(d >= 0) || d > (double)max || d != (double)(uint64_t)d) return -1;
    *out = (uint64_t)d;
    return 0;
}

#define ST_MAX_HEADER_BYTES ((uint64_t)100 * 1000 * 1000)   /* as the reference implementation */
#define ST_MAX_INT ((uint64_t)1 << 53)

typedef struct Range { uint64_t b, e; int tensor; } Range;
static int range_cmp(const void *x, const void *y) {
    const Range *a = x, *b = y;
    return a->b < b->b ? -1 : a->b > b->b ? 1 : (a->tensor > b->tensor) - (a->tensor < b->tensor);
}

/* Parse one file's header from memory and add its tensors (pointers into buf). */
static int add_buffer(StCheckpoint *ck, const char *path, const void *map, size_t size, char *err, size_t errlen) {
    if (size < 8) { snprintf(err, errlen, "%s: file truncated (%zu bytes, no header)", path, size); return -1; }
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = hlen << 8 | ((const unsigned char *)map)[i];
    if (hlen > size - 8) {
        snprintf(err, errlen, "%s: file truncated: header says %llu bytes, file has %zu", path, (unsigned long long)hlen, size - 8);
        return -1;
    }
    if (hlen > ST_MAX_HEADER_BYTES) {
        snprintf(err, errlen, "%s: header of %llu bytes is larger than the %llu allowed", path, (unsigned long long)hlen,
                 (unsigned long long)ST_MAX_HEADER_BYTES);
        return -1;
    }
    char jerr[300];
    JsonValue *h = json_parse((const char *)map + 8, (size_t)hlen, jerr, sizeof jerr);
    if (!h) { snprintf(err, errlen, "%s: bad header JSON: %s", path, jerr); return -1; }
    if (h->type != JSON_OBJECT) { json_free(h); snprintf(err, errlen, "%s: header is not a JSON object", path); return -1; }
    const char *data = (const char *)map + 8 + hlen;
    size_t data_size = size - 8 - (size_t)hlen;
    int rc = 0;
    int first = ck->n_tensors, file = ck->n_files - 1;
    size_t want = (size_t)ck->n_tensors + h->count + 1;
    StTensor *nt = realloc(ck->tensors, sizeof(StTensor) * want);
    if (nt) ck->tensors = nt;
    char **nn = nt ? realloc(ck->names, sizeof(char *) * want) : NULL;
    if (nn) ck->names = nn;
    int *nf = nn ? realloc(ck->file_of, sizeof(int) * want) : NULL;
    if (nf) ck->file_of = nf;
    if (!nf) { json_free(h); snprintf(err, errlen, "%s: out of memory for %zu tensors", path, h->count); return -1; }
    for (size_t i = 0; i < h->count && rc == 0; i++) {
        const char *name = h->keys[i];
        const JsonValue *t = h->items[i];
        if (!strcmp(name, "__metadata__")) continue;
        if (strlen(name) != h->key_lens[i] || !name[0]) {
            snprintf(err, errlen, "%s: tensor '%s': empty name or name containing a NUL byte", path, name);
            rc = -1;
            break;
        }
        const char *dt = json_get_string(t, "dtype", NULL);
        const JsonValue *shape = json_get(t, "shape"), *off = json_get(t, "data_offsets");
        if (!dt || !shape || shape->type != JSON_ARRAY || !off || off->type != JSON_ARRAY || off->count != 2) {
            snprintf(err, errlen, "%s: tensor '%s': header entry needs dtype, shape and data_offsets", path, name);
            rc = -1;
            break;
        }
        int d = dtype_from_name(dt);
        if (d < 0) { snprintf(err, errlen, "%s: tensor '%s': unknown dtype '%s'", path, name, dt); rc = -1; break; }
        if (shape->count > ST_MAX_DIMS) { snprintf(err, errlen, "%s: tensor '%s': %zu dimensions, at most %d supported", path, name, shape->count, ST_MAX_DIMS); rc = -1; break; }
        StTensor *tt = &ck->tensors[ck->n_tensors];
        memset(tt, 0, sizeof *tt);
        tt->dtype = (StDtype)d;
        tt->ndim = (int)shape->count;
        uint64_t numel = 1;
        for (size_t k = 0; k < shape->count; k++) {
            uint64_t dim;
            if (json_uint(shape->items[k], ST_MAX_INT, &dim) != 0) {
                snprintf(err, errlen, "%s: tensor '%s': shape dimension %zu is not an integer in [0, 2^53]", path, name, k);
                rc = -1;
                break;
            }
            tt->shape[k] = (int64_t)dim;
            if (__builtin_mul_overflow(numel, dim, &numel)) {
                snprintf(err, errlen, "%s: tensor '%s': shape has more than 2^64 elements", path, name);
                rc = -1;
                break;
            }
        }
        if (rc) break;
        uint64_t b, e, nbytes;
        if (json_uint(off->items[0], ST_MAX_INT, &b) != 0 || json_uint(off->items[1], ST_MAX_INT, &e) != 0) {
            snprintf(err, errlen, "%s: tensor '%s': data_offsets must be two integers in [0, 2^53]", path, name);
            rc = -1;
            break;
        }
        if (e < b || e > data_size) {
            snprintf(err, errlen, "%s: tensor '%s': data_offsets [%llu, %llu] out of range (data buffer is %zu bytes%s)", path, name,
                     (unsigned long long)b, (unsigned long long)e, data_size, e > data_size ? ": file truncated?" : "");
            rc = -1;
            break;
        }
        if (__builtin_mul_overflow(numel, (uint64_t)st_dtype_size(tt->dtype), &nbytes) || e - b != nbytes) {
            snprintf(err, errlen, "%s: tensor '%s': %llu bytes of data for %llu elements of %s", path, name, (unsigned long long)(e - b),
                     (unsigned long long)numel, dt);
            rc = -1;
            break;
        }
        tt->data = data + b;
        tt->nbytes = (size_t)nbytes;
        ck->names[ck->n_tensors] = strdup(name);
        if (!ck->names[ck->n_tensors]) { snprintf(err, errlen, "%s: out of memory", path); rc = -1; break; }
        tt->name = ck->names[ck->n_tensors];
        ck->file_of[ck->n_tensors] = file;
        ck->n_tensors++;
    }
    /* overlapping ranges inside this file: sort by start, compare neighbours */
    int nr = ck->n_tensors - first;
    if (rc == 0 && nr > 1) {
        Range *r = malloc(sizeof(Range) * (size_t)nr);
        if (!r) { snprintf(err, errlen, "%s: out of memory", path); rc = -1; }
        int k = 0;
        for (int i = first; r && i < ck->n_tensors; i++) {
            if (!ck->tensors[i].nbytes) continue;
            uint64_t b0 = (uint64_t)((const char *)ck->tensors[i].data - data);
            r[k++] = (Range){b0, b0 + ck->tensors[i].nbytes, i};
        }
        if (r) qsort(r, (size_t)k, sizeof *r, range_cmp);
        for (int i = 1; r && i < k; i++)
            if (r[i].b < r[i - 1].e) {
                snprintf(err, errlen, "%s: tensors '%s' and '%s' overlap", path, ck->tensors[r[i - 1].tensor].name, ck->tensors[r[i].tensor].name);
                rc = -1;
                break;
            }
        free(r);
    }
    json_free(h);
    return rc;
}

int st_load_mode = ST_LOAD_AUTO;

/* The whole file read into anonymous memory that starts on a 2 MB boundary and
 * asks for transparent huge pages (granted or not, the copy works), then made
 * read-only like a mapping of the file.  *map_size receives what st_close
 * unmaps.  NULL with err set on failure. */
static void *read_into_huge_pages(int fd, uint64_t offset, const char *path, size_t size, size_t *map_size, char *err, size_t errlen) {
    const size_t huge = (size_t)2 << 20;
    size_t len = (size + huge - 1) / huge * huge, span = len + huge;
    char *raw = mmap(NULL, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (raw == MAP_FAILED) { snprintf(err, errlen, "%s: out of memory reading %zu bytes", path, size); return NULL; }
    char *buf = (char *)(((uintptr_t)raw + huge - 1) / huge * huge);   /* trim to the aligned part */
    if (buf > raw) munmap(raw, (size_t)(buf - raw));
    if (raw + span > buf + len) munmap(buf + len, (size_t)(raw + span - (buf + len)));
#ifdef MADV_HUGEPAGE
    madvise(buf, len, MADV_HUGEPAGE);
#endif
    for (size_t done = 0; done < size;) {
        size_t want = size - done > ((size_t)1 << 30) ? ((size_t)1 << 30) : size - done;
        ssize_t got = pread(fd, buf + done, want, (off_t)(offset + done));
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) {
            snprintf(err, errlen, "%s: %s after %zu of %zu bytes", path, got < 0 ? strerror(errno) : "file shrank while reading", done, size);
            munmap(buf, len);
            return NULL;
        }
        done += (size_t)got;
    }
    mprotect(buf, len, PROT_READ);
    *map_size = len;
    return buf;
}

/* mmap one file and add its tensors. */
static int add_file(StCheckpoint *ck, const char *path, char *err, size_t errlen) {
    /* a file on disk, or one embedded in the executable (runtime/fileio.h) */
    RtFileRef ref;
    if (rt_file_open(path, &ref, err, errlen) != 0) {
        const char *suffix = "expected a regular file";
        size_t l = strlen(err), sl = strlen(suffix);
        if (l >= sl && !strcmp(err + l - sl, suffix)) snprintf(err + l - sl, errlen - (l - sl), "expected a .safetensors file");
        return -1;
    }
    int fd = ref.fd;
    size_t size = (size_t)ref.size;
    if (size < 8) { close(fd); snprintf(err, errlen, "%s: file truncated (%zu bytes, no header)", path, size); return -1; }
    /* Checkpoints that fit in half of the machine's memory (all files of this
     * process together) are read into anonymous memory on 2 MB transparent
     * huge pages (ST_LOAD_AUTO, the default): decode streams every weight once
     * per token, and with 4 KB pages the TLB misses cost bandwidth (one thread,
     * bf16 GEMV over 300 MB on an AMD EPYC Zen 4: 21.5 GB/s on 4 KB pages,
     * 24.7 GB/s on huge pages).  ST_LOAD_MMAP (the binary's --mmap) maps the
     * file instead, sharing the page cache; then a checkpoint that fits is
     * mapped with MAP_POPULATE: the page tables are filled in one pass instead
     * of one fault per 64 KB on first use, and a prefetch to a page not yet
     * mapped is dropped (the first prefill read every weight with a synchronous
     * fault and miss).  Larger checkpoints are mapped lazily, so a model bigger
     * than memory still runs. */
    static size_t resident;
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    int fits = st_load_mode != ST_LOAD_LAZY && pages > 0 && page > 0 && resident + size <= (size_t)pages * (size_t)page / 2;
    void *map = MAP_FAILED;
    size_t map_size = size;
    /* an embedded file starts on a 64 KiB boundary; should a page be larger,
     * the file is read instead of mapped */
    int mappable = page > 0 && ref.offset % (uint64_t)page == 0;
    if ((fits && st_load_mode == ST_LOAD_AUTO) || !mappable) {
        map = read_into_huge_pages(fd, ref.offset, path, size, &map_size, err, errlen);
        if (!map) { close(fd); return -1; }
    } else {
        map = mmap(NULL, size, PROT_READ, MAP_PRIVATE | (fits ? MAP_POPULATE : 0), fd, (off_t)ref.offset);
    }
    if (fits && map != MAP_FAILED) resident += size;
    close(fd);
    if (map == MAP_FAILED) { snprintf(err, errlen, "%s: cannot mmap: %s", path, strerror(errno)); return -1; }
    StFile *nf = realloc(ck->files, sizeof(StFile) * (size_t)(ck->n_files + 1));
    if (!nf) { munmap(map, map_size); snprintf(err, errlen, "%s: out of memory", path); return -1; }
    ck->files = nf;
    StFile *f = &ck->files[ck->n_files++];
    f->path = strdup(path);
    f->map = map;
    f->size = size;
    f->map_size = map_size;
    return add_buffer(ck, f->path ? f->path : path, map, size, err, errlen);
}

/* The hash index over tensor names; a name present twice (in one header, or
 * in two shards) is an error naming it. */
static int build_index(StCheckpoint *ck, char *err, size_t errlen) {
    free(ck->index);
    ck->index_cap = 16;
    while (ck->index_cap < (size_t)ck->n_tensors * 2) ck->index_cap *= 2;
    ck->index = calloc(ck->index_cap, sizeof(int));
    if (!ck->index) { snprintf(err, errlen, "%s: out of memory", ck->path); return -1; }
    for (int i = 0; i < ck->n_tensors; i++) {
        size_t b = name_hash(ck->tensors[i].name) & (ck->index_cap - 1);
        while (ck->index[b]) {
            int j = ck->index[b] - 1;
            if (!strcmp(ck->tensors[j].name, ck->tensors[i].name)) {
                const char *fa = ck->files[ck->file_of[j]].path, *fb = ck->files[ck->file_of[i]].path;
                if (ck->file_of[i] == ck->file_of[j]) snprintf(err, errlen, "%s: tensor '%s' appears twice in the header", fa, ck->tensors[i].name);
                else snprintf(err, errlen, "%s: tensor '%s' is also in %s", fb, ck->tensors[i].name, fa);
                return -1;
            }
            b = (b + 1) & (ck->index_cap - 1);
        }
        ck->index[b] = i + 1;
    }
    return 0;
}

/* A shard name from weight_map must name a file inside the checkpoint
 * directory: not empty, not absolute, no ".." component, no NUL byte. */
static const char *bad_shard_name(const JsonValue *v) {
    if (v->type != JSON_STRING) return "is not a string";
    const char *s = v->string;
    if (!s[0]) return "is empty";
    if (strlen(s) != v->len) return "contains a NUL byte";
    if (s[0] == '/') return "is an absolute path (shards must be inside the checkpoint directory)";
    for (const char *c = s; *c;) {
        size_t l = strcspn(c, "/");
        if (l == 2 && c[0] == '.' && c[1] == '.') return "contains '..' (shards must be inside the checkpoint directory)";
        c += l;
        if (*c) c++;
    }
    return NULL;
}

int st_index_shards(const char *text, size_t len, const char *index_path, char ***shards, char ***first_tensor, int *n_shards,
                    char *err, size_t errlen) {
    *shards = NULL;
    *first_tensor = NULL;
    *n_shards = 0;
    char jerr[400];
    JsonValue *idx = json_parse(text, len, jerr, sizeof jerr);
    if (!idx) { snprintf(err, errlen, "%s: %s", index_path, jerr); return -1; }
    const JsonValue *map = json_get(idx, "weight_map");
    if (!map || map->type != JSON_OBJECT) {
        snprintf(err, errlen, "%s: no \"weight_map\" object", index_path);
        json_free(idx);
        return -1;
    }
    /* distinct shard names, in order of first appearance (a small string set) */
    size_t cap = 16;
    while (cap < map->count * 2) cap *= 2;
    int *set = calloc(cap, sizeof(int));
    char **out = calloc(map->count + 1, sizeof(char *)), **tn = calloc(map->count + 1, sizeof(char *));
    int n = 0, rc = 0;
    if (!set || !out || !tn) { snprintf(err, errlen, "%s: out of memory", index_path); rc = -1; }
    for (size_t i = 0; rc == 0 && i < map->count; i++) {
        const JsonValue *v = map->items[i];
        const char *why = bad_shard_name(v);
        if (why) {
            snprintf(err, errlen, "%s: weight_map: shard name for tensor '%s' %s", index_path, map->keys[i], why);
            rc = -1;
            break;
        }
        size_t b = name_hash(v->string) & (cap - 1);
        int seen = 0;
        while (set[b] && !(seen = !strcmp(out[set[b] - 1], v->string))) b = (b + 1) & (cap - 1);
        if (seen) continue;
        out[n] = strdup(v->string);
        tn[n] = strdup(map->keys[i]);
        if (!out[n] || !tn[n]) { free(out[n]); free(tn[n]); snprintf(err, errlen, "%s: out of memory", index_path); rc = -1; break; }
        set[b] = ++n;
    }
    free(set);
    json_free(idx);
    if (rc != 0) {
        for (int i = 0; out && tn && i < n; i++) { free(out[i]); free(tn[i]); }
        free(out);
        free(tn);
        return -1;
    }
    *shards = out;
    *first_tensor = tn;
    *n_shards = n;
    return 0;
}

StCheckpoint *st_open(const char *path, char *err, size_t errlen) {
    StCheckpoint *ck = calloc(1, sizeof *ck);
    if (!ck || !(ck->path = strdup(path))) { free(ck); snprintf(err, errlen, "%s: out of memory", path); return NULL; }
    int rc;
    if (!rt_path_exists(path)) {
        snprintf(err, errlen, "%s: %s", path, errno == ENOENT ? "no such file or directory" : strerror(errno));
        rc = -1;
    } else if (rt_is_dir(path)) {
        char p[4096];
        snprintf(p, sizeof p, "%s/model.safetensors.index.json", path);
        if (rt_path_exists(p)) {
            size_t len;
            char *text = rt_read_file(p, JSON_MAX_FILE_BYTES, &len, err, errlen);
            char **shards = NULL, **holds = NULL;
            int ns = 0;
            rc = text ? st_index_shards(text, len, p, &shards, &holds, &ns, err, errlen) : -1;
            free(text);
            for (int i = 0; i < ns; i++) {
                char sp[8192];
                if (rc == 0) {
                    snprintf(sp, sizeof sp, "%s/%s", path, shards[i]);
                    if (!rt_path_exists(sp)) {
                        snprintf(err, errlen, "%s: shard %s (holding tensor '%s') is missing", p, shards[i], holds[i]);
                        rc = -1;
                    } else rc = add_file(ck, sp, err, errlen);
                }
                free(shards[i]);
                free(holds[i]);
            }
            free(shards);
            free(holds);
        } else {
            snprintf(p, sizeof p, "%s/model.safetensors", path);
            if (!rt_path_exists(p)) {
                snprintf(err, errlen, "%s: no model.safetensors or model.safetensors.index.json in this directory", path);
                rc = -1;
            } else rc = add_file(ck, p, err, errlen);
        }
    } else {
        rc = add_file(ck, path, err, errlen);
    }
    if (rc == 0) rc = build_index(ck, err, errlen);
    if (rc != 0) { st_close(ck); return NULL; }
    return ck;
}

StCheckpoint *st_open_memory(const void *data, size_t size, const char *name, char *err, size_t errlen) {
    StCheckpoint *ck = calloc(1, sizeof *ck);
    StFile *f = ck ? calloc(1, sizeof *f) : NULL;
    if (!f || !(ck->path = strdup(name)) || !(f->path = strdup(name))) {
        if (f) free(f->path);
        free(f);
        if (ck) free(ck->path);
        free(ck);
        snprintf(err, errlen, "%s: out of memory", name);
        return NULL;
    }
    f->map = NULL;   /* not ours: st_close leaves the caller's buffer alone */
    ck->files = f;
    ck->n_files = 1;
    if (add_buffer(ck, name, data, size, err, errlen) != 0 || build_index(ck, err, errlen) != 0) { st_close(ck); return NULL; }
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
int st_file_count(const StCheckpoint *ck) { return ck->n_files; }
const char *st_file_path(const StCheckpoint *ck, int i) { return i >= 0 && i < ck->n_files ? ck->files[i].path : NULL; }
const StTensor *st_tensor(const StCheckpoint *ck, int i) { return i >= 0 && i < ck->n_tensors ? &ck->tensors[i] : NULL; }

static void shape_str(char *buf, size_t cap, int ndim, const int64_t *shape) {
    size_t n = (size_t)snprintf(buf, cap, "[");
    for (int i = 0; i < ndim && n < cap; i++) n += (size_t)snprintf(buf + n, cap - n, "%s%lld", i ? ", " : "", (long long)shape[i]);
    if (n < cap) snprintf(buf + n, cap - n, "]");
}

static int keep_owned(StCheckpoint *ck, void *buf) {
    if (ck->n_owned == ck->cap_owned) {
        int nc = ck->cap_owned ? ck->cap_owned * 2 : 64;
        void **no = realloc(ck->owned, sizeof(void *) * (size_t)nc);
        if (!no) return -1;
        ck->owned = no;
        ck->cap_owned = nc;
    }
    ck->owned[ck->n_owned++] = buf;
    return 0;
}

/* The tensor's data, naturally aligned for its dtype.  Files written by the
 * safetensors library always are (header padded to 8, tensors sorted by
 * dtype size), but nothing stops a hand-made file from putting an F32 tensor
 * at an odd offset, and reading floats through a misaligned pointer is
 * undefined behaviour: such a tensor is copied into an aligned buffer. */
static const void *aligned_data(StCheckpoint *ck, const StTensor *t, char *err, size_t errlen) {
    size_t a = st_dtype_size(t->dtype);
    if (a <= 1 || (uintptr_t)t->data % a == 0) return t->data;
    void *buf = NULL;
    if (posix_memalign(&buf, 64, t->nbytes ? t->nbytes : 1) != 0 || keep_owned(ck, buf) != 0) {
        free(buf);
        snprintf(err, errlen, "tensor %s: out of memory copying its misaligned data (%zu bytes)", t->name, t->nbytes);
        return NULL;
    }
    memcpy(buf, t->data, t->nbytes);
    return buf;
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
            if (t->dtype == ST_F32) {
                if (!(*w->slot = aligned_data(ck, t, err, errlen))) return -1;
                continue;
            }
            if (t->dtype != ST_BF16 && t->dtype != ST_F16) {
                snprintf(err, errlen, "tensor %s: expected a float dtype (F32, BF16 or F16), checkpoint has %s", w->name, st_dtype_name(t->dtype));
                return -1;
            }
            size_t numel = t->nbytes / 2;
            float *buf = malloc(numel * sizeof(float) + 1);
            if (!buf || keep_owned(ck, buf) != 0) { free(buf); snprintf(err, errlen, "tensor %s: out of memory", w->name); return -1; }
            const uint16_t *src = t->data;
            for (size_t k = 0; k < numel; k++) {
                uint16_t h;
                memcpy(&h, src + k, 2);
                buf[k] = t->dtype == ST_BF16 ? st_bf16_to_f32(h) : st_f16_to_f32(h);
            }
            *w->slot = buf;
            continue;
        }
        if (t->dtype != w->dtype) {
            snprintf(err, errlen, "tensor %s: expected dtype %s, checkpoint has %s", w->name, st_dtype_name(w->dtype), st_dtype_name(t->dtype));
            return -1;
        }
        if (!(*w->slot = aligned_data(ck, t, err, errlen))) return -1;
    }
    return 0;
}

void st_close(StCheckpoint *ck) {
    if (!ck) return;
    for (int i = 0; i < ck->n_files; i++) { if (ck->files[i].map) munmap(ck->files[i].map, ck->files[i].map_size); free(ck->files[i].path); }
    for (int i = 0; i < ck->n_tensors; i++) free(ck->names[i]);
    for (int i = 0; i < ck->n_owned; i++) free(ck->owned[i]);
    free(ck->files); free(ck->tensors); free(ck->names); free(ck->owned); free(ck->path); free(ck->index); free(ck->file_of);
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
        if (cap - len < strlen(t[i].name) * 6 + 256) {
            cap = cap * 2 + strlen(t[i].name) * 6 + 256;
            char *nh = realloc(h, cap);
            if (!nh) { free(h); snprintf(err, errlen, "%s: out of memory", path); return -1; }
            h = nh;
        }
        /* the name as a JSON string: quotes, backslashes and control bytes escaped */
        h[len++] = ',';
        h[len++] = '"';
        for (const unsigned char *c = (const unsigned char *)t[i].name; *c; c++) {
            if (*c == '"' || *c == '\\') { h[len++] = '\\'; h[len++] = (char)*c; }
            else if (*c < 0x20) len += (size_t)snprintf(h + len, cap - len, "\\u%04x", *c);
            else h[len++] = (char)*c;
        }
        len += (size_t)snprintf(h + len, cap - len, "\":{\"dtype\":\"%s\",\"shape\":[", st_dtype_name(t[i].dtype));
        for (int d = 0; d < t[i].ndim; d++) len += (size_t)snprintf(h + len, cap - len, "%s%lld", d ? "," : "", (long long)t[i].shape[d]);
        len += (size_t)snprintf(h + len, cap - len, "],\"data_offsets\":[%llu,%llu]}", (unsigned long long)off, (unsigned long long)(off + bytes));
        off += bytes;
    }
    len += (size_t)snprintf(h + len, cap - len, "}");
    while (len % 8) { h[len++] = ' '; }
    RtOut o;
    if (rt_out_open(&o, path, NULL, 0, err, errlen) != 0) { free(h); return -1; }
    unsigned char lenbuf[8];
    for (int i = 0; i < 8; i++) lenbuf[i] = (unsigned char)((uint64_t)len >> (8 * i));
    int ok = rt_out_write(&o, lenbuf, 8, err, errlen) == 0 && rt_out_write(&o, h, len, err, errlen) == 0;
    for (int i = 0; i < n && ok; i++) {
        uint64_t numel = 1;
        for (int d = 0; d < t[i].ndim; d++) numel *= (uint64_t)t[i].shape[d];
        size_t bytes = (size_t)(numel * st_dtype_size(t[i].dtype));
        ok = bytes == 0 || rt_out_write(&o, t[i].data, bytes, err, errlen) == 0;
    }
    free(h);
    if (!ok) { rt_out_abort(&o); return -1; }
    return rt_out_commit(&o, err, errlen);
}

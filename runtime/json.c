/*
 * runtime/json.c — a small, strict JSON reader (RFC 8259).
 *
 * Recursive descent over the whole text; every node and string lives in one
 * arena chain owned by the root, so json_free releases everything at once.
 * Objects keep member order.  Lookups in objects with many members (a
 * tokenizer's vocab has 150k) go through a hash index built on first use.
 *
 * Hostile input: nesting is limited to JSON_MAX_DEPTH levels (the recursion
 * is bounded by it, so the stack cannot overflow); numbers follow the RFC's
 * grammar and must be finite (1e400 is an error, not infinity; Python's NaN,
 * Infinity and -Infinity are accepted as such); strings must be valid UTF-8
 * (no overlong forms, no encoded surrogates, nothing above U+10FFFF) and
 * \u escapes must not leave a surrogate unpaired.  Line and column are
 * tracked incrementally, so parsing is linear in the input size.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include "fileio.h"
#include "json.h"

#define JSON_STR_(x) #x
#define JSON_STR(x) JSON_STR_(x)

typedef struct ArenaBlock { struct ArenaBlock *next; size_t used, cap; char data[]; } ArenaBlock;

/* The root node is the first allocation of the first block; the arena header
 * sits in front of it so json_free can find every block. */
typedef struct Doc {
    ArenaBlock *blocks;
    struct HashIndex *indexes;
    JsonValue root;
} Doc;

typedef struct HashIndex {
    struct HashIndex *next;
    const JsonValue *obj;
    size_t nbuckets;
    int *buckets;            /* member index + 1, 0 = empty; open addressing */
} HashIndex;

typedef struct Parser {
    const char *p, *end, *start;
    Doc *doc;
    char *err;
    size_t errlen;
    int failed;
    int depth;
    const char *pos_at;      /* line/col cache: position pos_at is at line pos_line, column pos_col */
    int pos_line, pos_col;
} Parser;

static void *arena_alloc(Doc *d, size_t n) {
    n = (n + 15) & ~(size_t)15;
    ArenaBlock *b = d->blocks;
    if (!b || b->used + n > b->cap) {
        /* blocks grow from 16 KB to 1 MB: small documents (config.json, a
         * safetensors header) stay cheap, big ones take few blocks */
        size_t cap = b ? (b->cap < (1 << 20) ? b->cap * 2 : (1 << 20)) : (1 << 14);
        if (cap < n) cap = n;
        ArenaBlock *nb = malloc(sizeof(ArenaBlock) + cap);
        if (!nb) return NULL;
        nb->next = d->blocks;
        nb->used = 0;
        nb->cap = cap;
        d->blocks = nb;
        b = nb;
    }
    void *r = b->data + b->used;
    b->used += n;
    return r;
}

/* Line and column of `at`.  Values are created in increasing text order, so
 * the scan continues from the previous answer (linear overall); an earlier
 * position (only error reports) rescans from the start. */
static void where(Parser *ps, const char *at, int *line, int *col) {
    if (!ps->pos_at || at < ps->pos_at) { ps->pos_at = ps->start; ps->pos_line = 1; ps->pos_col = 1; }
    const char *q = ps->pos_at;
    int l = ps->pos_line, c = ps->pos_col;
    for (; q < at && q < ps->end; q++) {
        if (*q == '\n') { l++; c = 1; }
        else c++;
    }
    ps->pos_at = q;
    ps->pos_line = l;
    ps->pos_col = c;
    *line = l;
    *col = c;
}

static void fail(Parser *ps, const char *msg) {
    if (ps->failed) return;
    ps->failed = 1;
    int line, col;
    where(ps, ps->p, &line, &col);
    snprintf(ps->err, ps->errlen, "line %d, column %d: %s", line, col, msg);
}

static void skip_ws(Parser *ps) {
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r')) ps->p++;
}

static JsonValue *new_value(Parser *ps, JsonType t, const char *at) {
    JsonValue *v = arena_alloc(ps->doc, sizeof(JsonValue));
    if (!v) { fail(ps, "out of memory"); return NULL; }
    memset(v, 0, sizeof *v);
    v->type = t;
    where(ps, at, &v->line, &v->col);
    return v;
}

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static int read_hex4(Parser *ps, unsigned *out) {
    if (ps->end - ps->p < 4) return -1;
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        int h = hexval(ps->p[i]);
        if (h < 0) return -1;
        v = v * 16 + (unsigned)h;
    }
    ps->p += 4;
    *out = v;
    return 0;
}

static size_t put_utf8(char *o, unsigned cp) {
    if (cp < 0x80) { o[0] = (char)cp; return 1; }
    if (cp < 0x800) { o[0] = (char)(0xC0 | cp >> 6); o[1] = (char)(0x80 | (cp & 63)); return 2; }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | cp >> 12); o[1] = (char)(0x80 | ((cp >> 6) & 63)); o[2] = (char)(0x80 | (cp & 63));
        return 3;
    }
    o[0] = (char)(0xF0 | cp >> 18); o[1] = (char)(0x80 | ((cp >> 12) & 63));
    o[2] = (char)(0x80 | ((cp >> 6) & 63)); o[3] = (char)(0x80 | (cp & 63));
    return 4;
}

/* Length of the valid UTF-8 sequence at s (RFC 3629: no overlong forms, no
 * surrogates, at most U+10FFFF), or 0 if it is not valid. */
static int utf8_valid_len(const unsigned char *s, const unsigned char *end) {
    unsigned c = s[0];
    if (c < 0x80) return 1;
    int n = c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3 : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
    if (!n || end - s < n) return 0;
    for (int i = 1; i < n; i++) if ((s[i] & 0xC0) != 0x80) return 0;
    if (c == 0xE0 && s[1] < 0xA0) return 0;             /* overlong */
    if (c == 0xED && s[1] >= 0xA0) return 0;            /* U+D800..U+DFFF */
    if (c == 0xF0 && s[1] < 0x90) return 0;             /* overlong */
    if (c == 0xF4 && s[1] >= 0x90) return 0;            /* above U+10FFFF */
    return n;
}

/* Parse a string starting at the opening quote; returns arena copy. */
static char *parse_string_raw(Parser *ps, size_t *len) {
    ps->p++; /* opening quote */
    const char *s = ps->p;
    /* the decoded string is never longer than the raw text */
    const char *q = s;
    while (q < ps->end && *q != '"') { if (*q == '\\') q++; q++; }
    if (q >= ps->end) { fail(ps, "unterminated string"); return NULL; }
    char *out = arena_alloc(ps->doc, (size_t)(q - s) + 1);
    if (!out) { fail(ps, "out of memory"); return NULL; }
    size_t n = 0;
    while (ps->p < ps->end && *ps->p != '"') {
        unsigned char c = (unsigned char)*ps->p;
        if (c < 0x20) { fail(ps, "control character in string"); return NULL; }
        if (c >= 0x80) {
            int l = utf8_valid_len((const unsigned char *)ps->p, (const unsigned char *)ps->end);
            if (!l) { fail(ps, "invalid UTF-8 in string"); return NULL; }
            memcpy(out + n, ps->p, (size_t)l);
            n += (size_t)l;
            ps->p += l;
            continue;
        }
        if (c != '\\') { out[n++] = (char)c; ps->p++; continue; }
        ps->p++;
        if (ps->p >= ps->end) { fail(ps, "unterminated escape"); return NULL; }
        char e = *ps->p++;
        switch (e) {
        case '"': out[n++] = '"'; break;
        case '\\': out[n++] = '\\'; break;
        case '/': out[n++] = '/'; break;
        case 'b': out[n++] = '\b'; break;
        case 'f': out[n++] = '\f'; break;
        case 'n': out[n++] = '\n'; break;
        case 'r': out[n++] = '\r'; break;
        case 't': out[n++] = '\t'; break;
        case 'u': {
            unsigned cp;
            if (read_hex4(ps, &cp) != 0) { fail(ps, "bad \\u escape"); return NULL; }
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                unsigned lo;
                if (ps->end - ps->p >= 6 && ps->p[0] == '\\' && ps->p[1] == 'u') {
                    ps->p += 2;
                    if (read_hex4(ps, &lo) != 0 || lo < 0xDC00 || lo > 0xDFFF) { fail(ps, "bad surrogate pair"); return NULL; }
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                } else { fail(ps, "unpaired surrogate in \\u escape"); return NULL; }
            } else if (cp >= 0xDC00 && cp <= 0xDFFF) { fail(ps, "unpaired surrogate in \\u escape"); return NULL; }
            n += put_utf8(out + n, cp);
            break;
        }
        default: fail(ps, "bad escape"); return NULL;
        }
    }
    ps->p++; /* closing quote */
    out[n] = 0;
    *len = n;
    return out;
}

static JsonValue *parse_value(Parser *ps);

static JsonValue *parse_container(Parser *ps, int object) {
    const char *at = ps->p;
    JsonValue *v = new_value(ps, object ? JSON_OBJECT : JSON_ARRAY, at);
    if (!v) return NULL;
    v->doc_ = ps->doc;
    if (++ps->depth > JSON_MAX_DEPTH) { fail(ps, "nesting deeper than " JSON_STR(JSON_MAX_DEPTH) " levels"); return NULL; }
    ps->p++;
    size_t cap = 0;
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == (object ? '}' : ']')) { ps->p++; ps->depth--; return v; }
    for (;;) {
        skip_ws(ps);
        char *key = NULL;
        size_t klen = 0;
        if (object) {
            if (ps->p >= ps->end || *ps->p != '"') { fail(ps, "expected a member name in quotes"); return NULL; }
            key = parse_string_raw(ps, &klen);
            if (!key) return NULL;
            skip_ws(ps);
            if (ps->p >= ps->end || *ps->p != ':') { fail(ps, "expected ':' after member name"); return NULL; }
            ps->p++;
        }
        JsonValue *item = parse_value(ps);
        if (!item) return NULL;
        if (v->count == cap) {
            size_t nc = cap ? cap * 2 : 8;
            JsonValue **ni = arena_alloc(ps->doc, nc * sizeof *ni);
            char **nk = object ? arena_alloc(ps->doc, nc * sizeof *nk) : NULL;
            size_t *nl = object ? arena_alloc(ps->doc, nc * sizeof *nl) : NULL;
            if (!ni || (object && (!nk || !nl))) { fail(ps, "out of memory"); return NULL; }
            if (cap) {
                memcpy(ni, v->items, cap * sizeof *ni);
                if (object) { memcpy(nk, v->keys, cap * sizeof *nk); memcpy(nl, v->key_lens, cap * sizeof *nl); }
            }
            v->items = ni;
            v->keys = nk;
            v->key_lens = nl;
            cap = nc;
        }
        v->items[v->count] = item;
        if (object) { v->keys[v->count] = key; v->key_lens[v->count] = klen; }
        v->count++;
        skip_ws(ps);
        if (ps->p < ps->end && *ps->p == ',') { ps->p++; continue; }
        if (ps->p < ps->end && *ps->p == (object ? '}' : ']')) { ps->p++; break; }
        fail(ps, object ? "expected ',' or '}'" : "expected ',' or ']'");
        return NULL;
    }
    ps->depth--;
    return v;
}

static JsonValue *parse_value(Parser *ps) {
    skip_ws(ps);
    if (ps->p >= ps->end) { fail(ps, "unexpected end of input"); return NULL; }
    const char *at = ps->p;
    char c = *ps->p;
    if (c == '{' || c == '[') return parse_container(ps, c == '{');
    if (c == '"') {
        JsonValue *v = new_value(ps, JSON_STRING, at);
        if (!v) return NULL;
        v->string = parse_string_raw(ps, &v->len);
        return v->string ? v : NULL;
    }
    if (c == 't' && ps->end - ps->p >= 4 && !memcmp(ps->p, "true", 4)) {
        ps->p += 4;
        JsonValue *v = new_value(ps, JSON_BOOL, at);
        if (v) v->boolean = 1;
        return v;
    }
    if (c == 'f' && ps->end - ps->p >= 5 && !memcmp(ps->p, "false", 5)) { ps->p += 5; return new_value(ps, JSON_BOOL, at); }
    if (c == 'n' && ps->end - ps->p >= 4 && !memcmp(ps->p, "null", 4)) { ps->p += 4; return new_value(ps, JSON_NULL, at); }
    /* Python's json writes NaN / Infinity / -Infinity */
    if (c == 'N' && ps->end - ps->p >= 3 && !memcmp(ps->p, "NaN", 3)) { ps->p += 3; JsonValue *v = new_value(ps, JSON_NUMBER, at); if (v) v->number = NAN; return v; }
    if (c == 'I' && ps->end - ps->p >= 8 && !memcmp(ps->p, "Infinity", 8)) { ps->p += 8; JsonValue *v = new_value(ps, JSON_NUMBER, at); if (v) v->number = INFINITY; return v; }
    if (c == '-' && ps->end - ps->p >= 9 && !memcmp(ps->p, "-Infinity", 9)) { ps->p += 9; JsonValue *v = new_value(ps, JSON_NUMBER, at); if (v) v->number = -INFINITY; return v; }
    if (c == '-' || (c >= '0' && c <= '9')) {
        /* -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
        const char *q = ps->p, *e = ps->end;
        int ok = 1;
        if (q < e && *q == '-') q++;
        if (q < e && *q == '0') q++;
        else if (q < e && *q >= '1' && *q <= '9') while (q < e && *q >= '0' && *q <= '9') q++;
        else ok = 0;
        if (ok && q < e && *q == '.') {
            q++;
            if (q >= e || *q < '0' || *q > '9') ok = 0;
            while (q < e && *q >= '0' && *q <= '9') q++;
        }
        if (ok && q < e && (*q == 'e' || *q == 'E')) {
            q++;
            if (q < e && (*q == '+' || *q == '-')) q++;
            if (q >= e || *q < '0' || *q > '9') ok = 0;
            while (q < e && *q >= '0' && *q <= '9') q++;
        }
        if (ok && q < e && (*q == '.' || *q == 'e' || *q == 'E' || *q == '+' || *q == '-' || (*q >= '0' && *q <= '9'))) ok = 0;
        if (!ok) { fail(ps, "bad number"); return NULL; }
        size_t n = (size_t)(q - ps->p);
        char small[64], *buf = n < sizeof small ? small : malloc(n + 1);
        if (!buf) { fail(ps, "out of memory"); return NULL; }
        memcpy(buf, ps->p, n);
        buf[n] = 0;
        errno = 0;
        double d = strtod(buf, NULL);
        int range = errno == ERANGE && (d == HUGE_VAL || d == -HUGE_VAL);
        if (buf != small) free(buf);
        if (range || !isfinite(d)) { fail(ps, "number out of range (beyond double precision)"); return NULL; }
        ps->p = q;
        JsonValue *v = new_value(ps, JSON_NUMBER, at);
        if (v) v->number = d;
        return v;
    }
    fail(ps, "expected a JSON value");
    return NULL;
}

JsonValue *json_parse(const char *text, size_t len, char *err, size_t errlen) {
    Doc *d = calloc(1, sizeof *d);
    if (!d) { snprintf(err, errlen, "out of memory"); return NULL; }
    Parser ps = {.p = text, .end = text + len, .start = text, .doc = d, .err = err, .errlen = errlen};
    JsonValue *v = parse_value(&ps);
    if (v) {
        skip_ws(&ps);
        if (ps.p != ps.end) { fail(&ps, "trailing characters after the JSON value"); v = NULL; }
    }
    if (!v) {
        d->root.type = JSON_NULL;
        json_free(&d->root);
        return NULL;
    }
    d->root = *v;
    if (d->root.type == JSON_OBJECT) d->root.doc_ = d;
    return &d->root;
}

JsonValue *json_parse_file(const char *path, char *err, size_t errlen) {
    size_t n;
    char *buf = rt_read_file(path, JSON_MAX_FILE_BYTES, &n, err, errlen);
    if (!buf) return NULL;
    char inner[400];
    JsonValue *v = json_parse(buf, n, inner, sizeof inner);
    free(buf);
    if (!v) snprintf(err, errlen, "%s: %s", path, inner);
    return v;
}

void json_free(JsonValue *root) {
    if (!root) return;
    Doc *d = (Doc *)((char *)root - offsetof(Doc, root));
    for (ArenaBlock *b = d->blocks; b;) { ArenaBlock *n = b->next; free(b); b = n; }
    for (HashIndex *h = d->indexes; h;) { HashIndex *n = h->next; free(h->buckets); free(h); h = n; }
    free(d);
}

static uint64_t hash_bytes(const char *s, size_t n) {
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++) { h ^= (unsigned char)s[i]; h *= 1099511628211ULL; }
    return h;
}

/* Objects remember their document; the index hangs off the object and is
 * registered with the document so json_free releases it. */
static const JsonValue *lookup_hashed(const JsonValue *obj, const char *key, size_t klen) {
    HashIndex *h = obj->index_;
    if (!h) {
        h = calloc(1, sizeof *h);
        if (!h) return NULL;
        h->obj = obj;
        h->nbuckets = 16;
        while (h->nbuckets < obj->count * 2) h->nbuckets *= 2;
        h->buckets = calloc(h->nbuckets, sizeof(int));
        if (!h->buckets) { free(h); return NULL; }
        for (size_t i = 0; i < obj->count; i++) {
            size_t b = hash_bytes(obj->keys[i], obj->key_lens[i]) & (h->nbuckets - 1);
            while (h->buckets[b]) b = (b + 1) & (h->nbuckets - 1);
            h->buckets[b] = (int)i + 1;
        }
        Doc *d = obj->doc_;
        h->next = d->indexes;
        d->indexes = h;
        ((JsonValue *)obj)->index_ = h;
    }
    size_t b = hash_bytes(key, klen) & (h->nbuckets - 1);
    while (h->buckets[b]) {
        size_t i = (size_t)h->buckets[b] - 1;
        if (obj->key_lens[i] == klen && !memcmp(obj->keys[i], key, klen)) return obj->items[i];
        b = (b + 1) & (h->nbuckets - 1);
    }
    return NULL;
}

const JsonValue *json_get(const JsonValue *obj, const char *key) {
    if (!obj || obj->type != JSON_OBJECT) return NULL;
    size_t klen = strlen(key);
    if (obj->count > 32) return lookup_hashed(obj, key, klen);
    for (size_t i = 0; i < obj->count; i++)
        if (obj->key_lens[i] == klen && !memcmp(obj->keys[i], key, klen)) return obj->items[i];
    return NULL;
}

double json_get_number(const JsonValue *obj, const char *key, double dflt) {
    const JsonValue *v = json_get(obj, key);
    return v && v->type == JSON_NUMBER ? v->number : dflt;
}

int json_get_bool(const JsonValue *obj, const char *key, int dflt) {
    const JsonValue *v = json_get(obj, key);
    return v && v->type == JSON_BOOL ? v->boolean : dflt;
}

const char *json_get_string(const JsonValue *obj, const char *key, const char *dflt) {
    const JsonValue *v = json_get(obj, key);
    return v && v->type == JSON_STRING ? v->string : dflt;
}

/*
 * runtime/jinja.c — a small Jinja interpreter for chat templates (jinja.h).
 *
 * Three stages: the lexer splits the source into text and tag tokens with
 * Jinja's whitespace rules (trim_blocks and lstrip_blocks on, as transformers
 * sets them; `-` strips, `+` keeps); a recursive-descent parser builds a tree
 * following Jinja's grammar and precedence; the evaluator walks it with
 * Python's semantics for the values a chat template sees (str() and repr()
 * of values, slicing and negative indices by code point, integer and float
 * arithmetic, deep equality).  Every allocation comes from one arena, and
 * errors unwind with longjmp to jinja_render, which frees the arena: there
 * is no cleanup path to forget.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "jinja.h"
#include "unicode_case.h"
#include "unicode_tables.h"

/* ───────────────────────── arena, errors ───────────────────────── */

typedef struct Block { struct Block *next; size_t used, cap; char data[]; } Block;

typedef struct J J;
typedef struct Node Node;
typedef enum { V_UNDEF, V_NONE, V_BOOL, V_INT, V_FLOAT, V_STR, V_LIST, V_DICT, V_NS, V_MACRO, V_FUNC, V_METHOD, V_LOOP } VType;

typedef struct List List;
typedef struct Dict Dict;
typedef struct Method Method;
typedef struct Loop Loop;

typedef struct Val {
    VType t;
    unsigned char safe;                         /* V_STR: a Markup (|safe, |escape): '+' escapes the other side */
    union {
        int64_t i;                              /* V_BOOL, V_INT, V_FUNC (builtin id) */
        double f;
        struct { const char *s; size_t n; };    /* V_STR; V_UNDEF: the name that was missing */
        List *l;
        Dict *d;                                /* V_DICT, V_NS */
        struct Macro *mc;                       /* V_MACRO */
        Method *bm;
        Loop *lp;
    };
} Val;

/* What Python object a V_LIST stands for: a list, a tuple, an iterator (the
 * filters select/map/unique/items/reverse return generators: no len(), no
 * indexing, not JSON, always true, consumed once — pos is how far), or a dict
 * view (keys(), values(), items(): no indexing, not JSON). */
enum { LK_LIST, LK_TUPLE, LK_RANGE, LK_GEN, LK_REVITER, LK_ITEMS, LK_KEYS, LK_VALUES };
struct List { Val *v; size_t n, cap; int kind; size_t pos; int64_t r0, r1, rs; /* LK_RANGE: range(r0, r1, rs) */
              const char *bad; /* LK_GEN over a non-iterable: fails when iterated */ };
struct Dict { Val *k, *v; size_t n, cap; };
struct Method { Val self; const char *name; };
typedef struct Scope Scope;
struct Macro { const Node *n; Scope *sc; };   /* a macro and the scope it was defined in (a closure) */
struct Loop { List *items; size_t idx; };

typedef struct Tok {
    int type;
    int line;
    const char *s;
    size_t n;
    int64_t i;
    double f;
} Tok;

enum { TK_TEXT, TK_VAR_BEGIN, TK_VAR_END, TK_BLOCK_BEGIN, TK_BLOCK_END, TK_NAME, TK_STRING, TK_INT, TK_FLOAT, TK_OP, TK_EOF };

typedef struct SB { char *s; size_t n, cap; } SB;

struct J {
    Block *blocks;
    size_t mem;
    jmp_buf jb;
    char *err;
    size_t errlen;
    Tok *toks;
    size_t ntok, captok, pos;
    int depth;                 /* parser nesting */
    int loops;                 /* for loops open while parsing (break/continue need one) */
    int edepth;                /* evaluation nesting */
    long steps;
    long long now;
    SB *ob;                    /* where output goes (the result, or a macro's or block set's buffer) */
    int brk, cont;             /* loop controls pending */
    Scope *root;
};

static void jfail(J *j, int line, const char *fmt, ...) __attribute__((noreturn, format(printf, 3, 4)));
static void jfail(J *j, int line, const char *fmt, ...) {
    char msg[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (line > 0) snprintf(j->err, j->errlen, "line %d: %s", line, msg);
    else snprintf(j->err, j->errlen, "%s", msg);
    longjmp(j->jb, 1);
}

static void *jalloc(J *j, size_t n) {
    n = (n + 15) & ~(size_t)15;
    Block *b = j->blocks;
    if (!b || b->used + n > b->cap) {
        size_t cap = b ? (b->cap < ((size_t)1 << 22) ? b->cap * 2 : ((size_t)1 << 22)) : ((size_t)1 << 14);
        if (cap < n) cap = n;
        if (j->mem + cap > JINJA_MAX_MEMORY) jfail(j, 0, "the template needs more than %zu MiB of memory", JINJA_MAX_MEMORY >> 20);
        Block *nb = malloc(sizeof(Block) + cap);
        if (!nb) jfail(j, 0, "out of memory");
        j->mem += cap;
        nb->next = j->blocks;
        nb->used = 0;
        nb->cap = cap;
        j->blocks = nb;
        b = nb;
    }
    void *r = b->data + b->used;
    b->used += n;
    return r;
}

static char *jstrdup(J *j, const char *s, size_t n) {
    char *r = jalloc(j, n + 1);
    memcpy(r, s, n);
    r[n] = 0;
    return r;
}

static void step(J *j, int line) {
    if (++j->steps > JINJA_MAX_STEPS) jfail(j, line, "the template ran for more than %ld steps", JINJA_MAX_STEPS);
}

/* ───────────────────────── growable strings ───────────────────────── */


static void sb_put(J *j, SB *b, const char *s, size_t n) {
    if (b->n + n > JINJA_MAX_OUTPUT) jfail(j, 0, "a string grew past %zu MiB", JINJA_MAX_OUTPUT >> 20);
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 64;
        while (cap < b->n + n + 1) cap *= 2;
        char *ns = jalloc(j, cap);
        if (b->n) memcpy(ns, b->s, b->n);
        b->s = ns;
        b->cap = cap;
    }
    memcpy(b->s + b->n, s, n);
    b->n += n;
    b->s[b->n] = 0;
}
static void sb_puts(J *j, SB *b, const char *s) { sb_put(j, b, s, strlen(s)); }
static void sb_putc(J *j, SB *b, char c) { sb_put(j, b, &c, 1); }

/* ───────────────────────── values ───────────────────────── */

static Val v_undef(const char *name) { Val v; memset(&v, 0, sizeof v); v.t = V_UNDEF; v.s = name ? name : ""; v.n = name ? strlen(name) : 0; return v; }
static Val v_none(void) { Val v; memset(&v, 0, sizeof v); v.t = V_NONE; return v; }
static Val v_bool(int b) { Val v; memset(&v, 0, sizeof v); v.t = V_BOOL; v.i = !!b; return v; }
static Val v_int(int64_t i) { Val v; memset(&v, 0, sizeof v); v.t = V_INT; v.i = i; return v; }
static Val v_float(double f) { Val v; memset(&v, 0, sizeof v); v.t = V_FLOAT; v.f = f; return v; }
static Val v_str(const char *s, size_t n) { Val v; memset(&v, 0, sizeof v); v.t = V_STR; v.s = s; v.n = n; return v; }
static Val v_cstr(const char *s) { return v_str(s, strlen(s)); }

static List *list_new(J *j, size_t cap) {
    List *l = jalloc(j, sizeof *l);
    l->n = 0;
    l->kind = LK_LIST;
    l->pos = 0;
    l->bad = NULL;
    l->cap = cap ? cap : 4;
    l->v = jalloc(j, sizeof(Val) * l->cap);
    return l;
}
static void list_push(J *j, List *l, Val v) {
    if (l->n == l->cap) {
        if (l->cap > (JINJA_MAX_OUTPUT / sizeof(Val))) jfail(j, 0, "a list grew too long");
        Val *nv = jalloc(j, sizeof(Val) * l->cap * 2);
        memcpy(nv, l->v, sizeof(Val) * l->n);
        l->v = nv;
        l->cap *= 2;
    }
    l->v[l->n++] = v;
}
static Val v_list(List *l) { Val v; memset(&v, 0, sizeof v); v.t = V_LIST; v.l = l; return v; }
static Dict *dict_new(J *j, size_t cap) {
    Dict *d = jalloc(j, sizeof *d);
    d->n = 0;
    d->cap = cap ? cap : 4;
    d->k = jalloc(j, sizeof(Val) * d->cap);
    d->v = jalloc(j, sizeof(Val) * d->cap);
    return d;
}
static Val v_dict(Dict *d) { Val v; memset(&v, 0, sizeof v); v.t = V_DICT; v.d = d; return v; }

static int val_eq(const Val *a, const Val *b);

static long dict_find(const Dict *d, const Val *k) {
    for (size_t i = 0; i < d->n; i++)
        if (val_eq(&d->k[i], k)) return (long)i;
    return -1;
}
static long dict_find_str(const Dict *d, const char *s, size_t n) {
    for (size_t i = 0; i < d->n; i++)
        if (d->k[i].t == V_STR && d->k[i].n == n && !memcmp(d->k[i].s, s, n)) return (long)i;
    return -1;
}
static void dict_set(J *j, Dict *d, Val k, Val v) {
    long i = dict_find(d, &k);
    if (i >= 0) { d->v[i] = v; return; }
    if (d->n == d->cap) {
        Val *nk = jalloc(j, sizeof(Val) * d->cap * 2), *nv = jalloc(j, sizeof(Val) * d->cap * 2);
        memcpy(nk, d->k, sizeof(Val) * d->n);
        memcpy(nv, d->v, sizeof(Val) * d->n);
        d->k = nk;
        d->v = nv;
        d->cap *= 2;
    }
    d->k[d->n] = k;
    d->v[d->n++] = v;
}

static int truthy(const Val *v) {
    switch (v->t) {
    case V_UNDEF: case V_NONE: return 0;
    case V_BOOL: case V_INT: return v->i != 0;
    case V_FLOAT: return v->f != 0.0;
    case V_STR: return v->n != 0;
    case V_LIST: return v->l->kind == LK_GEN || v->l->kind == LK_REVITER || v->l->n != 0;
    case V_DICT: return v->d->n != 0;
    default: return 1;
    }
}

static const char *type_name(const Val *v) {
    switch (v->t) {
    case V_UNDEF: return "undefined";
    case V_NONE: return "NoneType";
    case V_BOOL: return "bool";
    case V_INT: return "int";
    case V_FLOAT: return "float";
    case V_STR: return "str";
    case V_LIST: {
        static const char *const names[] = {"list", "tuple", "range", "generator", "list_reverseiterator", "dict_items", "dict_keys", "dict_values"};
        return names[v->l->kind];
    }
    case V_DICT: return "dict";
    case V_NS: return "Namespace";
    case V_MACRO: return "Macro";
    case V_LOOP: return "LoopContext";
    default: return "function";
    }
}

static int is_num(const Val *v) { return v->t == V_INT || v->t == V_BOOL || v->t == V_FLOAT; }
static double num_f(const Val *v) { return v->t == V_FLOAT ? v->f : (double)v->i; }

/* ───────────────────────── UTF-8 helpers ───────────────────────── */

static size_t u8len(unsigned char c) { return c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4; }
static int is_ascii(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++) if ((unsigned char)s[i] >= 0x80) return 0;
    return 1;
}
/* decode one code point at s (bounded by end); returns bytes used (>= 1) */
static size_t u8dec(const char *s, const char *end, unsigned *cp) {
    unsigned char c = (unsigned char)s[0];
    size_t l = u8len(c);
    if ((size_t)(end - s) < l) l = 1;
    if (l == 1) { *cp = c; return 1; }
    unsigned v = c & (l == 2 ? 0x1F : l == 3 ? 0x0F : 0x07);
    for (size_t i = 1; i < l; i++) v = (v << 6) | ((unsigned char)s[i] & 0x3F);
    *cp = v;
    return l;
}
static size_t u8enc(char *o, unsigned cp) {
    if (cp < 0x80) { o[0] = (char)cp; return 1; }
    if (cp < 0x800) { o[0] = (char)(0xC0 | cp >> 6); o[1] = (char)(0x80 | (cp & 63)); return 2; }
    if (cp < 0x10000) { o[0] = (char)(0xE0 | cp >> 12); o[1] = (char)(0x80 | ((cp >> 6) & 63)); o[2] = (char)(0x80 | (cp & 63)); return 3; }
    o[0] = (char)(0xF0 | cp >> 18); o[1] = (char)(0x80 | ((cp >> 12) & 63)); o[2] = (char)(0x80 | ((cp >> 6) & 63)); o[3] = (char)(0x80 | (cp & 63));
    return 4;
}
static size_t u8count(const char *s, size_t n) {
    size_t c = 0;
    for (size_t i = 0; i < n; i++) c += ((unsigned char)s[i] & 0xC0) != 0x80;
    return c;
}
/* Python's str.isspace() for one code point */
static int py_space(unsigned cp) {
    return (cp >= 9 && cp <= 13) || (cp >= 0x1C && cp <= 0x20) || cp == 0x85 || cp == 0xA0 || cp == 0x1680 ||
           (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000;
}
/* length of the whitespace code point at s, or 0 */
static size_t space_at(const char *s, const char *end) {
    unsigned cp;
    size_t l = u8dec(s, end, &cp);
    return py_space(cp) ? l : 0;
}
/* the start of the whitespace run that ends at `end` (or end if none) */
static const char *space_run_back(const char *s, const char *end) {
    while (end > s) {
        const char *p = end - 1;
        while (p > s && ((unsigned char)*p & 0xC0) == 0x80) p--;
        if (!space_at(p, end)) break;
        end = p;
    }
    return end;
}

/* ───────────────────────── number formatting ───────────────────────── */

/* Python's repr(float): the shortest digits that read back the same, fixed
 * notation for decimal exponents in [-4, 16), else d.ddde+XX. */
static void fmt_float(char *buf, size_t cap, double f) {
    if (isnan(f)) { snprintf(buf, cap, "nan"); return; }
    if (isinf(f)) { snprintf(buf, cap, f < 0 ? "-inf" : "inf"); return; }
    char tmp[64];
    int prec;
    for (prec = 1; prec <= 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*e", prec - 1, f);
        if (strtod(tmp, NULL) == f) break;
    }
    /* tmp: [-]d.ddddde[+-]XX */
    char digits[32];
    int nd = 0, neg = tmp[0] == '-';
    const char *p = tmp + neg;
    for (; *p && *p != 'e'; p++) if (*p >= '0' && *p <= '9') digits[nd++] = *p;
    int exp10 = atoi(p + 1);
    while (nd > 1 && digits[nd - 1] == '0') nd--;
    digits[nd] = 0;
    int decpt = exp10 + 1;
    char *o = buf;
    size_t left = cap;
#define PUT(...) do { int w_ = snprintf(o, left, __VA_ARGS__); if (w_ < 0 || (size_t)w_ >= left) return; o += w_; left -= (size_t)w_; } while (0)
    if (neg) PUT("-");
    if (decpt > -4 && decpt <= 16) {
        if (decpt <= 0) {
            PUT("0.");
            for (int i = 0; i < -decpt; i++) PUT("0");
            PUT("%s", digits);
        } else if (decpt >= nd) {
            PUT("%s", digits);
            for (int i = nd; i < decpt; i++) PUT("0");
            PUT(".0");
        } else {
            PUT("%.*s.%s", decpt, digits, digits + decpt);
        }
    } else {
        PUT("%c", digits[0]);
        if (nd > 1) PUT(".%s", digits + 1);
        PUT("e%c%02d", exp10 < 0 ? '-' : '+', exp10 < 0 ? -exp10 : exp10);
    }
#undef PUT
}

/* ───────────────────────── str() and repr() ───────────────────────── */

static void put_repr(J *j, SB *b, const Val *v, int depth);

static void put_str_repr(J *j, SB *b, const char *s, size_t n) {
    int has_sq = memchr(s, '\'', n) != NULL, has_dq = memchr(s, '"', n) != NULL;
    char q = has_sq && !has_dq ? '"' : '\'';
    sb_putc(j, b, q);
    const char *end = s + n;
    for (const char *p = s; p < end;) {
        unsigned cp;
        size_t l = u8dec(p, end, &cp);
        char esc[16];
        if (cp == (unsigned)q || cp == '\\') { esc[0] = '\\'; esc[1] = (char)cp; sb_put(j, b, esc, 2); }
        else if (cp == '\n') sb_puts(j, b, "\\n");
        else if (cp == '\r') sb_puts(j, b, "\\r");
        else if (cp == '\t') sb_puts(j, b, "\\t");
        else if (cp < 0x20 || (cp >= 0x7F && cp <= 0xA0) || cp == 0xAD) { snprintf(esc, sizeof esc, "\\x%02x", cp); sb_puts(j, b, esc); }
        else if ((cp >= 0x2028 && cp <= 0x202F) || (cp >= 0x200B && cp <= 0x200F) || (cp >= 0x2060 && cp <= 0x2064) || cp == 0xFEFF ||
                 cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x205F || cp == 0x3000 || (cp >= 0xD800 && cp <= 0xDFFF)) {
            snprintf(esc, sizeof esc, "\\u%04x", cp);
            sb_puts(j, b, esc);
        } else sb_put(j, b, p, l);
        p += l;
    }
    sb_putc(j, b, q);
}

static void put_str(J *j, SB *b, const Val *v, int depth) {
    char buf[64];
    switch (v->t) {
    case V_UNDEF: return;
    case V_NONE: sb_puts(j, b, "None"); return;
    case V_BOOL: sb_puts(j, b, v->i ? "True" : "False"); return;
    case V_INT: snprintf(buf, sizeof buf, "%lld", (long long)v->i); sb_puts(j, b, buf); return;
    case V_FLOAT: fmt_float(buf, sizeof buf, v->f); sb_puts(j, b, buf); return;
    case V_STR: sb_put(j, b, v->s, v->n); return;
    default: put_repr(j, b, v, depth); return;
    }
}

static void put_repr(J *j, SB *b, const Val *v, int depth) {
    if (depth > JINJA_MAX_DEPTH) jfail(j, 0, "a value is nested too deeply to print");
    switch (v->t) {
    case V_STR: put_str_repr(j, b, v->s, v->n); return;
    case V_LIST: {
        const List *l = v->l;
        if (l->kind == LK_GEN) { sb_puts(j, b, "<generator object>"); return; }
        if (l->kind == LK_REVITER) { sb_puts(j, b, "<list_reverseiterator object>"); return; }
        if (l->kind == LK_RANGE) {
            char buf[96];
            if (l->rs == 1) snprintf(buf, sizeof buf, "range(%lld, %lld)", (long long)l->r0, (long long)l->r1);
            else snprintf(buf, sizeof buf, "range(%lld, %lld, %lld)", (long long)l->r0, (long long)l->r1, (long long)l->rs);
            sb_puts(j, b, buf);
            return;
        }
        if (l->kind >= LK_ITEMS) sb_puts(j, b, l->kind == LK_ITEMS ? "dict_items(" : l->kind == LK_KEYS ? "dict_keys(" : "dict_values(");
        int tuple = l->kind == LK_TUPLE;
        sb_putc(j, b, tuple ? '(' : '[');
        for (size_t i = 0; i < l->n; i++) {
            if (i) sb_puts(j, b, ", ");
            put_repr(j, b, &l->v[i], depth + 1);
        }
        if (tuple && l->n == 1) sb_putc(j, b, ',');
        sb_putc(j, b, tuple ? ')' : ']');
        if (l->kind >= LK_ITEMS) sb_putc(j, b, ')');
        return;
    }
    case V_DICT: case V_NS:
        if (v->t == V_NS) sb_puts(j, b, "<Namespace ");
        sb_putc(j, b, '{');
        for (size_t i = 0; i < v->d->n; i++) {
            if (i) sb_puts(j, b, ", ");
            put_repr(j, b, &v->d->k[i], depth + 1);
            sb_puts(j, b, ": ");
            put_repr(j, b, &v->d->v[i], depth + 1);
        }
        sb_putc(j, b, '}');
        if (v->t == V_NS) sb_putc(j, b, '>');
        return;
    case V_UNDEF: return;
    case V_MACRO: sb_puts(j, b, "<Macro>"); return;
    case V_LOOP: sb_puts(j, b, "<LoopContext>"); return;
    case V_FUNC: case V_METHOD: sb_puts(j, b, "<function>"); return;
    default: put_str(j, b, v, depth); return;
    }
}

static Val to_str(J *j, const Val *v) {
    if (v->t == V_STR) return *v;
    SB b = {0};
    put_str(j, &b, v, 0);
    return v_str(b.s ? b.s : "", b.n);
}

/* ───────────────────────── tojson (Python's json.dumps) ───────────────────────── */

typedef struct JsonOpts { int ensure_ascii, indent, sort_keys; const char *item_sep, *key_sep; } JsonOpts;

static void json_str(J *j, SB *b, const char *s, size_t n, int ensure_ascii) {
    sb_putc(j, b, '"');
    const char *end = s + n;
    for (const char *p = s; p < end;) {
        unsigned cp;
        size_t l = u8dec(p, end, &cp);
        char esc[16];
        switch (cp) {
        case '"': sb_puts(j, b, "\\\""); break;
        case '\\': sb_puts(j, b, "\\\\"); break;
        case '\n': sb_puts(j, b, "\\n"); break;
        case '\r': sb_puts(j, b, "\\r"); break;
        case '\t': sb_puts(j, b, "\\t"); break;
        case '\b': sb_puts(j, b, "\\b"); break;
        case '\f': sb_puts(j, b, "\\f"); break;
        default:
            if (cp < 0x20 || (ensure_ascii && cp >= 0x7F)) {
                if (cp >= 0x10000) {
                    unsigned v = cp - 0x10000;
                    snprintf(esc, sizeof esc, "\\u%04x\\u%04x", 0xD800 + (v >> 10), 0xDC00 + (v & 0x3FF));
                } else snprintf(esc, sizeof esc, "\\u%04x", cp);
                sb_puts(j, b, esc);
            } else sb_put(j, b, p, l);
        }
        p += l;
    }
    sb_putc(j, b, '"');
}

static int val_cmp(J *j, int line, const Val *a, const Val *b);

static void json_newline(J *j, SB *b, const JsonOpts *o, int level) {
    sb_putc(j, b, '\n');
    for (int i = 0; i < o->indent * level; i++) sb_putc(j, b, ' ');
}

static void put_json(J *j, int line, SB *b, const Val *v, const JsonOpts *o, int level) {
    char buf[64];
    if (level > JINJA_MAX_DEPTH) jfail(j, line, "tojson: a value is nested too deeply");
    switch (v->t) {
    case V_NONE: sb_puts(j, b, "null"); return;
    case V_BOOL: sb_puts(j, b, v->i ? "true" : "false"); return;
    case V_INT: snprintf(buf, sizeof buf, "%lld", (long long)v->i); sb_puts(j, b, buf); return;
    case V_FLOAT:
        if (isnan(v->f)) sb_puts(j, b, "NaN");
        else if (isinf(v->f)) sb_puts(j, b, v->f < 0 ? "-Infinity" : "Infinity");
        else { fmt_float(buf, sizeof buf, v->f); sb_puts(j, b, buf); }
        return;
    case V_STR: json_str(j, b, v->s, v->n, o->ensure_ascii); return;
    case V_LIST:
        if (v->l->kind > LK_TUPLE) jfail(j, line, "tojson: Object of type %s is not JSON serializable", type_name(v));
        if (!v->l->n) { sb_puts(j, b, "[]"); return; }
        sb_putc(j, b, '[');
        for (size_t i = 0; i < v->l->n; i++) {
            if (i) sb_puts(j, b, o->item_sep);
            if (o->indent >= 0) json_newline(j, b, o, level + 1);
            put_json(j, line, b, &v->l->v[i], o, level + 1);
        }
        if (o->indent >= 0) json_newline(j, b, o, level);
        sb_putc(j, b, ']');
        return;
    case V_DICT: case V_NS: {
        Dict *d = v->d;
        if (!d->n) { sb_puts(j, b, "{}"); return; }
        size_t *ord = jalloc(j, sizeof(size_t) * d->n);
        for (size_t i = 0; i < d->n; i++) ord[i] = i;
        if (o->sort_keys)
            for (size_t i = 1; i < d->n; i++)
                for (size_t k = i; k > 0 && val_cmp(j, line, &d->k[ord[k - 1]], &d->k[ord[k]]) > 0; k--) {
                    size_t t = ord[k]; ord[k] = ord[k - 1]; ord[k - 1] = t;
                }
        sb_putc(j, b, '{');
        for (size_t ii = 0; ii < d->n; ii++) {
            size_t i = ord[ii];
            if (ii) sb_puts(j, b, o->item_sep);
            if (o->indent >= 0) json_newline(j, b, o, level + 1);
            const Val *k = &d->k[i];
            if (k->t == V_STR) json_str(j, b, k->s, k->n, o->ensure_ascii);
            else if (k->t == V_INT || k->t == V_BOOL || k->t == V_FLOAT || k->t == V_NONE) {
                SB t = {0};
                put_json(j, line, &t, k, o, level + 1);
                sb_putc(j, b, '"');
                sb_put(j, b, t.s, t.n);
                sb_putc(j, b, '"');
            } else jfail(j, line, "tojson: keys must be str, int, float, bool or None, not %s", type_name(k));
            sb_puts(j, b, o->key_sep);
            put_json(j, line, b, &d->v[i], o, level + 1);
        }
        if (o->indent >= 0) json_newline(j, b, o, level);
        sb_putc(j, b, '}');
        return;
    }
    default: jfail(j, line, "tojson: Object of type %s is not JSON serializable", v->t == V_UNDEF ? "Undefined" : type_name(v));
    }
}

/* ───────────────────────── equality, ordering ───────────────────────── */

static int val_eq(const Val *a, const Val *b) {
    if (is_num(a) && is_num(b)) {
        if (a->t != V_FLOAT && b->t != V_FLOAT) return a->i == b->i;
        return num_f(a) == num_f(b);
    }
    if (a->t != b->t) return 0;
    switch (a->t) {
    case V_UNDEF: case V_NONE: return 1;
    case V_STR: return a->n == b->n && !memcmp(a->s, b->s, a->n);
    case V_LIST:
        if (a->l->kind != b->l->kind) return 0;
        if (a->l->kind == LK_GEN || a->l->kind == LK_REVITER) return a->l == b->l;
        if (a->l->n != b->l->n) return 0;
        for (size_t i = 0; i < a->l->n; i++) if (!val_eq(&a->l->v[i], &b->l->v[i])) return 0;
        return 1;
    case V_DICT: case V_NS:
        if (a->t == V_NS) return a->d == b->d;
        if (a->d->n != b->d->n) return 0;
        for (size_t i = 0; i < a->d->n; i++) {
            long k = dict_find(b->d, &a->d->k[i]);
            if (k < 0 || !val_eq(&a->d->v[i], &b->d->v[k])) return 0;
        }
        return 1;
    case V_MACRO: return a->mc == b->mc;
    case V_LOOP: return a->lp == b->lp;
    default: return 0;
    }
}

static int val_cmp(J *j, int line, const Val *a, const Val *b) {
    if (is_num(a) && is_num(b)) {
        if (a->t != V_FLOAT && b->t != V_FLOAT) return a->i < b->i ? -1 : a->i > b->i;
        double x = num_f(a), y = num_f(b);
        return x < y ? -1 : x > y;
    }
    if (a->t == V_STR && b->t == V_STR) {
        size_t n = a->n < b->n ? a->n : b->n;
        int c = memcmp(a->s, b->s, n);
        if (c) return c < 0 ? -1 : 1;
        return a->n < b->n ? -1 : a->n > b->n;
    }
    if (a->t == V_LIST && b->t == V_LIST) {
        for (size_t i = 0; i < a->l->n && i < b->l->n; i++) {
            if (val_eq(&a->l->v[i], &b->l->v[i])) continue;
            return val_cmp(j, line, &a->l->v[i], &b->l->v[i]);
        }
        return a->l->n < b->l->n ? -1 : a->l->n > b->l->n;
    }
    jfail(j, line, "'<' not supported between instances of '%s' and '%s'", type_name(a), type_name(b));
}

/* ───────────────────────── lexer ───────────────────────── */

static void tok_push(J *j, int type, int line, const char *s, size_t n) {
    if (j->ntok == j->captok) {
        size_t cap = j->captok ? j->captok * 2 : 256;
        Tok *nt = jalloc(j, sizeof(Tok) * cap);
        if (j->ntok) memcpy(nt, j->toks, sizeof(Tok) * j->ntok);
        j->toks = nt;
        j->captok = cap;
    }
    Tok *t = &j->toks[j->ntok++];
    memset(t, 0, sizeof *t);
    t->type = type;
    t->line = line;
    t->s = s;
    t->n = n;
}

static int count_nl(const char *s, const char *e) {
    int n = 0;
    for (; s < e; s++) n += *s == '\n';
    return n;
}

static int is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }
static int is_name0(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
static int is_digit(char c) { return c >= '0' && c <= '9'; }

/* A string literal, decoded as Jinja does (Python's unicode-escape after
 * protecting non-ASCII text): \n \t \\ \' \" \xNN \uNNNN \UNNNNNNNN, octal,
 * backslash-newline dropped, unknown escapes kept as written. */
static const char *lex_string(J *j, const char *p, const char *end, int *line, Tok *t) {
    char q = *p++;
    SB b = {0};
    int start_line = *line;
    while (p < end && *p != q) {
        if (*p == '\n') (*line)++;
        if (*p != '\\') { sb_putc(j, &b, *p++); continue; }
        if (p + 1 >= end) break;
        char e = p[1];
        p += 2;
        unsigned cp = 0;
        int hex = 0;
        switch (e) {
        case '\n': (*line)++; break;
        case '\\': sb_putc(j, &b, '\\'); break;
        case '\'': sb_putc(j, &b, '\''); break;
        case '"': sb_putc(j, &b, '"'); break;
        case 'a': sb_putc(j, &b, '\a'); break;
        case 'b': sb_putc(j, &b, '\b'); break;
        case 'f': sb_putc(j, &b, '\f'); break;
        case 'n': sb_putc(j, &b, '\n'); break;
        case 'r': sb_putc(j, &b, '\r'); break;
        case 't': sb_putc(j, &b, '\t'); break;
        case 'v': sb_putc(j, &b, '\v'); break;
        case 'x': hex = 2; break;
        case 'u': hex = 4; break;
        case 'U': hex = 8; break;
        case 'N': jfail(j, *line, "string escape \\N{...} is not supported");
        default:
            if (e >= '0' && e <= '7') {
                cp = (unsigned)(e - '0');
                for (int k = 0; k < 2 && p < end && *p >= '0' && *p <= '7'; k++) cp = cp * 8 + (unsigned)(*p++ - '0');
                char o[4];
                sb_put(j, &b, o, u8enc(o, cp));
            } else {
                sb_putc(j, &b, '\\');
                p--;   /* the character after the backslash is ordinary text */
            }
        }
        if (hex) {
            for (int k = 0; k < hex; k++) {
                char c = p < end ? *p : 0;
                int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
                if (d < 0) jfail(j, *line, "truncated \\%c escape in a string literal", e);
                cp = cp * 16 + (unsigned)d;
                p++;
            }
            if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) jfail(j, *line, "string escape for U+%X is not a valid character", cp);
            char o[4];
            sb_put(j, &b, o, u8enc(o, cp));
        }
    }
    if (p >= end) jfail(j, start_line, "unterminated string literal");
    t->s = b.s ? b.s : "";
    t->n = b.n;
    return p + 1;
}

/* skip Unicode white space (Python's \s), counting lines */
static const char *skip_space(const char *p, const char *end, int *line) {
    size_t l;
    while (p < end && (l = space_at(p, end)) > 0) { *line += *p == '\n'; p += l; }
    return p;
}

static const char *const OPS[] = {"//", "**", "==", "!=", ">=", "<=", "+", "-", "*", "/", "%", "~", "(", ")", "[", "]", "{", "}",
                                  ",", ".", ":", "|", "=", "<", ">"};

static void lex(J *j, const char *src, size_t len) {
    const char *p = src, *end = src + len;
    int line = 1, line_starting = 1;
    while (p < end) {
        const char *q = p;
        char kind = 0;
        while (q + 1 < end) {
            if (q[0] == '{' && (q[1] == '{' || q[1] == '%' || q[1] == '#')) { kind = q[1]; break; }
            q++;
        }
        if (!kind) {
            tok_push(j, TK_TEXT, line, p, (size_t)(end - p));
            break;
        }
        char sign = q + 2 < end && (q[2] == '-' || q[2] == '+') ? q[2] : 0;
        const char *te = q;
        if (sign == '-') te = space_run_back(p, q);
        else if (sign != '+' && kind != '{') {
            /* lstrip_blocks: only blanks between the line start and the tag */
            const char *ls = q;
            while (ls > p && ls[-1] != '\n') ls--;
            if ((ls > p || line_starting) && ls < q) {
                const char *k = ls;
                while (k < q) { size_t l = space_at(k, q); if (!l) break; k += l; }
                if (k == q) te = ls;
            }
        }
        if (te > p) tok_push(j, TK_TEXT, line, p, (size_t)(te - p));
        line += count_nl(p, q);
        p = q + 2 + (sign ? 1 : 0);
        if (kind == '#') {
            const char *c = p;
            while (c + 1 < end && !(c[0] == '#' && c[1] == '}')) c++;
            if (c + 1 >= end) jfail(j, line, "unterminated comment (missing '#}')");
            line += count_nl(p, c);
            char esign = c > p && (c[-1] == '-' || c[-1] == '+') ? c[-1] : 0;
            p = c + 2;
            if (esign == '-') p = skip_space(p, end, &line);
            else if (esign != '+' && p < end && *p == '\n') { p++; line++; }
            line_starting = p > src && p[-1] == '\n';
            continue;
        }
        if (kind == '%') {
            /* {% raw %} … {% endraw %}: the text between is output as written */
            const char *r = p;
            while (r < end && (*r == ' ' || *r == '\t' || *r == '\n' || *r == '\r')) r++;
            if (end - r >= 3 && !memcmp(r, "raw", 3) && (r + 3 >= end || !(is_name0(r[3]) || is_digit(r[3])))) {
                r += 3;
                while (r < end && (*r == ' ' || *r == '\t' || *r == '\n' || *r == '\r')) r++;
                int dash = r < end && *r == '-';
                if (dash) r++;
                if (end - r >= 2 && r[0] == '%' && r[1] == '}') {
                    r += 2;
                    int l0 = line;
                    line += count_nl(p, r);
                    if (dash) r = skip_space(r, end, &line);
                    /* find {%[-+]? endraw [-+]?%} */
                    const char *q = r, *tag = NULL, *after = NULL;
                    char esign = 0, tsign = 0;
                    for (; q + 1 < end; q++) {
                        if (q[0] != '{' || q[1] != '%') continue;
                        const char *k = q + 2;
                        char sg = k < end && (*k == '-' || *k == '+') ? *k : 0;
                        if (sg) k++;
                        while (k < end && (*k == ' ' || *k == '\t' || *k == '\n' || *k == '\r')) k++;
                        if (end - k < 6 || memcmp(k, "endraw", 6)) continue;
                        k += 6;
                        while (k < end && (*k == ' ' || *k == '\t' || *k == '\n' || *k == '\r')) k++;
                        char s2 = k < end && (*k == '-' || *k == '+') ? *k : 0;
                        if (s2) k++;
                        if (end - k < 2 || k[0] != '%' || k[1] != '}') continue;
                        tag = q; after = k + 2; esign = sg; tsign = s2;
                        break;
                    }
                    if (!tag) jfail(j, l0, "missing {%% endraw %%} (the raw block opened here is never closed)");
                    const char *te2 = tag;
                    if (esign == '-') te2 = space_run_back(r, tag);
                    else if (esign != '+') {
                        const char *ls = tag;
                        while (ls > r && ls[-1] != '\n') ls--;
                        if (ls > r && ls < tag) {
                            const char *k = ls;
                            while (k < tag) { size_t l = space_at(k, tag); if (!l) break; k += l; }
                            if (k == tag) te2 = ls;
                        }
                    }
                    if (te2 > r) tok_push(j, TK_TEXT, line, r, (size_t)(te2 - r));
                    line += count_nl(r, after);
                    p = after;
                    if (tsign == '-') p = skip_space(p, end, &line);
                    else if (tsign != '+' && p < end && *p == '\n') { p++; line++; }
                    line_starting = p > src && p[-1] == '\n';
                    continue;
                }
            }
        }
        int begin_line = line;
        tok_push(j, kind == '{' ? TK_VAR_BEGIN : TK_BLOCK_BEGIN, line, NULL, 0);
        int nest = 0, closed = 0;
        while (p < end) {
            while (p < end && is_ws(*p)) { line += *p == '\n'; p++; }
            if (p >= end) break;
            if (nest == 0) {
                char c2 = kind == '{' ? '}' : '%', c3 = '}';
                if ((*p == '-' || *p == '+') && p + 2 < end + 0 && p[1] == c2 && p[2] == c3 && p + 2 < end) {
                    char s2 = *p;
                    p += 3;
                    if (s2 == '-') p = skip_space(p, end, &line);
                    else if (kind == '%' && s2 == '+') { /* keeps the newline */ }
                    closed = 1;
                } else if (p + 1 < end && p[0] == c2 && p[1] == c3) {
                    p += 2;
                    if (kind == '%' && p < end && *p == '\n') { p++; line++; }
                    closed = 1;
                }
                if (closed) {
                    tok_push(j, kind == '{' ? TK_VAR_END : TK_BLOCK_END, line, NULL, 0);
                    break;
                }
            }
            Tok *prev = j->ntok ? &j->toks[j->ntok - 1] : NULL;
            if (is_name0(*p) || (unsigned char)*p >= 0x80) {
                const char *s = p;
                while (p < end && (is_name0(*p) || is_digit(*p) || (unsigned char)*p >= 0x80)) p++;
                tok_push(j, TK_NAME, line, s, (size_t)(p - s));
            } else if (is_digit(*p)) {
                const char *s = p;
                int isf = 0;
                while (p < end && (is_digit(*p) || *p == '_')) p++;
                int after_dot = prev && prev->type == TK_OP && prev->n == 1 && prev->s[0] == '.';
                if (!after_dot && p + 1 < end && *p == '.' && is_digit(p[1])) {
                    isf = 1;
                    p++;
                    while (p < end && (is_digit(*p) || *p == '_')) p++;
                }
                if (!after_dot && p < end && (*p == 'e' || *p == 'E')) {
                    const char *e = p + 1;
                    if (e < end && (*e == '+' || *e == '-')) e++;
                    if (e < end && is_digit(*e)) {
                        isf = 1;
                        p = e;
                        while (p < end && (is_digit(*p) || *p == '_')) p++;
                    }
                }
                char buf[128];
                size_t n = 0;
                for (const char *k = s; k < p && n + 1 < sizeof buf; k++) if (*k != '_') buf[n++] = *k;
                buf[n] = 0;
                tok_push(j, isf ? TK_FLOAT : TK_INT, line, s, (size_t)(p - s));
                Tok *t = &j->toks[j->ntok - 1];
                errno = 0;
                if (isf) t->f = strtod(buf, NULL);
                else {
                    t->i = strtoll(buf, NULL, 10);
                    if (errno == ERANGE) jfail(j, line, "integer literal %s is too large (64-bit integers only)", buf);
                }
            } else if (*p == '\'' || *p == '"') {
                Tok t = {0};
                int l0 = line;
                p = lex_string(j, p, end, &line, &t);
                tok_push(j, TK_STRING, l0, t.s, t.n);
            } else {
                size_t k;
                for (k = 0; k < sizeof OPS / sizeof *OPS; k++) {
                    size_t n = strlen(OPS[k]);
                    if ((size_t)(end - p) >= n && !memcmp(p, OPS[k], n)) break;
                }
                if (k == sizeof OPS / sizeof *OPS) jfail(j, line, "unexpected character '%c' in a tag", *p);
                size_t n = strlen(OPS[k]);
                char c = OPS[k][0];
                if (c == '(' || c == '[' || c == '{') nest++;
                if ((c == ')' || c == ']' || c == '}') && nest > 0) nest--;
                tok_push(j, TK_OP, line, OPS[k], n);
                p += n;
            }
        }
        if (!closed) jfail(j, begin_line, "unterminated tag (missing '%s')", kind == '{' ? "}}" : "%}");
        line_starting = p > src && p[-1] == '\n';
    }
    tok_push(j, TK_EOF, line, NULL, 0);
}

/* ───────────────────────── parser ───────────────────────── */

enum {
    N_LIT, N_NAME, N_ATTR, N_ITEM, N_SLICE, N_CALL, N_FILTER, N_TEST, N_BIN, N_AND, N_OR, N_NOT, N_NEG, N_POS, N_COND, N_LIST, N_DICT, N_CMP,
    N_CAPTURE, /* a block's output as a str (filtered block sets, {% filter %}): c is the body */
    S_BODY, S_TEXT, S_OUT, S_IF, S_FOR, S_SET, S_SETBLOCK, S_MACRO, S_BREAK, S_CONTINUE
};

struct Node {
    int kind, line, op, neg;
    Node *a, *b, *c, *d;
    Node **kids;
    const char **names;
    int nkids;
    Val lit;
    const char *name, *name2;
};

static Node *node(J *j, int kind, int line) {
    Node *n = jalloc(j, sizeof *n);
    memset(n, 0, sizeof *n);
    n->kind = kind;
    n->line = line;
    return n;
}

typedef struct NodeVec { Node **v; const char **names; int n, cap; } NodeVec;
static void nv_push(J *j, NodeVec *nv, Node *x, const char *name) {
    if (nv->n == nv->cap) {
        int cap = nv->cap ? nv->cap * 2 : 4;
        Node **v = jalloc(j, sizeof(Node *) * (size_t)cap);
        const char **nm = jalloc(j, sizeof(char *) * (size_t)cap);
        if (nv->n) { memcpy(v, nv->v, sizeof(Node *) * (size_t)nv->n); memcpy(nm, nv->names, sizeof(char *) * (size_t)nv->n); }
        nv->v = v;
        nv->names = nm;
        nv->cap = cap;
    }
    nv->v[nv->n] = x;
    nv->names[nv->n++] = name;
}

static Tok *cur(J *j) { return &j->toks[j->pos]; }
static Tok *peek(J *j, int k) { size_t p = j->pos + (size_t)k; return &j->toks[p < j->ntok ? p : j->ntok - 1]; }
static int tok_is_op(const Tok *t, const char *op) { return t->type == TK_OP && t->n == strlen(op) && !memcmp(t->s, op, t->n); }
static int tok_is_name(const Tok *t, const char *nm) { return t->type == TK_NAME && t->n == strlen(nm) && !memcmp(t->s, nm, t->n); }
static int accept_op(J *j, const char *op) { if (tok_is_op(cur(j), op)) { j->pos++; return 1; } return 0; }
static int accept_name(J *j, const char *nm) { if (tok_is_name(cur(j), nm)) { j->pos++; return 1; } return 0; }

static const char *tok_desc(J *j, const Tok *t) {
    switch (t->type) {
    case TK_EOF: return "end of template";
    case TK_VAR_END: return "'}}'";
    case TK_BLOCK_END: return "'%}'";
    case TK_VAR_BEGIN: return "'{{'";
    case TK_BLOCK_BEGIN: return "'{%'";
    case TK_TEXT: return "text";
    case TK_STRING: return "a string";
    case TK_INT: case TK_FLOAT: return "a number";
    default: {
        char *s = jalloc(j, t->n + 3);
        snprintf(s, t->n + 3, "'%.*s'", (int)t->n, t->s);
        return s;
    }
    }
}

static void expect_op(J *j, const char *op) {
    if (!accept_op(j, op)) jfail(j, cur(j)->line, "expected '%s', got %s", op, tok_desc(j, cur(j)));
}
static const char *expect_name(J *j) {
    Tok *t = cur(j);
    if (t->type != TK_NAME) jfail(j, t->line, "expected a name, got %s", tok_desc(j, t));
    j->pos++;
    return jstrdup(j, t->s, t->n);
}
static void expect_block_end(J *j) {
    if (cur(j)->type != TK_BLOCK_END) jfail(j, cur(j)->line, "expected '%%}', got %s", tok_desc(j, cur(j)));
    j->pos++;
}

static void enter(J *j, int line) {
    if (++j->depth > JINJA_MAX_DEPTH) jfail(j, line, "the template nests deeper than %d levels", JINJA_MAX_DEPTH);
}
static void leave(J *j) { j->depth--; }

static Node *parse_expr(J *j, int with_cond);
static Node *parse_or(J *j);
static Node *parse_unary(J *j, int with_filter);
static Node *parse_primary(J *j);
static Node *parse_postfix(J *j, Node *n);

static void parse_call_args(J *j, NodeVec *args) {
    /* after '(' */
    while (!accept_op(j, ")")) {
        if (args->n) expect_op(j, ",");
        if (accept_op(j, ")")) break;   /* trailing comma */
        if (tok_is_op(cur(j), "*") || tok_is_op(cur(j), "**")) jfail(j, cur(j)->line, "*args / **kwargs in calls are not supported");
        const char *kw = NULL;
        if (cur(j)->type == TK_NAME && tok_is_op(peek(j, 1), "=")) {
            kw = expect_name(j);
            j->pos++;
        }
        nv_push(j, args, parse_expr(j, 1), kw);
    }
}

/* The argument list after '(' parsed into x's kids (positional: name NULL). */
static void parse_args_into(J *j, Node *x) {
    NodeVec args = {0};
    parse_call_args(j, &args);
    x->kids = args.v;
    x->names = args.names;
    x->nkids = args.n;
}

static Node *parse_tuple_or_expr(J *j, int with_cond) {
    /* an expression, or a bare tuple a, b (becomes a list) */
    int line = cur(j)->line;
    Node *first = parse_expr(j, with_cond);
    if (!tok_is_op(cur(j), ",")) return first;
    NodeVec nv = {0};
    nv_push(j, &nv, first, NULL);
    while (accept_op(j, ",")) {
        Tok *t = cur(j);
        if (t->type == TK_BLOCK_END || t->type == TK_VAR_END || tok_is_op(t, ")") || tok_is_name(t, "in")) break;
        nv_push(j, &nv, parse_expr(j, with_cond), NULL);
    }
    Node *n = node(j, N_LIST, line);
    n->kids = nv.v;
    n->nkids = nv.n;
    n->op = 1;   /* a tuple */
    return n;
}

static Node *parse_primary(J *j) {
    Tok *t = cur(j);
    Node *n;
    enter(j, t->line);
    switch (t->type) {
    case TK_NAME:
        j->pos++;
        if (tok_is_name(t, "true") || tok_is_name(t, "True")) { n = node(j, N_LIT, t->line); n->lit = v_bool(1); }
        else if (tok_is_name(t, "false") || tok_is_name(t, "False")) { n = node(j, N_LIT, t->line); n->lit = v_bool(0); }
        else if (tok_is_name(t, "none") || tok_is_name(t, "None")) { n = node(j, N_LIT, t->line); n->lit = v_none(); }
        else { n = node(j, N_NAME, t->line); n->name = jstrdup(j, t->s, t->n); }
        break;
    case TK_STRING: {
        /* adjacent string literals concatenate */
        SB b = {0};
        sb_put(j, &b, t->s, t->n);
        j->pos++;
        while (cur(j)->type == TK_STRING) { sb_put(j, &b, cur(j)->s, cur(j)->n); j->pos++; }
        n = node(j, N_LIT, t->line);
        n->lit = v_str(b.s ? b.s : "", b.n);
        break;
    }
    case TK_INT: j->pos++; n = node(j, N_LIT, t->line); n->lit = v_int(t->i); break;
    case TK_FLOAT: j->pos++; n = node(j, N_LIT, t->line); n->lit = v_float(t->f); break;
    case TK_OP:
        if (accept_op(j, "(")) {
            if (accept_op(j, ")")) { n = node(j, N_LIST, t->line); n->op = 1; break; }   /* () */
            n = parse_tuple_or_expr(j, 1);
            expect_op(j, ")");
            break;
        }
        if (accept_op(j, "[")) {
            NodeVec nv = {0};
            while (!accept_op(j, "]")) {
                if (nv.n) expect_op(j, ",");
                if (accept_op(j, "]")) break;
                nv_push(j, &nv, parse_expr(j, 1), NULL);
            }
            n = node(j, N_LIST, t->line);
            n->kids = nv.v;
            n->nkids = nv.n;
            break;
        }
        if (accept_op(j, "{")) {
            NodeVec nv = {0};
            while (!accept_op(j, "}")) {
                if (nv.n) expect_op(j, ",");
                if (accept_op(j, "}")) break;
                nv_push(j, &nv, parse_expr(j, 1), NULL);
                expect_op(j, ":");
                nv_push(j, &nv, parse_expr(j, 1), NULL);
            }
            n = node(j, N_DICT, t->line);
            n->kids = nv.v;
            n->nkids = nv.n;
            break;
        }
        /* fallthrough */
    default: jfail(j, t->line, "unexpected %s in an expression", tok_desc(j, t));
    }
    leave(j);
    return n;
}

static Node *parse_subscript(J *j, Node *obj, int line) {
    /* after '[' : index or slice */
    Node *parts[3] = {0};
    int colons = 0;
    for (;;) {
        if (tok_is_op(cur(j), "]")) break;
        if (accept_op(j, ":")) {
            if (++colons > 2) jfail(j, line, "too many ':' in a slice");
            continue;
        }
        if (parts[colons]) jfail(j, cur(j)->line, "expected ']' or ':', got %s", tok_desc(j, cur(j)));
        parts[colons] = parse_expr(j, 1);
        if (colons == 0 && tok_is_op(cur(j), ",")) jfail(j, line, "tuple subscripts are not supported");
    }
    expect_op(j, "]");
    Node *n;
    if (!colons) {
        if (!parts[0]) jfail(j, line, "empty subscript []");
        n = node(j, N_ITEM, line);
        n->a = obj;
        n->b = parts[0];
    } else {
        n = node(j, N_SLICE, line);
        n->a = obj;
        n->b = parts[0];
        n->c = parts[1];
        n->d = parts[2];
    }
    return n;
}

static Node *parse_postfix(J *j, Node *n) {
    for (;;) {
        Tok *t = cur(j);
        if (tok_is_op(t, ".")) {
            j->pos++;
            Tok *a = cur(j);
            if (a->type == TK_NAME) {
                j->pos++;
                Node *x = node(j, N_ATTR, a->line);
                x->a = n;
                x->name = jstrdup(j, a->s, a->n);
                n = x;
            } else if (a->type == TK_INT) {
                j->pos++;
                Node *x = node(j, N_ITEM, a->line), *k = node(j, N_LIT, a->line);
                k->lit = v_int(a->i);
                x->a = n;
                x->b = k;
                n = x;
            } else jfail(j, a->line, "expected an attribute name after '.', got %s", tok_desc(j, a));
        } else if (tok_is_op(t, "[")) {
            j->pos++;
            n = parse_subscript(j, n, t->line);
        } else if (tok_is_op(t, "(")) {
            j->pos++;
            Node *x = node(j, N_CALL, t->line);
            x->a = n;
            parse_args_into(j, x);
            n = x;
        } else return n;
    }
}

static const char *dotted_name(J *j) {
    const char *nm = expect_name(j);
    while (tok_is_op(cur(j), ".") && peek(j, 1)->type == TK_NAME) {
        j->pos++;
        const char *b = expect_name(j);
        size_t l = strlen(nm) + strlen(b) + 2;
        char *c = jalloc(j, l);
        snprintf(c, l, "%s.%s", nm, b);
        nm = c;
    }
    return nm;
}

/* one filter applied to n: NAME or NAME(args), the '|' already read */
static Node *parse_one_filter(J *j, Node *n, int line) {
    Node *x = node(j, N_FILTER, line);
    x->a = n;
    x->name = dotted_name(j);
    if (accept_op(j, "(")) parse_args_into(j, x);
    return x;
}

/* the filters of a block tag ({% set x | f %}, {% filter f | g %}): '|' NAME [(args)] ... */
static Node *parse_filter_chain(J *j, Node *n) {
    while (tok_is_op(cur(j), "|")) {
        int line = cur(j)->line;
        j->pos++;
        n = parse_one_filter(j, n, line);
    }
    return n;
}

static Node *parse_filter_expr(J *j, Node *n) {
    for (;;) {
        Tok *t = cur(j);
        if (tok_is_op(t, "|")) {
            j->pos++;
            n = parse_one_filter(j, n, t->line);
        } else if (tok_is_name(t, "is")) {
            j->pos++;
            Node *x = node(j, N_TEST, t->line);
            x->a = n;
            if (accept_name(j, "not")) x->neg = 1;
            Tok *nt = cur(j);
            if (nt->type == TK_NAME) x->name = dotted_name(j);
            else if (tok_is_op(nt, "==") || tok_is_op(nt, "!=") || tok_is_op(nt, "<") || tok_is_op(nt, ">") || tok_is_op(nt, "<=") ||
                     tok_is_op(nt, ">=")) {
                j->pos++;
                x->name = jstrdup(j, nt->s, nt->n);
            } else jfail(j, nt->line, "expected a test name after 'is', got %s", tok_desc(j, nt));
            Tok *a = cur(j);
            if (accept_op(j, "(")) {
                parse_args_into(j, x);
            } else if ((a->type == TK_NAME || a->type == TK_STRING || a->type == TK_INT || a->type == TK_FLOAT || tok_is_op(a, "[") ||
                        tok_is_op(a, "{")) &&
                       !tok_is_name(a, "else") && !tok_is_name(a, "or") && !tok_is_name(a, "and")) {
                if (tok_is_name(a, "is")) jfail(j, a->line, "you cannot chain multiple tests with 'is'");
                Node *arg = parse_postfix(j, parse_primary(j));
                x->kids = jalloc(j, sizeof(Node *));
                x->kids[0] = arg;
                x->names = jalloc(j, sizeof(char *));
                x->names[0] = NULL;
                x->nkids = 1;
            }
            n = x;
        } else if (tok_is_op(t, "(")) {
            j->pos++;
            Node *x = node(j, N_CALL, t->line);
            x->a = n;
            parse_args_into(j, x);
            n = x;
        } else return n;
    }
}

static Node *parse_unary(J *j, int with_filter) {
    Tok *t = cur(j);
    Node *n;
    enter(j, t->line);
    if (accept_op(j, "-")) { n = node(j, N_NEG, t->line); n->a = parse_unary(j, 0); }
    else if (accept_op(j, "+")) { n = node(j, N_POS, t->line); n->a = parse_unary(j, 0); }
    else n = parse_primary(j);
    n = parse_postfix(j, n);
    if (with_filter) n = parse_filter_expr(j, n);
    leave(j);
    return n;
}

static Node *binop(J *j, int op, Node *a, Node *b, int line) {
    Node *n = node(j, N_BIN, line);
    n->op = op;
    n->a = a;
    n->b = b;
    return n;
}

static Node *parse_pow(J *j) {
    Node *n = parse_unary(j, 1);
    while (tok_is_op(cur(j), "**")) { int l = cur(j)->line; j->pos++; n = binop(j, 'P', n, parse_unary(j, 1), l); }
    return n;
}
static Node *parse_mul(J *j) {
    Node *n = parse_pow(j);
    for (;;) {
        Tok *t = cur(j);
        int op = tok_is_op(t, "*") ? '*' : tok_is_op(t, "/") ? '/' : tok_is_op(t, "//") ? 'F' : tok_is_op(t, "%") ? '%' : 0;
        if (!op) return n;
        j->pos++;
        n = binop(j, op, n, parse_pow(j), t->line);
    }
}
static Node *parse_concat(J *j) {
    Node *n = parse_mul(j);
    while (tok_is_op(cur(j), "~")) { int l = cur(j)->line; j->pos++; n = binop(j, '~', n, parse_mul(j), l); }
    return n;
}
static Node *parse_add(J *j) {
    Node *n = parse_concat(j);
    for (;;) {
        Tok *t = cur(j);
        int op = tok_is_op(t, "+") ? '+' : tok_is_op(t, "-") ? '-' : 0;
        if (!op) return n;
        j->pos++;
        n = binop(j, op, n, parse_concat(j), t->line);
    }
}
static Node *parse_compare(J *j) {
    int line = cur(j)->line;
    Node *first = parse_add(j);
    NodeVec nv = {0};
    for (;;) {
        Tok *t = cur(j);
        const char *op = NULL;
        if (tok_is_op(t, "==")) op = "==";
        else if (tok_is_op(t, "!=")) op = "!=";
        else if (tok_is_op(t, "<")) op = "<";
        else if (tok_is_op(t, ">")) op = ">";
        else if (tok_is_op(t, "<=")) op = "<=";
        else if (tok_is_op(t, ">=")) op = ">=";
        else if (tok_is_name(t, "in")) op = "in";
        else if (tok_is_name(t, "not") && tok_is_name(peek(j, 1), "in")) { op = "notin"; j->pos++; }
        if (!op) break;
        j->pos++;
        if (!nv.n) nv_push(j, &nv, first, NULL);
        nv_push(j, &nv, parse_add(j), op);
    }
    if (!nv.n) return first;
    Node *n = node(j, N_CMP, line);
    n->kids = nv.v;
    n->names = nv.names;
    n->nkids = nv.n;
    return n;
}
static Node *parse_not(J *j) {
    Tok *t = cur(j);
    if (accept_name(j, "not")) {
        enter(j, t->line);
        Node *n = node(j, N_NOT, t->line);
        n->a = parse_not(j);
        leave(j);
        return n;
    }
    return parse_compare(j);
}
static Node *parse_and(J *j) {
    Node *n = parse_not(j);
    while (tok_is_name(cur(j), "and")) {
        Node *x = node(j, N_AND, cur(j)->line);
        j->pos++;
        x->a = n;
        x->b = parse_not(j);
        n = x;
    }
    return n;
}
static Node *parse_or(J *j) {
    Node *n = parse_and(j);
    while (tok_is_name(cur(j), "or")) {
        Node *x = node(j, N_OR, cur(j)->line);
        j->pos++;
        x->a = n;
        x->b = parse_and(j);
        n = x;
    }
    return n;
}
static Node *parse_expr(J *j, int with_cond) {
    enter(j, cur(j)->line);
    Node *n = parse_or(j);
    while (with_cond && tok_is_name(cur(j), "if")) {
        Node *x = node(j, N_COND, cur(j)->line);
        j->pos++;
        x->a = parse_or(j);
        x->b = n;
        if (accept_name(j, "else")) x->c = parse_expr(j, 1);
        n = x;
    }
    leave(j);
    return n;
}

/* ── statements ── */

static Node *parse_body(J *j, const char *const *ends, int nends, const char **found, int open_line);

static Node *parse_if(J *j, int line) {
    Node *n = node(j, S_IF, line);
    n->a = parse_tuple_or_expr(j, 1);
    expect_block_end(j);
    static const char *const ends[] = {"elif", "else", "endif"};
    const char *f;
    n->c = parse_body(j, ends, 3, &f, line);
    if (!strcmp(f, "elif")) {
        enter(j, line);
        n->d = parse_if(j, cur(j)->line);
        leave(j);
        return n;
    }
    if (!strcmp(f, "else")) {
        expect_block_end(j);
        static const char *const e2[] = {"endif"};
        n->d = parse_body(j, e2, 1, &f, line);
    }
    expect_block_end(j);
    return n;
}

static Node *parse_for(J *j, int line) {
    Node *n = node(j, S_FOR, line);
    NodeVec targets = {0};
    do {
        Tok *t = cur(j);
        if (tok_is_op(t, "(")) jfail(j, t->line, "parenthesised loop targets are not supported");
        nv_push(j, &targets, NULL, expect_name(j));
    } while (accept_op(j, ","));
    if (targets.n > 2) jfail(j, line, "for loops unpack at most two names");
    n->names = targets.names;
    n->op = targets.n;
    if (!accept_name(j, "in")) jfail(j, cur(j)->line, "expected 'in' in a for loop, got %s", tok_desc(j, cur(j)));
    n->a = parse_tuple_or_expr(j, 0);
    if (accept_name(j, "if")) n->b = parse_expr(j, 0);
    if (accept_name(j, "recursive")) jfail(j, line, "recursive for loops are not supported");
    expect_block_end(j);
    static const char *const ends[] = {"else", "endfor"};
    const char *f;
    j->loops++;
    n->c = parse_body(j, ends, 2, &f, line);
    j->loops--;
    if (!strcmp(f, "else")) {
        expect_block_end(j);
        static const char *const e2[] = {"endfor"};
        n->d = parse_body(j, e2, 1, &f, line);
    }
    expect_block_end(j);
    return n;
}

static Node *parse_set(J *j, int line) {
    const char *nm = expect_name(j);
    Node *n;
    if (accept_op(j, ".")) {
        n = node(j, S_SET, line);
        n->name = nm;
        n->name2 = expect_name(j);
        n->op = 1;
    } else if (tok_is_op(cur(j), ",")) {
        NodeVec t = {0};
        nv_push(j, &t, NULL, nm);
        while (accept_op(j, ",")) nv_push(j, &t, NULL, expect_name(j));
        n = node(j, S_SET, line);
        n->names = t.names;
        n->op = t.n;
    } else if (cur(j)->type == TK_BLOCK_END || tok_is_op(cur(j), "|")) {
        /* {% set x %}...{% endset %}, or {% set x | filters %}...{% endset %}: the block's
         * output (a str), through the filters if any, is the value */
        n = node(j, S_SETBLOCK, line);
        n->name = nm;
        Node *cap = node(j, N_CAPTURE, line);
        n->a = parse_filter_chain(j, cap);
        expect_block_end(j);
        static const char *const ends[] = {"endset"};
        const char *f;
        cap->c = parse_body(j, ends, 1, &f, line);
        expect_block_end(j);
        return n;
    } else {
        n = node(j, S_SET, line);
        n->name = nm;
        n->op = 1;
    }
    expect_op(j, "=");
    n->a = parse_tuple_or_expr(j, 1);
    expect_block_end(j);
    return n;
}

/* does the tree read the variable `nm`? (for a macro's varargs / kwargs) */
static int uses_name(const Node *n, const char *nm, int depth) {
    if (!n || depth > 4 * JINJA_MAX_DEPTH) return 0;
    if (n->kind == N_NAME && !strcmp(n->name, nm)) return 1;
    if (uses_name(n->a, nm, depth + 1) || uses_name(n->b, nm, depth + 1) || uses_name(n->c, nm, depth + 1) || uses_name(n->d, nm, depth + 1)) return 1;
    for (int i = 0; i < n->nkids; i++) if (uses_name(n->kids[i], nm, depth + 1)) return 1;
    return 0;
}

static Node *parse_macro(J *j, int line) {
    Node *n = node(j, S_MACRO, line);
    n->name = expect_name(j);
    expect_op(j, "(");
    NodeVec params = {0};
    while (!accept_op(j, ")")) {
        if (params.n) expect_op(j, ",");
        if (accept_op(j, ")")) break;
        const char *p = expect_name(j);
        Node *dflt = NULL;
        if (accept_op(j, "=")) dflt = parse_expr(j, 1);
        nv_push(j, &params, dflt, p);
    }
    n->kids = params.v;
    n->names = params.names;
    n->nkids = params.n;
    expect_block_end(j);
    static const char *const ends[] = {"endmacro"};
    const char *f;
    int loops = j->loops;
    j->loops = 0;
    n->c = parse_body(j, ends, 1, &f, line);
    j->loops = loops;
    n->op = uses_name(n->c, "varargs", 0) | uses_name(n->c, "kwargs", 0) << 1;
    if (cur(j)->type == TK_NAME) j->pos++;   /* {% endmacro name %} */
    expect_block_end(j);
    return n;
}

static Node *parse_body(J *j, const char *const *ends, int nends, const char **found, int open_line) {
    int line0 = cur(j)->line;
    enter(j, line0);
    NodeVec nv = {0};
    for (;;) {
        Tok *t = cur(j);
        step(j, t->line);
        if (t->type == TK_EOF) {
            if (nends) jfail(j, open_line, "missing {%% %s %%} (the block opened here is never closed)", ends[nends - 1]);
            break;
        }
        if (t->type == TK_TEXT) {
            Node *x = node(j, S_TEXT, t->line);
            x->lit = v_str(t->s, t->n);
            nv_push(j, &nv, x, NULL);
            j->pos++;
            continue;
        }
        if (t->type == TK_VAR_BEGIN) {
            j->pos++;
            Node *x = node(j, S_OUT, t->line);
            x->a = parse_tuple_or_expr(j, 1);
            if (cur(j)->type != TK_VAR_END) jfail(j, cur(j)->line, "expected '}}', got %s", tok_desc(j, cur(j)));
            j->pos++;
            nv_push(j, &nv, x, NULL);
            continue;
        }
        if (t->type != TK_BLOCK_BEGIN) jfail(j, t->line, "unexpected %s", tok_desc(j, t));
        j->pos++;
        Tok *kw = cur(j);
        if (kw->type != TK_NAME) jfail(j, kw->line, "expected a tag name after '{%%', got %s", tok_desc(j, kw));
        for (int i = 0; i < nends; i++)
            if (tok_is_name(kw, ends[i])) {
                j->pos++;
                *found = ends[i];
                goto out;
            }
        j->pos++;
        Node *x;
        int l = kw->line;
        if (tok_is_name(kw, "if")) x = parse_if(j, l);
        else if (tok_is_name(kw, "for")) x = parse_for(j, l);
        else if (tok_is_name(kw, "set")) x = parse_set(j, l);
        else if (tok_is_name(kw, "macro")) x = parse_macro(j, l);
        else if (tok_is_name(kw, "break") || tok_is_name(kw, "continue")) {
            if (!j->loops) jfail(j, l, "{%% %.*s %%} outside a for loop", (int)kw->n, kw->s);
            x = node(j, tok_is_name(kw, "break") ? S_BREAK : S_CONTINUE, l);
            expect_block_end(j);
        } else if (tok_is_name(kw, "filter")) {
            /* {% filter f(args) | g %}...{% endfilter %}: the body's output through the filters, printed */
            Node *cap = node(j, N_CAPTURE, l);
            x = node(j, S_OUT, l);
            x->a = parse_filter_chain(j, parse_one_filter(j, cap, l));
            expect_block_end(j);
            static const char *const e[] = {"endfilter"};
            const char *f;
            cap->c = parse_body(j, e, 1, &f, l);
            expect_block_end(j);
        } else if (tok_is_name(kw, "generation")) {
            /* transformers' {% generation %} marks assistant text; it renders its body */
            expect_block_end(j);
            static const char *const e[] = {"endgeneration"};
            const char *f;
            x = parse_body(j, e, 1, &f, l);
            expect_block_end(j);
        } else {
            static const char *const known[] = {"elif", "else", "endif", "endfor", "endset", "endmacro", "endgeneration", "endfilter"};
            for (unsigned i = 0; i < sizeof known / sizeof *known; i++)
                if (tok_is_name(kw, known[i])) {
                    if (!nends) jfail(j, l, "unexpected {%% %s %%} (no block is open)", known[i]);
                    jfail(j, l, "unexpected {%% %s %%}: the block opened at line %d needs {%% %s %%} first", known[i], open_line, ends[nends - 1]);
                }
            jfail(j, l, "the tag {%% %.*s %%} is not supported", (int)kw->n, kw->s);
        }
        nv_push(j, &nv, x, NULL);
    }
out:;
    Node *b = node(j, S_BODY, line0);
    b->kids = nv.v;
    b->nkids = nv.n;
    leave(j);
    return b;
}

/* ───────────────────────── evaluation: scopes, lookups ───────────────────────── */

struct Scope { Dict *vars; Scope *parent; };

enum { F_RANGE = 1, F_NAMESPACE, F_DICT, F_RAISE, F_STRFTIME, F_CYCLE };

static Scope *scope_new(J *j, Scope *parent) {
    Scope *s = jalloc(j, sizeof *s);
    s->vars = dict_new(j, 8);
    s->parent = parent;
    return s;
}
static void scope_set(J *j, Scope *s, const char *name, Val v) { dict_set(j, s->vars, v_cstr(name), v); }

static Val lookup(J *j, Scope *s, const char *name) {
    size_t n = strlen(name);
    for (; s; s = s->parent) {
        long i = dict_find_str(s->vars, name, n);
        if (i >= 0) return s->vars->v[i];
    }
    static const struct { const char *name; int id; } globals[] = {
        {"range", F_RANGE}, {"namespace", F_NAMESPACE}, {"dict", F_DICT}, {"raise_exception", F_RAISE}, {"strftime_now", F_STRFTIME}};
    for (unsigned k = 0; k < sizeof globals / sizeof *globals; k++)
        if (!strcmp(name, globals[k].name)) {
            Val v = v_int(globals[k].id);
            v.t = V_FUNC;
            return v;
        }
    (void)j;
    return v_undef(name);
}

static Val eval(J *j, const Node *n, Scope *sc);
static void exec_node(J *j, const Node *n, Scope *sc);

static Val make_method(J *j, Val self, const char *name) {
    Method *m = jalloc(j, sizeof *m);
    m->self = self;
    m->name = name;
    Val v;
    memset(&v, 0, sizeof v);
    v.t = V_METHOD;
    v.bm = m;
    return v;
}

static const char *const STR_METHODS[] = {"split", "rsplit", "startswith", "endswith", "strip", "lstrip", "rstrip", "replace", "upper",
                                          "lower", "title", "capitalize", "format", "find", "rfind", "count", "join", "isdigit",
                                          "isalpha", "isalnum", "isspace", "islower", "isupper", "splitlines", "index", "rindex", NULL};
static const char *const DICT_METHODS[] = {"get", "items", "keys", "values", NULL};
static const char *const LIST_METHODS[] = {"index", "count", NULL};

static const char *in_set(const char *const *set, const char *name) {
    for (; *set; set++) if (!strcmp(*set, name)) return *set;
    return NULL;
}

/* Python's slice.indices() */
static void slice_indices(J *j, int line, int64_t len, const Val *a, const Val *b, const Val *c, int64_t *start, int64_t *stop, int64_t *stp) {
    int64_t st = 1;
    if (c && c->t != V_NONE) {
        if (c->t != V_INT && c->t != V_BOOL) jfail(j, line, "slice step must be an integer");
        st = c->i;
        if (st == 0) jfail(j, line, "slice step cannot be zero");
    }
    int64_t lo, hi;
    if (!a || a->t == V_NONE) lo = st < 0 ? len - 1 : 0;
    else {
        if (a->t != V_INT && a->t != V_BOOL) jfail(j, line, "slice indices must be integers or None");
        lo = a->i;
        if (lo < 0) { lo += len; if (lo < 0) lo = st < 0 ? -1 : 0; }
        else if (lo >= len) lo = st < 0 ? len - 1 : len;
    }
    if (!b || b->t == V_NONE) hi = st < 0 ? -1 : len;
    else {
        if (b->t != V_INT && b->t != V_BOOL) jfail(j, line, "slice indices must be integers or None");
        hi = b->i;
        if (hi < 0) { hi += len; if (hi < 0) hi = st < 0 ? -1 : 0; }
        else if (hi >= len) hi = st < 0 ? len - 1 : len;
    }
    *start = lo;
    *stop = hi;
    *stp = st;
}

/* code point offsets of a string (n+1 entries) */
static size_t *cp_offsets(J *j, const char *s, size_t n, size_t *count) {
    size_t c = u8count(s, n);
    size_t *o = jalloc(j, sizeof(size_t) * (c + 1));
    size_t k = 0;
    for (size_t i = 0; i < n; k++) { o[k] = i; i += u8len((unsigned char)s[i]); if (i > n) i = n; }
    o[c] = n;
    *count = c;
    return o;
}

static Val do_slice(J *j, int line, Val obj, const Val *a, const Val *b, const Val *c, int constant) {
    int64_t lo, hi, st;
    if (obj.t == V_LIST && obj.l->kind > LK_RANGE) return v_undef("slice");
    if (obj.t == V_LIST) {
        slice_indices(j, line, (int64_t)obj.l->n, a, b, c, &lo, &hi, &st);
        List *l = list_new(j, 4);
        for (int64_t i = lo; st > 0 ? i < hi : i > hi; i += st) list_push(j, l, obj.l->v[i]);
        l->kind = obj.l->kind;
        if (l->kind == LK_RANGE) {
            l->r0 = obj.l->r0 + lo * obj.l->rs;
            l->r1 = obj.l->r0 + hi * obj.l->rs;
            l->rs = obj.l->rs * st;
        }
        return v_list(l);
    }
    if (obj.t == V_STR) {
        int ascii = is_ascii(obj.s, obj.n);
        size_t cnt = obj.n, *off = NULL;
        if (!ascii) off = cp_offsets(j, obj.s, obj.n, &cnt);
        slice_indices(j, line, (int64_t)cnt, a, b, c, &lo, &hi, &st);
        if (st == 1) {
            if (hi <= lo) return v_str("", 0);
            size_t bs = ascii ? (size_t)lo : off[lo], be = ascii ? (size_t)hi : off[hi];
            return v_str(obj.s + bs, be - bs);
        }
        SB sb = {0};
        for (int64_t i = lo; st > 0 ? i < hi : i > hi; i += st) {
            size_t bs = ascii ? (size_t)i : off[i], be = ascii ? (size_t)i + 1 : off[i + 1];
            sb_put(j, &sb, obj.s + bs, be - bs);
        }
        return v_str(sb.s ? sb.s : "", sb.n);
    }
    if (obj.t == V_UNDEF) jfail(j, line, "'%.*s' is undefined", (int)obj.n, obj.s);
    /* Jinja folds a constant subscript through environment.getitem (undefined when it
     * fails); any other slice is a Python subscript that raises */
    if (constant) return v_undef("slice");
    jfail(j, line, "'%s' object is not subscriptable", type_name(&obj));
}

static Val loop_attr(J *j, Loop *lp, const char *name) {
    int64_t n = (int64_t)lp->items->n, i = (int64_t)lp->idx;
    if (!strcmp(name, "index")) return v_int(i + 1);
    if (!strcmp(name, "index0")) return v_int(i);
    if (!strcmp(name, "revindex")) return v_int(n - i);
    if (!strcmp(name, "revindex0")) return v_int(n - i - 1);
    if (!strcmp(name, "first")) return v_bool(i == 0);
    if (!strcmp(name, "last")) return v_bool(i == n - 1);
    if (!strcmp(name, "length")) return v_int(n);
    if (!strcmp(name, "depth")) return v_int(1);
    if (!strcmp(name, "depth0")) return v_int(0);
    if (!strcmp(name, "previtem")) return i > 0 ? lp->items->v[i - 1] : v_undef("previtem");
    if (!strcmp(name, "nextitem")) return i + 1 < n ? lp->items->v[i + 1] : v_undef("nextitem");
    if (!strcmp(name, "cycle")) {
        Val self;
        memset(&self, 0, sizeof self);
        self.t = V_LOOP;
        self.lp = lp;
        return make_method(j, self, "cycle");
    }
    return v_undef(name);
}

static Val get_attr(J *j, int line, Val obj, const char *name) {
    const char *m;
    switch (obj.t) {
    case V_UNDEF:
        if (obj.n) jfail(j, line, "'%.*s' is undefined (reading its attribute '%s')", (int)obj.n, obj.s, name);
        jfail(j, line, "reading attribute '%s' of an undefined value", name);
    case V_DICT:
        if ((m = in_set(DICT_METHODS, name))) return make_method(j, obj, m);
        {
            long i = dict_find_str(obj.d, name, strlen(name));
            return i >= 0 ? obj.d->v[i] : v_undef(name);
        }
    case V_NS: {
        long i = dict_find_str(obj.d, name, strlen(name));
        return i >= 0 ? obj.d->v[i] : v_undef(name);
    }
    case V_STR: if ((m = in_set(STR_METHODS, name))) return make_method(j, obj, m); return v_undef(name);
    case V_LIST: if (obj.l->kind <= LK_RANGE && (m = in_set(LIST_METHODS, name))) return make_method(j, obj, m); return v_undef(name);
    case V_LOOP: return loop_attr(j, obj.lp, name);
    default: return v_undef(name);
    }
}

static Val get_item(J *j, int line, Val obj, Val key) {
    switch (obj.t) {
    case V_UNDEF:
        if (obj.n) jfail(j, line, "'%.*s' is undefined (indexing it)", (int)obj.n, obj.s);
        jfail(j, line, "indexing an undefined value");
    case V_DICT: case V_NS: {
        long i = dict_find(obj.d, &key);
        if (i >= 0) return obj.d->v[i];
        if (key.t == V_STR) return get_attr(j, line, obj, jstrdup(j, key.s, key.n));
        return v_undef("item");
    }
    case V_LIST: case V_STR:
        if (obj.t == V_LIST && obj.l->kind > LK_RANGE) return v_undef("item");   /* not subscriptable */
        if (key.t == V_INT || key.t == V_BOOL) {
            int64_t k = key.i;
            if (obj.t == V_LIST) {
                int64_t n = (int64_t)obj.l->n;
                if (k < 0) k += n;
                return k >= 0 && k < n ? obj.l->v[k] : v_undef("item");
            }
            int ascii = is_ascii(obj.s, obj.n);
            size_t cnt = obj.n, *off = NULL;
            if (!ascii) off = cp_offsets(j, obj.s, obj.n, &cnt);
            if (k < 0) k += (int64_t)cnt;
            if (k < 0 || k >= (int64_t)cnt) return v_undef("item");
            return ascii ? v_str(obj.s + k, 1) : v_str(obj.s + off[k], off[k + 1] - off[k]);
        }
        if (key.t == V_STR) return get_attr(j, line, obj, jstrdup(j, key.s, key.n));
        return v_undef("item");
    case V_LOOP:
        if (key.t == V_STR) return loop_attr(j, obj.lp, jstrdup(j, key.s, key.n));
        return v_undef("item");
    default: return v_undef("item");
    }
}

/* list() of an iterable: lists, dict keys, string characters; undefined → empty */
static List *iter_list(J *j, int line, Val v) {
    switch (v.t) {
    case V_LIST:
        if (v.l->bad) jfail(j, line, "'%s' object is not iterable", v.l->bad);
        if (v.l->kind == LK_GEN || v.l->kind == LK_REVITER) {
            /* an iterator yields what is left, once */
            List *r = list_new(j, v.l->n - v.l->pos + 1);
            for (size_t i = v.l->pos; i < v.l->n; i++) list_push(j, r, v.l->v[i]);
            v.l->pos = v.l->n;
            return r;
        }
        return v.l;
    case V_UNDEF: return list_new(j, 1);
    case V_DICT: {
        List *l = list_new(j, v.d->n);
        for (size_t i = 0; i < v.d->n; i++) list_push(j, l, v.d->k[i]);
        return l;
    }
    case V_STR: {
        List *l = list_new(j, v.n);
        for (size_t i = 0; i < v.n;) {
            size_t k = u8len((unsigned char)v.s[i]);
            if (i + k > v.n) k = v.n - i;
            list_push(j, l, v_str(v.s + i, k));
            i += k;
        }
        return l;
    }
    default: jfail(j, line, "'%s' object is not iterable", type_name(&v));
    }
}

static int64_t length_of(J *j, int line, Val v) {
    switch (v.t) {
    case V_STR: return (int64_t)u8count(v.s, v.n);
    case V_LIST:
        if (v.l->kind == LK_GEN || v.l->kind == LK_REVITER) jfail(j, line, "object of type '%s' has no len() (add |list)", type_name(&v));
        return (int64_t)v.l->n;
    case V_DICT: case V_NS: return (int64_t)v.d->n;
    case V_UNDEF: return 0;
    default: jfail(j, line, "object of type '%s' has no len()", type_name(&v));
    }
}

static int contains(J *j, int line, Val hay, Val needle) {
    switch (hay.t) {
    case V_STR:
        if (needle.t != V_STR) jfail(j, line, "'in <string>' requires string as left operand, not %s", type_name(&needle));
        if (!needle.n) return 1;
        for (size_t i = 0; i + needle.n <= hay.n; i++) if (!memcmp(hay.s + i, needle.s, needle.n)) return 1;
        return 0;
    case V_LIST:
        if (hay.l->kind == LK_GEN || hay.l->kind == LK_REVITER) {
            /* consumes the iterator up to the match */
            for (size_t i = hay.l->pos; i < hay.l->n; i++)
                if (val_eq(&hay.l->v[i], &needle)) { hay.l->pos = i + 1; return 1; }
            hay.l->pos = hay.l->n;
            return 0;
        }
        for (size_t i = 0; i < hay.l->n; i++) if (val_eq(&hay.l->v[i], &needle)) return 1;
        return 0;
    case V_DICT: case V_NS: return dict_find(hay.d, &needle) >= 0;
    case V_UNDEF: return 0;
    default: jfail(j, line, "argument of type '%s' is not iterable", type_name(&hay));
    }
}

/* ───────────────────────── arithmetic ───────────────────────── */

static Val get_item(J *j, int line, Val obj, Val key);

/* Python's printf-style str % args: %s %r %d %i %f %F %e %E %g %G %x %X %o %c %%,
 * flags -+ 0 space, width, .precision, %(name)s with a mapping */
static Val str_percent(J *j, int line, Val fmt, Val argv) {
    int tuple = argv.t == V_LIST && argv.l->kind == LK_TUPLE;
    int mapping = !tuple && (argv.t == V_DICT || argv.t == V_NS || argv.t == V_LIST || argv.t == V_UNDEF);
    size_t nargs = tuple ? argv.l->n : 1, ai = 0;
    SB b = {0};
    const char *p = fmt.s, *e = fmt.s + fmt.n;
    while (p < e) {
        if (*p != '%') { sb_putc(j, &b, *p++); continue; }
        p++;
        if (p >= e) jfail(j, line, "incomplete format");
        if (*p == '%') { sb_putc(j, &b, '%'); p++; continue; }
        Val v;
        int named = 0;
        if (*p == '(') {
            const char *q = ++p;
            while (p < e && *p != ')') p++;
            if (p >= e) jfail(j, line, "incomplete format key");
            if (!mapping || argv.t == V_LIST) jfail(j, line, "format requires a mapping");
            v = get_item(j, line, argv, v_str(q, (size_t)(p - q)));
            if (v.t == V_UNDEF) jfail(j, line, "KeyError in %% formatting: '%.*s'", (int)(p - q), q);
            p++;
            named = 1;
        }
        char flags[8];
        int nf = 0;
        while (p < e && strchr("-+ 0#", *p) && nf < 6) flags[nf++] = *p++;
        flags[nf] = 0;
        int width = -1, prec = -1;
        if (p < e && is_digit(*p)) { width = 0; while (p < e && is_digit(*p) && width < 10000) width = width * 10 + (*p++ - '0'); }
        if (p < e && *p == '.') { p++; prec = 0; while (p < e && is_digit(*p) && prec < 10000) prec = prec * 10 + (*p++ - '0'); }
        if (p >= e) jfail(j, line, "incomplete format");
        char type = *p++;
        if (!named) {
            if (ai >= nargs) jfail(j, line, "not enough arguments for format string");
            v = tuple ? argv.l->v[ai] : argv;
            ai++;
        }
        char spec[48], out[512];
        Val sv;
        switch (type) {
        case 's': case 'r': case 'a': {
            if (type == 's') sv = to_str(j, &v);
            else { SB r = {0}; put_repr(j, &r, &v, 0); sv = v_str(r.s ? r.s : "", r.n); }
            size_t cps = u8count(sv.s, sv.n), keep = sv.n;
            if (prec >= 0 && (size_t)prec < cps) { keep = 0; for (int k = 0; k < prec; k++) keep += u8len((unsigned char)sv.s[keep]); cps = (size_t)prec; }
            int left = strchr(flags, '-') != NULL;
            if (!left) for (int k = (int)cps; k < width; k++) sb_putc(j, &b, ' ');
            sb_put(j, &b, sv.s, keep);
            if (left) for (int k = (int)cps; k < width; k++) sb_putc(j, &b, ' ');
            continue;
        }
        case 'd': case 'i': case 'u': case 'x': case 'X': case 'o': case 'c': {
            if (!is_num(&v)) jfail(j, line, "%%%c format: a real number is required, not %s", type, type_name(&v));
            if (type == 'c') {
                if (v.t == V_FLOAT) jfail(j, line, "%%c requires int or char");
                char o[4];
                sb_put(j, &b, o, u8enc(o, (unsigned)v.i));
                continue;
            }
            long long x = v.t == V_FLOAT ? (long long)v.f : (long long)v.i;
            if (v.t == V_FLOAT && (type == 'x' || type == 'X' || type == 'o')) jfail(j, line, "%%%c format: an integer is required, not float", type);
            snprintf(spec, sizeof spec, "%%%s%s%s%s%s", flags, width >= 0 ? "*" : "", prec >= 0 ? ".*" : "", "ll",
                     type == 'i' || type == 'u' ? "d" : (char[]){type, 0});
            if (width >= 0 && prec >= 0) snprintf(out, sizeof out, spec, width, prec, x);
            else if (width >= 0) snprintf(out, sizeof out, spec, width, x);
            else if (prec >= 0) snprintf(out, sizeof out, spec, prec, x);
            else snprintf(out, sizeof out, spec, x);
            sb_puts(j, &b, out);
            continue;
        }
        case 'f': case 'F': case 'e': case 'E': case 'g': case 'G': {
            if (!is_num(&v)) jfail(j, line, "must be real number, not %s", type_name(&v));
            double x = num_f(&v);
            if (prec > 300) prec = 300;
            snprintf(spec, sizeof spec, "%%%s%s%s%c", flags, width >= 0 ? "*" : "", prec >= 0 ? ".*" : "", type);
            if (width >= 0 && prec >= 0) snprintf(out, sizeof out, spec, width, prec, x);
            else if (width >= 0) snprintf(out, sizeof out, spec, width, x);
            else if (prec >= 0) snprintf(out, sizeof out, spec, prec, x);
            else snprintf(out, sizeof out, spec, x);
            sb_puts(j, &b, out);
            continue;
        }
        default: jfail(j, line, "unsupported format character '%c' in %% formatting", type);
        }
    }
    if (!mapping && ai < nargs) jfail(j, line, "not all arguments converted during string formatting");
    return v_str(b.s ? b.s : "", b.n);
}

/* markupsafe's escape: & < > " ' — the result is a Markup */
static Val html_escape(J *j, Val s) {
    SB b = {0};
    for (size_t i = 0; i < s.n; i++) {
        char c = s.s[i];
        if (c == '&') sb_puts(j, &b, "&amp;");
        else if (c == '<') sb_puts(j, &b, "&lt;");
        else if (c == '>') sb_puts(j, &b, "&gt;");
        else if (c == '"') sb_puts(j, &b, "&#34;");
        else if (c == '\'') sb_puts(j, &b, "&#39;");
        else sb_putc(j, &b, c);
    }
    Val r = v_str(b.s ? b.s : "", b.n);
    r.safe = 1;
    return r;
}

static Val arith(J *j, int line, int op, Val a, Val b) {
    if (op == '~') {
        Val x = to_str(j, &a), y = to_str(j, &b);
        SB s = {0};
        sb_put(j, &s, x.s, x.n);
        sb_put(j, &s, y.s, y.n);
        return v_str(s.s ? s.s : "", s.n);
    }
    const char *opname = op == 'F' ? "//" : op == 'P' ? "**" : (char[]){(char)op, 0};
    if (a.t == V_UNDEF || b.t == V_UNDEF) {
        const Val *u = a.t == V_UNDEF ? &a : &b;
        if (u->n) jfail(j, line, "'%.*s' is undefined (operand of '%s')", (int)u->n, u->s, opname);
        jfail(j, line, "an undefined value is an operand of '%s'", opname);
    }
    if (is_num(&a) && is_num(&b)) {
        if (a.t != V_FLOAT && b.t != V_FLOAT && op != '/') {
            int64_t x = a.i, y = b.i, r;
            switch (op) {
            case '+': if (__builtin_add_overflow(x, y, &r)) goto ovf; return v_int(r);
            case '-': if (__builtin_sub_overflow(x, y, &r)) goto ovf; return v_int(r);
            case '*': if (__builtin_mul_overflow(x, y, &r)) goto ovf; return v_int(r);
            case 'F': case '%': {
                if (y == 0) jfail(j, line, "integer division or modulo by zero");
                if (x == INT64_MIN && y == -1) goto ovf;
                int64_t q = x / y, m = x % y;
                if (m != 0 && ((m < 0) != (y < 0))) { q--; m += y; }
                return v_int(op == 'F' ? q : m);
            }
            case 'P': {
                if (y < 0) return v_float(pow((double)x, (double)y));
                r = 1;
                for (int64_t k = 0; k < y; k++) {
                    if (__builtin_mul_overflow(r, x, &r)) goto ovf;
                    if (r == 0 || r == 1) break;
                    if (x == -1) { r = (y % 2) ? -1 : 1; break; }
                }
                return v_int(r);
            }
            }
        }
        double x = num_f(&a), y = num_f(&b);
        switch (op) {
        case '+': return v_float(x + y);
        case '-': return v_float(x - y);
        case '*': return v_float(x * y);
        case '/': if (y == 0) jfail(j, line, "division by zero"); return v_float(x / y);
        case 'F': if (y == 0) jfail(j, line, "float floor division by zero"); return v_float(floor(x / y));
        case '%': {
            if (y == 0) jfail(j, line, "float modulo by zero");
            double m = fmod(x, y);
            if (m != 0 && ((m < 0) != (y < 0))) m += y;
            return v_float(m);
        }
        case 'P': return v_float(pow(x, y));
        }
    }
    if (op == '+' && a.t == V_STR && b.t == V_STR) {
        /* Markup + str escapes the str (markupsafe) */
        int safe = a.safe || b.safe;
        if (safe && !a.safe) a = html_escape(j, a);
        if (safe && !b.safe) b = html_escape(j, b);
        SB s = {0};
        sb_put(j, &s, a.s, a.n);
        sb_put(j, &s, b.s, b.n);
        Val r = v_str(s.s ? s.s : "", s.n);
        r.safe = (unsigned char)safe;
        return r;
    }
    if (op == '+' && a.t == V_LIST && b.t == V_LIST && a.l->kind <= LK_TUPLE && a.l->kind == b.l->kind) {
        List *l = list_new(j, a.l->n + b.l->n);
        l->kind = a.l->kind;
        for (size_t i = 0; i < a.l->n; i++) list_push(j, l, a.l->v[i]);
        for (size_t i = 0; i < b.l->n; i++) list_push(j, l, b.l->v[i]);
        return v_list(l);
    }
    if ((a.t == V_LIST && a.l->kind > LK_TUPLE) || (b.t == V_LIST && b.l->kind > LK_TUPLE))
        jfail(j, line, "unsupported operand type(s) for %s: '%s' and '%s'", opname, type_name(&a), type_name(&b));
    if (op == '*' && ((a.t == V_STR || a.t == V_LIST) && (b.t == V_INT || b.t == V_BOOL))) {
        Val t = a; a = b; b = t;
    }
    if (op == '*' && (a.t == V_INT || a.t == V_BOOL) && (b.t == V_STR || b.t == V_LIST)) {
        int64_t k = a.i < 0 ? 0 : a.i;
        size_t unit = b.t == V_STR ? b.n : b.l->n * sizeof(Val);
        if (unit && (uint64_t)k > JINJA_MAX_OUTPUT / unit) jfail(j, line, "repetition result is too large");
        if (b.t == V_STR) {
            SB s = {0};
            for (int64_t i = 0; i < k; i++) sb_put(j, &s, b.s, b.n);
            return v_str(s.s ? s.s : "", s.n);
        }
        List *l = list_new(j, 4);
        for (int64_t i = 0; i < k; i++) for (size_t x = 0; x < b.l->n; x++) list_push(j, l, b.l->v[x]);
        l->kind = b.l->kind == LK_TUPLE ? LK_TUPLE : LK_LIST;
        return v_list(l);
    }
    if (op == '%' && a.t == V_STR) return str_percent(j, line, a, b);
    jfail(j, line, "unsupported operand type(s) for %s: '%s' and '%s'", opname, type_name(&a), type_name(&b));
ovf:
    jfail(j, line, "integer overflow in '%s' (64-bit integers only)", opname);
}

/* ───────────────────────── strings ───────────────────────── */

/* ── Unicode case, as Python does it (runtime/unicode_case.h, tools/gen_unicode_case.py) ── */

/* cp's upper ('u'), lower ('l') or title ('t') case mapping into out[]; how many code points */
static int uni_case_map(int mode, unsigned cp, unsigned out[3]) {
    const int (*d)[2] = mode == 'u' ? uni_upper_delta : mode == 'l' ? uni_lower_delta : uni_title_delta;
    size_t nd = mode == 'u' ? sizeof uni_upper_delta / sizeof uni_upper_delta[0]
              : mode == 'l' ? sizeof uni_lower_delta / sizeof uni_lower_delta[0] : sizeof uni_title_delta / sizeof uni_title_delta[0];
    const UniMulti *m = mode == 'u' ? uni_upper_multi : mode == 'l' ? uni_lower_multi : uni_title_multi;
    size_t nm = mode == 'u' ? sizeof uni_upper_multi / sizeof uni_upper_multi[0]
              : mode == 'l' ? sizeof uni_lower_multi / sizeof uni_lower_multi[0] : sizeof uni_title_multi / sizeof uni_title_multi[0];
    for (size_t i = 0; i < nm; i++)
        if (m[i].cp == cp) {
            int k = 0;
            while (k < 3 && m[i].to[k]) { out[k] = m[i].to[k]; k++; }
            return k;
        }
    size_t lo = 0, hi = nd;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if ((unsigned)d[mid][0] == cp) { out[0] = (unsigned)((int)cp + d[mid][1]); return 1; }
        if ((unsigned)d[mid][0] < cp) lo = mid + 1;
        else hi = mid;
    }
    out[0] = cp;
    return 1;
}

/* The code point that ends before byte b of s (b > 0); *at: its first byte. */
static unsigned u8prev(const char *s, size_t b, size_t *at) {
    size_t a = b - 1;
    while (a > 0 && ((unsigned char)s[a] & 0xC0) == 0x80) a--;
    unsigned cp;
    u8dec(s + a, s + b, &cp);
    *at = a;
    return cp;
}

/* CPython's Final_Sigma rule for U+03A3 at bytes [at, at+len) of s[0..n):
 * cased, case-ignorable*, Σ, not followed by (case-ignorable*, cased) → ς, else σ. */
static unsigned capital_sigma(const char *s, size_t n, size_t at, size_t len) {
    size_t b = at, a;
    unsigned c = 0;
    int found = 0;
    while (b > 0) {
        c = u8prev(s, b, &a);
        b = a;
        if (!UNI_IN(uni_case_ignorable, c)) { found = 1; break; }
    }
    int final = found && UNI_IN(uni_cased, c);
    if (final) {
        for (size_t i = at + len; i < n;) {
            i += u8dec(s + i, s + n, &c);
            if (!UNI_IN(uni_case_ignorable, c)) { final = !UNI_IN(uni_cased, c); break; }
        }
    }
    return final ? 0x3C2 : 0x3C3;
}

/* Append s[a..b) case-mapped (mode 'u' or 'l'); lower applies Final_Sigma within
 * the string s[c..b) (c <= a: the string Python lowers, which may start earlier). */
static void case_span(J *j, SB *o, const char *s, size_t c, size_t a, size_t b, int mode) {
    for (size_t i = a; i < b;) {
        unsigned cp, m[3];
        size_t l = u8dec(s + i, s + b, &cp);
        int k;
        if (mode == 'l' && cp == 0x3A3) { m[0] = capital_sigma(s + c, b - c, i - c, l); k = 1; }
        else k = uni_case_map(mode, cp, m);
        for (int q = 0; q < k; q++) { char e[4]; sb_put(j, o, e, u8enc(e, m[q])); }
        i += l;
    }
}

/* jinja2's title filter splits words at runs of [-\s({\[<] */
static int title_sep(unsigned cp) { return cp == '-' || cp == '(' || cp == '{' || cp == '[' || cp == '<' || py_space(cp); }

static Val str_case(J *j, Val s, int mode) {
    /* mode: 'u' str.upper, 'l' str.lower, 'c' str.capitalize (first code point title-cased,
     * the rest lowered), 't' str.title (title case after an uncased code point, lower after a
     * cased one), 'T' jinja2's title filter (each run of separators or of other code points:
     * its first code point upper-cased, the rest lowered) — all with Python's Unicode mappings */
    SB o = {0};
    const char *p = s.s;
    size_t n = s.n;
    if (mode == 'u' || mode == 'l') case_span(j, &o, p, 0, 0, n, mode);
    else if (mode == 'c' && n) {
        unsigned cp, m[3];
        size_t l = u8dec(p, p + n, &cp);
        int k = uni_case_map('t', cp, m);
        for (int q = 0; q < k; q++) { char e[4]; sb_put(j, &o, e, u8enc(e, m[q])); }
        case_span(j, &o, p, 0, l, n, 'l');   /* CPython: Final_Sigma sees the whole string */
    } else if (mode == 't') {
        int prev_cased = 0;
        for (size_t i = 0; i < n;) {
            unsigned cp, m[3];
            size_t l = u8dec(p + i, p + n, &cp);
            int k;
            if (prev_cased && cp == 0x3A3) { m[0] = capital_sigma(p, n, i, l); k = 1; }
            else k = uni_case_map(prev_cased ? 'l' : 't', cp, m);
            for (int q = 0; q < k; q++) { char e[4]; sb_put(j, &o, e, u8enc(e, m[q])); }
            prev_cased = UNI_IN(uni_cased, cp);
            i += l;
        }
    } else if (mode == 'T') {
        for (size_t a = 0; a < n;) {   /* one item of re.split(r"([-\s({\[<]+)", s) */
            unsigned cp;
            size_t l = u8dec(p + a, p + n, &cp), b = a + l;
            int sep = title_sep(cp);
            while (b < n) {
                unsigned c2;
                size_t l2 = u8dec(p + b, p + n, &c2);
                if (title_sep(c2) != sep) break;
                b += l2;
            }
            case_span(j, &o, p, a, a, a + l, 'u');   /* item[0].upper() + item[1:].lower(): two new strings */
            case_span(j, &o, p, a + l, a + l, b, 'l');
            a = b;
        }
    }
    return v_str(o.s ? o.s : jalloc(j, 1), o.n);
}

/* Python's str.isupper() / str.islower(): no code point of the other case (or
 * titlecase), and at least one cased one of this case. */
static int str_is_case(Val s, int upper) {
    int cased = 0;
    for (size_t i = 0; i < s.n;) {
        unsigned cp;
        i += u8dec(s.s + i, s.s + s.n, &cp);
        if (UNI_IN(uni_titlecase, cp) || (upper ? UNI_IN(uni_lowercase, cp) : UNI_IN(uni_uppercase, cp))) return 0;
        if (upper ? UNI_IN(uni_uppercase, cp) : UNI_IN(uni_lowercase, cp)) cased = 1;
    }
    return cased;
}

/* is the code point at p one of the code points of [cs, ce)?  *len: its bytes */
static int in_set_cp(const char *p, const char *lim, const char *cs, const char *ce, size_t *len) {
    unsigned cp;
    *len = u8dec(p, lim, &cp);
    for (const char *q = cs; q < ce;) {
        unsigned c2;
        q += u8dec(q, ce, &c2);
        if (c2 == cp) return 1;
    }
    return 0;
}

/* strip chars (NULL: Python white space) from the left (l) and/or right (r) */
static Val str_strip(J *j, Val s, const Val *chars, int l, int r) {
    const char *b = s.s, *e = s.s + s.n;
    if (!chars || chars->t == V_NONE || chars->t == V_UNDEF) {
        if (l) { size_t k; while (b < e && (k = space_at(b, e)) > 0) b += k; }
        if (r) e = space_run_back(b, e);
    } else {
        if (chars->t != V_STR) jfail(j, 0, "strip arg must be None or str");
        /* set of code points */
        const char *cs = chars->s, *ce = chars->s + chars->n;
        size_t k;
        if (l) while (b < e && in_set_cp(b, e, cs, ce, &k)) b += k;
        if (r)
            while (e > b) {
                const char *p = e - 1;
                while (p > b && ((unsigned char)*p & 0xC0) == 0x80) p--;
                if (!in_set_cp(p, e, cs, ce, &k)) break;
                e = p;
            }
    }
    return v_str(b, (size_t)(e - b));
}

static int str_starts(Val s, Val p) { return p.n <= s.n && !memcmp(s.s, p.s, p.n); }
static int str_ends(Val s, Val p) { return p.n <= s.n && !memcmp(s.s + s.n - p.n, p.s, p.n); }

static const char *memfind(const char *h, size_t hn, const char *n, size_t nn) {
    if (!nn) return h;
    for (size_t i = 0; i + nn <= hn; i++) if (h[i] == n[0] && !memcmp(h + i, n, nn)) return h + i;
    return NULL;
}

static Val str_replace(J *j, Val s, Val old, Val nw, int64_t count) {
    SB b = {0};
    if (!old.n) {
        /* Python inserts `new` between every character and at both ends */
        int64_t done = 0;
        for (size_t i = 0; i <= s.n;) {
            if (count < 0 || done < count) { sb_put(j, &b, nw.s, nw.n); done++; }
            if (i == s.n) break;
            size_t k = u8len((unsigned char)s.s[i]);
            if (i + k > s.n) k = s.n - i;
            sb_put(j, &b, s.s + i, k);
            i += k;
        }
        return v_str(b.s ? b.s : "", b.n);
    }
    const char *p = s.s, *e = s.s + s.n;
    int64_t done = 0;
    while (p < e) {
        const char *f = (count < 0 || done < count) ? memfind(p, (size_t)(e - p), old.s, old.n) : NULL;
        if (!f) break;
        sb_put(j, &b, p, (size_t)(f - p));
        sb_put(j, &b, nw.s, nw.n);
        p = f + old.n;
        done++;
    }
    sb_put(j, &b, p, (size_t)(e - p));
    return v_str(b.s ? b.s : "", b.n);
}

static Val str_split(J *j, int line, Val s, const Val *sep, int64_t maxsplit, int from_right) {
    List *l = list_new(j, 4);
    if (!sep || sep->t == V_NONE) {
        /* runs of white space; no empty strings */
        const char *p = s.s, *e = s.s + s.n;
        if (!from_right) {
            int64_t splits = 0;
            size_t k;
            for (;;) {
                while (p < e && (k = space_at(p, e)) > 0) p += k;
                if (p >= e) break;
                if (maxsplit >= 0 && splits >= maxsplit) {
                    const char *q = space_run_back(p, e);
                    list_push(j, l, v_str(p, (size_t)(q - p)));
                    break;
                }
                const char *w = p;
                while (p < e && !space_at(p, e)) p += u8len((unsigned char)*p);
                if (p > e) p = e;
                list_push(j, l, v_str(w, (size_t)(p - w)));
                splits++;
            }
            return v_list(l);
        }
        jfail(j, line, "rsplit() without a separator is not supported");
    }
    if (sep->t != V_STR) jfail(j, line, "split(): the separator must be a string");
    if (!sep->n) jfail(j, line, "split(): empty separator");
    if (!from_right || maxsplit < 0) {
        const char *p = s.s, *e = s.s + s.n;
        int64_t splits = 0;
        for (;;) {
            const char *f = (maxsplit < 0 || splits < maxsplit) ? memfind(p, (size_t)(e - p), sep->s, sep->n) : NULL;
            if (!f) { list_push(j, l, v_str(p, (size_t)(e - p))); break; }
            list_push(j, l, v_str(p, (size_t)(f - p)));
            p = f + sep->n;
            splits++;
        }
        return v_list(l);
    }
    /* rsplit with maxsplit: split from the right, then reverse */
    List *r = list_new(j, 4);
    const char *e = s.s + s.n;
    int64_t splits = 0;
    for (;;) {
        const char *f = NULL;
        if (splits < maxsplit)
            for (const char *q = e - sep->n; q >= s.s; q--) if (!memcmp(q, sep->s, sep->n)) { f = q; break; }
        if (!f) { list_push(j, r, v_str(s.s, (size_t)(e - s.s))); break; }
        list_push(j, r, v_str(f + sep->n, (size_t)(e - f - sep->n)));
        e = f;
        splits++;
    }
    for (size_t i = r->n; i > 0; i--) list_push(j, l, r->v[i - 1]);
    return v_list(l);
}

/* ───────────────────────── filters and tests ───────────────────────── */

typedef struct Args { Val *v; const char **kw; int n; } Args;

static const Val *arg(const Args *a, int pos, const char *kw) {
    int p = 0;
    for (int i = 0; i < a->n; i++) {
        if (a->kw[i]) { if (kw && !strcmp(a->kw[i], kw)) return &a->v[i]; }
        else if (p++ == pos) return &a->v[i];
    }
    return NULL;
}
static int64_t arg_int(J *j, int line, const Args *a, int pos, const char *kw, int64_t dflt) {
    const Val *v = arg(a, pos, kw);
    if (!v || v->t == V_NONE) return dflt;
    if (v->t != V_INT && v->t != V_BOOL) jfail(j, line, "argument '%s' must be an integer", kw ? kw : "?");
    return v->i;
}

static int apply_test(J *j, int line, const char *name, Val v, const Args *a, Scope *sc);
static Val apply_filter(J *j, int line, const char *name, Val v, const Args *a, Scope *sc);
static Val call_value(J *j, int line, Val f, const Args *a, Scope *sc);

/* attribute path "a.b.0" as Jinja's make_attrgetter reads it */
static Val attr_path(J *j, int line, Val v, Val path) {
    if (path.t == V_INT) return get_item(j, line, v, path);
    if (path.t != V_STR) jfail(j, line, "attribute must be a string");
    const char *p = path.s, *e = path.s + path.n;
    while (p <= e) {
        const char *d = memchr(p, '.', (size_t)(e - p));
        if (!d) d = e;
        Val key = v_str(p, (size_t)(d - p));
        int isnum = d > p;
        for (const char *q = p; q < d; q++) if (!is_digit(*q)) isnum = 0;
        if (isnum) key = v_int(strtoll(jstrdup(j, p, (size_t)(d - p)), NULL, 10));
        if (v.t == V_UNDEF) return v;
        v = get_item(j, line, v, key);
        p = d + 1;
    }
    return v;
}

static void sort_vals(J *j, int line, Val *keys, Val *items, size_t n) {
    /* stable merge sort on keys, carrying items */
    if (n < 2) return;
    Val *tk = jalloc(j, sizeof(Val) * n), *ti = jalloc(j, sizeof(Val) * n);
    for (size_t width = 1; width < n; width *= 2) {
        for (size_t lo = 0; lo < n; lo += 2 * width) {
            size_t mid = lo + width < n ? lo + width : n, hi = lo + 2 * width < n ? lo + 2 * width : n;
            size_t a = lo, b = mid, o = lo;
            while (a < mid && b < hi) {
                step(j, line);
                if (val_cmp(j, line, &keys[b], &keys[a]) < 0) { tk[o] = keys[b]; ti[o++] = items[b++]; }
                else { tk[o] = keys[a]; ti[o++] = items[a++]; }
            }
            while (a < mid) { tk[o] = keys[a]; ti[o++] = items[a++]; }
            while (b < hi) { tk[o] = keys[b]; ti[o++] = items[b++]; }
        }
        memcpy(keys, tk, sizeof(Val) * n);
        memcpy(items, ti, sizeof(Val) * n);
    }
}

static Val fold_case(J *j, Val v, int case_sensitive) {
    return !case_sensitive && v.t == V_STR ? str_case(j, v, 'l') : v;
}

static Val filter_select(J *j, int line, Val v, const Args *a, Scope *sc, int by_attr, int keep) {
    /* a generator; a false value (None, empty) selects nothing; a non-iterable fails only when iterated */
    if (truthy(&v) && v.t != V_STR && v.t != V_LIST && v.t != V_DICT && v.t != V_NS) {
        List *g = list_new(j, 1);
        g->kind = LK_GEN;
        g->bad = type_name(&v);
        return v_list(g);
    }
    List *in = truthy(&v) ? iter_list(j, line, v) : list_new(j, 1), *out = list_new(j, in->n);
    out->kind = LK_GEN;
    int first_test = by_attr ? 1 : 0;
    const Val *attr = by_attr ? arg(a, 0, NULL) : NULL;
    if (by_attr && (!attr)) jfail(j, line, "selectattr/rejectattr need an attribute name");
    const Val *tname = arg(a, first_test, NULL);
    Args rest = {0};
    if (tname) {
        if (tname->t != V_STR) jfail(j, line, "the test name must be a string");
        int skip = first_test + 1, p = 0;
        rest.v = jalloc(j, sizeof(Val) * (size_t)(a->n + 1));
        rest.kw = jalloc(j, sizeof(char *) * (size_t)(a->n + 1));
        for (int i = 0; i < a->n; i++) {
            if (!a->kw[i] && p++ < skip) continue;
            rest.v[rest.n] = a->v[i];
            rest.kw[rest.n++] = a->kw[i];
        }
    }
    for (size_t i = 0; i < in->n; i++) {
        step(j, line);
        Val x = by_attr ? attr_path(j, line, in->v[i], *attr) : in->v[i];
        int ok = tname ? apply_test(j, line, jstrdup(j, tname->s, tname->n), x, &rest, sc) : truthy(&x);
        if (ok == keep) list_push(j, out, in->v[i]);
    }
    return v_list(out);
}

static Val apply_filter(J *j, int line, const char *f, Val v, const Args *a, Scope *sc) {
    step(j, line);
#define IS(x) (!strcmp(f, x))
    if (IS("safe")) {
        Val r = to_str(j, &v);
        r.safe = 1;
        return r;
    }
    if (IS("string")) return to_str(j, &v);
    if (IS("trim")) {
        Val s = to_str(j, &v);
        return str_strip(j, s, arg(a, 0, "chars"), 1, 1);
    }
    if (IS("upper") || IS("lower") || IS("capitalize") || IS("title")) {
        Val s = to_str(j, &v);
        return str_case(j, s, IS("upper") ? 'u' : IS("lower") ? 'l' : IS("capitalize") ? 'c' : 'T');
    }
    if (IS("length") || IS("count")) return v_int(length_of(j, line, v));
    if (IS("default") || IS("d")) {
        const Val *d = arg(a, 0, "default_value");
        const Val *b = arg(a, 1, "boolean");
        if (v.t == V_UNDEF || (b && truthy(b) && !truthy(&v))) return d ? *d : v_str("", 0);
        return v;
    }
    if (IS("tojson")) {
        JsonOpts o = {0, -1, 0, ", ", ": "};
        const Val *ea = arg(a, 0, "ensure_ascii"), *ind = arg(a, 1, "indent"), *sep = arg(a, 2, "separators"), *sk = arg(a, 3, "sort_keys");
        if (ea) o.ensure_ascii = truthy(ea);
        if (ind && ind->t != V_NONE) {
            if (ind->t != V_INT) jfail(j, line, "tojson: indent must be an integer");
            o.indent = ind->i < 0 ? 0 : ind->i > 64 ? 64 : (int)ind->i;
            o.item_sep = ",";
        }
        if (sep && sep->t != V_NONE) {
            if (sep->t != V_LIST || sep->l->n != 2 || sep->l->v[0].t != V_STR || sep->l->v[1].t != V_STR)
                jfail(j, line, "tojson: separators must be a pair of strings");
            o.item_sep = jstrdup(j, sep->l->v[0].s, sep->l->v[0].n);
            o.key_sep = jstrdup(j, sep->l->v[1].s, sep->l->v[1].n);
        }
        if (sk) o.sort_keys = truthy(sk);
        SB b = {0};
        put_json(j, line, &b, &v, &o, 0);
        return v_str(b.s ? b.s : "", b.n);
    }
    if (IS("first") || IS("last")) {
        if (v.t == V_STR && !v.n) return v_undef(f);
        if (v.t == V_LIST && (v.l->kind == LK_GEN || v.l->kind == LK_REVITER)) {
            if (IS("last")) jfail(j, line, "last: '%s' object is not reversible (add |list)", type_name(&v));
            return v.l->pos < v.l->n ? v.l->v[v.l->pos++] : v_undef(f);   /* next() */
        }
        List *l = iter_list(j, line, v);
        if (!l->n) return v_undef(f);
        return IS("first") ? l->v[0] : l->v[l->n - 1];
    }
    if (IS("list")) {
        List *l = iter_list(j, line, v), *c = list_new(j, l->n);
        for (size_t i = 0; i < l->n; i++) list_push(j, c, l->v[i]);
        return v_list(c);
    }
    if (IS("reverse")) {
        if (v.t == V_STR) {
            List *l = iter_list(j, line, v);
            SB b = {0};
            for (size_t i = l->n; i > 0; i--) sb_put(j, &b, l->v[i - 1].s, l->v[i - 1].n);
            return v_str(b.s ? b.s : "", b.n);
        }
        /* reversed(): an iterator over a list or tuple, else a reversed list */
        int iter = v.t == V_LIST && v.l->kind <= LK_RANGE;
        List *l = iter_list(j, line, v), *r = list_new(j, l->n);
        for (size_t i = l->n; i > 0; i--) list_push(j, r, l->v[i - 1]);
        if (iter) r->kind = LK_REVITER;
        return v_list(r);
    }
    if (IS("join")) {
        const Val *d = arg(a, 0, "d"), *at = arg(a, 1, "attribute");
        List *l = iter_list(j, line, v);
        SB b = {0};
        Val sep = d ? to_str(j, d) : v_str("", 0);
        for (size_t i = 0; i < l->n; i++) {
            if (i) sb_put(j, &b, sep.s, sep.n);
            Val x = at ? attr_path(j, line, l->v[i], *at) : l->v[i];
            Val s = to_str(j, &x);
            sb_put(j, &b, s.s, s.n);
        }
        return v_str(b.s ? b.s : "", b.n);
    }
    if (IS("replace")) {
        const Val *o = arg(a, 0, "old"), *n = arg(a, 1, "new");
        if (!o || !n) jfail(j, line, "replace needs two arguments");
        Val s = to_str(j, &v), os = to_str(j, o), ns = to_str(j, n);
        return str_replace(j, s, os, ns, arg_int(j, line, a, 2, "count", -1));
    }
    if (IS("items")) {
        if (v.t == V_UNDEF) { List *e = list_new(j, 1); e->kind = LK_GEN; return v_list(e); }
        if (v.t != V_DICT) {
            /* a generator function: the TypeError comes when it is iterated */
            List *g = list_new(j, 1);
            g->kind = LK_GEN;
            g->bad = type_name(&v);
            return v_list(g);
        }
        List *l = list_new(j, v.d->n);
        for (size_t i = 0; i < v.d->n; i++) {
            List *p = list_new(j, 2);
            p->kind = LK_TUPLE;
            list_push(j, p, v.d->k[i]);
            list_push(j, p, v.d->v[i]);
            list_push(j, l, v_list(p));
        }
        l->kind = LK_GEN;
        return v_list(l);
    }
    if (IS("dictsort")) {
        if (v.t != V_DICT) jfail(j, line, "dictsort: a mapping is required");
        const Val *cs = arg(a, 0, "case_sensitive"), *by = arg(a, 1, "by"), *rev = arg(a, 2, "reverse");
        int byval = by && by->t == V_STR && by->n == 5 && !memcmp(by->s, "value", 5);
        size_t n = v.d->n;
        Val *keys = jalloc(j, sizeof(Val) * (n + 1)), *items = jalloc(j, sizeof(Val) * (n + 1));
        for (size_t i = 0; i < n; i++) {
            List *p = list_new(j, 2);
            p->kind = LK_TUPLE;
            list_push(j, p, v.d->k[i]);
            list_push(j, p, v.d->v[i]);
            items[i] = v_list(p);
            keys[i] = fold_case(j, byval ? v.d->v[i] : v.d->k[i], cs && truthy(cs));
        }
        sort_vals(j, line, keys, items, n);
        List *l = list_new(j, n);
        for (size_t i = 0; i < n; i++) list_push(j, l, items[rev && truthy(rev) ? n - 1 - i : i]);
        return v_list(l);
    }
    if (IS("sort")) {
        const Val *rev = arg(a, 0, "reverse"), *cs = arg(a, 1, "case_sensitive"), *at = arg(a, 2, "attribute");
        List *l = iter_list(j, line, v);
        size_t n = l->n;
        Val *keys = jalloc(j, sizeof(Val) * (n + 1)), *items = jalloc(j, sizeof(Val) * (n + 1));
        for (size_t i = 0; i < n; i++) {
            items[i] = l->v[i];
            keys[i] = fold_case(j, at ? attr_path(j, line, l->v[i], *at) : l->v[i], cs && truthy(cs));
        }
        int r = rev && truthy(rev);
        if (r) for (size_t i = 0; i < n / 2; i++) { Val t = keys[i]; keys[i] = keys[n - 1 - i]; keys[n - 1 - i] = t; t = items[i]; items[i] = items[n - 1 - i]; items[n - 1 - i] = t; }
        sort_vals(j, line, keys, items, n);
        List *o = list_new(j, n);
        for (size_t i = 0; i < n; i++) list_push(j, o, items[r ? n - 1 - i : i]);
        return v_list(o);
    }
    if (IS("unique")) {
        const Val *cs = arg(a, 0, "case_sensitive"), *at = arg(a, 1, "attribute");
        if (v.t != V_STR && v.t != V_LIST && v.t != V_DICT && v.t != V_UNDEF) {
            List *g = list_new(j, 1);
            g->kind = LK_GEN;
            g->bad = type_name(&v);
            return v_list(g);
        }
        List *l = iter_list(j, line, v), *o = list_new(j, l->n), *seen = list_new(j, l->n);
        for (size_t i = 0; i < l->n; i++) {
            Val k = fold_case(j, at ? attr_path(j, line, l->v[i], *at) : l->v[i], cs && truthy(cs));
            int dup = 0;
            for (size_t s = 0; s < seen->n && !dup; s++) { step(j, line); dup = val_eq(&seen->v[s], &k); }
            if (!dup) { list_push(j, seen, k); list_push(j, o, l->v[i]); }
        }
        o->kind = LK_GEN;
        return v_list(o);
    }
    if ((IS("int") || IS("float")) && v.t == V_UNDEF) jfail(j, line, "'%.*s' is undefined (|%s)", (int)v.n, v.s, f);
    if (IS("int")) {
        int64_t dflt = arg_int(j, line, a, 0, "default", 0);
        switch (v.t) {
        case V_INT: case V_BOOL: return v_int(v.i);
        case V_FLOAT: if (isfinite(v.f) && fabs(v.f) < 9.2e18) return v_int((int64_t)v.f); return v_int(dflt);
        case V_STR: {
            char *s = jstrdup(j, v.s, v.n), *e;
            errno = 0;
            long long x = strtoll(s, &e, (int)arg_int(j, line, a, 1, "base", 10));
            while (*e && is_ws(*e)) e++;
            if (!errno && !*e && e != s) return v_int(x);
            double d = strtod(s, &e);
            while (*e && is_ws(*e)) e++;
            if (!*e && e != s && isfinite(d) && fabs(d) < 9.2e18) return v_int((int64_t)d);
            return v_int(dflt);
        }
        default: return v_int(dflt);
        }
    }
    if (IS("float")) {
        const Val *d = arg(a, 0, "default");
        double dflt = d && is_num(d) ? num_f(d) : 0.0;
        if (is_num(&v)) return v_float(num_f(&v));
        if (v.t == V_STR) {
            char *s = jstrdup(j, v.s, v.n), *e;
            double x = strtod(s, &e);
            while (*e && is_ws(*e)) e++;
            if (!*e && e != s) return v_float(x);
        }
        return v_float(dflt);
    }
    if (IS("abs")) {
        if (v.t == V_FLOAT) return v_float(fabs(v.f));
        if (v.t == V_INT || v.t == V_BOOL) { if (v.i == INT64_MIN) jfail(j, line, "integer overflow in abs"); return v_int(v.i < 0 ? -v.i : v.i); }
        jfail(j, line, "bad operand type for abs(): '%s'", type_name(&v));
    }
    if (IS("round")) {
        int64_t prec = arg_int(j, line, a, 0, "precision", 0);
        const Val *m = arg(a, 1, "method");
        if (!is_num(&v)) jfail(j, line, "round: a number is required");
        int common = !(m && m->t == V_STR && ((m->n == 4 && !memcmp(m->s, "ceil", 4)) || (m->n == 5 && !memcmp(m->s, "floor", 5))));
        if (common && v.t != V_FLOAT) {
            /* round(int, n): an int; negative n rounds to tens, halves to even */
            if (prec >= 0) return v_int(v.i);
            if (prec < -18) return v_int(0);
            int64_t p = 1;
            for (int64_t k = 0; k < -prec; k++) p *= 10;
            int64_t q = v.i / p, rmd = v.i % p;
            if (rmd < 0) { rmd += p; q--; }
            if (2 * rmd > p || (2 * rmd == p && (q & 1))) q++;
            return v_int(q * p);
        }
        double x = num_f(&v), p10 = pow(10.0, (double)prec), r;
        if (m && m->t == V_STR && m->n == 4 && !memcmp(m->s, "ceil", 4)) r = ceil(x * p10) / p10;
        else if (m && m->t == V_STR && m->n == 5 && !memcmp(m->s, "floor", 5)) r = floor(x * p10) / p10;
        else if (prec >= 0 && isfinite(x)) {
            /* Python rounds the exact binary value (2.675 → 2.67): printf does the same */
            char buf[400];
            snprintf(buf, sizeof buf, "%.*f", (int)(prec > 300 ? 300 : prec), x);
            r = strtod(buf, NULL);
        } else r = nearbyint(x * p10) / p10;
        return v_float(r);
    }
    if (IS("sum")) {
        const Val *at = arg(a, 0, "attribute"), *st = arg(a, 1, "start");
        List *l = iter_list(j, line, v);
        Val acc = st ? *st : v_int(0);
        for (size_t i = 0; i < l->n; i++) acc = arith(j, line, '+', acc, at ? attr_path(j, line, l->v[i], *at) : l->v[i]);
        return acc;
    }
    if (IS("min") || IS("max")) {
        const Val *cs = arg(a, 0, "case_sensitive"), *at = arg(a, 1, "attribute");
        List *l = iter_list(j, line, v);
        if (!l->n) return v_undef(f);
        size_t best = 0;
        Val bk = fold_case(j, at ? attr_path(j, line, l->v[0], *at) : l->v[0], cs && truthy(cs));
        for (size_t i = 1; i < l->n; i++) {
            Val k = fold_case(j, at ? attr_path(j, line, l->v[i], *at) : l->v[i], cs && truthy(cs));
            int c = val_cmp(j, line, &k, &bk);
            if (IS("min") ? c < 0 : c > 0) { best = i; bk = k; }
        }
        return l->v[best];
    }
    if (IS("map")) {
        /* a generator; a false value (None, empty) maps to nothing; a non-iterable fails only when iterated */
        if (truthy(&v) && v.t != V_STR && v.t != V_LIST && v.t != V_DICT && v.t != V_NS) {
            List *g = list_new(j, 1);
            g->kind = LK_GEN;
            g->bad = type_name(&v);
            return v_list(g);
        }
        List *l = truthy(&v) ? iter_list(j, line, v) : list_new(j, 1), *o = list_new(j, l->n);
        o->kind = LK_GEN;
        const Val *at = arg(a, 99, "attribute");
        if (at) {
            const Val *d = arg(a, 99, "default");
            for (size_t i = 0; i < l->n; i++) {
                Val x = attr_path(j, line, l->v[i], *at);
                if (x.t == V_UNDEF && d) x = *d;
                list_push(j, o, x);
            }
            return v_list(o);
        }
        const Val *fn = arg(a, 0, NULL);
        if (!fn || fn->t != V_STR) jfail(j, line, "map needs a filter name or attribute=");
        Args rest = {0};
        rest.v = jalloc(j, sizeof(Val) * (size_t)(a->n + 1));
        rest.kw = jalloc(j, sizeof(char *) * (size_t)(a->n + 1));
        int p = 0;
        for (int i = 0; i < a->n; i++) {
            if (!a->kw[i] && p++ < 1) continue;
            rest.v[rest.n] = a->v[i];
            rest.kw[rest.n++] = a->kw[i];
        }
        const char *name = jstrdup(j, fn->s, fn->n);
        for (size_t i = 0; i < l->n; i++) list_push(j, o, apply_filter(j, line, name, l->v[i], &rest, sc));
        return v_list(o);
    }
    if (IS("select")) return filter_select(j, line, v, a, sc, 0, 1);
    if (IS("reject")) return filter_select(j, line, v, a, sc, 0, 0);
    if (IS("selectattr")) return filter_select(j, line, v, a, sc, 1, 1);
    if (IS("rejectattr")) return filter_select(j, line, v, a, sc, 1, 0);
    if (IS("attr")) {
        const Val *n = arg(a, 0, "name");
        if (!n || n->t != V_STR) jfail(j, line, "attr needs a name");
        const char *nm = jstrdup(j, n->s, n->n), *m;
        if (v.t == V_DICT) return (m = in_set(DICT_METHODS, nm)) ? make_method(j, v, m) : v_undef(nm);   /* getattr only */
        return get_attr(j, line, v, nm);
    }
    if (IS("indent")) {
        if (v.t != V_STR) jfail(j, line, "indent: unsupported operand type(s) for +=: '%s' and 'str'", type_name(&v));
        const Val *w = arg(a, 0, "width");
        const Val *first = arg(a, 1, "first"), *blank = arg(a, 2, "blank");
        Val pad;
        if (w && w->t == V_STR) pad = *w;
        else {
            int64_t k = w ? (w->t == V_INT ? w->i : 4) : 4;
            if (k < 0) k = 0;
            if (k > 1024) jfail(j, line, "indent: width too large");
            char *sp = jalloc(j, (size_t)k + 1);
            memset(sp, ' ', (size_t)k);
            pad = v_str(sp, (size_t)k);
        }
        Val s = to_str(j, &v);
        SB b = {0};
        if (first && truthy(first)) sb_put(j, &b, pad.s, pad.n);
        const char *p = s.s, *e = s.s + s.n;
        int first_line = 1;
        while (p <= e) {
            const char *nl = memchr(p, '\n', (size_t)(e - p));
            const char *le = nl ? nl : e;
            if (!first_line && (le > p || (blank && truthy(blank)))) sb_put(j, &b, pad.s, pad.n);
            sb_put(j, &b, p, (size_t)(le - p));
            if (!nl) break;
            sb_putc(j, &b, '\n');
            p = nl + 1;
            first_line = 0;
        }
        return v_str(b.s ? b.s : "", b.n);
    }
    if (IS("escape") || IS("e") || IS("forceescape")) {
        if (v.t == V_STR && v.safe && !IS("forceescape")) return v;
        return html_escape(j, to_str(j, &v));
    }
    if (IS("center")) {
        Val s = to_str(j, &v);
        int64_t w = arg_int(j, line, a, 0, "width", 80), cps = (int64_t)u8count(s.s, s.n);
        if (w > 100000) jfail(j, line, "center: width too large");
        if (w <= cps) return s;
        /* str.center: the extra space goes right when the padding is odd and the length even */
        int64_t pad = w - cps, left = pad / 2 + (pad & w & 1);
        SB b = {0};
        for (int64_t k = 0; k < left; k++) sb_putc(j, &b, ' ');
        sb_put(j, &b, s.s, s.n);
        for (int64_t k = 0; k < pad - left; k++) sb_putc(j, &b, ' ');
        return v_str(b.s ? b.s : "", b.n);
    }
    if (IS("truncate")) {
        Val s = to_str(j, &v);
        int64_t len = arg_int(j, line, a, 0, "length", 255), leeway = arg_int(j, line, a, 3, "leeway", 5);
        const Val *kw = arg(a, 1, "killwords"), *endv = arg(a, 2, "end");
        Val end = endv ? to_str(j, endv) : v_cstr("...");
        int64_t cps = (int64_t)u8count(s.s, s.n), ecps = (int64_t)u8count(end.s, end.n);
        if (len < ecps) jfail(j, line, "truncate: expected length >= %lld, got %lld", (long long)ecps, (long long)len);
        if (leeway < 0) jfail(j, line, "truncate: expected leeway >= 0");
        if (cps <= len + leeway) return s;
        size_t cut = 0;
        for (int64_t k = 0; k < len - ecps; k++) cut += u8len((unsigned char)s.s[cut]);
        SB b = {0};
        if (kw && truthy(kw)) sb_put(j, &b, s.s, cut);
        else {
            /* drop the last (partial) word: rsplit(" ", 1)[0] */
            size_t k = cut;
            while (k > 0 && s.s[k - 1] != ' ') k--;
            sb_put(j, &b, s.s, k ? k - 1 : cut);
        }
        sb_put(j, &b, end.s, end.n);
        return v_str(b.s ? b.s : "", b.n);
    }
    if (IS("batch")) {
        int64_t cnt = arg_int(j, line, a, 0, "linecount", 0);
        const Val *fill = arg(a, 1, "fill_with");
        if (cnt <= 0) jfail(j, line, "batch: linecount must be positive");
        List *l = iter_list(j, line, v), *o = list_new(j, l->n / (size_t)cnt + 1), *cur = NULL;
        for (size_t i = 0; i < l->n; i++) {
            if (!cur) cur = list_new(j, (size_t)(cnt < 64 ? cnt : 64));
            list_push(j, cur, l->v[i]);
            if ((int64_t)cur->n == cnt) { list_push(j, o, v_list(cur)); cur = NULL; }
        }
        if (cur) {
            if (fill && fill->t != V_NONE) while ((int64_t)cur->n < cnt) list_push(j, cur, *fill);
            list_push(j, o, v_list(cur));
        }
        o->kind = LK_GEN;
        return v_list(o);
    }
    if (IS("wordcount")) {
        Val s = to_str(j, &v);
        int64_t n = 0;
        int in = 0;
        for (size_t i = 0; i < s.n; i++) {
            char c = s.s[i];
            int w = is_name0(c) || is_digit(c) || (unsigned char)c >= 0x80;
            if (w && !in) n++;
            in = w;
        }
        return v_int(n);
    }
#undef IS
    (void)sc;
    jfail(j, line, "the filter '%s' is not supported", f);
}

static int apply_test(J *j, int line, const char *t, Val v, const Args *a, Scope *sc) {
    step(j, line);
    const Val *x = arg(a, 0, NULL);
#define IS(s) (!strcmp(t, s))
    if (IS("defined")) return v.t != V_UNDEF;
    if (IS("undefined")) return v.t == V_UNDEF;
    if (IS("none")) return v.t == V_NONE;
    if (IS("boolean")) return v.t == V_BOOL;
    if (IS("true")) return v.t == V_BOOL && v.i;
    if (IS("false")) return v.t == V_BOOL && !v.i;
    if (IS("integer")) return v.t == V_INT;
    if (IS("float")) return v.t == V_FLOAT;
    if (IS("number")) return v.t == V_INT || v.t == V_FLOAT || v.t == V_BOOL;
    if (IS("string")) return v.t == V_STR;
    if (IS("mapping")) return v.t == V_DICT;
    if (IS("iterable")) return v.t == V_STR || v.t == V_LIST || v.t == V_DICT || v.t == V_UNDEF;
    if (IS("sequence")) return v.t == V_STR || (v.t == V_LIST && v.l->kind <= LK_RANGE) || v.t == V_DICT || v.t == V_UNDEF;
    if (IS("callable")) return v.t == V_MACRO || v.t == V_FUNC || v.t == V_METHOD || v.t == V_UNDEF;
    if (IS("lower") || IS("upper")) return v.t == V_STR && str_is_case(v, IS("upper"));
    if (IS("odd") || IS("even")) {
        if (v.t != V_INT && v.t != V_BOOL) jfail(j, line, "test '%s' needs an integer", t);
        return (v.i % 2 != 0) == IS("odd");
    }
    if (IS("divisibleby")) {
        if (!x || (x->t != V_INT) || (v.t != V_INT && v.t != V_BOOL)) jfail(j, line, "divisibleby needs integers");
        if (x->i == 0) jfail(j, line, "divisibleby 0");
        return v.i % x->i == 0;
    }
    if (IS("escaped")) return 0;
    if (!x && (IS("sameas") || IS("eq") || IS("equalto") || IS("==") || IS("ne") || IS("!=") || IS("lt") || IS("<") || IS("lessthan") ||
               IS("le") || IS("<=") || IS("gt") || IS(">") || IS("greaterthan") || IS("ge") || IS(">=") || IS("in")))
        jfail(j, line, "the test '%s' needs an argument", t);
    if (IS("sameas")) {
        if (v.t != x->t) return 0;
        if (v.t == V_NONE || v.t == V_UNDEF) return 1;
        if (v.t == V_BOOL || v.t == V_INT) return v.i == x->i;
        if (v.t == V_STR) return v.s == x->s && v.n == x->n;
        return v.t == V_LIST ? v.l == x->l : (v.t == V_DICT || v.t == V_NS) ? v.d == x->d : val_eq(&v, x);
    }
    if (IS("eq") || IS("equalto") || IS("==")) return val_eq(&v, x);
    if (IS("ne") || IS("!=")) return !val_eq(&v, x);
    if (IS("lt") || IS("<") || IS("lessthan")) return val_cmp(j, line, &v, x) < 0;
    if (IS("le") || IS("<=")) return val_cmp(j, line, &v, x) <= 0;
    if (IS("gt") || IS(">") || IS("greaterthan")) return val_cmp(j, line, &v, x) > 0;
    if (IS("ge") || IS(">=")) return val_cmp(j, line, &v, x) >= 0;
    if (IS("in")) return contains(j, line, *x, v);
#undef IS
    (void)sc;
    jfail(j, line, "the test '%s' is not supported", t);
}

/* ───────────────────────── methods and calls ───────────────────────── */

static Val str_format(J *j, int line, Val fmt, const Args *a) {
    SB b = {0};
    int auto_idx = 0;
    const char *p = fmt.s, *e = fmt.s + fmt.n;
    while (p < e) {
        if (*p == '{' && p + 1 < e && p[1] == '{') { sb_putc(j, &b, '{'); p += 2; continue; }
        if (*p == '}' && p + 1 < e && p[1] == '}') { sb_putc(j, &b, '}'); p += 2; continue; }
        if (*p == '}') jfail(j, line, "format(): single '}' encountered in the format string");
        if (*p != '{') { sb_putc(j, &b, *p++); continue; }
        const char *q = ++p;
        while (q < e && *q != '}') q++;
        if (q >= e) jfail(j, line, "format(): expected '}' in the format string");
        for (const char *k = p; k < q; k++)
            if (*k == ':' || *k == '!' || *k == '[' || *k == '.') jfail(j, line, "format(): format specs, conversions and field access are not supported");
        const Val *v;
        if (q == p) v = arg(a, auto_idx++, NULL);
        else if (is_digit(*p)) v = arg(a, atoi(jstrdup(j, p, (size_t)(q - p))), NULL);
        else v = arg(a, -1, jstrdup(j, p, (size_t)(q - p)));
        if (!v) jfail(j, line, "format(): no argument for the field '{%.*s}'", (int)(q - p), p);
        Val s = to_str(j, v);
        sb_put(j, &b, s.s, s.n);
        p = q + 1;
    }
    return v_str(b.s ? b.s : "", b.n);
}

/* Python's str.isdigit/isalpha/isalnum/isspace/islower/isupper.  Letters,
 * white space and case follow Unicode as Python does; digits are the ASCII
 * ones only (Python also counts other scripts' digits and superscripts). */
static int str_isclass(Val s, const char *cls) {
    if (!strcmp(cls, "islower") || !strcmp(cls, "isupper")) return str_is_case(s, !strcmp(cls, "isupper"));
    if (!s.n) return 0;
    for (size_t i = 0; i < s.n;) {
        unsigned cp;
        i += u8dec(s.s + i, s.s + s.n, &cp);
        int d = cp >= '0' && cp <= '9', al = UNI_IN(uni_letter, cp);
        if (!strcmp(cls, "isdigit") && !d) return 0;
        if (!strcmp(cls, "isalpha") && !al) return 0;
        if (!strcmp(cls, "isalnum") && !al && !d) return 0;
        if (!strcmp(cls, "isspace") && !py_space(cp)) return 0;
    }
    return 1;
}

static Val call_method(J *j, int line, Method *m, const Args *a) {
    Val s = m->self;
    const char *nm = m->name;
    const Val *x = arg(a, 0, NULL);
#define IS(t) (!strcmp(nm, t))
    if (s.t == V_LOOP) {
        if (!a->n) jfail(j, line, "loop.cycle() needs at least one argument");
        return a->v[s.lp->idx % (size_t)a->n];
    }
    if (s.t == V_DICT) {
        if (IS("get")) {
            if (!x) jfail(j, line, "get() needs a key");
            long i = dict_find(s.d, x);
            const Val *d = arg(a, 1, NULL);
            return i >= 0 ? s.d->v[i] : d ? *d : v_none();
        }
        List *l = list_new(j, s.d->n);
        l->kind = IS("keys") ? LK_KEYS : IS("values") ? LK_VALUES : LK_ITEMS;
        for (size_t i = 0; i < s.d->n; i++) {
            if (IS("keys")) list_push(j, l, s.d->k[i]);
            else if (IS("values")) list_push(j, l, s.d->v[i]);
            else {
                List *p = list_new(j, 2);
                p->kind = LK_TUPLE;
                list_push(j, p, s.d->k[i]);
                list_push(j, p, s.d->v[i]);
                list_push(j, l, v_list(p));
            }
        }
        return v_list(l);
    }
    if (s.t == V_LIST) {
        if (!x) jfail(j, line, "%s() needs an argument", nm);
        int64_t c = 0;
        for (size_t i = 0; i < s.l->n; i++)
            if (val_eq(&s.l->v[i], x)) {
                if (IS("index")) return v_int((int64_t)i);
                c++;
            }
        if (IS("index")) jfail(j, line, "list.index(x): x not in list");
        return v_int(c);
    }
    /* strings */
    if (IS("upper")) return str_case(j, s, 'u');
    if (IS("lower")) return str_case(j, s, 'l');
    if (IS("title")) return str_case(j, s, 't');
    if (IS("capitalize")) return str_case(j, s, 'c');
    if (IS("strip")) return str_strip(j, s, x, 1, 1);
    if (IS("lstrip")) return str_strip(j, s, x, 1, 0);
    if (IS("rstrip")) return str_strip(j, s, x, 0, 1);
    if (IS("split") || IS("rsplit")) {
        const Val *sep = arg(a, 0, "sep");
        return str_split(j, line, s, sep, arg_int(j, line, a, 1, "maxsplit", -1), IS("rsplit"));
    }
    if (IS("splitlines")) {
        List *l = list_new(j, 4);
        const char *p = s.s, *e = s.s + s.n;
        while (p < e) {
            const char *q = p;
            while (q < e && *q != '\n' && *q != '\r') q++;
            list_push(j, l, v_str(p, (size_t)(q - p)));
            if (q < e && *q == '\r' && q + 1 < e && q[1] == '\n') q++;
            p = q + 1;
        }
        return v_list(l);
    }
    if (IS("startswith") || IS("endswith")) {
        if (!x) jfail(j, line, "%s() needs an argument", nm);
        if (arg(a, 1, NULL)) jfail(j, line, "%s(): start/end arguments are not supported", nm);
        if (x->t == V_LIST) {
            for (size_t i = 0; i < x->l->n; i++) {
                if (x->l->v[i].t != V_STR) jfail(j, line, "%s(): tuple items must be strings", nm);
                if (IS("startswith") ? str_starts(s, x->l->v[i]) : str_ends(s, x->l->v[i])) return v_bool(1);
            }
            return v_bool(0);
        }
        if (x->t != V_STR) jfail(j, line, "%s() argument must be str, not %s", nm, type_name(x));
        return v_bool(IS("startswith") ? str_starts(s, *x) : str_ends(s, *x));
    }
    if (IS("replace")) {
        const Val *n = arg(a, 1, NULL);
        if (!x || !n || x->t != V_STR || n->t != V_STR) jfail(j, line, "replace() needs two strings");
        return str_replace(j, s, *x, *n, arg_int(j, line, a, 2, "count", -1));
    }
    if (IS("find") || IS("rfind") || IS("index") || IS("rindex") || IS("count")) {
        if (!x || x->t != V_STR) jfail(j, line, "%s() needs a string argument", nm);
        if (IS("count")) {
            if (!x->n) return v_int((int64_t)u8count(s.s, s.n) + 1);
            int64_t c = 0;
            for (const char *p = s.s; (p = memfind(p, (size_t)(s.s + s.n - p), x->s, x->n)); p += x->n) c++;
            return v_int(c);
        }
        const char *f = NULL;
        if (IS("find") || IS("index")) f = memfind(s.s, s.n, x->s, x->n);
        else for (const char *q = s.s + s.n - x->n; q >= s.s; q--) if (!memcmp(q, x->s, x->n)) { f = q; break; }
        if (!f) {
            if (IS("index") || IS("rindex")) jfail(j, line, "substring not found");
            return v_int(-1);
        }
        return v_int((int64_t)u8count(s.s, (size_t)(f - s.s)));
    }
    if (IS("join")) {
        if (!x) jfail(j, line, "join() needs an argument");
        List *l = iter_list(j, line, *x);
        SB b = {0};
        for (size_t i = 0; i < l->n; i++) {
            if (l->v[i].t != V_STR) jfail(j, line, "join(): sequence item %zu: expected str instance, %s found", i, type_name(&l->v[i]));
            if (i) sb_put(j, &b, s.s, s.n);
            sb_put(j, &b, l->v[i].s, l->v[i].n);
        }
        return v_str(b.s ? b.s : "", b.n);
    }
    if (IS("format")) return str_format(j, line, s, a);
    if (IS("isdigit") || IS("isalpha") || IS("isalnum") || IS("isspace") || IS("islower") || IS("isupper")) return v_bool(str_isclass(s, nm));
#undef IS
    jfail(j, line, "the method '%s' is not supported", nm);
}

static void exec_body_into(J *j, const Node *body, Scope *sc, SB *buf);

static Val call_macro(J *j, int line, const struct Macro *mc, const Args *a) {
    if (++j->edepth > JINJA_MAX_EVAL_DEPTH) jfail(j, line, "macro calls nest deeper than %d levels", JINJA_MAX_EVAL_DEPTH);
    const Node *m = mc->n;
    Scope *ms = scope_new(j, mc->sc);
    /* extra arguments go to varargs / kwargs when the body uses them (m->op bits 1, 2) */
    List *varargs = list_new(j, 2);
    varargs->kind = LK_TUPLE;
    Dict *kwargs = dict_new(j, 2);
    int npos = 0;
    for (int i = 0; i < a->n; i++) {
        if (a->kw[i]) {
            int k;
            for (k = 0; k < m->nkids; k++) if (!strcmp(m->names[k], a->kw[i])) break;
            if (k == m->nkids) {
                if (!(m->op & 2)) jfail(j, line, "macro '%s' takes no keyword argument '%s'", m->name, a->kw[i]);
                dict_set(j, kwargs, v_cstr(a->kw[i]), a->v[i]);
                continue;
            }
            scope_set(j, ms, m->names[k], a->v[i]);
        } else {
            if (npos >= m->nkids) {
                if (!(m->op & 1)) jfail(j, line, "macro '%s' takes not more than %d argument(s)", m->name, m->nkids);
                list_push(j, varargs, a->v[i]);
                continue;
            }
            scope_set(j, ms, m->names[npos++], a->v[i]);
        }
    }
    scope_set(j, ms, "varargs", v_list(varargs));
    scope_set(j, ms, "kwargs", v_dict(kwargs));
    for (int k = 0; k < m->nkids; k++)
        if (dict_find_str(ms->vars, m->names[k], strlen(m->names[k])) < 0)
            scope_set(j, ms, m->names[k], m->kids[k] ? eval(j, m->kids[k], ms) : v_undef(m->names[k]));
    SB buf = {0};
    exec_body_into(j, m->c, ms, &buf);
    j->edepth--;
    return v_str(buf.s ? buf.s : "", buf.n);
}

static Val call_value(J *j, int line, Val f, const Args *a, Scope *sc) {
    step(j, line);
    (void)sc;
    switch (f.t) {
    case V_MACRO: return call_macro(j, line, f.mc, a);
    case V_METHOD: return call_method(j, line, f.bm, a);
    case V_UNDEF:
        if (f.n) jfail(j, line, "'%.*s' is undefined (called as a function)", (int)f.n, f.s);
        jfail(j, line, "calling an undefined value");
    case V_FUNC: break;
    default: jfail(j, line, "'%s' object is not callable", type_name(&f));
    }
    const Val *x = arg(a, 0, NULL);
    switch ((int)f.i) {
    case F_RANGE: {
        int64_t lo = 0, hi, st = 1;
        int np = 0;
        for (int i = 0; i < a->n; i++) {
            if (a->kw[i]) jfail(j, line, "range() takes no keyword arguments");
            if (a->v[i].t != V_INT && a->v[i].t != V_BOOL) jfail(j, line, "range() arguments must be integers");
            np++;
        }
        if (np < 1 || np > 3) jfail(j, line, "range() takes 1 to 3 arguments");
        if (np == 1) hi = a->v[0].i;
        else { lo = a->v[0].i; hi = a->v[1].i; if (np == 3) st = a->v[2].i; }
        if (st == 0) jfail(j, line, "range() step must not be zero");
        double cnt = st > 0 ? ceil(((double)hi - (double)lo) / (double)st) : ceil(((double)lo - (double)hi) / (double)-st);
        if (cnt > 1e6) jfail(j, line, "range() of more than 1000000 items");
        List *l = list_new(j, cnt > 0 ? (size_t)cnt : 1);
        for (int64_t i = lo; st > 0 ? i < hi : i > hi; i += st) list_push(j, l, v_int(i));
        l->kind = LK_RANGE;
        l->r0 = lo;
        l->r1 = hi;
        l->rs = st;
        return v_list(l);
    }
    case F_NAMESPACE: case F_DICT: {
        Dict *d = dict_new(j, 8);
        for (int i = 0; i < a->n; i++) {
            if (a->kw[i]) dict_set(j, d, v_cstr(a->kw[i]), a->v[i]);
            else if (a->v[i].t == V_DICT || a->v[i].t == V_NS)
                for (size_t k = 0; k < a->v[i].d->n; k++) dict_set(j, d, a->v[i].d->k[k], a->v[i].d->v[k]);
            else jfail(j, line, "%s() takes keyword arguments or a mapping", f.i == F_DICT ? "dict" : "namespace");
        }
        Val v = v_dict(d);
        if (f.i == F_NAMESPACE) v.t = V_NS;
        return v;
    }
    case F_RAISE: {
        Val s = x ? to_str(j, x) : v_str("", 0);
        jfail(j, line, "raise_exception: %.*s", (int)(s.n > 400 ? 400 : s.n), s.s);
    }
    case F_STRFTIME: {
        if (!x || x->t != V_STR) jfail(j, line, "strftime_now() needs a format string");
        time_t t = j->now >= 0 ? (time_t)j->now : time(NULL);
        struct tm tm;
        localtime_r(&t, &tm);
        char buf[1024];
        char *fmt = jstrdup(j, x->s, x->n);
        size_t n = strftime(buf, sizeof buf, fmt, &tm);
        if (n == 0 && x->n) jfail(j, line, "strftime_now(): the formatted date is empty or too long");
        return v_str(jstrdup(j, buf, n), n);
    }
    }
    jfail(j, line, "unknown function");
}

/* ───────────────────────── evaluation ───────────────────────── */

/* an expression Jinja's optimizer folds at compile time: literals, and lists,
 * tuples, dicts and slices of them */
static int is_const(const Node *n) {
    if (!n) return 1;
    switch (n->kind) {
    case N_LIT: return 1;
    case N_NEG: case N_POS: return is_const(n->a);
    case N_LIST: case N_DICT:
        for (int i = 0; i < n->nkids; i++) if (!is_const(n->kids[i])) return 0;
        return 1;
    case N_SLICE: return is_const(n->a) && is_const(n->b) && is_const(n->c) && is_const(n->d);
    default: return 0;
    }
}

static Args eval_args(J *j, const Node *n, Scope *sc) {
    Args a = {0};
    a.n = n->nkids;
    a.v = jalloc(j, sizeof(Val) * (size_t)(n->nkids + 1));
    a.kw = jalloc(j, sizeof(char *) * (size_t)(n->nkids + 1));
    for (int i = 0; i < n->nkids; i++) {
        a.v[i] = eval(j, n->kids[i], sc);
        a.kw[i] = n->names ? n->names[i] : NULL;
    }
    return a;
}

static Val eval(J *j, const Node *n, Scope *sc) {
    step(j, n->line);
    if (++j->edepth > JINJA_MAX_EVAL_DEPTH) jfail(j, n->line, "evaluation nests deeper than %d levels", JINJA_MAX_EVAL_DEPTH);
    Val r;
    switch (n->kind) {
    case N_LIT: r = n->lit; break;
    case N_CAPTURE: {
        /* what the block sets stays inside it; a {% break %} or {% continue %} in it is the
         * enclosing loop's (Jinja writes the block inline): it stays pending, and the filters,
         * the print or the assignment are skipped */
        SB buf = {0}, *saved = j->ob;
        j->ob = &buf;
        exec_node(j, n->c, scope_new(j, sc));
        j->ob = saved;
        r = v_str(buf.s ? buf.s : "", buf.n);
        break;
    }
    case N_NAME: r = lookup(j, sc, n->name); break;
    case N_ATTR: r = get_attr(j, n->line, eval(j, n->a, sc), n->name); break;
    case N_ITEM: { Val o = eval(j, n->a, sc); r = get_item(j, n->line, o, eval(j, n->b, sc)); break; }
    case N_SLICE: {
        Val o = eval(j, n->a, sc), a, b, c;
        if (n->b) a = eval(j, n->b, sc);
        if (n->c) b = eval(j, n->c, sc);
        if (n->d) c = eval(j, n->d, sc);
        r = do_slice(j, n->line, o, n->b ? &a : NULL, n->c ? &b : NULL, n->d ? &c : NULL, is_const(n));
        break;
    }
    case N_CALL: {
        Val f;
        if (n->a->kind == N_ATTR) {
            /* obj.name(...): a method Python has but this interpreter lacks is named as such */
            Val obj = eval(j, n->a->a, sc);
            f = get_attr(j, n->a->line, obj, n->a->name);
            if (f.t == V_UNDEF && (obj.t == V_STR || obj.t == V_LIST || obj.t == V_DICT))
                jfail(j, n->line, "the method '%s' of %s is not supported (or does not exist)", n->a->name, type_name(&obj));
        } else f = eval(j, n->a, sc);
        Args a = eval_args(j, n, sc);
        r = call_value(j, n->line, f, &a, sc);
        break;
    }
    case N_FILTER: {
        Val v = eval(j, n->a, sc);
        if (j->brk || j->cont) { r = v; break; }   /* a loop control left a captured block (N_CAPTURE) */
        Args a = eval_args(j, n, sc);
        r = apply_filter(j, n->line, n->name, v, &a, sc);
        break;
    }
    case N_TEST: {
        Val v = eval(j, n->a, sc);
        Args a = eval_args(j, n, sc);
        int t = apply_test(j, n->line, n->name, v, &a, sc);
        r = v_bool(n->neg ? !t : t);
        break;
    }
    case N_BIN: { Val a = eval(j, n->a, sc); r = arith(j, n->line, n->op, a, eval(j, n->b, sc)); break; }
    case N_AND: r = eval(j, n->a, sc); if (truthy(&r)) r = eval(j, n->b, sc); break;
    case N_OR: r = eval(j, n->a, sc); if (!truthy(&r)) r = eval(j, n->b, sc); break;
    case N_NOT: { Val a = eval(j, n->a, sc); r = v_bool(!truthy(&a)); break; }
    case N_NEG: case N_POS: {
        Val a = eval(j, n->a, sc);
        if (a.t == V_FLOAT) r = v_float(n->kind == N_NEG ? -a.f : a.f);
        else if (a.t == V_INT || a.t == V_BOOL) {
            if (n->kind == N_NEG && a.i == INT64_MIN) jfail(j, n->line, "integer overflow in unary '-'");
            r = v_int(n->kind == N_NEG ? -a.i : a.i);
        } else jfail(j, n->line, "bad operand type for unary %c: '%s'", n->kind == N_NEG ? '-' : '+', type_name(&a));
        break;
    }
    case N_COND: {
        Val c = eval(j, n->a, sc);
        if (truthy(&c)) r = eval(j, n->b, sc);
        else r = n->c ? eval(j, n->c, sc) : v_undef("");
        break;
    }
    case N_LIST: {
        List *l = list_new(j, (size_t)n->nkids);
        for (int i = 0; i < n->nkids; i++) list_push(j, l, eval(j, n->kids[i], sc));
        l->kind = n->op ? LK_TUPLE : LK_LIST;
        r = v_list(l);
        break;
    }
    case N_DICT: {
        Dict *d = dict_new(j, (size_t)n->nkids / 2 + 1);
        for (int i = 0; i + 1 < n->nkids; i += 2) {
            Val k = eval(j, n->kids[i], sc);
            if (k.t == V_LIST || k.t == V_DICT || k.t == V_UNDEF) jfail(j, n->line, "unhashable dict key of type '%s'", type_name(&k));
            dict_set(j, d, k, eval(j, n->kids[i + 1], sc));
        }
        r = v_dict(d);
        break;
    }
    case N_CMP: {
        Val left = eval(j, n->kids[0], sc);
        r = v_bool(1);
        for (int i = 1; i < n->nkids; i++) {
            Val right = eval(j, n->kids[i], sc);
            const char *op = n->names[i];
            int ok;
            if (!strcmp(op, "==")) ok = val_eq(&left, &right);
            else if (!strcmp(op, "!=")) ok = !val_eq(&left, &right);
            else if (!strcmp(op, "in")) ok = contains(j, n->line, right, left);
            else if (!strcmp(op, "notin")) ok = !contains(j, n->line, right, left);
            else {
                int c = val_cmp(j, n->line, &left, &right);
                ok = op[0] == '<' ? (op[1] ? c <= 0 : c < 0) : (op[1] ? c >= 0 : c > 0);
            }
            if (!ok) { r = v_bool(0); break; }
            left = right;
        }
        break;
    }
    default: jfail(j, n->line, "internal error: bad expression node");
    }
    j->edepth--;
    return r;
}

static void bind_targets(J *j, const Node *n, Scope *sc, Val item) {
    if (n->op == 1) { scope_set(j, sc, n->names[0], item); return; }
    List *l = item.t == V_LIST ? item.l : item.t == V_STR ? iter_list(j, n->line, item) : NULL;
    if (!l) jfail(j, n->line, "cannot unpack a '%s' into %d names", type_name(&item), n->op);
    if (l->n != (size_t)n->op) jfail(j, n->line, "cannot unpack %zu values into %d names", l->n, n->op);
    for (int i = 0; i < n->op; i++) scope_set(j, sc, n->names[i], l->v[i]);
}

static void exec_body_into(J *j, const Node *body, Scope *sc, SB *buf) {
    SB *saved = j->ob;
    j->ob = buf;
    exec_node(j, body, sc);
    j->ob = saved;
    j->brk = j->cont = 0;
}

static void exec_node(J *j, const Node *n, Scope *sc) {
    step(j, n->line);
    if (++j->edepth > JINJA_MAX_EVAL_DEPTH) jfail(j, n->line, "evaluation nests deeper than %d levels", JINJA_MAX_EVAL_DEPTH);
    switch (n->kind) {
    case S_BODY:
        for (int i = 0; i < n->nkids && !j->brk && !j->cont; i++) exec_node(j, n->kids[i], sc);
        break;
    case S_TEXT: sb_put(j, j->ob, n->lit.s, n->lit.n); break;
    case S_OUT: {
        Val v = eval(j, n->a, sc);
        if (!j->brk && !j->cont) put_str(j, j->ob, &v, 0);   /* else a {% filter %} block's body left the loop iteration */
        break;
    }
    case S_IF: {
        Val c = eval(j, n->a, sc);
        if (truthy(&c)) exec_node(j, n->c, sc);
        else if (n->d) exec_node(j, n->d, sc);
        break;
    }
    case S_FOR: {
        Val it = eval(j, n->a, sc);
        List *items = iter_list(j, n->line, it);
        Scope *ls = scope_new(j, sc);
        if (n->b) {
            List *kept = list_new(j, items->n);
            for (size_t i = 0; i < items->n; i++) {
                bind_targets(j, n, ls, items->v[i]);
                Val c = eval(j, n->b, ls);
                if (truthy(&c)) list_push(j, kept, items->v[i]);
            }
            items = kept;
        }
        Loop *lp = jalloc(j, sizeof *lp);
        lp->items = items;
        Val lv;
        memset(&lv, 0, sizeof lv);
        lv.t = V_LOOP;
        lv.lp = lp;
        for (size_t i = 0; i < items->n; i++) {
            step(j, n->line);
            lp->idx = i;
            ls->vars->n = 0;   /* what one iteration sets is gone in the next (Jinja's loop frames) */
            bind_targets(j, n, ls, items->v[i]);
            scope_set(j, ls, "loop", lv);
            exec_node(j, n->c, ls);
            j->cont = 0;
            if (j->brk) { j->brk = 0; break; }
        }
        if (!items->n && n->d) exec_node(j, n->d, scope_new(j, sc));   /* the else block has its own frame too */
        break;
    }
    case S_SET: {
        Val v = eval(j, n->a, sc);
        if (n->name2) {
            Val ns = lookup(j, sc, n->name);
            if (ns.t != V_NS) jfail(j, n->line, "cannot assign attribute '%s' on '%s': only namespace() objects take attributes", n->name2, n->name);
            dict_set(j, ns.d, v_cstr(n->name2), v);
        } else if (n->names) {
            List *l = v.t == V_LIST ? v.l : NULL;
            if (!l || l->n != (size_t)n->op) jfail(j, n->line, "cannot unpack the value into %d names", n->op);
            for (int i = 0; i < n->op; i++) scope_set(j, sc, n->names[i], l->v[i]);
        } else scope_set(j, sc, n->name, v);
        break;
    }
    case S_SETBLOCK: {
        Val v = eval(j, n->a, sc);
        if (!j->brk && !j->cont) scope_set(j, sc, n->name, v);
        break;
    }
    case S_MACRO: {
        Val v;
        memset(&v, 0, sizeof v);
        v.t = V_MACRO;
        v.mc = jalloc(j, sizeof *v.mc);
        v.mc->n = n;
        v.mc->sc = sc;
        scope_set(j, sc, n->name, v);
        break;
    }
    case S_BREAK: j->brk = 1; break;
    case S_CONTINUE: j->cont = 1; break;
    default: jfail(j, n->line, "internal error: bad statement node");
    }
    j->edepth--;
}

/* ───────────────────────── entry point ───────────────────────── */

static Val from_json(J *j, const JsonValue *v, const char *const *lines, int nlines, const char *text_end, int depth) {
    if (depth > JSON_MAX_DEPTH + 8) jfail(j, 0, "a variable is nested too deeply");
    switch (v->type) {
    case JSON_NULL: return v_none();
    case JSON_BOOL: return v_bool(v->boolean);
    case JSON_NUMBER: {
        /* Python's json gives int for a literal without '.', 'e' or 'E' */
        int isint;
        if (lines && v->line >= 1 && v->line <= nlines) {
            const char *p = lines[v->line - 1] + (v->col - 1);
            isint = 1;
            for (; p < text_end && (*p == '-' || *p == '+' || *p == '.' || *p == 'e' || *p == 'E' || is_digit(*p) || *p == 'N' || *p == 'I'); p++)
                if (*p == '.' || *p == 'e' || *p == 'E' || *p == 'N' || *p == 'I') isint = 0;
        } else isint = v->number == floor(v->number) && fabs(v->number) < 9.007199254740992e15;
        if (isint && fabs(v->number) < 9.2e18) return v_int((int64_t)v->number);
        if (isint) jfail(j, v->line, "JSON integer %.0f does not fit in 64 bits", v->number);
        return v_float(v->number);
    }
    case JSON_STRING: return v_str(v->string, v->len);
    case JSON_ARRAY: {
        List *l = list_new(j, v->count);
        for (size_t i = 0; i < v->count; i++) list_push(j, l, from_json(j, v->items[i], lines, nlines, text_end, depth + 1));
        return v_list(l);
    }
    case JSON_OBJECT: {
        Dict *d = dict_new(j, v->count);
        for (size_t i = 0; i < v->count; i++)
            dict_set(j, d, v_str(v->keys[i], v->key_lens[i]), from_json(j, v->items[i], lines, nlines, text_end, depth + 1));
        return v_dict(d);
    }
    }
    return v_none();
}

int jinja_render(const char *src, size_t len, const JinjaVar *vars, int nvars, long long now, char **out, size_t *out_len, char *err,
                 size_t errlen) {
    J *j = calloc(1, sizeof *j);
    if (!j) { snprintf(err, errlen, "out of memory"); return -1; }
    j->err = err;
    j->errlen = errlen;
    j->now = now;
    int rc = -1;
    *out = NULL;
    *out_len = 0;
    if (setjmp(j->jb) == 0) {
        /* as Jinja reads a template: \r\n and \r become \n, and one trailing newline is dropped */
        char *norm = jalloc(j, len + 1);
        size_t nl = 0;
        for (size_t i = 0; i < len; i++) {
            if (src[i] == '\r') { norm[nl++] = '\n'; if (i + 1 < len && src[i + 1] == '\n') i++; }
            else norm[nl++] = src[i];
        }
        if (nl && norm[nl - 1] == '\n') nl--;
        norm[nl] = 0;
        lex(j, norm, nl);
        j->pos = 0;
        Node *body = parse_body(j, NULL, 0, NULL, 0);
        j->root = scope_new(j, NULL);
        for (int i = 0; i < nvars; i++) {
            Val v;
            if (vars[i].json) {
                const char *const *lines = NULL;
                int nlines = 0;
                const char *tend = NULL;
                if (vars[i].json_text) {
                    /* line starts, to read each number literal's spelling */
                    const char *t = vars[i].json_text, *e = t + vars[i].json_len;
                    int cnt = 1;
                    for (const char *p = t; p < e; p++) cnt += *p == '\n';
                    const char **ls = jalloc(j, sizeof(char *) * (size_t)cnt);
                    ls[0] = t;
                    int k = 1;
                    for (const char *p = t; p < e; p++) if (*p == '\n') ls[k++] = p + 1;
                    lines = ls;
                    nlines = cnt;
                    tend = e;
                }
                v = from_json(j, vars[i].json, lines, nlines, tend, 0);
            } else v = vars[i].str ? v_cstr(vars[i].str) : v_none();
            scope_set(j, j->root, vars[i].name, v);
        }
        SB res = {0};
        j->ob = &res;
        exec_node(j, body, j->root);
        char *o = malloc(res.n + 1);
        if (!o) jfail(j, 0, "out of memory");
        if (res.n) memcpy(o, res.s, res.n);
        o[res.n] = 0;
        *out = o;
        *out_len = res.n;
        rc = 0;
    }
    if (rc != 0 && errlen > 0) {
        /* one line: control characters of a message (raise_exception's text) are escaped */
        char tmp[1024];
        size_t o = 0;
        for (const char *p = err; *p && o + 5 < sizeof tmp; p++) {
            unsigned char c = (unsigned char)*p;
            if (c == '\n') { tmp[o++] = '\\'; tmp[o++] = 'n'; }
            else if (c < 0x20 || c == 0x7F) o += (size_t)snprintf(tmp + o, sizeof tmp - o, "\\x%02x", c);
            else tmp[o++] = (char)c;
        }
        tmp[o] = 0;
        snprintf(err, errlen, "%s", tmp);
    }
    for (Block *b = j->blocks, *nx; b; b = nx) { nx = b->next; free(b); }
    free(j);
    return rc;
}

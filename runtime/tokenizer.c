/*
 * runtime/tokenizer.c — Hugging Face tokenizer.json in C.
 *
 * The pipeline, as `tokenizers` runs it:
 *   1. added tokens are found in the raw text (leftmost, longest); each becomes its
 *      id and the text between them goes through steps 2–4 separately;
 *   2. normalizer: NFC (decomposition, canonical ordering, composition, with
 *      the tables of unicode_norm.h), Prepend, Replace (literal pattern),
 *      Lowercase, Sequence;
 *   3. pre-tokenizer: Split with the GPT-2 / cl100k (Llama 3) / Qwen2 / o200k (gpt-oss)
 *      / DeepSeek-V3 regexes, implemented as hand-written matchers over Unicode
 *      classes, and one-class regexes (SimpleRe) that Sequences of Splits chain
 *      (an unknown pattern is rejected at load time), ByteLevel (byte → printable
 *      code point), Metaspace, Sequence;
 *   4. model: BPE — merges by rank, leftmost first; ignore_merges; byte_fallback
 *      (<0xHH>); unk;
 *   5. post-processor: TemplateProcessing (e.g. BOS) — alone or inside a Sequence.
 * Decoding reverses ByteLevel, or ▁ → space plus byte fallback.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "fileio.h"
#include "json.h"
#include "tokenizer.h"
#include "unicode_tables.h"
#include "unicode_norm.h"

/* ── small hash map: string → int, (int,int) → (rank, id) ─────────────────── */

typedef struct StrMap { char **keys; int *vals; size_t cap, n; } StrMap;

static uint64_t hash_str(const char *s, size_t n) {
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++) { h ^= (unsigned char)s[i]; h *= 1099511628211ULL; }
    return h;
}

static void strmap_put(StrMap *m, const char *k, int v) {
    if ((m->n + 1) * 2 > m->cap) {
        size_t oc = m->cap, nc = oc ? oc * 2 : 1024;
        char **ok = m->keys;
        int *ov = m->vals;
        m->keys = calloc(nc, sizeof(char *));
        m->vals = calloc(nc, sizeof(int));
        m->cap = nc;
        m->n = 0;
        for (size_t i = 0; i < oc; i++) if (ok[i]) strmap_put(m, ok[i], ov[i]);
        free(ok);
        free(ov);
    }
    size_t b = hash_str(k, strlen(k)) & (m->cap - 1);
    while (m->keys[b]) {
        if (!strcmp(m->keys[b], k)) { m->vals[b] = v; return; }
        b = (b + 1) & (m->cap - 1);
    }
    m->keys[b] = (char *)k;
    m->vals[b] = v;
    m->n++;
}

static int strmap_get(const StrMap *m, const char *k, size_t n) {
    if (!m->cap) return -1;
    size_t b = hash_str(k, n) & (m->cap - 1);
    while (m->keys[b]) {
        if (!strncmp(m->keys[b], k, n) && m->keys[b][n] == 0) return m->vals[b];
        b = (b + 1) & (m->cap - 1);
    }
    return -1;
}

typedef struct PairMap { uint64_t *keys; int *rank, *merged; size_t cap; } PairMap;

static uint64_t pair_key(int a, int b) { return ((uint64_t)(uint32_t)a << 32 | (uint32_t)b) + 1; }

static void pairmap_put(PairMap *m, int a, int b, int rank, int merged) {
    uint64_t k = pair_key(a, b);
    size_t i = (k * 0x9E3779B97F4A7C15ULL >> 20) & (m->cap - 1);
    while (m->keys[i] && m->keys[i] != k) i = (i + 1) & (m->cap - 1);
    if (m->keys[i]) return; /* first (lowest) rank wins */
    m->keys[i] = k;
    m->rank[i] = rank;
    m->merged[i] = merged;
}

static int pairmap_get(const PairMap *m, int a, int b, int *merged) {
    if (!m->cap) return -1;
    uint64_t k = pair_key(a, b);
    size_t i = (k * 0x9E3779B97F4A7C15ULL >> 20) & (m->cap - 1);
    while (m->keys[i]) {
        if (m->keys[i] == k) { *merged = m->merged[i]; return m->rank[i]; }
        i = (i + 1) & (m->cap - 1);
    }
    return -1;
}

/* ── the tokenizer ───────────────────────────────────────────────────────── */

typedef enum { SPLIT_NONE, SPLIT_GPT2, SPLIT_CL100K, SPLIT_QWEN2, SPLIT_O200K, SPLIT_DEEPSEEK3, SPLIT_SIMPLE, SPLIT_KIMI } SplitKind;

/* SPLIT_SIMPLE: the one-class regexes that Sequence-of-Split pre-tokenizers
 * chain (DeepSeek LLM / V2: "[\r\n]", "\s?[A-Za-z…]+", "\s+$", "\p{N}+", …):
 *   [\s? | \s+] [CLASS [+ | {m,n}]] [$]
 * CLASS is [...] (literal characters, ranges, escapes, \p{L} \p{N} \s inside,
 * optionally negated with ^) or \p{L} / \p{N}. */
typedef struct SimpleRe {
    int ws;              /* 0: none, 1: \s?, 2: \s+                             */
    int has_cls, neg, pL, pN, pS;
    unsigned (*ranges)[2];
    int n_ranges, min, max;
    int dollar;          /* $: at the end, or before a \n (Oniguruma)           */
} SimpleRe;

typedef struct Split { SplitKind kind; SimpleRe re; } Split;
#define TOK_MAX_SPLITS 16

typedef struct Added { char *content; size_t len; int id, special, lstrip, rstrip; } Added;

typedef struct NormStep { int kind; char *a, *b; } NormStep; /* 1 prepend a, 2 replace a→b, 3 lowercase, 4 NFC */

struct Tokenizer {
    JsonValue *json;
    StrMap vocab;
    char **id_to_token;   /* [n_ids] (pointers into json)                      */
    int n_ids;
    PairMap merges;
    int byte_fallback, ignore_merges, fuse_unk, unk_id;
    int byte_level;       /* ByteLevel pre-tokenizer / decoder                  */
    int byte_level_prefix_space;
    Split split[TOK_MAX_SPLITS]; /* regex splits, applied in turn (a Sequence)  */
    int n_split;
    int metaspace, metaspace_prepend /* 0 never, 1 always, 2 first */, metaspace_split;
    NormStep norm[8];
    int n_norm;
    Added *added;
    int n_added;
    unsigned char added_first[256]; /* 1 if some added token starts with this byte */
    int prefix[8], n_prefix, suffix[8], n_suffix; /* post-processor template */
    int byte_token[256];  /* <0xHH> ids for byte fallback                       */
    unsigned byte_char[256]; /* ByteLevel byte → code point                     */
    short char_byte[324];    /* and back (-1: not a byte's code point)          */
    char *strings;        /* tiktoken: storage of the token strings              */
    int kimi_chunks;      /* Kimi K2: cut the text as its encode() does (runs of
                           * more than 25 000 (non-)spaces, every 400 000 chars) */
};

/* ── UTF-8 and Unicode classes ───────────────────────────────────────────── */

static int utf8_decode(const unsigned char *s, size_t n, unsigned *cp) {
    if (!n) return 0;
    unsigned c = s[0];
    if (c < 0x80) { *cp = c; return 1; }
    int len = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
    if (len == 1 || (size_t)len > n) { *cp = 0xFFFD; return 1; }
    unsigned v = c & (0x3F >> (len - 1));
    for (int i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) { *cp = 0xFFFD; return 1; }
        v = v << 6 | (s[i] & 0x3F);
    }
    *cp = v;
    return len;
}

static size_t utf8_encode(unsigned cp, char *o) {
    if (cp < 0x80) { o[0] = (char)cp; return 1; }
    if (cp < 0x800) { o[0] = (char)(0xC0 | cp >> 6); o[1] = (char)(0x80 | (cp & 63)); return 2; }
    if (cp < 0x10000) { o[0] = (char)(0xE0 | cp >> 12); o[1] = (char)(0x80 | ((cp >> 6) & 63)); o[2] = (char)(0x80 | (cp & 63)); return 3; }
    o[0] = (char)(0xF0 | cp >> 18); o[1] = (char)(0x80 | ((cp >> 12) & 63)); o[2] = (char)(0x80 | ((cp >> 6) & 63)); o[3] = (char)(0x80 | (cp & 63));
    return 4;
}

static int is_L(unsigned c) { return UNI_IN(uni_letter, c); }
static int is_N(unsigned c) { return UNI_IN(uni_number, c); }
static int is_S(unsigned c) { /* Unicode White_Space */
    return (c >= 9 && c <= 13) || c == 32 || c == 0x85 || c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 ||
           c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}
static int is_crlf(unsigned c) { return c == '\r' || c == '\n'; }
/* o200k: [\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}] and [\p{Ll}\p{Lm}\p{Lo}\p{M}] */
static int is_Up(unsigned c) { return UNI_IN(uni_upper_ish, c); }
static int is_Lo(unsigned c) { return UNI_IN(uni_lower_ish, c); }
/* DeepSeek-V3: [\p{P}\p{S}] and [\p{L}\p{M}] */
static int is_PS(unsigned c) { return UNI_IN(uni_punct, c) || UNI_IN(uni_symbol, c); }
static int is_LM(unsigned c) { return is_L(c) || UNI_IN(uni_mark, c); }
/* [!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~]: all 32 ASCII punctuation characters */
static int is_ascii_punct(unsigned c) { return (c >= 0x21 && c <= 0x2F) || (c >= 0x3A && c <= 0x40) || (c >= 0x5B && c <= 0x60) || (c >= 0x7B && c <= 0x7E); }
static int is_ascii_alpha(unsigned c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }

/* (?i:'s|'t|'re|'ve|'m|'ll|'d) at j: its length, or 0.  long_s: 'ſ (U+017F)
 * also matches 's, as tiktoken's regex engine folds it under (?i) (Kimi K2);
 * the Oniguruma of `tokenizers` does not (o200k). */
static int contraction_at(const unsigned *cps, int n, int j, int long_s) {
    if (j >= n || cps[j] != '\'') return 0;
    static const char *suf[] = {"s", "t", "re", "ve", "m", "ll", "d"};
    for (int s = 0; s < 7; s++) {
        int len = (int)strlen(suf[s]), ok = j + 1 + len <= n;
        for (int k = 0; ok && k < len; k++) {
            unsigned d = cps[j + 1 + k];
            if (d >= 'A' && d <= 'Z') d += 32;
            if (long_s && d == 0x17F) d = 's';
            ok = d == (unsigned)suf[s][k];
        }
        if (ok) return 1 + len;
    }
    return 0;
}

/* The two word alternatives of o200k (and Kimi K2, whose classes exclude Han)
 * from position a (after the optional [^\r\n\p{L}\p{N}]), with the regex
 * engine's greedy backtracking:
 *   alt 1: Up* Lo+ C?   — Up* gives back characters until Lo+ can start
 *   alt 2: Up+ Lo* C?
 * up / lo: the two letter classes; long_s as contraction_at.  Returns the end
 * of the match, or -1. */
typedef int (*CpClass)(unsigned);
static int word_at(const unsigned *cps, int n, int a, int alt, CpClass up, CpClass lo, int long_s) {
    int ue = a;
    while (ue < n && up(cps[ue])) ue++;
    if (alt == 1) {
        for (int l = ue; l >= a; l--)
            if (l < n && lo(cps[l])) {
                int e = l;
                while (e < n && lo(cps[e])) e++;
                return e + contraction_at(cps, n, e, long_s);
            }
        return -1;
    }
    if (ue == a) return -1;
    int e = ue;
    while (e < n && lo(cps[e])) e++;
    return e + contraction_at(cps, n, e, long_s);
}

static int match_o200k(const unsigned *cps, int n, int i) {
    unsigned c = cps[i];
    int p = !is_crlf(c) && !is_L(c) && !is_N(c);   /* [^\r\n\p{L}\p{N}]? can take c */
    for (int alt = 1; alt <= 2; alt++) {
        int e = p ? word_at(cps, n, i + 1, alt, is_Up, is_Lo, 0) : -1;
        if (e < 0) e = word_at(cps, n, i, alt, is_Up, is_Lo, 0);
        if (e > i) return e - i;
    }
    /* \p{N}{1,3} */
    if (is_N(c)) {
        int j = i;
        while (j < n && j - i < 3 && is_N(cps[j])) j++;
        return j - i;
    }
    /*  ?[^\s\p{L}\p{N}]+[\r\n/]* */
    int j = i + (c == ' ');
    if (j < n && !is_S(cps[j]) && !is_L(cps[j]) && !is_N(cps[j])) {
        while (j < n && !is_S(cps[j]) && !is_L(cps[j]) && !is_N(cps[j])) j++;
        while (j < n && (is_crlf(cps[j]) || cps[j] == '/')) j++;
        return j - i;
    }
    /* \s*[\r\n]+ : up to the last CR/LF of the whitespace run */
    if (is_S(c)) {
        int e = i, last = -1;
        while (e < n && is_S(cps[e])) { if (is_crlf(cps[e])) last = e; e++; }
        if (last >= 0) return last + 1 - i;
        /* \s+(?!\S) then \s+ */
        if (e == n || e - 1 == i) return e - i;
        return e - 1 - i;
    }
    return 0;
}

/* Whitespace at i (is_S(cps[i])): \s*[\r\n]+ (up to the last CR/LF of the run),
 * else \s+(?!\S) (the run but its last character, unless the run ends the
 * piece or is one character long), else \s+ (that one character). */
static int match_space_tail(const unsigned *cps, int n, int i) {
    int e = i, last = -1;
    while (e < n && is_S(cps[e])) { if (is_crlf(cps[e])) last = e; e++; }
    if (last >= 0) return last + 1 - i;
    if (e == n || e - 1 == i) return e - i;
    return e - 1 - i;
}

/* DeepSeek-V3 / R1's third Split (after \p{N}{1,3} and the CJK/kana one):
 *   [ASCII punct][A-Za-z]+ | [^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+ |
 *    ?[\p{P}\p{S}]+[\r\n]* | \s*[\r\n]+ | \s+(?!\S) | \s+
 * Alternatives leftmost-first; each greedy with the engine's backtracking of
 * the optional first character.  Its length at i, or 0. */
static int match_deepseek3(const unsigned *cps, int n, int i) {
    unsigned c = cps[i];
    int j;
    if (is_ascii_punct(c) && i + 1 < n && is_ascii_alpha(cps[i + 1])) {
        for (j = i + 1; j < n && is_ascii_alpha(cps[j]); j++) {}
        return j - i;
    }
    /* the optional character is taken when a letter or mark follows it; if not,
     * the engine retries without it */
    j = i;
    if (!is_crlf(c) && !is_L(c) && !is_PS(c) && i + 1 < n && is_LM(cps[i + 1])) j = i + 1;
    if (is_LM(cps[j])) {
        while (j < n && is_LM(cps[j])) j++;
        return j - i;
    }
    j = i + (c == ' ');
    if (j < n && is_PS(cps[j])) {
        while (j < n && is_PS(cps[j])) j++;
        while (j < n && is_crlf(cps[j])) j++;
        return j - i;
    }
    return is_S(c) ? match_space_tail(cps, n, i) : 0;
}

/* Kimi K2 (tiktoken.model, its TikTokenTokenizer.pat_str):
 *   [\p{Han}]+ |
 *   [^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}&&[^\p{Han}]]*[\p{Ll}\p{Lm}\p{Lo}\p{M}&&[^\p{Han}]]+C? |
 *   [^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}&&[^\p{Han}]]+[\p{Ll}\p{Lm}\p{Lo}\p{M}&&[^\p{Han}]]*C? |
 *   \p{N}{1,3} |  ?[^\s\p{L}\p{N}]+[\r\n]* | \s*[\r\n]+ | \s+(?!\S) | \s+
 * with C = (?i:'s|'t|'re|'ve|'m|'ll|'d).  `&&` is the class intersection of
 * tiktoken's regex engine: the two word classes of o200k without Script=Han.
 * Han characters that Python's unicodedata (our \p{L} \p{N}) does not know yet
 * count as letters / numbers as the newer tables of the regex engine have them
 * (uni_han_late_*).  Under (?i) 's also matches 'ſ (U+017F folds to s). */
static int is_han(unsigned c) { return c >= 0x2E80 && UNI_IN(uni_han, c); }
static int kimi_L(unsigned c) { return is_L(c) || (c >= 0x16FF0 && UNI_IN(uni_han_late_letter, c)); }
static int kimi_N(unsigned c) { return is_N(c) || (c >= 0x16FF0 && UNI_IN(uni_han_late_number, c)); }
static int kimi_up(unsigned c) { return is_Up(c) && !is_han(c); }
static int kimi_lo(unsigned c) { return is_Lo(c) && !is_han(c); }
static int kimi_other(unsigned c) { return !is_S(c) && !kimi_L(c) && !kimi_N(c); }

static int match_kimi(const unsigned *cps, int n, int i) {
    unsigned c = cps[i];
    int j = i;
    if (is_han(c)) {
        while (j < n && is_han(cps[j])) j++;
        return j - i;
    }
    int p = !is_crlf(c) && !kimi_L(c) && !kimi_N(c);   /* [^\r\n\p{L}\p{N}]? can take c */
    for (int alt = 1; alt <= 2; alt++) {
        int e = p ? word_at(cps, n, i + 1, alt, kimi_up, kimi_lo, 1) : -1;
        if (e < 0) e = word_at(cps, n, i, alt, kimi_up, kimi_lo, 1);
        if (e > i) return e - i;
    }
    if (kimi_N(c)) {
        while (j < n && j - i < 3 && kimi_N(cps[j])) j++;
        return j - i;
    }
    j = i + (c == ' ');
    if (j < n && kimi_other(cps[j])) {
        while (j < n && kimi_other(cps[j])) j++;
        while (j < n && is_crlf(cps[j])) j++;
        return j - i;
    }
    return is_S(c) ? match_space_tail(cps, n, i) : 0;
}

/* ── pre-tokenizer regexes as matchers over code points ──────────────────── */

static int simple_in(const SimpleRe *r, unsigned c) {
    int in = (r->pL && is_L(c)) || (r->pN && is_N(c)) || (r->pS && is_S(c));
    for (int k = 0; !in && k < r->n_ranges; k++) in = c >= r->ranges[k][0] && c <= r->ranges[k][1];
    return in != r->neg;
}

/* The match of a SimpleRe at i (leftmost-greedy with backtracking, as the
 * regex engine has it): its length, or -k when there is none here nor at the
 * k-1 positions after i (they would retry the same ends: this keeps a long run
 * that fails "\s+$" linear). */
static int match_simple(const SimpleRe *r, const unsigned *cps, int n, int i) {
    int w0 = 0, w1 = 0;  /* whitespace lengths to try, longest first */
    if (r->ws == 1) w1 = is_S(cps[i]) ? 1 : 0;
    if (r->ws == 2) {
        while (i + w1 < n && is_S(cps[i + w1])) w1++;
        if (!w1) return -1;
        w0 = 1;
    }
    int run_end = i + 1;
    for (int w = w1; w >= w0; w--) {
        int st = i + w, j = st;
        if (r->has_cls)
            while (j < n && j - st < r->max && simple_in(r, cps[j])) j++;
        if (j > run_end) run_end = j;
        int lo = st + (r->has_cls ? r->min : 0);
        if (lo < i + 1) lo = i + 1;
        if (!r->dollar) { if (j >= lo) return j - i; continue; }
        /* give back class characters until $ holds (end, or before a \n) */
        for (; j >= lo; j--)
            if (j == n || cps[j] == '\n') return j - i;
    }
    if (r->ws == 2) return -w1;
    if (r->ws == 0) return -(run_end - i);
    return -1;
}

/* Length (in code points) of the match of the split regex at position i of
 * cps[0..n), or 0 if no alternative matches here. */
static int match_at(const Split *sp, const unsigned *cps, int n, int i) {
    SplitKind k = sp->kind;
    if (k == SPLIT_SIMPLE) return match_simple(&sp->re, cps, n, i);
    if (k == SPLIT_O200K) return match_o200k(cps, n, i);
    if (k == SPLIT_DEEPSEEK3) return match_deepseek3(cps, n, i);
    if (k == SPLIT_KIMI) return match_kimi(cps, n, i);
    unsigned c = cps[i];
    /* contractions: 's 't 're 've 'm 'll 'd (case-insensitive for cl100k/qwen) */
    if (c == '\'' && i + 1 < n) {
        static const char *suf[] = {"s", "t", "re", "ve", "m", "ll", "d"};
        for (int s = 0; s < 7; s++) {
            int len = (int)strlen(suf[s]), ok = i + 1 + len <= n;
            for (int j = 0; ok && j < len; j++) {
                unsigned d = cps[i + 1 + j];
                if (k != SPLIT_GPT2 && d >= 'A' && d <= 'Z') d += 32;
                ok = d == (unsigned)suf[s][j];
            }
            if (ok) return 1 + len;
        }
    }
    if (k == SPLIT_GPT2) {
        int j = i + (c == ' ');
        if (j < n && is_L(cps[j])) { while (j < n && is_L(cps[j])) j++; return j - i; }
        j = i + (c == ' ');
        if (j < n && is_N(cps[j])) { while (j < n && is_N(cps[j])) j++; return j - i; }
        j = i + (c == ' ');
        if (j < n && !is_S(cps[j]) && !is_L(cps[j]) && !is_N(cps[j])) {
            while (j < n && !is_S(cps[j]) && !is_L(cps[j]) && !is_N(cps[j])) j++;
            return j - i;
        }
    } else {
        /* [^\r\n\p{L}\p{N}]?\p{L}+ */
        int j = i;
        if (!is_crlf(c) && !is_L(c) && !is_N(c)) j++;
        if (j < n && is_L(cps[j])) { while (j < n && is_L(cps[j])) j++; return j - i; }
        if (is_L(c)) { j = i; while (j < n && is_L(cps[j])) j++; return j - i; }
        /* \p{N}{1,3} (Qwen2: \p{N}) */
        if (is_N(c)) {
            int max = k == SPLIT_QWEN2 ? 1 : 3;
            j = i;
            while (j < n && j - i < max && is_N(cps[j])) j++;
            return j - i;
        }
        /*  ?[^\s\p{L}\p{N}]+[\r\n]* */
        j = i + (c == ' ');
        if (j < n && !is_S(cps[j]) && !is_L(cps[j]) && !is_N(cps[j])) {
            while (j < n && !is_S(cps[j]) && !is_L(cps[j]) && !is_N(cps[j])) j++;
            while (j < n && is_crlf(cps[j])) j++;
            return j - i;
        }
        /* \s*[\r\n]+ : up to the last CR/LF of the whitespace run */
        if (is_S(c)) {
            int e = i, last = -1;
            while (e < n && is_S(cps[e])) { if (is_crlf(cps[e])) last = e; e++; }
            if (last >= 0) return last + 1 - i;
        }
    }
    /* \s+(?!\S) then \s+ */
    if (is_S(c)) {
        int e = i;
        while (e < n && is_S(cps[e])) e++;
        if (e == n || e - 1 == i) return e - i;
        return e - 1 - i;
    }
    return 0;
}

/* ── BPE on one word (a sequence of initial symbol ids) ─────────────────── */

/* The rule (that of `tokenizers` and tiktoken): repeatedly merge the adjacent
 * pair with the lowest merge rank, the leftmost one on equal ranks; the merged
 * symbol can then merge with its neighbours.  Symbols that are in no merge
 * (an id < 0 from unk handling among them: pairmap_get finds no pair with it)
 * never merge.  Returns the new length; sym[0..n) is rewritten in place. */

/* Short words: rescan all adjacent pairs after each merge.  O(n^2), but no
 * allocation and a tight loop; most words are a few symbols long. */
static int bpe_word_scan(const Tokenizer *t, int *sym, int n) {
    for (;;) {
        int best = -1, best_rank = 0, best_id = -1;
        for (int i = 0; i + 1 < n; i++) {
            int merged, r = pairmap_get(&t->merges, sym[i], sym[i + 1], &merged);
            if (r >= 0 && (best < 0 || r < best_rank)) { best = i; best_rank = r; best_id = merged; }
        }
        if (best < 0) return n;
        sym[best] = best_id;
        memmove(sym + best + 1, sym + best + 2, sizeof(int) * (size_t)(n - best - 2));
        n--;
    }
}

/* Min-heap of candidate pairs, one uint64 each: rank << 32 | left index, so
 * the smallest key is the lowest rank and, among equal ranks, the leftmost. */
static void heap_push(uint64_t *h, int *len, uint64_t key) {
    int i = (*len)++;
    while (i > 0 && h[(i - 1) / 2] > key) { h[i] = h[(i - 1) / 2]; i = (i - 1) / 2; }
    h[i] = key;
}

static uint64_t heap_pop(uint64_t *h, int *len) {
    uint64_t top = h[0], last = h[--*len];
    int i = 0, n = *len;
    for (;;) {
        int c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && h[c + 1] < h[c]) c++;
        if (h[c] >= last) break;
        h[i] = h[c];
        i = c;
    }
    if (n) h[i] = last;
    return top;
}

/* Below this many symbols the rescan is used.  Measured (GPT-2's and Qwen2's
 * released vocabularies, 1 MB of English docs, words mostly under 10 symbols):
 * the heap for every word was ~20% slower than the rescan; the rescan up to 16
 * symbols matched it.  On words of random letters the two broke even at ~13
 * symbols and the heap was 1.5x faster at 17, 2x at 49. */
#define BPE_SCAN_MAX 16

/* Any length: the same merges in O(n log n).  Each symbol keeps its initial
 * index i in sym[]; the live ones form a doubly linked list (prv/nxt), so
 * merging i with its right neighbour j writes the merged id to sym[i] and
 * unlinks j, and list order stays index order ("leftmost" = smallest index).
 * The heap holds (rank, i) for pairs (i, nxt[i]).  Entries are never removed
 * when a merge changes a pair; a popped entry is used only if symbol i is live,
 * has a right neighbour, and that pair's rank now is the entry's rank, else it
 * is stale and skipped.  Every live mergeable pair has an entry with its current
 * rank (pushed when the pair was formed: at the start, or as a new neighbour
 * pair after a merge), so the smallest non-stale entry is exactly the pair the
 * rescan would pick; its merged id is looked up again when it is used (a
 * tiktoken vocabulary gives several pairs one rank, that of their common merged
 * token, so "same rank" there still means "same merge").  Per
 * merge: one pop (plus the stale ones) and at most two pushes, so at most
 * 3n entries ever exist. */
static int bpe_word(const Tokenizer *t, int *sym, int n) {
    if (n < BPE_SCAN_MAX || n < 2) return bpe_word_scan(t, sym, n);
    size_t cap = 3 * (size_t)n;
    uint64_t *heap = malloc(sizeof(uint64_t) * cap + 2 * sizeof(int) * (size_t)n);
    if (!heap) return bpe_word_scan(t, sym, n); /* slow but the same result */
    int *prv = (int *)(heap + cap), *nxt = prv + n, len = 0, merged;
    for (int i = 0; i < n; i++) {
        prv[i] = i - 1;
        nxt[i] = i + 1 < n ? i + 1 : -1;
        int r = i + 1 < n ? pairmap_get(&t->merges, sym[i], sym[i + 1], &merged) : -1;
        if (r >= 0) heap_push(heap, &len, (uint64_t)r << 32 | (uint32_t)i);
    }
    int left = n;
    while (len) {
        uint64_t key = heap_pop(heap, &len);
        int r = (int)(key >> 32), i = (int)(uint32_t)key, j = nxt[i];
        /* stale: i was unlinked (nxt = -1), is last, or its pair changed */
        if (j < 0 || pairmap_get(&t->merges, sym[i], sym[j], &merged) != r) continue;
        sym[i] = merged;                       /* merge j into i, unlink j */
        nxt[i] = nxt[j];
        if (nxt[j] >= 0) prv[nxt[j]] = i;
        nxt[j] = -1;
        left--;
        /* the merged symbol's pairs with its neighbours are new candidates */
        int p = prv[i];
        if (p >= 0 && (r = pairmap_get(&t->merges, sym[p], sym[i], &merged)) >= 0)
            heap_push(heap, &len, (uint64_t)r << 32 | (uint32_t)p);
        if (nxt[i] >= 0 && (r = pairmap_get(&t->merges, sym[i], sym[nxt[i]], &merged)) >= 0)
            heap_push(heap, &len, (uint64_t)r << 32 | (uint32_t)i);
    }
    /* compact the live symbols (symbol 0 is never unlinked) to sym[0..left) */
    int k = 0;
    for (int i = 0; i >= 0; i = nxt[i]) sym[k++] = sym[i];
    free(heap);
    return left;
}

typedef struct Ids { int *v; int n, cap; } Ids;

static void ids_push(Ids *ids, int id) {
    if (ids->n == ids->cap) { ids->cap = ids->cap ? ids->cap * 2 : 64; ids->v = realloc(ids->v, sizeof(int) * (size_t)ids->cap); }
    ids->v[ids->n++] = id;
}

/* Model step on one pre-tokenized word given as UTF-8 (already byte-mapped). */
static void encode_word(const Tokenizer *t, const char *w, size_t len, Ids *out) {
    if (!len) return;
    if (t->ignore_merges) {
        int id = strmap_get(&t->vocab, w, len);
        if (id >= 0) { ids_push(out, id); return; }
    }
    int *sym = malloc(sizeof(int) * (len * 4 + 4));
    int n = 0;
    for (size_t i = 0; i < len;) {
        unsigned cp;
        int l = utf8_decode((const unsigned char *)w + i, len - i, &cp);
        int id = strmap_get(&t->vocab, w + i, (size_t)l);
        if (id >= 0) sym[n++] = id;
        else if (t->byte_fallback) {
            for (int b = 0; b < l; b++) {
                int bt = t->byte_token[(unsigned char)w[i + b]];
                sym[n++] = bt >= 0 ? bt : t->unk_id;
            }
        } else if (t->unk_id >= 0) {
            if (!(t->fuse_unk && n > 0 && sym[n - 1] == t->unk_id)) sym[n++] = t->unk_id;
        }
        i += (size_t)l;
    }
    n = bpe_word(t, sym, n);
    for (int i = 0; i < n; i++) if (sym[i] >= 0) ids_push(out, sym[i]);
    free(sym);
}

/* Byte-level mapping of raw bytes into the printable alphabet, then BPE. */
static void encode_piece(const Tokenizer *t, const char *s, size_t len, Ids *out) {
    if (!t->byte_level) { encode_word(t, s, len, out); return; }
    char *buf = malloc(len * 2 + 1);
    size_t n = 0;
    for (size_t i = 0; i < len; i++) n += utf8_encode(t->byte_char[(unsigned char)s[i]], buf + n);
    encode_word(t, buf, n, out);
    free(buf);
}

/* Pre-tokenize a normalized segment and encode each word. */
static void encode_segment(const Tokenizer *t, const char *s, size_t len, int first, Ids *out) {
    if (!len) return;
    if (t->metaspace) {
        /* spaces → ▁, prepend ▁, split so that each word starts with ▁ */
        char *buf = malloc(len * 3 + 4);
        size_t n = 0;
        if (t->metaspace_prepend == 1 || (t->metaspace_prepend == 2 && first)) { memcpy(buf, "\xe2\x96\x81", 3); n = 3; }
        for (size_t i = 0; i < len; i++) {
            if (s[i] == ' ') { memcpy(buf + n, "\xe2\x96\x81", 3); n += 3; }
            else buf[n++] = s[i];
        }
        if (!t->metaspace_split) { encode_word(t, buf, n, out); free(buf); return; }
        size_t start = 0;
        for (size_t i = 1; i <= n; i++)
            if (i == n || (i + 3 <= n && !memcmp(buf + i, "\xe2\x96\x81", 3))) {
                encode_word(t, buf + start, i - start, out);
                start = i;
            }
        free(buf);
        return;
    }
    char *prefixed = NULL;
    if (t->byte_level && t->byte_level_prefix_space && s[0] != ' ') {
        prefixed = malloc(len + 2);
        prefixed[0] = ' ';
        memcpy(prefixed + 1, s, len);
        s = prefixed;
        len++;
    }
    if (!t->n_split) { encode_piece(t, s, len, out); free(prefixed); return; }
    /* code points and their byte offsets */
    unsigned *cps = malloc(sizeof(unsigned) * (len + 1));
    size_t *off = malloc(sizeof(size_t) * (len + 2));
    int n = 0;
    for (size_t i = 0; i < len;) {
        off[n] = i;
        int l = utf8_decode((const unsigned char *)s + i, len - i, &cps[n]);
        i += (size_t)l;
        n++;
    }
    off[n] = len;
    /* pieces [a, b) of code points; each Split cuts every piece of the step
     * before into its matches and the stretches between them (Isolated) */
    int *pa = malloc(sizeof(int) * (size_t)(2 * n + 2)), *pb = malloc(sizeof(int) * (size_t)(2 * n + 2));
    int np = 1;
    pa[0] = 0;
    pa[1] = n;
    for (int st = 0; st < t->n_split; st++) {
        int nq = 0;
        for (int p = 0; p < np; p++) {
            int a = pa[2 * p], b = pa[2 * p + 1], gap = a;
            for (int i = a; i < b;) {
                int m = match_at(&t->split[st], cps + a, b - a, i - a);
                if (m <= 0) { i += m < 0 ? -m : 1; continue; }
                if (gap < i) { pb[2 * nq] = gap; pb[2 * nq + 1] = i; nq++; }
                pb[2 * nq] = i; pb[2 * nq + 1] = i + m; nq++;
                i += m;
                gap = i;
            }
            if (gap < b) { pb[2 * nq] = gap; pb[2 * nq + 1] = b; nq++; }
        }
        int *tmp = pa; pa = pb; pb = tmp;
        np = nq;
    }
    for (int p = 0; p < np; p++) encode_piece(t, s + off[pa[2 * p]], off[pa[2 * p + 1]] - off[pa[2 * p]], out);
    free(pa);
    free(pb);
    free(cps);
    free(off);
    free(prefixed);
}

/* Normalizers, applied to one segment; returns a malloc'd string, or NULL if
 * the result would be more than 8 times the input plus 1 KB (real normalizers
 * grow text by 3x at most, ' ' -> U+2581; chained Replace steps of a hostile
 * file could grow it exponentially). */
/* ── NFC ─────────────────────────────────────────────────────────────────── */

enum { HANGUL_S = 0xAC00, HANGUL_L = 0x1100, HANGUL_V = 0x1161, HANGUL_T = 0x11A7, HANGUL_LN = 19, HANGUL_VN = 21, HANGUL_TN = 28,
       HANGUL_N = HANGUL_VN * HANGUL_TN, HANGUL_SN = HANGUL_LN * HANGUL_N };

static int ccc_of(unsigned cp) {
    if (cp < 0x300) return 0;
    size_t lo = 0, hi = sizeof uni_ccc / sizeof uni_ccc[0];
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (cp < uni_ccc[mid][0]) hi = mid;
        else if (cp > uni_ccc[mid][1]) lo = mid + 1;
        else return (int)uni_ccc[mid][2];
    }
    return 0;
}

/* full canonical decomposition of cp appended to out (at most 18 code points) */
static int decompose_cp(unsigned cp, unsigned *out) {
    if (cp >= HANGUL_S && cp < HANGUL_S + HANGUL_SN) {
        unsigned s = cp - HANGUL_S;
        out[0] = HANGUL_L + s / HANGUL_N;
        out[1] = HANGUL_V + (s % HANGUL_N) / HANGUL_TN;
        if (s % HANGUL_TN) { out[2] = HANGUL_T + s % HANGUL_TN; return 3; }
        return 2;
    }
    if (cp >= 0xC0) {
        size_t lo = 0, hi = sizeof uni_decomp / sizeof uni_decomp[0];
        while (lo < hi) {
            size_t mid = (lo + hi) / 2;
            if (cp < uni_decomp[mid][0]) hi = mid;
            else if (cp > uni_decomp[mid][0]) lo = mid + 1;
            else {
                for (unsigned k = 0; k < uni_decomp[mid][2]; k++) out[k] = uni_decomp_data[uni_decomp[mid][1] + k];
                return (int)uni_decomp[mid][2];
            }
        }
    }
    out[0] = cp;
    return 1;
}

/* the primary composite of (a, b), or 0 */
static unsigned compose_pair(unsigned a, unsigned b) {
    if (a >= HANGUL_L && a < HANGUL_L + HANGUL_LN && b >= HANGUL_V && b < HANGUL_V + HANGUL_VN)
        return HANGUL_S + ((a - HANGUL_L) * HANGUL_VN + (b - HANGUL_V)) * HANGUL_TN;
    if (a >= HANGUL_S && a < HANGUL_S + HANGUL_SN && (a - HANGUL_S) % HANGUL_TN == 0 && b > HANGUL_T && b < HANGUL_T + HANGUL_TN)
        return a + (b - HANGUL_T);
    size_t lo = 0, hi = sizeof uni_comp / sizeof uni_comp[0];
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (a < uni_comp[mid][0] || (a == uni_comp[mid][0] && b < uni_comp[mid][1])) hi = mid;
        else if (a > uni_comp[mid][0] || b > uni_comp[mid][1]) lo = mid + 1;
        else return uni_comp[mid][2];
    }
    return 0;
}

/* NFC of UTF-8 text (malloc'd); text without a code point >= U+0300 is returned as is */
static char *nfc(const char *s, size_t n, size_t *out_len) {
    int simple = 1;
    for (size_t i = 0; i < n && simple; i++) simple = (unsigned char)s[i] < 0xCC;   /* lead bytes below U+0300 */
    if (simple) {
        char *r = malloc(n + 1);
        memcpy(r, s, n);
        r[n] = 0;
        *out_len = n;
        return r;
    }
    /* decompose */
    size_t cap = n * 4 + 18, m = 0;
    unsigned *cps = malloc(sizeof(unsigned) * cap);
    for (size_t i = 0; i < n;) {
        unsigned cp;
        int l = utf8_decode((const unsigned char *)s + i, n - i, &cp);
        i += (size_t)(l > 0 ? l : 1);
        if (m + 18 > cap) { cap *= 2; cps = realloc(cps, sizeof(unsigned) * cap); }
        m += (size_t)decompose_cp(cp, cps + m);
    }
    /* canonical ordering: a stable sort of each run of non-starters by class
     * (counting sort, so a hostile run of a million marks stays linear) */
    for (size_t i = 0; i < m;) {
        if (!ccc_of(cps[i])) { i++; continue; }
        size_t e = i;
        while (e < m && ccc_of(cps[e])) e++;
        if (e - i > 1) {
            size_t count[257] = {0};
            for (size_t k = i; k < e; k++) count[ccc_of(cps[k]) + 1]++;
            for (int c = 1; c < 257; c++) count[c] += count[c - 1];
            unsigned *tmp = malloc(sizeof(unsigned) * (e - i));
            for (size_t k = i; k < e; k++) tmp[count[ccc_of(cps[k])]++] = cps[k];
            memcpy(cps + i, tmp, sizeof(unsigned) * (e - i));
            free(tmp);
        }
        i = e;
    }
    /* compose (UAX #15) */
    size_t w = 0;
    if (m) {
        size_t starter = 0;
        int last = ccc_of(cps[0]) ? 256 : 0;
        w = 1;
        for (size_t i = 1; i < m; i++) {
            unsigned ch = cps[i];
            int c = ccc_of(ch);
            unsigned comp = (last < c || last == 0) ? compose_pair(cps[starter], ch) : 0;
            if (comp && (last < c || (last == 0 && w == starter + 1))) {
                cps[starter] = comp;
                continue;
            }
            if (!c) starter = w;
            last = c;
            cps[w++] = ch;
        }
    }
    char *r = malloc(w * 4 + 1);
    size_t o = 0;
    for (size_t i = 0; i < w; i++) o += utf8_encode(cps[i], r + o);
    r[o] = 0;
    free(cps);
    *out_len = o;
    return r;
}

static char *normalize(const Tokenizer *t, const char *s, size_t len, size_t *out_len) {
    if (len > ((size_t)1 << 40)) return NULL;
    const size_t max_out = len * 8 + 1024;
    char *cur = malloc(len + 1);
    memcpy(cur, s, len);
    cur[len] = 0;
    size_t n = len;
    for (int k = 0; k < t->n_norm; k++) {
        const NormStep *st = &t->norm[k];
        if (st->kind == 1 && n > 0) {
            size_t pl = strlen(st->a);
            if (pl > max_out - n) { free(cur); return NULL; }
            char *nb = malloc(n + pl + 1);
            memcpy(nb, st->a, pl);
            memcpy(nb + pl, cur, n + 1);
            free(cur);
            cur = nb;
            n += pl;
        } else if (st->kind == 2 && st->a[0]) {
            size_t al = strlen(st->a), bl = strlen(st->b), cnt = 0;
            for (size_t i = 0; i + al <= n; i++) if (!memcmp(cur + i, st->a, al)) { cnt++; i += al - 1; }
            /* chained Replace steps multiply the length: bound it */
            if (bl > al && cnt > (max_out - n) / (bl - al + 1)) { free(cur); return NULL; }
            char *nb = malloc(n + cnt * (bl + 1) + 1);
            size_t o = 0;
            for (size_t i = 0; i < n;) {
                if (i + al <= n && !memcmp(cur + i, st->a, al)) { memcpy(nb + o, st->b, bl); o += bl; i += al; }
                else nb[o++] = cur[i++];
            }
            nb[o] = 0;
            free(cur);
            cur = nb;
            n = o;
        } else if (st->kind == 3) {
            for (size_t i = 0; i < n; i++) if (cur[i] >= 'A' && cur[i] <= 'Z') cur[i] += 32;
        } else if (st->kind == 4) {
            size_t nl;
            char *nb = nfc(cur, n, &nl);
            free(cur);
            if (nl > max_out) { free(nb); return NULL; }
            cur = nb;
            n = nl;
        }
    }
    *out_len = n;
    return cur;
}

static int is_ws_byte(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

/* text[0..len): added tokens, then normalizer, pre-tokenizer and BPE on the
 * stretches between them; 0, or -1 with err set. */
static int encode_span(const Tokenizer *t, const char *text, size_t len, Ids *out, int *first_io, char *err, size_t errlen) {
    Ids ids = *out;
    size_t seg = 0;
    int first = *first_io;
    for (size_t i = 0; i <= len;) {
        /* added tokens: leftmost match, longest at that position */
        int best = -1;
        size_t best_len = 0;
        if (i < len && t->added_first[(unsigned char)text[i]])
            for (int a = 0; a < t->n_added; a++) {
                size_t al = t->added[a].len;
                if (al > best_len && al <= len - i && !memcmp(text + i, t->added[a].content, al)) { best = a; best_len = al; }
            }
        if (best < 0 && i < len) { i++; continue; }
        size_t seg_end = i, next = i + best_len;
        if (best >= 0) {
            if (t->added[best].lstrip) while (seg_end > seg && is_ws_byte(text[seg_end - 1])) seg_end--;
            if (t->added[best].rstrip) while (next < len && is_ws_byte(text[next])) next++;
        }
        if (seg_end > seg) {
            size_t nl;
            char *norm = normalize(t, text + seg, seg_end - seg, &nl);
            if (!norm) {
                snprintf(err, errlen, "the tokenizer's normalizers would make the text more than 8 times longer");
                *out = ids;
                return -1;
            }
            encode_segment(t, norm, nl, first, &ids);
            free(norm);
            first = 0;
        }
        if (best < 0) break;
        ids_push(&ids, t->added[best].id);
        i = seg = next;
    }
    *out = ids;
    *first_io = first;
    return 0;
}

/* Python's str.isspace(): White_Space plus U+001C..U+001F */
static int py_isspace(unsigned c) { return is_S(c) || (c >= 0x1C && c <= 0x1F); }

#define KIMI_MAX_ENCODE_CHARS 400000
#define KIMI_MAX_RUN_CHARS 25000

static int encode_text(const Tokenizer *t, const char *text, int **ids_out, char *err, size_t errlen, int special) {
    Ids ids = {0};
    for (int i = 0; special && i < t->n_prefix; i++) ids_push(&ids, t->prefix[i]);
    size_t len = strlen(text);
    int first = 1, rc = 0;
    if (!t->kimi_chunks) rc = encode_span(t, text, len, &ids, &first, err, errlen);
    else {
        /* Kimi's encode(): the text in slices of 400 000 characters, each cut
         * before the character that would make a run of spaces (str.isspace)
         * or of non-spaces longer than 25 000; every piece is encoded on its
         * own (special tokens are looked for inside a piece only). */
        size_t start = 0, i = 0;
        long chars = 0, run = 0;
        int run_space = 0;
        while (rc == 0 && i < len) {
            unsigned cp;
            int l = utf8_decode((const unsigned char *)text + i, len - i, &cp);
            int sp = py_isspace(cp);
            if (chars == KIMI_MAX_ENCODE_CHARS) {   /* a new slice: the run count restarts */
                rc = encode_span(t, text + start, i - start, &ids, &first, err, errlen);
                start = i;
                chars = 0;
            }
            if (chars == 0) { run = 1; run_space = sp; }
            else if (sp != run_space) { run = 1; run_space = sp; }
            else if (++run > KIMI_MAX_RUN_CHARS) {
                if (rc == 0) rc = encode_span(t, text + start, i - start, &ids, &first, err, errlen);
                start = i;
                run = 1;
            }
            chars++;
            i += (size_t)l;
        }
        if (rc == 0 && (start < len || len == 0)) rc = encode_span(t, text + start, len - start, &ids, &first, err, errlen);
    }
    if (rc) {
        free(ids.v);
        *ids_out = NULL;
        return -1;
    }
    for (int i = 0; special && i < t->n_suffix; i++) ids_push(&ids, t->suffix[i]);
    *ids_out = ids.v ? ids.v : malloc(sizeof(int));
    return ids.n;
}

int tok_encode(const Tokenizer *t, const char *text, int **ids_out, char *err, size_t errlen) {
    return encode_text(t, text, ids_out, err, errlen, 1);
}

int tok_encode_plain(const Tokenizer *t, const char *text, int **ids_out, char *err, size_t errlen) {
    return encode_text(t, text, ids_out, err, errlen, 0);
}

size_t tok_decode_piece(const Tokenizer *t, int id, char *buf, size_t cap) {
    if (cap == 0) return 0;
    buf[0] = 0;
    if (id < 0 || id >= t->n_ids || !t->id_to_token[id]) return 0;
    const char *s = t->id_to_token[id];
    for (int a = 0; a < t->n_added; a++)
        if (t->added[a].id == id) { size_t l = strlen(s); if (l >= cap) l = cap - 1; memcpy(buf, s, l); buf[l] = 0; return l; }
    size_t o = 0, len = strlen(s);
    if (t->byte_level) {
        for (size_t i = 0; i < len && o + 1 < cap;) {
            unsigned cp;
            i += (size_t)utf8_decode((const unsigned char *)s + i, len - i, &cp);
            int b = cp < 324 ? t->char_byte[cp] : -1;
            if (b >= 0) buf[o++] = (char)b;
        }
    } else if (len == 6 && !strncmp(s, "<0x", 3) && s[5] == '>') {
        buf[o++] = (char)strtol(s + 3, NULL, 16);
    } else {
        for (size_t i = 0; i < len && o + 4 < cap;) {
            if (!strncmp(s + i, "\xe2\x96\x81", 3)) { buf[o++] = ' '; i += 3; }
            else buf[o++] = s[i++];
        }
    }
    buf[o] = 0;
    return o;
}

char *tok_decode(const Tokenizer *t, const int *ids, int n) {
    size_t cap = 64, len = 0;
    char *out = malloc(cap);
    for (int i = 0; i < n; i++) {
        /* a piece has at most as many bytes as its token string (plus slack):
         * long tokens (a tiktoken line holds up to 1024 bytes) are not cut */
        size_t need = ids[i] >= 0 && ids[i] < t->n_ids && t->id_to_token[ids[i]] ? strlen(t->id_to_token[ids[i]]) + 8 : 8;
        if (len + need + 1 > cap) { while (len + need + 1 > cap) cap *= 2; out = realloc(out, cap); }
        len += tok_decode_piece(t, ids[i], out + len, need);
    }
    out[len] = 0;
    return out;
}

int tok_vocab_size(const Tokenizer *t) { return t->n_ids; }

int tok_token_id(const Tokenizer *t, const char *token) {
    for (int a = 0; a < t->n_added; a++) if (!strcmp(t->added[a].content, token)) return t->added[a].id;
    return strmap_get(&t->vocab, token, strlen(token));
}

/* ── loading ─────────────────────────────────────────────────────────────── */

/* A token id: a JSON integer in [0, limit).  Checked before any conversion to
 * int (a double outside int's range makes the cast undefined). */
static int json_id(const JsonValue *v, int limit, int *out) {
    if (!v || v->type != JSON_NUMBER || !(v->number >= 0) || v->number >= (double)limit || v->number != (double)(int)v->number) return 0;
    *out = (int)v->number;
    return 1;
}

/* A JSON value for an error message ("2147483647", "1.5e+09", "\"x\""). */
static const char *num_str(const JsonValue *v) {
    static _Thread_local char buf[64];
    if (!v) return "(missing)";
    if (v->type == JSON_NUMBER) snprintf(buf, sizeof buf, "%.17g", v->number);
    else if (v->type == JSON_STRING) snprintf(buf, sizeof buf, "\"%.40s\"", v->string);
    else snprintf(buf, sizeof buf, "(not a number)");
    return buf;
}


static int load_normalizer(Tokenizer *t, const JsonValue *n, const char *path, char *err, size_t errlen) {
    if (!n || n->type == JSON_NULL) return 0;
    const char *type = json_get_string(n, "type", "");
    if (!strcmp(type, "Sequence")) {
        const JsonValue *list = json_get(n, "normalizers");
        for (size_t i = 0; list && i < list->count; i++)
            if (load_normalizer(t, list->items[i], path, err, errlen)) return -1;
        return 0;
    }
    if (t->n_norm >= 8) { snprintf(err, errlen, "%s: too many normalizers", path); return -1; }
    NormStep *st = &t->norm[t->n_norm];
    if (!strcmp(type, "NFC")) st->kind = 4;
    else if (!strcmp(type, "Prepend")) { st->kind = 1; st->a = (char *)json_get_string(n, "prepend", ""); }
    else if (!strcmp(type, "Replace")) {
        const JsonValue *pat = json_get(n, "pattern");
        const char *lit = pat ? json_get_string(pat, "String", NULL) : NULL;
        if (!lit) { snprintf(err, errlen, "%s: normalizer Replace: only literal String patterns are supported", path); return -1; }
        st->kind = 2;
        st->a = (char *)lit;
        st->b = (char *)json_get_string(n, "content", "");
    } else if (!strcmp(type, "Lowercase")) st->kind = 3;
    else { snprintf(err, errlen, "%s: normalizer '%s' is not supported", path, type); return -1; }
    t->n_norm++;
    return 0;
}

static const char *CL100K =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
static const char *QWEN2 =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
static const char *O200K =
    "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|"
    "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|"
    "\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
static const char *GPT2 = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";
/* DeepSeek-V3 / R1's third Split, as its tokenizer.json has it (CR and LF are
 * the characters themselves there; the escapes \r \n are accepted too) */
static const char *DEEPSEEK3 =
    "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+| ?[\\p{P}\\p{S}]+[\r\n]*|"
    "\\s*[\r\n]+|\\s+(?!\\S)|\\s+";

/* re equals ref, where ref's CR / LF may also be written \r / \n in re */
static int same_pattern(const char *re, const char *ref) {
    for (; *ref; ref++) {
        if ((*ref == '\r' || *ref == '\n') && re[0] == '\\' && re[1] == (*ref == '\r' ? 'r' : 'n')) re += 2;
        else if (*re == *ref) re++;
        else return 0;
    }
    return !*re;
}

/* One character of a pattern (UTF-8, or an escape) → code point; 0 on error. */
static int pat_char(const char **pp, const char *end, unsigned *cp) {
    const char *p = *pp;
    if (p >= end) return 0;
    if (*p == '\\') {
        if (p + 1 >= end) return 0;
        char e = p[1];
        if (e == 'r') *cp = '\r';
        else if (e == 'n') *cp = '\n';
        else if (e == 't') *cp = '\t';
        else if (e == 'f') *cp = '\f';
        else if (e == 'v') *cp = '\v';
        else if (!((e >= 'a' && e <= 'z') || (e >= 'A' && e <= 'Z') || (e >= '0' && e <= '9'))) *cp = (unsigned char)e;
        else return 0;  /* \d, \w, \x.., \u.. …: not in the subset */
        *pp = p + 2;
        return 1;
    }
    int l = utf8_decode((const unsigned char *)p, (size_t)(end - p), cp);
    *pp = p + l;
    return 1;
}

/* \p{L} \p{N} \s at p (inside or outside a class): sets the flag, advances. */
static int pat_prop(const char **pp, const char *end, SimpleRe *r) {
    const char *p = *pp;
    if (end - p >= 5 && !strncmp(p, "\\p{L}", 5)) { r->pL = 1; *pp = p + 5; return 1; }
    if (end - p >= 5 && !strncmp(p, "\\p{N}", 5)) { r->pN = 1; *pp = p + 5; return 1; }
    if (end - p >= 2 && !strncmp(p, "\\s", 2)) { r->pS = 1; *pp = p + 2; return 1; }
    return 0;
}

/* Parse the SimpleRe subset (see SimpleRe); 0 if the pattern is outside it. */
static int parse_simple(const char *re, SimpleRe *r) {
    memset(r, 0, sizeof *r);
    const char *p = re, *end = re + strlen(re);
    if (!strncmp(p, "\\s?", 3)) { r->ws = 1; p += 3; }
    else if (!strncmp(p, "\\s+", 3)) { r->ws = 2; p += 3; }
    if (p < end && *p == '[') {
        p++;
        if (p < end && *p == '^') { r->neg = 1; p++; }
        int cap = 0;
        while (p < end && *p != ']') {
            if (pat_prop(&p, end, r)) continue;
            unsigned lo, hi;
            if (!pat_char(&p, end, &lo)) return 0;
            hi = lo;
            if (p + 1 < end && *p == '-' && p[1] != ']') {
                p++;
                if (!pat_char(&p, end, &hi) || hi < lo) return 0;
            }
            if (r->n_ranges == cap) {
                cap = cap ? cap * 2 : 16;
                void *nr = realloc(r->ranges, sizeof *r->ranges * (size_t)cap);
                if (!nr) return 0;
                r->ranges = nr;
            }
            r->ranges[r->n_ranges][0] = lo;
            r->ranges[r->n_ranges][1] = hi;
            r->n_ranges++;
        }
        if (p >= end) return 0;
        p++;
        r->has_cls = 1;
    } else if (p < end && strncmp(p, "\\s", 2) && pat_prop(&p, end, r)) {
        r->has_cls = 1;
    }
    r->min = r->max = 1;
    if (r->has_cls && p < end && *p == '+') { r->max = 1 << 30; p++; }
    else if (r->has_cls && p < end && *p == '{') {
        char *q;
        long a = strtol(p + 1, &q, 10), b = a;
        if (q == p + 1 || a < 1) return 0;
        if (*q == ',') { const char *q0 = q + 1; b = strtol(q0, &q, 10); if (q == q0 || b < a) return 0; }
        if (*q != '}' || b > 1000000) return 0;
        r->min = (int)a; r->max = (int)b; p = q + 1;
    }
    if (p < end && *p == '$') { r->dollar = 1; p++; }
    if (p != end) return 0;
    if (!r->has_cls && r->ws != 2) return 0;  /* "\s?" alone, or nothing */
    return 1;
}

static int add_split(Tokenizer *t, SplitKind k, const char *path, char *err, size_t errlen) {
    if (t->n_split == TOK_MAX_SPLITS) { snprintf(err, errlen, "%s: more than %d Split pre-tokenizers", path, TOK_MAX_SPLITS); return -1; }
    t->split[t->n_split++].kind = k;
    return 0;
}

static int load_pretok(Tokenizer *t, const JsonValue *p, const char *path, char *err, size_t errlen) {
    if (!p || p->type == JSON_NULL) return 0;
    const char *type = json_get_string(p, "type", "");
    if (!strcmp(type, "Sequence")) {
        const JsonValue *list = json_get(p, "pretokenizers");
        for (size_t i = 0; list && i < list->count; i++)
            if (load_pretok(t, list->items[i], path, err, errlen)) return -1;
        return 0;
    }
    if (!strcmp(type, "ByteLevel")) {
        t->byte_level = 1;
        t->byte_level_prefix_space = json_get_bool(p, "add_prefix_space", 0);
        /* use_regex: the GPT-2 split of every piece so far */
        if (json_get_bool(p, "use_regex", 1)) return add_split(t, SPLIT_GPT2, path, err, errlen);
        return 0;
    }
    if (!strcmp(type, "Split")) {
        const JsonValue *pat = json_get(p, "pattern");
        const char *re = pat ? json_get_string(pat, "Regex", NULL) : NULL;
        const char *beh = json_get_string(p, "behavior", "Isolated");
        if (!re || strcmp(beh, "Isolated") || json_get_bool(p, "invert", 0)) { snprintf(err, errlen, "%s: pre_tokenizer Split: only Regex patterns with Isolated behaviour (not inverted) are supported", path); return -1; }
        if (t->n_split == TOK_MAX_SPLITS) { snprintf(err, errlen, "%s: more than %d Split pre-tokenizers", path, TOK_MAX_SPLITS); return -1; }
        Split *sp = &t->split[t->n_split];
        if (!strcmp(re, CL100K)) sp->kind = SPLIT_CL100K;
        else if (!strcmp(re, QWEN2)) sp->kind = SPLIT_QWEN2;
        else if (!strcmp(re, GPT2)) sp->kind = SPLIT_GPT2;
        else if (!strcmp(re, O200K)) sp->kind = SPLIT_O200K;
        else if (same_pattern(re, DEEPSEEK3)) sp->kind = SPLIT_DEEPSEEK3;
        else if (parse_simple(re, &sp->re)) sp->kind = SPLIT_SIMPLE;
        else {
            free(sp->re.ranges);
            sp->re.ranges = NULL;
            snprintf(err, errlen,
                     "%s: pre_tokenizer Split: regex not supported (supported: GPT-2, Llama 3 / cl100k, Qwen2, o200k, DeepSeek-V3, "
                     "and one-class patterns such as \\s?[...]+ or \\p{N}+): %.80s", path, re);
            return -1;
        }
        t->n_split++;
        return 0;
    }
    if (!strcmp(type, "Metaspace")) {
        t->metaspace = 1;
        const char *scheme = json_get_string(p, "prepend_scheme", json_get_bool(p, "add_prefix_space", 1) ? "always" : "never");
        t->metaspace_prepend = !strcmp(scheme, "always") ? 1 : !strcmp(scheme, "first") ? 2 : 0;
        t->metaspace_split = json_get_bool(p, "split", 1);
        return 0;
    }
    snprintf(err, errlen, "%s: pre_tokenizer '%s' is not supported", path, type);
    return -1;
}

static int template_ids(Tokenizer *t, const JsonValue *tp, const char *path, char *err, size_t errlen) {
    const JsonValue *single = json_get(tp, "single"), *specials = json_get(tp, "special_tokens");
    int seen_seq = 0;
    for (size_t i = 0; single && i < single->count; i++) {
        const JsonValue *it = single->items[i], *sp = json_get(it, "SpecialToken");
        if (json_get(it, "Sequence")) { seen_seq = 1; continue; }
        if (!sp) continue;
        const char *name = json_get_string(sp, "id", "");
        const JsonValue *entry = json_get(specials, name), *idl = entry ? json_get(entry, "ids") : NULL;
        if (!idl || idl->type != JSON_ARRAY) { snprintf(err, errlen, "%s: post_processor: special token '%s' has no ids", path, name); return -1; }
        for (size_t k = 0; k < idl->count; k++) {
            int *dst = seen_seq ? t->suffix : t->prefix, *cnt = seen_seq ? &t->n_suffix : &t->n_prefix;
            int id;
            if (!json_id(idl->items[k], t->n_ids, &id)) {
                snprintf(err, errlen, "%s: post_processor: special token '%s' has id %s, outside the vocabulary [0, %d)", path, name,
                         num_str(idl->items[k]), t->n_ids);
                return -1;
            }
            if (*cnt >= 8) { snprintf(err, errlen, "%s: post_processor: more than 8 special tokens %s the sequence", path, seen_seq ? "after" : "before"); return -1; }
            dst[(*cnt)++] = id;
        }
    }
    return 0;
}

static int load_post(Tokenizer *t, const JsonValue *p, const char *path, char *err, size_t errlen) {
    if (!p || p->type == JSON_NULL) return 0;
    const char *type = json_get_string(p, "type", "");
    if (!strcmp(type, "Sequence")) {
        const JsonValue *list = json_get(p, "processors");
        for (size_t i = 0; list && i < list->count; i++)
            if (load_post(t, list->items[i], path, err, errlen)) return -1;
        return 0;
    }
    if (!strcmp(type, "TemplateProcessing")) return template_ids(t, p, path, err, errlen);
    if (!strcmp(type, "ByteLevel")) return 0; /* offsets only */
    snprintf(err, errlen, "%s: post_processor '%s' is not supported", path, type);
    return -1;
}

/* ── tiktoken vocabularies (Qwen-1's qwen.tiktoken, Kimi K2's tiktoken.model) ─
 * One line per token: its bytes in base64, a space, its rank (= its id).  The
 * BPE is tiktoken's: split with the pre-tokenizer regex, start from single
 * bytes, repeatedly merge the adjacent pair whose concatenation has the lowest
 * rank (leftmost on ties).  That is exactly this file's BPE with one merge
 * (a, b) → a+b of rank rank(a+b) for every split of every token into two
 * tokens, so the vocabulary is loaded into the same tables as a byte-level
 * tokenizer.json (bytes mapped through the GPT-2 byte alphabet).  Qwen's
 * special tokens follow the ranks: <|endoftext|>, <|im_start|>, <|im_end|>,
 * <|extra_0|> … <|extra_204|>, recognised anywhere in the text.  Kimi K2's
 * tiktoken.model is the same format with its own regex (SPLIT_KIMI) and 256
 * special tokens (see kimi_special_names); a piece that is a token as a whole
 * is that token (tiktoken looks it up before the BPE: ignore_merges). */
static int b64_value(int c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    return c == '+' ? 62 : c == '/' ? 63 : -1;
}


/* Strict base64 (standard alphabet, '=' padding only at the end, no
 * leftover bits); decoded length, or -1. */
static int b64_decode_strict(const char *s, size_t n, unsigned char *out, size_t cap) {
    size_t pad = 0;
    while (n > 0 && s[n - 1] == '=' && pad < 2) { n--; pad++; }
    if (pad && (n + pad) % 4) return -1;
    if (n % 4 == 1) return -1;
    size_t len = 0;
    int bits = 0;
    unsigned acc = 0;
    for (size_t i = 0; i < n; i++) {
        int v = b64_value((unsigned char)s[i]);
        if (v < 0) return -1;
        acc = (acc << 6) | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (len == cap) return -1;
            out[len++] = (unsigned char)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    if (acc) return -1;   /* non-zero leftover bits: not canonical base64 */
    return (int)len;
}

#define TIKTOKEN_MAX_TOKEN_BYTES 1024
#define TOK_MAX_IDS (1 << 24)

static void free_tiktoken_parts(unsigned char **tok, int *tlen, size_t *off, size_t n) {
    for (size_t i = 0; tok && i < n; i++) free(tok[i]);
    free(tok); free(tlen); free(off);
}

/* GPT-2's bytes_to_unicode: printable bytes stand for themselves, the others
 * for 256, 257, … in order; and the inverse. */
static void byte_alphabet(Tokenizer *t) {
    int k = 0;
    for (int c = 0; c < 324; c++) t->char_byte[c] = -1;
    for (int b = 0; b < 256; b++) {
        int printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
        t->byte_char[b] = printable ? (unsigned)b : (unsigned)(256 + k++);
        t->char_byte[t->byte_char[b]] = (short)b;
    }
}

/* Lengths and first bytes of the added tokens: the scan for them in
 * tok_encode only looks closer where one can start. */
static void index_added(Tokenizer *t) {
    memset(t->added_first, 0, sizeof t->added_first);
    for (int a = 0; a < t->n_added; a++) {
        t->added[a].len = strlen(t->added[a].content);
        t->added_first[(unsigned char)t->added[a].content[0]] = 1;
    }
}

/* Kimi K2's special tokens: ids n_ranks … n_ranks + 255, named by
 * tokenizer_config.json's added_tokens_decoder ({"163584": {"content": "[BOS]",
 * …}, …}) where it names them, else <|reserved_token_ID|>. */
#define KIMI_N_SPECIAL 256

/* Validates a Kimi tokenizer_config.json and fills names[0..256) (pointers into
 * the parsed document, NULL where unnamed); 0, or -1 with err set. */
static int kimi_special_names(const JsonValue *cfg, const char *cpath, size_t n_ranks, const char **names, char *err, size_t errlen) {
    for (int i = 0; i < KIMI_N_SPECIAL; i++) names[i] = NULL;
    if (cfg->type != JSON_OBJECT) { snprintf(err, errlen, "%s: not a JSON object", cpath); return -1; }
    const JsonValue *atd = json_get(cfg, "added_tokens_decoder");
    if (!atd || atd->type == JSON_NULL) return 0;
    if (atd->type != JSON_OBJECT) { snprintf(err, errlen, "%s:%d:%d: added_tokens_decoder is not an object", cpath, atd->line, atd->col); return -1; }
    for (size_t k = 0; k < atd->count; k++) {
        const char *key = atd->keys[k];
        const JsonValue *v = atd->items[k];
        long long id = 0;
        size_t kl = atd->key_lens[k];
        int ok = kl > 0 && kl <= 9;
        for (size_t c = 0; ok && c < kl; c++) ok = key[c] >= '0' && key[c] <= '9', id = id * 10 + (key[c] - '0');
        if (!ok) {
            snprintf(err, errlen, "%s:%d:%d: added_tokens_decoder: key \"%.40s\" is not a token id", cpath, v->line, v->col, key);
            return -1;
        }
        if (id < (long long)n_ranks || id >= (long long)n_ranks + KIMI_N_SPECIAL) {
            snprintf(err, errlen,
                     "%s:%d:%d: added_tokens_decoder: id %lld is outside the special tokens [%zu, %zu) (after the %zu ranks of tiktoken.model)",
                     cpath, v->line, v->col, id, n_ranks, n_ranks + KIMI_N_SPECIAL, n_ranks);
            return -1;
        }
        const JsonValue *content = json_get(v, "content");
        if (!content || content->type != JSON_STRING || !content->len || strlen(content->string) != content->len) {
            snprintf(err, errlen, "%s:%d:%d: added_tokens_decoder[\"%s\"]: needs a non-empty \"content\" string without NUL bytes", cpath, v->line,
                     v->col, key);
            return -1;
        }
        if (content->len > 256) {
            snprintf(err, errlen, "%s:%d:%d: added_tokens_decoder[\"%s\"]: content longer than 256 bytes", cpath, v->line, v->col, key);
            return -1;
        }
        int slot = (int)(id - (long long)n_ranks);
        if (names[slot]) { snprintf(err, errlen, "%s:%d:%d: added_tokens_decoder: id %lld appears twice", cpath, v->line, v->col, id); return -1; }
        for (int o = 0; o < KIMI_N_SPECIAL; o++)
            if (names[o] && !strcmp(names[o], content->string)) {
                snprintf(err, errlen, "%s:%d:%d: added_tokens_decoder: \"%.60s\" names both id %zu and id %lld", cpath, v->line, v->col,
                         content->string, n_ranks + (size_t)o, id);
                return -1;
            }
        names[slot] = content->string;
    }
    return 0;
}

typedef enum { TIKTOKEN_QWEN, TIKTOKEN_KIMI } TiktokenKind;

/* A tiktoken vocabulary: Qwen-1's qwen.tiktoken (Qwen's regex, 208 specials) or
 * Kimi K2's tiktoken.model (Kimi's regex, 256 specials named by cfg, the parsed
 * tokenizer_config.json or NULL; the tokenizer takes ownership of cfg). */
static Tokenizer *tok_load_tiktoken(const char *data, size_t size, const char *path, TiktokenKind kind, JsonValue *cfg, const char *cpath,
                                    char *err, size_t errlen) {
    Tokenizer *t = calloc(1, sizeof *t);
    if (!t) { snprintf(err, errlen, "%s: out of memory", path); json_free(cfg); return NULL; }
    t->json = cfg;
    t->unk_id = -1;
    t->byte_level = 1;
    t->ignore_merges = 1;  /* tiktoken looks a whole piece up before its BPE */
    t->split[0].kind = kind == TIKTOKEN_KIMI ? SPLIT_KIMI : SPLIT_QWEN2;  /* Qwen-1's PAT_STR is the regex Qwen2 kept */
    t->kimi_chunks = kind == TIKTOKEN_KIMI;
    t->n_split = 1;
    byte_alphabet(t);
    for (int b = 0; b < 256; b++) t->byte_token[b] = -1;
    /* read every line: base64 bytes, a space, the rank (= id, in order 0, 1, 2, …) */
    size_t cap = 1024, n = 0, total = 0, pairs = 0;
    unsigned char **tok = malloc(cap * sizeof *tok);
    int *tlen = malloc(cap * sizeof *tlen), lineno = 0;
    const char *p = data, *end = data + size;
    unsigned char bytes[TIKTOKEN_MAX_TOKEN_BYTES];
    /* here only the format; duplicates are found on the byte-alphabet strings below */
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p)), *le = nl ? nl : end;
        const char *line = p;
        p = nl ? nl + 1 : end;
        lineno++;
        size_t ll = (size_t)(le - line);
        if (ll && line[ll - 1] == '\r') ll--;
        if (ll == 0) continue;
        const char *sp = memchr(line, ' ', ll);
        const char *why = NULL;
        long long rank = -1;
        int bl = -1;
        if (!sp) why = "expected '<base64 bytes> <rank>'";
        else {
            const char *r = sp + 1, *re = line + ll;
            if (r == re) why = "missing rank";
            rank = 0;
            for (; !why && r < re; r++) {
                if (*r < '0' || *r > '9') { why = "the rank is not a non-negative integer"; break; }
                rank = rank * 10 + (*r - '0');
                if (rank > TOK_MAX_IDS) { why = "rank too large (more than 2^24 tokens)"; break; }
            }
            if (!why) {
                bl = b64_decode_strict(line, (size_t)(sp - line), bytes, sizeof bytes);
                if (bl < 0) why = "bad base64 (or a token longer than 1024 bytes)";
                else if (bl == 0) why = "empty token";
            }
        }
        if (!why && rank != (long long)n) {
            snprintf(err, errlen, "%s:%d: rank %lld, expected %zu (ranks must be 0, 1, 2, ... in file order, each once)", path, lineno, rank, n);
            free_tiktoken_parts(tok, tlen, NULL, n);
            tok_free(t);
            return NULL;
        }
        if (why) {
            snprintf(err, errlen, "%s:%d: %s", path, lineno, why);
            free_tiktoken_parts(tok, tlen, NULL, n);
            tok_free(t);
            return NULL;
        }
        if (n == cap) { cap *= 2; tok = realloc(tok, cap * sizeof *tok); tlen = realloc(tlen, cap * sizeof *tlen); }
        tok[n] = malloc((size_t)bl);
        memcpy(tok[n], bytes, (size_t)bl);
        tlen[n++] = bl;
        total += (size_t)bl * 2 + 1;
        pairs += (size_t)bl - 1;
    }
    /* the special tokens' names */
    static const char *const qwen_first[3] = {"<|endoftext|>", "<|im_start|>", "<|im_end|>"};
    const char *kimi_names[KIMI_N_SPECIAL];
    int n_special = kind == TIKTOKEN_KIMI ? KIMI_N_SPECIAL : 3 + 205;
    size_t special_bytes = (size_t)n_special * 32;
    if (kind == TIKTOKEN_KIMI) {
        for (int i = 0; i < KIMI_N_SPECIAL; i++) kimi_names[i] = NULL;
        if (cfg && kimi_special_names(cfg, cpath, n, kimi_names, err, errlen)) {
            free_tiktoken_parts(tok, tlen, NULL, n);
            tok_free(t);
            return NULL;
        }
        for (int i = 0; i < KIMI_N_SPECIAL; i++) special_bytes += kimi_names[i] ? strlen(kimi_names[i]) + 1 : 0;
    }
    t->n_ids = (int)n + n_special;
    t->strings = malloc(total + special_bytes + 1);
    t->id_to_token = calloc((size_t)t->n_ids + 1, sizeof(char *));
    size_t *off = malloc((n + 1) * sizeof *off), at = 0;
    for (size_t i = 0; i < n; i++) {  /* the token's bytes in the byte alphabet */
        off[i] = at;
        for (int j = 0; j < tlen[i]; j++) at += utf8_encode(t->byte_char[tok[i][j]], t->strings + at);
        t->strings[at++] = 0;
        t->id_to_token[i] = t->strings + off[i];
        int dup = strmap_get(&t->vocab, t->strings + off[i], at - 1 - off[i]);
        if (dup >= 0) {
            snprintf(err, errlen, "%s: the token of rank %zu has the same bytes as rank %d", path, i, dup);
            free_tiktoken_parts(tok, tlen, off, n);
            tok_free(t);
            return NULL;
        }
        strmap_put(&t->vocab, t->strings + off[i], (int)i);
    }
    for (int b = 0; b < 256; b++) {
        char one[4];
        size_t l = utf8_encode(t->byte_char[b], one);
        if (strmap_get(&t->vocab, one, l) < 0) {
            snprintf(err, errlen, "%s: byte 0x%02X has no token (a tiktoken vocabulary starts with all 256 bytes)", path, b);
            free_tiktoken_parts(tok, tlen, off, n);
            tok_free(t);
            return NULL;
        }
    }
    /* merges: every split of every token into two tokens */
    t->merges.cap = 1024;
    while (t->merges.cap < pairs * 2 + 2) t->merges.cap *= 2;
    t->merges.keys = calloc(t->merges.cap, sizeof(uint64_t));
    t->merges.rank = calloc(t->merges.cap, sizeof(int));
    t->merges.merged = calloc(t->merges.cap, sizeof(int));
    for (size_t i = 0; i < n; i++) {
        const char *s = t->strings + off[i];
        size_t sl = strlen(s), cut = 0;
        for (int j = 0; j + 1 < tlen[i]; j++) {
            cut += t->byte_char[tok[i][j]] < 0x80 ? 1 : 2;
            int a = strmap_get(&t->vocab, s, cut), b = strmap_get(&t->vocab, s + cut, sl - cut);
            if (a >= 0 && b >= 0) pairmap_put(&t->merges, a, b, (int)i, (int)i);
        }
    }
    free_tiktoken_parts(tok, tlen, off, n);
    /* special tokens after the ranks */
    t->added = calloc((size_t)n_special, sizeof(Added));
    for (int i = 0; i < n_special; i++) {
        char *c = t->strings + at;
        if (kind == TIKTOKEN_KIMI) {
            if (kimi_names[i]) at += (size_t)sprintf(c, "%s", kimi_names[i]) + 1;
            else at += (size_t)sprintf(c, "<|reserved_token_%zu|>", n + (size_t)i) + 1;
        } else if (i < 3) at += (size_t)sprintf(c, "%s", qwen_first[i]) + 1;
        else at += (size_t)sprintf(c, "<|extra_%d|>", i - 3) + 1;
        t->added[i] = (Added){.content = c, .id = (int)n + i, .special = 1};
        t->id_to_token[n + (size_t)i] = c;
    }
    t->n_added = n_special;
    /* a name the config gives to one id that is the reserved name of another
     * (unnamed) id would be one name for two ids: an error */
    if (kind == TIKTOKEN_KIMI)
        for (int i = 0; i < n_special; i++)
            for (int o = 0; !kimi_names[i] && o < n_special; o++)
                if (kimi_names[o] && !strcmp(kimi_names[o], t->added[i].content)) {
                    snprintf(err, errlen, "%s: added_tokens_decoder names id %zu \"%.60s\", the reserved name of id %zu", cpath, n + (size_t)o,
                             kimi_names[o], n + (size_t)i);
                    tok_free(t);
                    return NULL;
                }
    index_added(t);
    return t;
}

static int ends_with(const char *s, const char *suffix) {
    size_t sl = strlen(s), xl = strlen(suffix);
    return sl >= xl && !strcmp(s + sl - xl, suffix);
}

Tokenizer *tok_load_kimi_memory(const char *model, size_t len, const char *config, size_t config_len, const char *name, const char *config_name,
                                char *err, size_t errlen) {
    JsonValue *cfg = NULL;
    if (config) {
        char jerr[400];
        cfg = json_parse(config, config_len, jerr, sizeof jerr);
        if (!cfg) { snprintf(err, errlen, "%s: %s", config_name, jerr); return NULL; }
    }
    return tok_load_tiktoken(model, len, name, TIKTOKEN_KIMI, cfg, config_name, err, errlen);
}

Tokenizer *tok_load(const char *path, char *err, size_t errlen) {
    size_t len;
    char *data = rt_read_file(path, JSON_MAX_FILE_BYTES, &len, err, errlen);
    if (!data) return NULL;
    Tokenizer *t;
    if (ends_with(path, "tiktoken.model")) {
        /* Kimi K2: the special tokens' names from tokenizer_config.json beside it */
        char cpath[4096];
        const char *slash = strrchr(path, '/');
        snprintf(cpath, sizeof cpath, "%.*s%stokenizer_config.json", slash ? (int)(slash - path) : 0, path, slash ? "/" : "");
        char *cfg = NULL;
        size_t clen = 0;
        if (rt_path_exists(cpath) && !(cfg = rt_read_file(cpath, JSON_MAX_FILE_BYTES, &clen, err, errlen))) { free(data); return NULL; }
        t = tok_load_kimi_memory(data, len, cfg, clen, path, cpath, err, errlen);
        free(cfg);
    } else t = tok_load_memory(data, len, path, err, errlen);
    free(data);
    return t;
}

#define LOAD_FAIL(...) do { snprintf(err, errlen, __VA_ARGS__); tok_free(t); return NULL; } while (0)

Tokenizer *tok_load_memory(const char *data, size_t len, const char *path, char *err, size_t errlen) {
    if (ends_with(path, ".tiktoken")) return tok_load_tiktoken(data, len, path, TIKTOKEN_QWEN, NULL, NULL, err, errlen);
    if (ends_with(path, "tiktoken.model")) return tok_load_tiktoken(data, len, path, TIKTOKEN_KIMI, NULL, NULL, err, errlen);
    Tokenizer *t = calloc(1, sizeof *t);
    if (!t) { snprintf(err, errlen, "%s: out of memory", path); return NULL; }
    t->unk_id = -1;
    char jerr[400];
    t->json = json_parse(data, len, jerr, sizeof jerr);
    if (!t->json) LOAD_FAIL("%s: %s", path, jerr);
    const JsonValue *model = json_get(t->json, "model");
    if (!model || model->type != JSON_OBJECT) LOAD_FAIL("%s: no 'model' object", path);
    const char *mtype = json_get_string(model, "type", "BPE");
    if (strcmp(mtype, "BPE")) LOAD_FAIL("%s: model type is not supported (only BPE): %.60s", path, mtype);
    const JsonValue *vocab = json_get(model, "vocab"), *merges = json_get(model, "merges");
    if (!vocab || vocab->type != JSON_OBJECT) LOAD_FAIL("%s: model.vocab is missing", path);
    const JsonValue *added = json_get(t->json, "added_tokens");
    if (added && added->type == JSON_NULL) added = NULL;
    if (added && added->type != JSON_ARRAY) LOAD_FAIL("%s: added_tokens is not an array", path);
    if (merges && merges->type == JSON_NULL) merges = NULL;
    if (merges && merges->type != JSON_ARRAY) LOAD_FAIL("%s: model.merges is not an array", path);
    /* ids are bounded by the number of tokens the file defines: no table is
     * ever larger than the file warrants, and every id indexes inside it */
    size_t n_added = added ? added->count : 0;
    if (vocab->count + n_added >= TOK_MAX_IDS) LOAD_FAIL("%s: %zu tokens, more than the 2^24 supported", path, vocab->count + n_added);
    int limit = (int)(vocab->count + n_added), max_id = -1;
    for (size_t i = 0; i < vocab->count; i++) {
        int id;
        if (!json_id(vocab->items[i], limit, &id))
            LOAD_FAIL("%s: model.vocab: token '%.60s' has id %s, outside [0, %d) (vocabulary plus added tokens)", path, vocab->keys[i],
                      num_str(vocab->items[i]), limit);
        if (id > max_id) max_id = id;
    }
    for (size_t i = 0; i < n_added; i++) {
        const JsonValue *a = added->items[i];
        const char *content = json_get_string(a, "content", NULL);
        const JsonValue *idv = json_get(a, "id");
        int id;
        if (!content || !content[0] || strlen(content) != json_get(a, "content")->len)
            LOAD_FAIL("%s: added_tokens[%zu]: needs a non-empty \"content\" string without NUL bytes", path, i);
        if (!json_id(idv, limit, &id))
            LOAD_FAIL("%s: added token '%.60s' has id %s, outside [0, %d) (vocabulary plus added tokens)", path, content, num_str(idv), limit);
        if (id > max_id) max_id = id;
    }
    t->n_ids = max_id + 1;
    t->id_to_token = calloc((size_t)t->n_ids + 1, sizeof(char *));
    if (!t->id_to_token) LOAD_FAIL("%s: out of memory", path);
    for (size_t i = 0; i < vocab->count; i++) {
        int id = (int)vocab->items[i]->number;
        const char *key = vocab->keys[i];
        if (strmap_get(&t->vocab, key, strlen(key)) >= 0) LOAD_FAIL("%s: model.vocab: token '%.60s' appears twice", path, key);
        if (t->id_to_token[id]) LOAD_FAIL("%s: model.vocab: tokens '%.60s' and '%.60s' both have id %d", path, t->id_to_token[id], key, id);
        strmap_put(&t->vocab, key, id);
        t->id_to_token[id] = (char *)key;
    }
    t->byte_fallback = json_get_bool(model, "byte_fallback", 0);
    t->ignore_merges = json_get_bool(model, "ignore_merges", 0);
    t->fuse_unk = json_get_bool(model, "fuse_unk", 0);
    const char *unk = json_get_string(model, "unk_token", NULL);
    if (unk) t->unk_id = strmap_get(&t->vocab, unk, strlen(unk));
    for (int b = 0; b < 256; b++) {   /* <0xHH> tokens, used only for byte fallback */
        char name[8] = {'<', '0', 'x', "0123456789ABCDEF"[b >> 4], "0123456789ABCDEF"[b & 15], '>', 0};
        t->byte_token[b] = t->byte_fallback ? strmap_get(&t->vocab, name, 6) : -1;
    }
    /* merges: "a b" or ["a", "b"]; the index is the rank.  As in `tokenizers`,
     * both parts and their concatenation must be in the vocabulary. */
    size_t nm = merges ? merges->count : 0;
    t->merges.cap = 1024;
    while (t->merges.cap < nm * 2 + 2) t->merges.cap *= 2;
    t->merges.keys = calloc(t->merges.cap, sizeof(uint64_t));
    t->merges.rank = calloc(t->merges.cap, sizeof(int));
    t->merges.merged = calloc(t->merges.cap, sizeof(int));
    if (!t->merges.keys || !t->merges.rank || !t->merges.merged) LOAD_FAIL("%s: out of memory", path);
    char *buf = NULL;
    size_t buf_cap = 0;
    for (size_t r = 0; r < nm; r++) {
        const JsonValue *m = merges->items[r];
        const char *a = NULL, *b = NULL;
        size_t al = 0, bl = 0;
        if (m->type == JSON_STRING) {
            const char *sp = strchr(m->string + (m->string[0] == ' ' ? 1 : 0), ' ');
            if (sp) { a = m->string; al = (size_t)(sp - m->string); b = sp + 1; bl = strlen(b); }
        } else if (m->type == JSON_ARRAY && m->count == 2 && m->items[0]->type == JSON_STRING && m->items[1]->type == JSON_STRING) {
            a = m->items[0]->string; al = m->items[0]->len; b = m->items[1]->string; bl = m->items[1]->len;
        }
        if (!a) { free(buf); LOAD_FAIL("%s: model.merges[%zu]: expected \"A B\" or [\"A\", \"B\"]", path, r); }
        int ia = strmap_get(&t->vocab, a, al), ib = strmap_get(&t->vocab, b, bl);
        if (ia < 0 || ib < 0) {
            free(buf);
            LOAD_FAIL("%s: model.merges[%zu]: '%.*s' is not in the vocabulary", path, r, (int)(ia < 0 ? (al > 60 ? 60 : al) : (bl > 60 ? 60 : bl)),
                      ia < 0 ? a : b);
        }
        if (al + bl + 1 > buf_cap) {
            buf_cap = (al + bl + 1) * 2;
            char *nb = realloc(buf, buf_cap);
            if (!nb) { free(buf); LOAD_FAIL("%s: out of memory", path); }
            buf = nb;
        }
        memcpy(buf, a, al);
        memcpy(buf + al, b, bl);
        int im = strmap_get(&t->vocab, buf, al + bl);
        if (im < 0) {
            buf[al + bl] = 0;
            snprintf(err, errlen, "%s: model.merges[%zu]: the merged token '%.60s' is not in the vocabulary", path, r, buf);
            free(buf);
            tok_free(t);
            return NULL;
        }
        pairmap_put(&t->merges, ia, ib, (int)r, im);
    }
    free(buf);
    /* added tokens (validated above) */
    t->added = calloc(n_added + 1, sizeof(Added));
    for (size_t i = 0; i < n_added; i++) {
        const JsonValue *a = added->items[i];
        Added *d = &t->added[t->n_added];
        d->content = (char *)json_get_string(a, "content", NULL);
        d->id = (int)json_get_number(a, "id", -1);
        d->special = json_get_bool(a, "special", 0);
        d->lstrip = json_get_bool(a, "lstrip", 0);
        d->rstrip = json_get_bool(a, "rstrip", 0);
        if (!t->id_to_token[d->id]) t->id_to_token[d->id] = d->content;
        t->n_added++;
    }
    byte_alphabet(t);
    if (load_normalizer(t, json_get(t->json, "normalizer"), path, err, errlen) ||
        load_pretok(t, json_get(t->json, "pre_tokenizer"), path, err, errlen) ||
        load_post(t, json_get(t->json, "post_processor"), path, err, errlen)) {
        tok_free(t);
        return NULL;
    }
    /* a ByteLevel decoder without a ByteLevel pre-tokenizer still means byte-level vocab */
    const JsonValue *dec = json_get(t->json, "decoder");
    if (dec && !strcmp(json_get_string(dec, "type", ""), "ByteLevel")) t->byte_level = 1;
    index_added(t);
    return t;
}

void tok_free(Tokenizer *t) {
    if (!t) return;
    free(t->vocab.keys);
    free(t->vocab.vals);
    free(t->merges.keys);
    free(t->merges.rank);
    free(t->merges.merged);
    free(t->id_to_token);
    for (int i = 0; i < TOK_MAX_SPLITS; i++) free(t->split[i].re.ranges);
    free(t->added);
    free(t->strings);
    json_free(t->json);
    free(t);
}

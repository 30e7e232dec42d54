/*
 * tests/tokenizer/kimi/test_kimi.c — Kimi K2's tokenizer (tiktoken.model +
 * tokenizer_config.json) in runtime/tokenizer.c against the ids the `tiktoken`
 * library gave (tools/make_kimi_tokenizer_fixture.py), the decode round trip,
 * and malformed vocabularies / configs (an error naming the file and the line,
 * no crash).
 *
 *   test_kimi DIR            DIR/tiktoken.model, DIR/tokenizer_config.json, DIR/cases.json
 *   test_kimi --hostile DIR  the malformed variants of DIR's files
 *
 * In cases.json a text or an id list may be compressed as [[PIECE, COUNT], ...]
 * (PIECE repeated COUNT times; for ids PIECE is a list of ids).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "fileio.h"
#include "json.h"
#include "tokenizer.h"

static char *expand_text(const JsonValue *v, size_t *len) {
    if (v->type == JSON_STRING) {
        char *s = malloc(v->len + 1);
        memcpy(s, v->string, v->len + 1);
        *len = v->len;
        return s;
    }
    size_t n = 0;
    for (size_t i = 0; i < v->count; i++) n += v->items[i]->items[0]->len * (size_t)v->items[i]->items[1]->number;
    char *s = malloc(n + 1), *o = s;
    for (size_t i = 0; i < v->count; i++) {
        const JsonValue *p = v->items[i]->items[0];
        for (long k = 0; k < (long)v->items[i]->items[1]->number; k++) { memcpy(o, p->string, p->len); o += p->len; }
    }
    *o = 0;
    *len = n;
    return s;
}

static int *expand_ids(const JsonValue *v, int *n_out) {
    size_t n = 0;
    int flat = v->count == 0 || v->items[0]->type == JSON_NUMBER;
    if (flat) n = v->count;
    else for (size_t i = 0; i < v->count; i++) n += v->items[i]->items[0]->count * (size_t)v->items[i]->items[1]->number;
    int *ids = malloc(sizeof(int) * (n + 1)), k = 0;
    if (flat) for (size_t i = 0; i < v->count; i++) ids[k++] = (int)v->items[i]->number;
    else
        for (size_t i = 0; i < v->count; i++)
            for (long r = 0; r < (long)v->items[i]->items[1]->number; r++)
                for (size_t j = 0; j < v->items[i]->items[0]->count; j++) ids[k++] = (int)v->items[i]->items[0]->items[j]->number;
    *n_out = k;
    return ids;
}

static void show(const char *s, size_t len) {
    printf("\"");
    for (size_t i = 0; i < len && i < 200; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == '"' || c == '\\') printf("\\x%02x", c);
        else putchar(c);
    }
    printf(len > 200 ? "...\" (%zu bytes)" : "\"", len);
}

static int run_cases(const char *dir) {
    char path[4096], err[512];
    snprintf(path, sizeof path, "%s/tiktoken.model", dir);
    Tokenizer *t = tok_load(path, err, sizeof err);
    if (!t) { printf("FAIL: %s\n", err); return 1; }
    snprintf(path, sizeof path, "%s/cases.json", dir);
    JsonValue *cases = json_parse_file(path, err, sizeof err);
    if (!cases) { printf("FAIL: %s\n", err); tok_free(t); return 1; }
    int pass = 0, fail = 0, rt_fail = 0;
    /* the special tokens: 256 after the ranks, named by tokenizer_config.json or reserved */
    int n_ranks = tok_vocab_size(t) - 256;
    char name[64];
    snprintf(name, sizeof name, "<|reserved_token_%d|>", n_ranks + 5);
    struct { const char *tok; int id; } sp[] = {{"[BOS]", n_ranks}, {"[EOS]", n_ranks + 1}, {"<|im_end|>", n_ranks + 2},
                                                {"<|im_middle|>", n_ranks + 15}, {"[PAD]", n_ranks + 255}, {name, n_ranks + 5}};
    for (size_t i = 0; i < sizeof sp / sizeof sp[0]; i++) {
        char piece[128];
        tok_decode_piece(t, sp[i].id, piece, sizeof piece);
        if (tok_token_id(t, sp[i].tok) != sp[i].id || strcmp(piece, sp[i].tok)) {
            printf("FAIL special %s: id %d (want %d), decodes to \"%s\"\n", sp[i].tok, tok_token_id(t, sp[i].tok), sp[i].id, piece);
            fail++;
        }
    }
    for (size_t c = 0; c < cases->count; c++) {
        size_t len;
        char *text = expand_text(json_get(cases->items[c], "text"), &len);
        int nw, *want = expand_ids(json_get(cases->items[c], "ids"), &nw), *ids = NULL;
        int n = tok_encode(t, text, &ids, err, sizeof err);
        int ok = n == nw;
        for (int i = 0; ok && i < n; i++) ok = ids[i] == want[i];
        if (!ok) {
            printf("FAIL encode ");
            show(text, len);
            printf("\n  want:");
            for (int i = 0; i < nw && i < 64; i++) printf(" %d", want[i]);
            printf("\n  got: ");
            for (int i = 0; i < n && i < 64; i++) printf(" %d", ids[i]);
            printf("\n");
            fail++;
        } else pass++;
        /* decode (ids -> text) gives the text back */
        char *back = tok_decode(t, want, nw);
        if (strlen(back) != len || memcmp(back, text, len)) {
            printf("FAIL decode ");
            show(text, len);
            printf(" -> ");
            show(back, strlen(back));
            printf("\n");
            rt_fail++;
        }
        free(back);
        free(ids);
        free(want);
        free(text);
    }
    json_free(cases);
    tok_free(t);
    printf("%d passed, %d failed; decode round trip: %d failed\n", pass, fail, rt_fail);
    return fail || rt_fail ? 1 : 0;
}

/* ── malformed files ─────────────────────────────────────────────────────── */

static int h_pass, h_fail;

/* The model with line `line` (1-based) replaced by `repl` (NULL: kept), and the
 * config text `cfg` (NULL: none); loading must fail with an error holding each
 * of the `want` strings. */
static void expect_error(const char *what, const char *model, size_t mlen, int line, const char *repl, const char *cfg,
                         const char *want1, const char *want2) {
    char *m = malloc(mlen + (repl ? strlen(repl) : 0) + 2);
    size_t o = 0;
    int ln = 1;
    for (size_t i = 0; i < mlen;) {
        const char *nl = memchr(model + i, '\n', mlen - i);
        size_t e = nl ? (size_t)(nl - model) + 1 : mlen;
        if (ln == line && repl) { o += (size_t)sprintf(m + o, "%s\n", repl); }
        else { memcpy(m + o, model + i, e - i); o += e - i; }
        i = e;
        ln++;
    }
    char err[512] = "";
    Tokenizer *t = tok_load_kimi_memory(m, o, cfg, cfg ? strlen(cfg) : 0, "dir/tiktoken.model", "dir/tokenizer_config.json", err, sizeof err);
    if (t || !strstr(err, want1) || (want2 && !strstr(err, want2))) {
        printf("FAIL hostile %s: %s, message \"%s\" (want \"%s\"%s%s)\n", what, t ? "loaded" : "rejected", err, want1, want2 ? ", " : "",
               want2 ? want2 : "");
        h_fail++;
    } else {
        printf("ok   hostile %s: %s\n", what, err);
        h_pass++;
    }
    tok_free(t);
    free(m);
}

static int run_hostile(const char *dir) {
    char path[4096], err[512];
    size_t mlen;
    snprintf(path, sizeof path, "%s/tiktoken.model", dir);
    char *model = rt_read_file(path, (size_t)1 << 30, &mlen, err, sizeof err);
    if (!model) { printf("FAIL: %s\n", err); return 1; }
    /* line 301 holds rank 300; its neighbours' base64 */
    char b64_300[2048] = "", b64_299[2048] = "";
    const char *p = model;
    for (int ln = 1; ln <= 301; ln++) {
        const char *sp = strchr(p, ' ');
        if (ln == 300) snprintf(b64_299, sizeof b64_299, "%.*s", (int)(sp - p), p);
        if (ln == 301) snprintf(b64_300, sizeof b64_300, "%.*s", (int)(sp - p), p);
        p = strchr(p, '\n') + 1;
    }
    int n = 0;
    for (size_t i = 0; i < mlen; i++) n += model[i] == '\n';
    char l[4200], cfg[4200];
    snprintf(l, sizeof l, "!!!*** 300");
    expect_error("bad base64", model, mlen, 301, l, NULL, "dir/tiktoken.model:301:", "base64");
    snprintf(l, sizeof l, "%s", b64_300);
    expect_error("no rank", model, mlen, 301, l, NULL, "dir/tiktoken.model:301:", NULL);
    snprintf(l, sizeof l, "%s 299", b64_300);
    expect_error("duplicate rank", model, mlen, 301, l, NULL, "dir/tiktoken.model:301:", "rank 299");
    snprintf(l, sizeof l, "%s 30x", b64_300);
    expect_error("junk rank", model, mlen, 301, l, NULL, "dir/tiktoken.model:301:", "rank");
    snprintf(l, sizeof l, "%s 99999999999999999999", b64_300);
    expect_error("huge rank", model, mlen, 301, l, NULL, "dir/tiktoken.model:301:", "rank");
    snprintf(l, sizeof l, "%s 300", b64_299);
    expect_error("duplicate bytes", model, mlen, 301, l, NULL, "dir/tiktoken.model", "same bytes");
    expect_error("empty file", "", 0, 0, NULL, NULL, "dir/tiktoken.model", "byte 0x00 has no token");
    expect_error("garbage", "\x01\x02\xff\xfe garbage\n", 13, 0, NULL, NULL, "dir/tiktoken.model:1:", NULL);
#define CFG(...) (snprintf(cfg, sizeof cfg, __VA_ARGS__), cfg)
    expect_error("config id after the specials", model, mlen, 0, NULL,
                 CFG("{\"added_tokens_decoder\": {\"%d\": {\"content\": \"[X]\"}}}", n + 256), "dir/tokenizer_config.json:1:", "outside");
    expect_error("config id of a rank", model, mlen, 0, NULL, CFG("{\"added_tokens_decoder\": {\"%d\": {\"content\": \"[X]\"}}}", n - 1),
                 "dir/tokenizer_config.json:1:", "outside");
    expect_error("config id huge", model, mlen, 0, NULL,
                 CFG("{\"added_tokens_decoder\": {\n\"99999999999999999999\": {\"content\": \"[X]\"}}}"), "dir/tokenizer_config.json:2:",
                 "not a token id");
    expect_error("config id negative", model, mlen, 0, NULL, CFG("{\"added_tokens_decoder\": {\"-1\": {\"content\": \"[X]\"}}}"),
                 "dir/tokenizer_config.json", "not a token id");
    expect_error("config no content", model, mlen, 0, NULL, CFG("{\"added_tokens_decoder\": {\"%d\": {\"special\": true}}}", n),
                 "dir/tokenizer_config.json", "content");
    expect_error("config empty content", model, mlen, 0, NULL, CFG("{\"added_tokens_decoder\": {\"%d\": {\"content\": \"\"}}}", n),
                 "dir/tokenizer_config.json", "content");
    expect_error("config name twice", model, mlen, 0, NULL,
                 CFG("{\"added_tokens_decoder\": {\"%d\": {\"content\": \"[A]\"}, \"%d\": {\"content\": \"[A]\"}}}", n, n + 1),
                 "dir/tokenizer_config.json", "names both");
    expect_error("config reserved name of another id", model, mlen, 0, NULL,
                 CFG("{\"added_tokens_decoder\": {\"%d\": {\"content\": \"<|reserved_token_%d|>\"}}}", n, n + 9), "dir/tokenizer_config.json",
                 "reserved name");
    expect_error("config not an object", model, mlen, 0, NULL, CFG("{\"added_tokens_decoder\": [1, 2]}"), "dir/tokenizer_config.json",
                 "not an object");
    expect_error("config invalid JSON", model, mlen, 0, NULL, CFG("{\"added_tokens_decoder\": {\"%d\": ", n), "dir/tokenizer_config.json",
                 "line 1");
    /* and what must load: CRLF line ends, no final newline, no config */
    {
        char *m = malloc(mlen * 2 + 1);
        size_t o = 0;
        for (size_t i = 0; i < mlen; i++) { if (model[i] == '\n') m[o++] = '\r'; m[o++] = model[i]; }
        if (o > 2) o -= 2;   /* drop the final CRLF */
        Tokenizer *t = tok_load_kimi_memory(m, o, NULL, 0, "dir/tiktoken.model", "dir/tokenizer_config.json", err, sizeof err);
        int *ids = NULL, k = t ? tok_encode(t, "Hello <|reserved_token_0|>", &ids, err, sizeof err) : -1;
        char want[64];
        snprintf(want, sizeof want, "<|reserved_token_%d|>", n);
        if (!t || tok_vocab_size(t) != n + 256 || tok_token_id(t, want) != n || k < 2 || ids[k - 1] == n) {
            printf("FAIL CRLF / no final newline / no config: %s\n", t ? "wrong vocabulary" : err);
            h_fail++;
        } else { printf("ok   CRLF, no final newline, no config: %d ids\n", tok_vocab_size(t)); h_pass++; }
        free(ids);
        tok_free(t);
        free(m);
    }
    free(model);
    printf("hostile: %d passed, %d failed\n", h_pass, h_fail);
    return h_fail ? 1 : 0;
}

int main(int argc, char **argv) {
    if (argc == 3 && !strcmp(argv[1], "--hostile")) return run_hostile(argv[2]);
    if (argc != 2) { fprintf(stderr, "usage: test_kimi DIR | test_kimi --hostile DIR\n"); return 2; }
    return run_cases(argv[1]);
}

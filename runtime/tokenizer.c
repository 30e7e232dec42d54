/* TEMPORARY placeholder while the tokenizer is written: every call fails. */
#include <stdio.h>
#include <stdlib.h>
#include "tokenizer.h"
Tokenizer *tok_load(const char *path, char *err, size_t errlen) { snprintf(err, errlen, "%s: tokenizer not available in this build", path); return NULL; }
void tok_free(Tokenizer *t) { (void)t; }
int tok_encode(const Tokenizer *t, const char *text, int **ids, char *err, size_t errlen) { (void)t; (void)text; (void)ids; snprintf(err, errlen, "no tokenizer"); return -1; }
size_t tok_decode_piece(const Tokenizer *t, int id, char *buf, size_t cap) { (void)t; (void)id; (void)buf; (void)cap; return 0; }
char *tok_decode(const Tokenizer *t, const int *ids, int n) { (void)t; (void)ids; (void)n; return NULL; }
int tok_vocab_size(const Tokenizer *t) { (void)t; return 0; }
int tok_token_id(const Tokenizer *t, const char *token) { (void)t; (void)token; return -1; }

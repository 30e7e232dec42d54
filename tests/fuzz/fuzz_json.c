/*
 * tests/fuzz/fuzz_json.c — libFuzzer harness for runtime/json.c: parse the
 * input, walk the whole tree (every string, number and member), and look up a
 * few keys the way the loaders do (hashed lookups for objects over 32 members).
 */
#include <stdint.h>
#include <string.h>
#include "json.h"

static size_t walk(const JsonValue *v, int depth) {
    size_t h = (size_t)v->type + (size_t)v->line * 31u + (size_t)v->col;
    switch (v->type) {
    case JSON_STRING:
        for (size_t i = 0; i < v->len; i++) h = h * 131u + (unsigned char)v->string[i];
        break;
    case JSON_NUMBER: h += (size_t)(v->number == v->number); break;
    case JSON_ARRAY:
    case JSON_OBJECT:
        for (size_t i = 0; i < v->count; i++) {
            if (v->type == JSON_OBJECT) {
                const JsonValue *back = json_get(v, v->keys[i]);   /* first member with this (NUL-free) key */
                h += back != NULL;
            }
            h += walk(v->items[i], depth + 1);
        }
        break;
    default: break;
    }
    return h;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char err[512];
    JsonValue *v = json_parse((const char *)data, size, err, sizeof err);
    if (!v) {
        if (strncmp(err, "line ", 5) != 0) __builtin_trap();   /* every error says where */
        return 0;
    }
    volatile size_t h = walk(v, 0);
    (void)h;
    (void)json_get_number(v, "vocab_size", 0);
    (void)json_get_string(v, "model_type", NULL);
    (void)json_get_bool(v, "tie_word_embeddings", 0);
    (void)json_get(json_get(v, "model"), "vocab");
    json_free(v);
    return 0;
}

/*
 * runtime/json.h — a small JSON reader (RFC 8259) for config.json, safetensors
 * headers, model.safetensors.index.json and tokenizer.json.
 *
 * The whole document is parsed into a tree of JsonValue nodes allocated from one
 * arena owned by the root; json_free(root) releases everything.  Object members
 * keep file order (tokenizer merges and added_tokens depend on it).  Strings are
 * decoded to UTF-8 (\uXXXX escapes and surrogate pairs included) and
 * NUL-terminated; `len` holds the byte length since strings may contain \u0000.
 */
#ifndef ARCHC_JSON_H
#define ARCHC_JSON_H

#include <stddef.h>

/* Limits against hostile input: nesting depth (deeper documents are rejected
 * with "line L, column C: nesting deeper than 512 levels") and the size of a
 * file json_parse_file will read. */
#define JSON_MAX_DEPTH 512
#define JSON_MAX_FILE_BYTES ((size_t)1 << 31)

typedef enum { JSON_NULL, JSON_BOOL, JSON_NUMBER, JSON_STRING, JSON_ARRAY, JSON_OBJECT } JsonType;

typedef struct JsonValue {
    JsonType type;
    int boolean;               /* JSON_BOOL                                       */
    double number;             /* JSON_NUMBER                                     */
    char *string;              /* JSON_STRING: UTF-8, NUL-terminated              */
    size_t len;                /* JSON_STRING: byte length                        */
    size_t count;              /* JSON_ARRAY / JSON_OBJECT: number of elements    */
    struct JsonValue **items;  /* JSON_ARRAY / JSON_OBJECT: element values        */
    char **keys;               /* JSON_OBJECT: member names (same order as items) */
    size_t *key_lens;          /* JSON_OBJECT: member name byte lengths           */
    int line, col;             /* where the value starts (1-based)                */
    void *doc_, *index_;       /* internal: owning document, lazy hash index      */
} JsonValue;

/* Parse `len` bytes.  On error returns NULL and writes "line L, column C: message"
 * into err. */
JsonValue *json_parse(const char *text, size_t len, char *err, size_t errlen);
/* Read and parse a whole regular file (a directory or device is an error);
 * errors are prefixed with the path: "PATH: line L, column C: message". */
JsonValue *json_parse_file(const char *path, char *err, size_t errlen);
void json_free(JsonValue *root);

/* Object member by key (linear scan, or hashed for large objects); NULL if absent
 * or if `obj` is not an object. */
const JsonValue *json_get(const JsonValue *obj, const char *key);
/* Convenience accessors with defaults for absent or null members. */
double json_get_number(const JsonValue *obj, const char *key, double dflt);
int json_get_bool(const JsonValue *obj, const char *key, int dflt);
const char *json_get_string(const JsonValue *obj, const char *key, const char *dflt);

#endif

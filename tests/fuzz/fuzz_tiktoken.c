/*
 * tests/fuzz/fuzz_tiktoken.c — libFuzzer harness for tiktoken vocabularies
 * (Qwen-1's qwen.tiktoken: base64 bytes and rank per line): load, encode,
 * decode — the same checks as fuzz_tokenizer.c (the input up to its first NUL
 * is the file, the rest one more text to encode).
 */
#include <stdint.h>
#include <stddef.h>

#define FUZZ_TOKENIZER_NO_ENTRY
#include "fuzz_tokenizer.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) { return fuzz_tokenizer_run(data, size, "fuzz/qwen.tiktoken"); }

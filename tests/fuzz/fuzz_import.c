/*
 * tests/fuzz/fuzz_import.c — libFuzzer harness for `archc import`: config.json
 * text → YAML description (which import also checks with the YAML parser).
 */
#include <stdint.h>
#include <stdlib.h>
#include "spec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > 1 << 20) return 0;
    char *yaml = NULL;
    if (spec_import_json("fuzz.json", (const char *)data, size, &yaml) == 0) free(yaml);
    return 0;
}

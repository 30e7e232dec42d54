/*
 * tests/fuzz/standalone_main.c — runs a libFuzzer harness without libFuzzer:
 * LLVMFuzzerTestOneInput is called once on every file named on the command
 * line, or on every regular file of a directory named there (not recursive).
 * CI builds each tests/fuzz/fuzz_*.c with this driver and the ordinary
 * compiler, so the committed corpora (tests/fuzz/corpus/NAME/) run as
 * regression tests — under ASan + UBSan in the sanitizer build.
 *
 *   fuzz_corpus_NAME DIR_OR_FILE...
 *
 * Prints one line per input only when asked (FUZZ_VERBOSE=1), then a count;
 * a crash or sanitizer report ends the run with the input's name on stderr.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
__attribute__((weak)) int LLVMFuzzerInitialize(int *argc, char ***argv);

static int run_file(const char *path, int verbose) {
    FILE *f = fopen(path, "rb");
    if (!f) { fprintf(stderr, "fuzz driver: %s: cannot open\n", path); return -1; }
    size_t cap = 1 << 16, n = 0;
    unsigned char *buf = malloc(cap);
    for (;;) {
        if (n == cap) buf = realloc(buf, cap *= 2);
        size_t r = fread(buf + n, 1, cap - n, f);
        if (r == 0) break;
        n += r;
    }
    fclose(f);
    if (verbose) fprintf(stderr, "fuzz driver: %s (%zu bytes)\n", path, n);
    /* an exact-size copy, so ASan sees reads past the end of the input */
    unsigned char *exact = malloc(n ? n : 1);
    memcpy(exact, buf, n);
    free(buf);
    LLVMFuzzerTestOneInput(exact, n);
    free(exact);
    return 0;
}

static int by_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

int main(int argc, char **argv) {
    if (LLVMFuzzerInitialize) LLVMFuzzerInitialize(&argc, &argv);
    if (argc < 2) { fprintf(stderr, "usage: %s DIR_OR_FILE...\n", argv[0]); return 2; }
    int verbose = getenv("FUZZ_VERBOSE") && atoi(getenv("FUZZ_VERBOSE")) > 0, count = 0;
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) != 0) { fprintf(stderr, "fuzz driver: %s: no such file or directory\n", argv[i]); return 2; }
        if (!S_ISDIR(st.st_mode)) {
            if (run_file(argv[i], verbose) != 0) return 2;
            count++;
            continue;
        }
        DIR *d = opendir(argv[i]);
        if (!d) { fprintf(stderr, "fuzz driver: %s: cannot open directory\n", argv[i]); return 2; }
        char **names = NULL;
        size_t n = 0;
        for (struct dirent *e; (e = readdir(d));) {
            if (e->d_name[0] == '.') continue;
            names = realloc(names, sizeof(char *) * (n + 1));
            size_t l = strlen(argv[i]) + strlen(e->d_name) + 2;
            names[n] = malloc(l);
            snprintf(names[n], l, "%s/%s", argv[i], e->d_name);
            n++;
        }
        closedir(d);
        qsort(names, n, sizeof *names, by_name);
        for (size_t k = 0; k < n; k++) {
            if (stat(names[k], &st) == 0 && S_ISREG(st.st_mode)) {
                if (run_file(names[k], verbose) != 0) return 2;
                count++;
            }
            free(names[k]);
        }
        free(names);
    }
    printf("%d inputs, no crash\n", count);
    return count > 0 ? 0 : 1;
}

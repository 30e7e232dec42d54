/*
 * codegen/embed.c — one-file deploys: append a checkpoint directory to a built
 * executable (archc --embed-weights DIR).
 *
 * The layout is runtime/fileio.h's: every file starts on a 64 KiB boundary of
 * the executable, so the runtime can mmap it in place (or read it into huge
 * pages, as it does a file on disk); then an index of (offset, bytes, name)
 * and a 32-byte trailer that ends with the file.  The ELF loader ignores bytes
 * after the last segment, so the binary runs as before; `strip` would remove
 * them (strip before embedding, not after).
 *
 * Which files: the top level of DIR, every *.safetensors, *.json (config,
 * index, tokenizer, tokenizer and generation configs) and the chat template
 * (*.jinja) and Qwen-1's *.tiktoken.  Other files (PyTorch *.bin, READMEs,
 * hidden files) are left out: the runtime does not read them.
 */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "codegen.h"
#include "fileio.h"

static int wanted(const char *name) {
    static const char *ext[] = {".safetensors", ".json", ".jinja", ".tiktoken"};
    size_t l = strlen(name);
    if (name[0] == '.') return 0;
    for (size_t i = 0; i < sizeof ext / sizeof ext[0]; i++) {
        size_t el = strlen(ext[i]);
        if (l > el && !strcmp(name + l - el, ext[i])) return 1;
    }
    return 0;
}

static void put64(unsigned char *p, uint64_t v) { for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i)); }
static void put32(unsigned char *p, uint32_t v) { for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i)); }

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int pad_to(FILE *out, uint64_t *at, uint64_t align) {
    static const char zero[4096];
    while (*at % align) {
        size_t n = (size_t)(align - *at % align);
        if (n > sizeof zero) n = sizeof zero;
        if (fwrite(zero, 1, n, out) != n) return -1;
        *at += n;
    }
    return 0;
}

int embed_weights(const char *exe_path, const char *dir) {
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        fprintf(stderr, "archc: error: --embed-weights %s: %s\n", dir, stat(dir, &st) != 0 ? strerror(errno) : "expected a checkpoint directory");
        return -1;
    }
    DIR *d = opendir(dir);
    if (!d) { fprintf(stderr, "archc: error: --embed-weights %s: %s\n", dir, strerror(errno)); return -1; }
    char **names = NULL;
    int n = 0, cap = 0, has_weights = 0, rc = -1;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!wanted(e->d_name) || strlen(e->d_name) > 255) continue;
        char p[4608];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        if (stat(p, &st) != 0 || !S_ISREG(st.st_mode)) continue;
        if (n == cap) {
            char **nn = realloc(names, sizeof *nn * (size_t)(cap = cap ? 2 * cap : 16));
            if (!nn) { closedir(d); goto done; }
            names = nn;
        }
        if (!(names[n] = strdup(e->d_name))) { closedir(d); goto done; }
        n++;
        size_t l = strlen(e->d_name);
        if (l > 12 && !strcmp(e->d_name + l - 12, ".safetensors")) has_weights = 1;
    }
    closedir(d);
    if (!has_weights) {
        fprintf(stderr, "archc: error: --embed-weights %s: no *.safetensors file in this directory\n", dir);
        goto done;
    }
    qsort(names, (size_t)n, sizeof *names, cmp_str);

    FILE *out = fopen(exe_path, "r+b");
    if (!out || fseeko(out, 0, SEEK_END) != 0) {
        fprintf(stderr, "archc: error: %s: cannot append the weights: %s\n", exe_path, strerror(errno));
        if (out) fclose(out);
        goto done;
    }
    uint64_t at = (uint64_t)ftello(out);
    uint64_t *off = calloc((size_t)n, sizeof *off), *len = calloc((size_t)n, sizeof *len);
    char *buf = malloc(1 << 20);
    int ok = off && len && buf;
    for (int i = 0; ok && i < n; i++) {
        char p[4608];
        snprintf(p, sizeof p, "%s/%s", dir, names[i]);
        FILE *in = fopen(p, "rb");
        if (!in) { fprintf(stderr, "archc: error: --embed-weights %s: %s\n", p, strerror(errno)); ok = 0; break; }
        if (pad_to(out, &at, RT_EMBED_ALIGN)) ok = 0;
        off[i] = at;
        size_t got;
        while (ok && (got = fread(buf, 1, 1 << 20, in)) > 0) {
            if (fwrite(buf, 1, got, out) != got) ok = 0;
            at += got;
        }
        if (ferror(in)) { fprintf(stderr, "archc: error: --embed-weights %s: read failed\n", p); ok = 0; }
        fclose(in);
        len[i] = at - off[i];
    }
    /* the index, then the trailer */
    uint64_t index_at = at;
    for (int i = 0; ok && i < n; i++) {
        unsigned char h[20];
        size_t nl = strlen(names[i]);
        put64(h, off[i]);
        put64(h + 8, len[i]);
        put32(h + 16, (uint32_t)nl);
        if (fwrite(h, 1, 20, out) != 20 || fwrite(names[i], 1, nl, out) != nl) ok = 0;
        at += 20 + nl;
    }
    unsigned char t[32];
    memcpy(t, RT_EMBED_MAGIC, 8);
    put64(t + 8, index_at);
    put64(t + 16, at - index_at);
    put32(t + 24, (uint32_t)n);
    put32(t + 28, 1);
    if (ok && fwrite(t, 1, 32, out) != 32) ok = 0;
    if (fclose(out) != 0) ok = 0;
    if (!ok) fprintf(stderr, "archc: error: %s: appending the weights failed\n", exe_path);
    free(off);
    free(len);
    free(buf);
    if (ok) rc = 0;
done:
    for (int i = 0; i < n; i++) free(names[i]);
    free(names);
    return rc;
}

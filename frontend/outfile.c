/*
 * frontend/outfile.c — temporary file + rename, and refusing to overwrite inputs.
 * See outfile.h.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "outfile.h"

int out_check(const char *out, const char *const *inputs, int n) {
    struct stat so, si;
    if (!out || !*out) { fprintf(stderr, "archc: error: the output file name is empty\n"); return -1; }
    if (stat(out, &so) != 0) return 0; /* does not exist yet: nothing to protect */
    if (S_ISDIR(so.st_mode)) { fprintf(stderr, "archc: error: %s: is a directory (expected an output file name)\n", out); return -1; }
    for (int i = 0; i < n; i++) {
        if (!inputs[i] || stat(inputs[i], &si) != 0) continue;
        if (si.st_dev == so.st_dev && si.st_ino == so.st_ino) {
            fprintf(stderr, "archc: error: %s: is the input file %s; refusing to overwrite it (choose another output name)\n", out,
                    inputs[i]);
            return -1;
        }
    }
    return 0;
}

/* "dir/name" → "dir/.name.XXXXXX" */
static int tmp_template(const char *path, char *tmp, size_t cap) {
    const char *slash = strrchr(path, '/');
    int dlen = slash ? (int)(slash - path + 1) : 0;
    const char *base = slash ? slash + 1 : path;
    int n = snprintf(tmp, cap, "%.*s.%s.XXXXXX", dlen, path, base);
    if (n < 0 || (size_t)n >= cap || !*base) {
        fprintf(stderr, "archc: error: %s: output path too long or not a file name\n", path);
        return -1;
    }
    return 0;
}

static int make_tmp(const char *path, char *tmp, size_t cap) {
    if (tmp_template(path, tmp, cap)) return -1;
    int fd = mkstemp(tmp);
    if (fd < 0) {
        fprintf(stderr, "archc: error: %s: cannot write here: %s\n", path, strerror(errno));
        return -1;
    }
    /* mkstemp makes 0600; give the file the usual permissions under the umask */
    mode_t um = umask(0);
    umask(um);
    if (fchmod(fd, 0666 & ~um) != 0) { /* keep 0600: not fatal */ }
    return fd;
}

/* An existing output that is not a regular file (a terminal, /dev/null, a
 * pipe) is written in place: renaming over it would replace the device node. */
static int is_special(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && !S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode);
}

FILE *out_open(const char *path, char *tmp, size_t cap) {
    if (is_special(path)) {
        if (cap) tmp[0] = 0;
        FILE *f = fopen(path, "w");
        if (!f) fprintf(stderr, "archc: error: %s: cannot write: %s\n", path, strerror(errno));
        return f;
    }
    int fd = make_tmp(path, tmp, cap);
    if (fd < 0) return NULL;
    FILE *f = fdopen(fd, "w");
    if (!f) {
        fprintf(stderr, "archc: error: %s: cannot write: %s\n", path, strerror(errno));
        close(fd);
        unlink(tmp);
    }
    return f;
}

int out_reserve(const char *path, char *tmp, size_t cap) {
    if (is_special(path)) {
        fprintf(stderr, "archc: error: %s: not a regular file (an executable is written to a file)\n", path);
        return -1;
    }
    int fd = make_tmp(path, tmp, cap);
    if (fd < 0) return -1;
    close(fd);
    return 0;
}

int out_commit(FILE *f, const char *tmp, const char *path, int ok) {
    int werr = 0;
    if (fflush(f) != 0 || ferror(f)) { ok = 0; werr = errno; }
    if (fclose(f) != 0) { ok = 0; werr = errno; }
    if (werr) fprintf(stderr, "archc: error: %s: write failed: %s\n", path, strerror(werr));
    if (!tmp[0]) return ok ? 0 : -1; /* written in place (out_open: a device or pipe) */
    if (ok && rename(tmp, path) != 0) {
        fprintf(stderr, "archc: error: %s: cannot write: %s\n", path, strerror(errno));
        ok = 0;
    }
    if (!ok) unlink(tmp);
    return ok ? 0 : -1;
}

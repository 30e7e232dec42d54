/*
 * runtime/fileio.c — checked reads of input files, atomic writes of outputs
 * (see fileio.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "fileio.h"

static const char *kind_of(mode_t m) {
    return S_ISDIR(m) ? "a directory" : S_ISFIFO(m) ? "a FIFO" : S_ISCHR(m) ? "a character device" : S_ISBLK(m) ? "a block device"
         : S_ISSOCK(m) ? "a socket" : "not a regular file";
}

char *rt_read_file(const char *path, size_t max_bytes, size_t *len, char *err, size_t errlen) {
    int fd = open(path, O_RDONLY | O_NONBLOCK);   /* O_NONBLOCK: opening a FIFO must not block */
    if (fd < 0) { snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno)); return NULL; }
    struct stat st;
    if (fstat(fd, &st) != 0) { snprintf(err, errlen, "%s: cannot stat: %s", path, strerror(errno)); close(fd); return NULL; }
    if (!S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "%s: is %s, expected a regular file", path, kind_of(st.st_mode));
        close(fd);
        return NULL;
    }
    if (st.st_size < 0 || (unsigned long long)st.st_size > max_bytes) {
        snprintf(err, errlen, "%s: file too large (%lld bytes, the limit is %zu)", path, (long long)st.st_size, max_bytes);
        close(fd);
        return NULL;
    }
    size_t n = (size_t)st.st_size, got = 0;
    char *buf = malloc(n + 1);
    if (!buf) { snprintf(err, errlen, "%s: out of memory reading %zu bytes", path, n); close(fd); return NULL; }
    while (got < n) {
        ssize_t r = read(fd, buf + got, n - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) {
            snprintf(err, errlen, "%s: read failed: %s", path, r < 0 ? strerror(errno) : "file shrank while reading");
            free(buf);
            close(fd);
            return NULL;
        }
        got += (size_t)r;
    }
    close(fd);
    buf[n] = 0;
    *len = n;
    return buf;
}

int rt_same_file(const char *a, const char *b) {
    struct stat sa, sb;
    if (!a || !b || stat(a, &sa) != 0 || stat(b, &sb) != 0) return 0;
    return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

int rt_out_open(RtOut *o, const char *path, const char *const *inputs, int n_inputs, char *err, size_t errlen) {
    memset(o, 0, sizeof *o);
    o->fd = -1;
    struct stat st;
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "%s: is %s, expected a file to write", path, kind_of(st.st_mode));
        return -1;
    }
    for (int i = 0; i < n_inputs; i++)
        if (inputs[i] && rt_same_file(path, inputs[i])) {
            if (!strcmp(inputs[i], "/proc/self/exe")) snprintf(err, errlen, "%s: is this program's own executable; refusing to overwrite it", path);
            else snprintf(err, errlen, "%s: is an input of this run (%s); refusing to overwrite it", path, inputs[i]);
            return -1;
        }
    size_t pl = strlen(path);
    o->path = malloc(pl + 1);
    o->tmp = malloc(pl + 16);
    if (!o->path || !o->tmp) { free(o->path); free(o->tmp); o->path = o->tmp = NULL; snprintf(err, errlen, "%s: out of memory", path); return -1; }
    memcpy(o->path, path, pl + 1);
    snprintf(o->tmp, pl + 16, "%s.tmp.XXXXXX", path);
    o->fd = mkstemp(o->tmp);
    if (o->fd < 0) {
        snprintf(err, errlen, "%s: cannot create a file in its directory: %s", path, strerror(errno));
        free(o->path); free(o->tmp); o->path = o->tmp = NULL;
        return -1;
    }
    fchmod(o->fd, 0644);
    return 0;
}

int rt_out_write(RtOut *o, const void *data, size_t bytes, char *err, size_t errlen) {
    const char *p = data;
    while (bytes) {
        ssize_t w = write(o->fd, p, bytes);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) { snprintf(err, errlen, "%s: write failed: %s", o->path, w < 0 ? strerror(errno) : "no progress"); return -1; }
        p += w;
        bytes -= (size_t)w;
    }
    return 0;
}

int rt_out_commit(RtOut *o, char *err, size_t errlen) {
    int rc = 0;
    if (close(o->fd) != 0) { snprintf(err, errlen, "%s: write failed: %s", o->path, strerror(errno)); rc = -1; }
    o->fd = -1;
    if (rc == 0 && rename(o->tmp, o->path) != 0) { snprintf(err, errlen, "%s: cannot rename the finished file into place: %s", o->path, strerror(errno)); rc = -1; }
    if (rc != 0) unlink(o->tmp);
    free(o->path); free(o->tmp);
    o->path = o->tmp = NULL;
    return rc;
}

void rt_out_abort(RtOut *o) {
    if (!o->tmp) return;   /* never opened, or already committed/aborted */
    if (o->fd >= 0) close(o->fd);
    o->fd = -1;
    if (o->tmp) unlink(o->tmp);
    free(o->path); free(o->tmp);
    o->path = o->tmp = NULL;
}

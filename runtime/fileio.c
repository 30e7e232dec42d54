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

/* ── embedded files ─────────────────────────────────────────────────────── */
typedef struct EmbeddedFile {
    char *name;
    uint64_t offset, size;
} EmbeddedFile;
static struct {
    int checked, fd, n;
    EmbeddedFile *files;
} embedded = {0, -1, 0, NULL};

static uint64_t le64(const unsigned char *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = v << 8 | p[i];
    return v;
}
static uint32_t le32(const unsigned char *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }

static int pread_all(int fd, void *buf, size_t n, uint64_t off) {
    for (size_t got = 0; got < n;) {
        ssize_t r = pread(fd, (char *)buf + got, n - got, (off_t)(off + got));
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) {
            if (r == 0) errno = 0;
            return -1;
        }
        got += (size_t)r;
    }
    return 0;
}

/* Read the trailer and index of /proc/self/exe once.  A binary without them
 * (or with a damaged index: then a message) has no embedded files. */
static void embedded_scan(void) {
    if (embedded.checked) return;
    embedded.checked = 1;
    int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    struct stat st;
    unsigned char t[32];
    if (fstat(fd, &st) != 0 || st.st_size < 32 || pread_all(fd, t, 32, (uint64_t)st.st_size - 32) || memcmp(t, RT_EMBED_MAGIC, 8)) {
        close(fd);
        return;
    }
    uint64_t size = (uint64_t)st.st_size, ioff = le64(t + 8), ilen = le64(t + 16);
    uint32_t n = le32(t + 24), version = le32(t + 28);
    unsigned char *idx = NULL;
    EmbeddedFile *files = NULL;
    const char *why = NULL;
    if (version != 1) why = "unknown version";
    else if (ioff > size - 32 || ilen != size - 32 - ioff || ilen > ((uint64_t)64 << 20) || n > ilen / 20) why = "index out of bounds";
    else if (!(idx = malloc(ilen ? ilen : 1)) || !(files = calloc(n ? n : 1, sizeof *files))) why = "out of memory";
    else if (pread_all(fd, idx, ilen, ioff)) why = "cannot read the index";
    uint64_t at = 0;
    uint32_t k = 0;
    for (; !why && k < n; k++) {
        if (ilen - at < 20) { why = "index truncated"; break; }
        uint64_t off = le64(idx + at), len = le64(idx + at + 8);
        uint32_t nl = le32(idx + at + 16);
        at += 20;
        if (nl == 0 || nl > 255 || nl > ilen - at) { why = "bad file name length"; break; }
        if (off > ioff || len > ioff - off || off % RT_EMBED_ALIGN) { why = "file out of bounds"; break; }
        if (!(files[k].name = malloc(nl + 1))) { why = "out of memory"; break; }
        memcpy(files[k].name, idx + at, nl);
        files[k].name[nl] = 0;
        if (strlen(files[k].name) != nl || strchr(files[k].name, '/')) { why = "bad file name"; k++; break; }
        files[k].offset = off;
        files[k].size = len;
        at += nl;
    }
    free(idx);
    if (why) {
        fprintf(stderr, "warning: this executable's embedded files are damaged (%s); ignoring them\n", why);
        for (uint32_t i = 0; i < k && files; i++) free(files[i].name);
        free(files);
        close(fd);
        return;
    }
    embedded.fd = fd;
    embedded.n = (int)n;
    embedded.files = files;
}

int rt_embedded_present(void) {
    embedded_scan();
    return embedded.fd >= 0;
}

/* The embedded file a path names, or NULL (also for every path in a binary
 * without embedded files). */
static const EmbeddedFile *embedded_find(const char *path) {
    size_t dl = strlen(RT_EMBEDDED_DIR);
    if (strncmp(path, RT_EMBEDDED_DIR, dl) || path[dl] != '/' || !rt_embedded_present()) return NULL;
    for (int i = 0; i < embedded.n; i++)
        if (!strcmp(embedded.files[i].name, path + dl + 1)) return &embedded.files[i];
    return NULL;
}

static int is_embedded_path(const char *path) {
    size_t dl = strlen(RT_EMBEDDED_DIR);
    return !strncmp(path, RT_EMBEDDED_DIR, dl) && (path[dl] == '/' || !path[dl]) && rt_embedded_present();
}

int rt_file_open(const char *path, RtFileRef *ref, char *err, size_t errlen) {
    if (is_embedded_path(path)) {
        const EmbeddedFile *e = embedded_find(path);
        if (!e) { snprintf(err, errlen, "%s: not among this executable's embedded files", path); return -1; }
        int fd = fcntl(embedded.fd, F_DUPFD_CLOEXEC, 0);
        if (fd < 0) { snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno)); return -1; }
        ref->fd = fd;
        ref->offset = e->offset;
        ref->size = e->size;
        return 0;
    }
    int fd = open(path, O_RDONLY | O_NONBLOCK);   /* O_NONBLOCK: opening a FIFO must not block */
    if (fd < 0) { snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno)); return -1; }
    struct stat st;
    if (fstat(fd, &st) != 0) { snprintf(err, errlen, "%s: cannot stat: %s", path, strerror(errno)); close(fd); return -1; }
    if (!S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "%s: is %s, expected a regular file", path, kind_of(st.st_mode));
        close(fd);
        return -1;
    }
    ref->fd = fd;
    ref->offset = 0;
    ref->size = st.st_size < 0 ? 0 : (uint64_t)st.st_size;
    return 0;
}

int rt_path_exists(const char *path) {
    if (is_embedded_path(path)) {
        if (embedded_find(path) || !strcmp(path, RT_EMBEDDED_DIR)) return 1;
        errno = ENOENT;
        return 0;
    }
    struct stat st;
    return stat(path, &st) == 0;
}

int rt_is_dir(const char *path) {
    if (!strcmp(path, RT_EMBEDDED_DIR)) return rt_embedded_present();
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

char *rt_read_file(const char *path, size_t max_bytes, size_t *len, char *err, size_t errlen) {
    RtFileRef f;
    if (rt_file_open(path, &f, err, errlen) != 0) return NULL;
    if (f.size > max_bytes) {
        snprintf(err, errlen, "%s: file too large (%llu bytes, the limit is %zu)", path, (unsigned long long)f.size, max_bytes);
        close(f.fd);
        return NULL;
    }
    size_t n = (size_t)f.size;
    char *buf = malloc(n + 1);
    if (!buf) { snprintf(err, errlen, "%s: out of memory reading %zu bytes", path, n); close(f.fd); return NULL; }
    if (pread_all(f.fd, buf, n, f.offset) != 0) {
        snprintf(err, errlen, "%s: read failed: %s", path, errno ? strerror(errno) : "file shrank while reading");
        free(buf);
        close(f.fd);
        return NULL;
    }
    close(f.fd);
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

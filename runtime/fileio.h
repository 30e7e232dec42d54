/*
 * runtime/fileio.h — reading input files and writing output files safely.
 *
 * Inputs come from strangers: every read checks that the path is a regular
 * file (a directory, FIFO or device is rejected with a message naming the
 * path, instead of ftell()ing a directory into malloc(2^63)) and bounds its
 * size.  Outputs are written to a temporary file in the output's directory
 * and renamed into place only when complete, so a failed run leaves nothing
 * behind and never a half-written file.
 */
#ifndef ARCHC_FILEIO_H
#define ARCHC_FILEIO_H

#include <stddef.h>
#include <stdint.h>

/* ── files embedded in the executable (archc --embed-weights DIR) ──────────
 * archc appends a checkpoint directory's files to the binary: each file starts
 * on a 64 KiB boundary of the executable (so it can be mmapped in place),
 * followed by an index and a 32-byte trailer:
 *     "ARCHCEMB" | u64 index offset | u64 index bytes | u32 files | u32 version (1)
 * (little-endian); an index entry is u64 offset | u64 bytes | u32 name length |
 * name.  Such a binary runs without --weights: the weights "directory" is then
 * RT_EMBEDDED_DIR, and every path RT_EMBEDDED_DIR "/NAME" below resolves to
 * the embedded file NAME (only in a binary that has them). */
#define RT_EMBEDDED_DIR "<embedded>"
#define RT_EMBED_MAGIC "ARCHCEMB"
#define RT_EMBED_ALIGN ((uint64_t)64 << 10)
int rt_embedded_present(void);   /* does this executable carry embedded files? */

/* A regular file opened for reading: a file on disk, or a region of this
 * executable.  The caller closes fd. */
typedef struct RtFileRef {
    int fd;
    uint64_t offset, size;
} RtFileRef;
/* 0, or -1 with "PATH: …" in err (missing, not a regular file, unreadable). */
int rt_file_open(const char *path, RtFileRef *ref, char *err, size_t errlen);
int rt_path_exists(const char *path);    /* anything is there (stat succeeds), or an embedded file */
int rt_is_dir(const char *path);        /* a directory, or RT_EMBEDDED_DIR in a binary with files */

/* Read a whole regular file of at most max_bytes into a malloc'd buffer (one
 * extra NUL byte appended).  NULL with "PATH: …" in err on failure. */
char *rt_read_file(const char *path, size_t max_bytes, size_t *len, char *err, size_t errlen);

/* An output file being written: a temporary file next to `path`, renamed onto
 * it by rt_out_commit, removed by rt_out_abort. */
typedef struct RtOut {
    char *path, *tmp;
    int fd;
} RtOut;
/* Create the temporary file.  Refuses a path that exists and is not a regular
 * file, and a path that is the same file as any of inputs[0..n_inputs) (by
 * device and inode; NULL entries are skipped).  0, or -1 with err set. */
int rt_out_open(RtOut *o, const char *path, const char *const *inputs, int n_inputs, char *err, size_t errlen);
int rt_out_write(RtOut *o, const void *data, size_t bytes, char *err, size_t errlen);
int rt_out_commit(RtOut *o, char *err, size_t errlen);   /* fsync-free close + rename */
void rt_out_abort(RtOut *o);                              /* unlink the temporary; safe to repeat */

/* Same file (device and inode) as an existing path?  0 when either is absent. */
int rt_same_file(const char *a, const char *b);

#endif

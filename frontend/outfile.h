/*
 * frontend/outfile.h — writing archc's outputs safely.
 *
 * Every file archc writes (emitted C, --emit=ir listings, imported YAML,
 * executables) goes to a fresh temporary file in the output's own directory
 * (mkstemp: ".NAME.XXXXXX", never an existing file) and is renamed over the
 * output only when it is complete, so a failed or interrupted run leaves the
 * old output (or nothing) behind, never a half-written file.  An output path
 * that names one of the inputs (the same file, through any link) or a
 * directory is refused before anything is written.  An existing output that
 * is a device or a pipe (/dev/stdout, /dev/null) is written in place.
 */
#ifndef ARCHC_OUTFILE_H
#define ARCHC_OUTFILE_H
#include <stddef.h>
#include <stdio.h>

/* 0 if `out` may be written: it is not a directory and not the same file as
 * any of the n inputs (NULL entries are skipped).  Otherwise prints
 * "archc: error: OUT: …" and returns -1. */
int out_check(const char *out, const char *const *inputs, int n);

/* Open a new temporary file next to `path` (its name in tmp[cap]). NULL on error (printed). */
FILE *out_open(const char *path, char *tmp, size_t cap);

/* Reserve a temporary name next to `path` for a file another program writes
 * (the C compiler's executable).  0 on success; the caller renames or unlinks it. */
int out_reserve(const char *path, char *tmp, size_t cap);

/* Close f; when ok and everything was written, rename tmp over path.  On any
 * failure the temporary file is removed.  Returns 0 on success (errors printed). */
int out_commit(FILE *f, const char *tmp, const char *path, int ok);

#endif

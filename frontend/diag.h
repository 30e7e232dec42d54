/*
 * frontend/diag.h — the one diagnostic reporter for user errors in descriptions.
 *
 *   FILE:LINE:COL: error: MESSAGE
 *       the source line
 *       ^ under the column
 *
 * Internal bugs are not reported here (they abort with file:line).
 */
#ifndef ARCHC_DIAG_H
#define ARCHC_DIAG_H

#include "spec.h"

/* Remember the text of a file so diagnostics can quote its lines. */
void diag_set_source(const char *file, const char *text);
/* The source set last (to put it back after parsing another text). */
void diag_get_source(const char **file, const char **text);
__attribute__((format(printf, 2, 3)))
void diag_error(SrcLoc loc, const char *fmt, ...);
/* "PATH: error: WHAT" for an error message "PATH: WHAT" from runtime/fileio.c; returns -1. */
int diag_file_error(const char *path, const char *err);
/* Nearest of `n` candidates to `word` by edit distance, or NULL if none is close. */
const char *diag_nearest(const char *word, const char *const *cands, int n);

#endif

/*
 * frontend/diag.c — diagnostics with file:line:col, the quoted line and a caret.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "diag.h"

static const char *src_file, *src_text;

void diag_set_source(const char *file, const char *text) {
    src_file = file;
    src_text = text;
}

void diag_get_source(const char **file, const char **text) {
    *file = src_file;
    *text = src_text;
}

void diag_error(SrcLoc loc, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    if (loc.line > 0) fprintf(stderr, "%s:%d:%d: error: ", loc.file ? loc.file : "?", loc.line, loc.col);
    else fprintf(stderr, "%s: error: ", loc.file ? loc.file : "?");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    if (loc.line <= 0 || !src_text || !loc.file || !src_file || strcmp(loc.file, src_file)) return;
    const char *p = src_text;
    for (int l = 1; l < loc.line && *p; p++)
        if (*p == '\n') l++;
    const char *e = strchr(p, '\n');
    int len = e ? (int)(e - p) : (int)strlen(p);
    /* a window of at most 100 characters around the column, control characters
     * shown as '?' (the line is the user's, not ours to send to a terminal) */
    int col = loc.col > 1 ? loc.col - 1 : 0, from = 0;
    if (col > len) col = len;
    if (len > 100 && col > 60) from = col - 60;
    if (len - from > 100) len = from + 100;
    char shown[104];
    int n = 0;
    for (int i = from; i < len; i++) shown[n++] = (unsigned char)p[i] < 0x20 || p[i] == 0x7f ? '?' : p[i];
    shown[n] = 0;
    fprintf(stderr, "    %s%s\n    %*s^\n", from ? "…" : "", shown, col - from + (from ? 1 : 0), "");
}

static int edit_distance(const char *a, const char *b) {
    int la = (int)strlen(a), lb = (int)strlen(b);
    if (la > 63 || lb > 63) return 99;
    int d[64][64];
    for (int i = 0; i <= la; i++) d[i][0] = i;
    for (int j = 0; j <= lb; j++) d[0][j] = j;
    for (int i = 1; i <= la; i++)
        for (int j = 1; j <= lb; j++) {
            int c = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
            if (d[i - 1][j] + 1 < c) c = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < c) c = d[i][j - 1] + 1;
            d[i][j] = c;
        }
    return d[la][lb];
}

const char *diag_nearest(const char *word, const char *const *cands, int n) {
    const char *best = NULL;
    int bd = 99;
    for (int i = 0; i < n; i++) {
        int dd = edit_distance(word, cands[i]);
        if (dd < bd) { bd = dd; best = cands[i]; }
    }
    int lim = (int)strlen(word) / 3 + 1;
    return bd <= (lim > 3 ? 3 : lim) ? best : NULL;
}

int diag_file_error(const char *path, const char *err) {
    size_t pl = strlen(path);
    fprintf(stderr, "%s: error: %s\n", path, !strncmp(err, path, pl) && !strncmp(err + pl, ": ", 2) ? err + pl + 2 : err);
    return -1;
}

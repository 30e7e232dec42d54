/*
 * tests/compare_logits.c — compare two float32 logit files.
 *
 *   compare_logits REF.bin GOT.bin VOCAB [TOL]
 *   compare_logits --kl REF.bin GOT.bin VOCAB MAX_MEAN_KL
 *
 * Prints max_rel_err = max|a−b| / max|ref| (the project's exactness measure) and
 * whether each row's argmax agrees; exits 1 if the sizes differ or the error is
 * above TOL (default 1e-4).  With --kl (quantised checkpoints against the fp32
 * model they were quantised from): the mean and max over rows of
 * KL(softmax(ref) ‖ softmax(got)) in nats and the argmax agreement; exits 1 if
 * the mean KL is above MAX_MEAN_KL.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static float *slurp(const char *path, long *n) {
    FILE *f = fopen(path, "rb");
    if (!f) { fprintf(stderr, "compare_logits: cannot open %s\n", path); return NULL; }
    fseek(f, 0, SEEK_END);
    long bytes = ftell(f);
    fseek(f, 0, SEEK_SET);
    float *d = malloc((size_t)bytes + 4);
    if (!d || fread(d, 1, (size_t)bytes, f) != (size_t)bytes) { fclose(f); free(d); return NULL; }
    fclose(f);
    *n = bytes / 4;
    return d;
}

/* KL(p ‖ q) of the softmaxes of two logit rows, in double. */
static double kl_row(const float *a, const float *b, long V) {
    double ma = a[0], mb = b[0], sa = 0, sb = 0, kl = 0;
    for (long v = 1; v < V; v++) { if (a[v] > ma) ma = a[v]; if (b[v] > mb) mb = b[v]; }
    for (long v = 0; v < V; v++) { sa += exp(a[v] - ma); sb += exp(b[v] - mb); }
    for (long v = 0; v < V; v++) {
        double la = a[v] - ma - log(sa), lb = b[v] - mb - log(sb);
        kl += exp(la) * (la - lb);
    }
    return kl;
}

static int kl_mode(int argc, char **argv) {
    if (argc != 6) { fprintf(stderr, "usage: compare_logits --kl REF.bin GOT.bin VOCAB MAX_MEAN_KL\n"); return 2; }
    long nr, ng, V = atol(argv[4]);
    double lim = atof(argv[5]);
    float *r = slurp(argv[2], &nr), *g = slurp(argv[3], &ng);
    if (!r || !g) return 1;
    if (nr != ng || V <= 0 || nr % V) { printf("FAIL: size mismatch\n"); return 1; }
    double sum = 0, mx = 0;
    long rows = nr / V, agree = 0;
    for (long t = 0; t < rows; t++) {
        double k = kl_row(r + t * V, g + t * V, V);
        sum += k;
        if (k > mx) mx = k;
        long ar = 0, ag = 0;
        for (long v = 1; v < V; v++) {
            if (r[t * V + v] > r[t * V + ar]) ar = v;
            if (g[t * V + v] > g[t * V + ag]) ag = v;
        }
        agree += ar == ag;
    }
    int ok = sum / rows <= lim;
    printf("%s: mean_kl=%.3g max_kl=%.3g nats (limit %.3g on the mean), argmax agrees in %ld of %ld rows\n", ok ? "ok" : "FAIL",
           sum / rows, mx, lim, agree, rows);
    free(r);
    free(g);
    return ok ? 0 : 1;
}

int main(int argc, char **argv) {
    if (argc > 1 && !strcmp(argv[1], "--kl")) return kl_mode(argc, argv);
    if (argc < 4) { fprintf(stderr, "usage: compare_logits REF.bin GOT.bin VOCAB [TOL]\n"); return 2; }
    long nr, ng, V = atol(argv[3]);
    double tol = argc > 4 ? atof(argv[4]) : 1e-4;
    float *r = slurp(argv[1], &nr), *g = slurp(argv[2], &ng);
    if (!r || !g) return 1;
    if (nr != ng || V <= 0 || nr % V) {
        printf("FAIL: size mismatch: reference has %ld floats, got %ld (vocab %ld)\n", nr, ng, V);
        return 1;
    }
    double maxd = 0, maxr = 0;
    long argmax_diff = 0, worst = 0;
    for (long i = 0; i < nr; i++) {
        double d = fabs((double)r[i] - g[i]);
        if (!(d <= maxd)) { maxd = d; worst = i; }
        if (fabs(r[i]) > maxr) maxr = fabs(r[i]);
    }
    for (long t = 0; t < nr / V; t++) {
        long ar = 0, ag = 0;
        for (long v = 1; v < V; v++) {
            if (r[t * V + v] > r[t * V + ar]) ar = v;
            if (g[t * V + v] > g[t * V + ag]) ag = v;
        }
        argmax_diff += ar != ag;
    }
    double rel = maxd / (maxr > 0 ? maxr : 1);
    int ok = rel <= tol;
    printf("%s: max_rel_err=%.3g (tol %.0e) max_abs_err=%.3g at row %ld col %ld, rows=%ld, argmax differs in %ld rows\n",
           ok ? "ok" : "FAIL", rel, tol, maxd, worst / V, worst % V, nr / V, argmax_diff);
    free(r);
    free(g);
    return ok ? 0 : 1;
}

/*
 * runtime/sampler.c — greedy, temperature and nucleus (top-p) sampling with a
 * seeded generator, so a given --seed always produces the same text.
 */
#include <math.h>
#include <stdlib.h>
#include "sampler.h"
#include "archc_rt.h"

void sampler_init(Sampler *s, int vocab, float temperature, float top_p, uint64_t seed) {
    s->temperature = temperature;
    s->top_p = top_p;
    s->rng = seed * 0x9E3779B97F4A7C15ULL + 0x2545F4914F6CDD1DULL;
    if (!s->rng) s->rng = 1;
    s->vocab = vocab;
    s->idx = rt_alloc(sizeof(int) * (size_t)vocab);
}

void sampler_free(Sampler *s) { rt_free(s->idx); s->idx = NULL; }

static float uniform01(Sampler *s) {
    s->rng ^= s->rng >> 12;
    s->rng ^= s->rng << 25;
    s->rng ^= s->rng >> 27;
    return (float)((s->rng * 0x2545F4914F6CDD1DULL) >> 40) / 16777216.0f;
}

int sampler_argmax(const float *logits, int n) {
    int best = 0;
    for (int i = 1; i < n; i++)
        if (logits[i] > logits[best]) best = i;
    return best;
}

static const float *g_probs;
static int by_prob_desc(const void *a, const void *b) {
    float pa = g_probs[*(const int *)a], pb = g_probs[*(const int *)b];
    return pa < pb ? 1 : pa > pb ? -1 : (*(const int *)a - *(const int *)b);
}

int sampler_sample(Sampler *s, float *logits) {
    int n = s->vocab;
    if (n <= 1) return 0;
    if (s->temperature <= 0.0f) return sampler_argmax(logits, n);
    /* NaN logits (broken weights) can never be drawn; an infinite maximum, or
     * no finite logit at all, leaves nothing to sample: take the argmax */
    for (int i = 0; i < n; i++) if (isnan(logits[i])) logits[i] = -INFINITY;
    int top = sampler_argmax(logits, n);
    float m = logits[top];
    if (!isfinite(m)) return top;
    double sum = 0;
    for (int i = 0; i < n; i++) { logits[i] = expf((logits[i] - m) / s->temperature); sum += logits[i]; }
    if (!(sum >= 1.0) || !isfinite(sum)) return top;   /* the maximum alone contributes exp(0) = 1 */
    for (int i = 0; i < n; i++) logits[i] = (float)(logits[i] / sum);
    float r = uniform01(s);
    if (s->top_p < 1.0f) {
        /* keep the most probable tokens until their mass reaches top_p; the
         * most probable token is always kept (top_p = 0 is greedy) */
        int k = 0;
        float cut = (1.0f - s->top_p) / (float)(n - 1); /* tokens below this can never be needed */
        for (int i = 0; i < n; i++) if (i == top || logits[i] >= cut) s->idx[k++] = i;
        g_probs = logits;
        qsort(s->idx, (size_t)k, sizeof(int), by_prob_desc);
        double mass = 0;
        int last = k - 1;
        for (int i = 0; i < k; i++) { mass += logits[s->idx[i]]; if (mass >= s->top_p) { last = i; break; } }
        if (last < 0) last = 0;
        mass = 0;
        for (int i = 0; i <= last; i++) mass += logits[s->idx[i]];
        double acc = 0, target = r * mass;
        for (int i = 0; i <= last; i++) { acc += logits[s->idx[i]]; if (target < acc) return s->idx[i]; }
        return s->idx[last];   /* rounding left the target at the very end: still inside the nucleus */
    }
    double acc = 0;
    for (int i = 0; i < n; i++) { acc += logits[i]; if (r < acc) return i; }
    return top;
}

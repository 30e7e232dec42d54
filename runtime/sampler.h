/*
 * runtime/sampler.h — picking the next token from logits.
 */
#ifndef ARCHC_SAMPLER_H
#define ARCHC_SAMPLER_H

#include <stdint.h>

typedef struct Sampler {
    float temperature;   /* 0 = greedy                                  */
    float top_p;         /* 1 = off, 0 = only the most likely token     */
    uint64_t rng;        /* xorshift64* state, from --seed              */
    int *idx;            /* scratch [vocab] for top-p                   */
    int vocab;
} Sampler;

void sampler_init(Sampler *s, int vocab, float temperature, float top_p, uint64_t seed);
void sampler_free(Sampler *s);
/* Greedy: the first index of the maximum (as torch.argmax).  Otherwise softmax
 * at the temperature, restricted to the smallest set of tokens whose
 * probability reaches top_p (never empty: the most likely token is always in
 * it), and a draw from it.  NaN logits are never drawn.  logits are modified. */
int sampler_sample(Sampler *s, float *logits);
int sampler_argmax(const float *logits, int n);

#endif

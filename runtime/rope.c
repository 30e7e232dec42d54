/*
 * runtime/rope.c — RoPE inverse frequencies and per-position cos/sin, computed
 * the way Hugging Face transformers (modeling_rope_utils.py, 4.57) does.
 *
 * Rounding matters: HF builds inv_freq in float32 tensors, mixes in Python
 * floats (doubles, cast to f32 when combined with a tensor) and forms the angle
 * as one f32 multiply p·inv_freq.  Each step below says which precision HF uses.
 */
#include <math.h>
#include "archc_rt.h"

static double yarn_get_mscale(double scale, double mscale) {
    if (scale <= 1.0) return 1.0;
    return 0.1 * mscale * log(scale) + 1.0;
}

static double yarn_correction_dim(double rotations, int dim, double base, double max_pos) {
    return (dim * log(max_pos / (rotations * 2.0 * M_PI))) / (2.0 * log(base));
}

void rt_rope_inv_freq(const RtRopeParams *p, float *inv_freq, float *mscale) {
    int half = p->dims / 2;
    float base = (float)p->theta;
    /* default: inv_freq[i] = 1 / base^(f32(2i) / dim)   (f32 pow and division) */
    for (int i = 0; i < half; i++) {
        float e = (float)(2 * i) / (float)p->dims;
        inv_freq[i] = 1.0f / powf(base, e);
    }
    *mscale = 1.0f;
    switch (p->kind) {
    case RT_ROPE_DEFAULT:
        break;
    case RT_ROPE_LINEAR:
        for (int i = 0; i < half; i++) inv_freq[i] = inv_freq[i] / (float)p->factor;
        break;
    case RT_ROPE_LLAMA3: {
        float factor = (float)p->factor;
        float lo = (float)p->low_freq_factor;
        float L = (float)p->original_max_position;
        float low_wl = (float)(p->original_max_position / p->low_freq_factor);
        float high_wl = (float)(p->original_max_position / p->high_freq_factor);
        for (int i = 0; i < half; i++) {
            float f = inv_freq[i];
            float wl = (float)(2.0 * M_PI) / f;                  /* f32 */
            float llama = wl > low_wl ? f / factor : f;
            /* with low_freq_factor == high_freq_factor the band is one point (or empty):
             * keep f there rather than divide by zero */
            int medium = !(wl < high_wl) && !(wl > low_wl) && p->high_freq_factor != p->low_freq_factor;
            if (medium) {
                float s = (L / wl - lo) / (float)(p->high_freq_factor - p->low_freq_factor);
                llama = (1.0f - s) * llama / factor + s * llama;
            }
            inv_freq[i] = llama;
        }
        break;
    }
    case RT_ROPE_YARN: {
        double factor = p->factor;
        double beta_fast = p->beta_fast != 0 ? p->beta_fast : 32.0;
        double beta_slow = p->beta_slow != 0 ? p->beta_slow : 1.0;
        double low = yarn_correction_dim(beta_fast, p->dims, p->theta, p->original_max_position);
        double high = yarn_correction_dim(beta_slow, p->dims, p->theta, p->original_max_position);
        if (p->truncate) { low = floor(low); high = ceil(high); }
        if (low < 0) low = 0;
        if (high > p->dims - 1) high = p->dims - 1;
        if (low == high) high += 0.001;
        for (int i = 0; i < half; i++) {
            float e = (float)(2 * i) / (float)p->dims;
            float pos_freq = powf(base, e);
            float extrap = 1.0f / pos_freq;
            float interp = 1.0f / ((float)factor * pos_freq);
            float ramp = ((float)i - (float)low) / (float)(high - low);
            if (ramp < 0) ramp = 0;
            if (ramp > 1) ramp = 1;
            float ef = 1.0f - ramp;  /* inv_freq_extrapolation_factor */
            inv_freq[i] = interp * (1.0f - ef) + extrap * ef;
        }
        double m;
        if (p->has_attention_factor) m = p->attention_factor;
        else if (p->has_mscale && p->has_mscale_all_dim && p->mscale != 0 && p->mscale_all_dim != 0)
            m = yarn_get_mscale(factor, p->mscale) / yarn_get_mscale(factor, p->mscale_all_dim);
        else m = yarn_get_mscale(factor, 1.0);
        *mscale = (float)m;
        break;
    }
    }
}

void rt_rope_angles(const float *inv_freq, int half, float mscale, int pos, int T, float *cos_out, float *sin_out) {
    for (int t = 0; t < T; t++) {
        float p = (float)(pos + t);
        for (int i = 0; i < half; i++) {
            float ang = p * inv_freq[i];                       /* one f32 multiply, as HF */
            cos_out[t * half + i] = (float)cos((double)ang) * mscale;
            sin_out[t * half + i] = (float)sin((double)ang) * mscale;
        }
    }
}

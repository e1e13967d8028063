#include "quant.h"

#include <fenv.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

bool detc_qmul_from_double(double real, detc_qmul *out)
{
    out->multiplier = 0;
    out->shift = 0;
    if (!isfinite(real) || real < 0.0)
        return false;
    if (real == 0.0)
        return true;
    int shift;
    double q = frexp(real, &shift);
    int64_t fixed = (int64_t)round(q * (double)(1LL << 31));
    if (fixed == (1LL << 31)) {
        fixed /= 2;
        shift++;
    }
    if (shift < -31) {
        shift = 0;
        fixed = 0;
    }
    if (shift > 30)
        return false; /* multiplier >= 2^30: no TFLite model has this; refuse rather than overflow */
    out->multiplier = (int32_t)fixed;
    out->shift = shift;
    return true;
}

static bool rq_float_check(int32_t mult, int32_t rshift, int32_t out_zp, int32_t act_min, int32_t act_max, float *scale,
                           float *offset)
{
    const double s = (double)mult / ldexp(1.0, 31 + rshift), b = (double)out_zp + 0.5 + ldexp(1.0, -1 - rshift);
    const float fs = (float)s, fb = (float)b;
    /* from below the last acc giving act_min to above the first giving act_max */
    const double lo_d = floor(((double)act_min - 1.0 - b) / s) - 2.0, hi_d = ceil(((double)act_max + 1.0 - b) / s) + 2.0;
    if (lo_d < (double)INT32_MIN || hi_d > (double)INT32_MAX || hi_d - lo_d > (double)(1 << 20))
        return false;
    const detc_qmul q = {mult, -rshift};
    for (int64_t a = (int64_t)lo_d; a <= (int64_t)hi_d; a++) {
        int32_t want = detc_qmul_apply((int32_t)a, q) + out_zp;
        want = want < act_min ? act_min : want > act_max ? act_max : want;
        const double y = floor(fmaf((float)a, fs, fb));
        const int32_t got = y < (double)act_min ? act_min : y > (double)act_max ? act_max : (int32_t)y;
        if (got != want)
            return false;
    }
    /* saturated at both ends: beyond them neither side moves */
    int32_t first = detc_qmul_apply((int32_t)lo_d, q) + out_zp, last = detc_qmul_apply((int32_t)hi_d, q) + out_zp;
    if (first > act_min || last < act_max)
        return false;
    *scale = fs;
    *offset = fb;
    return true;
}

bool detc_rq_float_fit(int32_t mult, int32_t rshift, int32_t out_zp, int32_t act_min, int32_t act_max, float *scale,
                       float *offset)
{
    if (mult < (1 << 30) || rshift < 1 || rshift > 22 || act_min > act_max)
        return false;
    /* the kernels round to nearest whatever the rounding mode: so does the check */
    const int mode = fegetround();
    fesetround(FE_TONEAREST);
    const bool fits = rq_float_check(mult, rshift, out_zp, act_min, act_max, scale, offset);
    fesetround(mode);
    return fits;
}

void detc_activation_range_q(detc_activation act, const detc_tensor *out, int32_t *qmin, int32_t *qmax)
{
    const detc_dtype_info *info = detc_dtype_get(out->dtype);
    int32_t lo = (int32_t)info->qmin, hi = (int32_t)info->qmax;
    float scale = out->quant.count ? out->quant.scale[0] : 1.0f;
    int32_t zp = out->quant.count ? out->quant.zero_point[0] : 0;
    /* TFLite: quantize the float bound with round-half-away, then intersect with the dtype range. */
#define Q(v) (zp + (int32_t)detc_roundf_away((v) / scale))
    switch (act) {
    case DETC_ACT_RELU:
        lo = lo > Q(0.0f) ? lo : Q(0.0f);
        break;
    case DETC_ACT_RELU6:
        lo = lo > Q(0.0f) ? lo : Q(0.0f);
        hi = hi < Q(6.0f) ? hi : Q(6.0f);
        break;
    case DETC_ACT_RELU_N1_TO_1:
        lo = lo > Q(-1.0f) ? lo : Q(-1.0f);
        hi = hi < Q(1.0f) ? hi : Q(1.0f);
        break;
    case DETC_ACT_NONE:
        break;
    }
#undef Q
    *qmin = lo;
    *qmax = hi;
}

void detc_activation_range_f(detc_activation act, float *fmin, float *fmax)
{
    *fmin = -INFINITY;
    *fmax = INFINITY;
    switch (act) {
    case DETC_ACT_RELU:
        *fmin = 0.0f;
        break;
    case DETC_ACT_RELU6:
        *fmin = 0.0f;
        *fmax = 6.0f;
        break;
    case DETC_ACT_RELU_N1_TO_1:
        *fmin = -1.0f;
        *fmax = 1.0f;
        break;
    case DETC_ACT_NONE:
        break;
    }
}

bool detc_quant_copy(detc_quant *dst, const detc_quant *src)
{
    memset(dst, 0, sizeof *dst);
    dst->axis = src->axis;
    if (src->count == 0)
        return true;
    dst->scale = malloc((size_t)src->count * sizeof *dst->scale);
    dst->zero_point = malloc((size_t)src->count * sizeof *dst->zero_point);
    if (!dst->scale || !dst->zero_point) {
        detc_quant_free(dst);
        return false;
    }
    memcpy(dst->scale, src->scale, (size_t)src->count * sizeof *dst->scale);
    memcpy(dst->zero_point, src->zero_point, (size_t)src->count * sizeof *dst->zero_point);
    dst->count = src->count;
    return true;
}

void detc_quant_free(detc_quant *q)
{
    free(q->scale);
    free(q->zero_point);
    memset(q, 0, sizeof *q);
    q->axis = -1;
}

bool detc_quant_equal(const detc_quant *a, const detc_quant *b)
{
    if (a->count != b->count || (a->count > 1 && a->axis != b->axis))
        return false;
    for (int i = 0; i < a->count; i++)
        if (a->scale[i] != b->scale[i] || a->zero_point[i] != b->zero_point[i])
            return false;
    return true;
}

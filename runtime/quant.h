/* Fixed-point requantization with TensorFlow Lite's arithmetic (gemmlowp rounding), so that integer
 * kernels are bit-exact with TFLite's built-in kernels. */
#ifndef DETC_QUANT_H
#define DETC_QUANT_H

#include <math.h>
#include <stdbool.h>
#include <stdint.h>

#include "graph.h"

/* real_multiplier == multiplier * 2^(shift - 31), multiplier in [2^30, 2^31) or 0. */
typedef struct {
    int32_t multiplier;
    int shift;
} detc_qmul;

/* TFLite QuantizeMultiplier: frexp, round half away from zero, renormalise 2^31. Returns false when
 * the multiplier is not finite or not positive (callers report it as a quantization error). */
bool detc_qmul_from_double(double real, detc_qmul *out);

/* gemmlowp SaturatingRoundingDoublingHighMul. */
static inline int32_t detc_srdhm(int32_t a, int32_t b)
{
    if (a == b && a == INT32_MIN)
        return INT32_MAX;
    int64_t ab = (int64_t)a * (int64_t)b;
    int64_t nudge = ab >= 0 ? (1LL << 30) : (1 - (1LL << 30));
    return (int32_t)((ab + nudge) / (1LL << 31));
}

/* gemmlowp RoundingDivideByPOT: divide by 2^exponent, round half away from zero. */
static inline int32_t detc_rdbpot(int32_t x, int exponent)
{
    int32_t mask = (int32_t)((1LL << exponent) - 1);
    int32_t remainder = x & mask;
    int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
    return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

/* TFLite MultiplyByQuantizedMultiplier. */
static inline int32_t detc_qmul_apply(int32_t x, detc_qmul m)
{
    int left = m.shift > 0 ? m.shift : 0;
    int right = m.shift > 0 ? 0 : -m.shift;
    return detc_rdbpot(detc_srdhm((int32_t)((uint32_t)x << left), m.multiplier), right);
}

/* The gemmlowp requantization of one multiplier (in [2^30, 2^31)) and right shift (1..22, no left shift), the
 * output zero point and the clamp, in float: for every int32 acc,
 *   clamp(floor(fma((float)acc, *scale, *offset)), act_min, act_max)
 *     == clamp(detc_qmul_apply(acc, {mult, -rshift}) + out_zp, act_min, act_max)
 * with (float)acc and the fma rounded to nearest (|fma| < 2^30 + 256: its floor fits int32). gemmlowp's two
 * roundings are one floor of acc * mult / 2^(31 + rshift) + 1/2 + 2^(-1 - rshift) for acc >= 0 (detc_rq64 in
 * kernels/x86/q8_avx512.h); the float product's error (below 2^-16 of an output step over the byte range)
 * crosses that floor for some multipliers and not for others, so every acc from where the result leaves
 * act_min to where it reaches act_max (plus a margin; outside it both sides are monotonic and saturated) is
 * checked, up to 2^20 of them. True when the float form holds, with *scale and *offset set (kernels then may
 * use it: 3 vector operations per 16 outputs where the integer form takes 8, two of them 64-bit multiplies);
 * false otherwise (a negative acc rounding half away from zero within the range, e.g. a conv without ReLU whose
 * zero point is mid-range, fails). */
bool detc_rq_float_fit(int32_t mult, int32_t rshift, int32_t out_zp, int32_t act_min, int32_t act_max, float *scale,
                       float *offset);

/* ruy's MultiplyByQuantizedMultiplier (TFLite's int8 CONV_2D: cpu_backend_gemm hands it to ruy), one
 * rounding, half up: floor((x * multiplier * 2^shift + 2^30) / 2^31), with x * 2^shift saturated to int32
 * (ruy forms x * multiplier in 64 bits; the two differ only where |x * 2^shift| >= 2^31, and there both
 * results are at least 2^30 in magnitude with the same sign, far outside any 8-bit output range, as long as
 * the multiplier is 0 or at least 2^30). The result always fits int32. */
static inline int32_t detc_qmul_apply_once(int32_t x, detc_qmul m)
{
    int left = m.shift > 0 ? m.shift : 0;
    int right = m.shift > 0 ? 0 : -m.shift;
    int64_t xs = (int64_t)x * ((int64_t)1 << left);
    xs = xs > INT32_MAX ? INT32_MAX : xs < INT32_MIN ? INT32_MIN : xs;
    return (int32_t)((xs * m.multiplier + ((int64_t)1 << (30 + right))) >> (31 + right));
}

/* Quantized clamp range of a fused activation for an output tensor (TFLite CalculateActivationRangeQuantized). */
void detc_activation_range_q(detc_activation act, const detc_tensor *out, int32_t *qmin, int32_t *qmax);
/* Float clamp range of a fused activation. */
void detc_activation_range_f(detc_activation act, float *fmin, float *fmax);

/* round(x) half away from zero, as TfLiteRound / std::round. roundf is exact; x + 0.5f is not
 * (0.49999997f + 0.5f rounds up to 1). */
static inline float detc_roundf_away(float x)
{
    return roundf(x);
}

/* Copies src into dst (allocating the arrays). Returns false on allocation failure. */
bool detc_quant_copy(detc_quant *dst, const detc_quant *src);
void detc_quant_free(detc_quant *q);
bool detc_quant_equal(const detc_quant *a, const detc_quant *b);

#endif

/* x86 SIMD elementwise int8 kernels: the requantizing add (add_q8), the f32 <-> u8/i8 casts (quantize_q8,
 * dequantize_q8) and roi_align's bilinear sample (roi_sample_q8, roi_sample_f32), AVX2 for the avx2 table and
 * AVX-512F for the avx512vnni one (x86.c's table initializers name them). Compiled with target attributes like
 * x86.c, so the build needs no -march flag. Every result equals the portable kernel's bit for bit: the add is
 * integer arithmetic lane by lane (TFLite's requantization, as x86.c's dw_requant8), the casts and the sample
 * perform the same single IEEE operations as the scalar code (a division, not a multiply by the reciprocal;
 * roundf's half-away-from-zero rounding rebuilt from a truncation; no fused multiply-adds). */
#include "kernels.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#include <string.h>

#include "eltwise_x86.h"
#include "quantize_x86.h"
#include "quant.h"

#define AVX2 __attribute__((target("avx2")))
#define AVX512 __attribute__((target("avx512f")))
#define INLINE_AVX2 AVX2 __attribute__((always_inline)) static inline
#define INLINE_AVX512 AVX512 __attribute__((always_inline)) static inline
/* the add's 64-lane narrowing (byte packs and clamps): the avx512vnni table's CPUs have AVX-512BW (select.c) */
#define AVX512BW __attribute__((target("avx512f,avx512bw")))
#define INLINE_AVX512BW AVX512BW __attribute__((always_inline)) static inline

#define ADD_LEFT_SHIFT 20

/* The four 16-lane blocks of a 64-byte add run unrolled: as a loop, gcc kept each block's result in memory
 * (2.2 -> 2.4 G values/s, AVX-512, microbenchmark). */
#if defined(__clang__)
#define ADD_UNROLL_4 _Pragma("clang loop unroll(full)")
#else
#define ADD_UNROLL_4 _Pragma("GCC unroll 4")
#endif

/* One operand's rescaled value when it is broadcast along the run (step 0): computed once. */
static int32_t add_scalar_operand(uint8_t byte, int is_signed, int32_t offset, int32_t mult, int32_t rshift)
{
    int32_t q = is_signed ? (int8_t)byte : byte;
    return detc_rdbpot(detc_srdhm((q + offset) * (1 << ADD_LEFT_SHIFT), mult), rshift);
}

/* The add's cheaper exact forms, used when every |offset| <= 255, so |q + offset| <= 510 < 2^9 (ops/add.c's
 * offsets are minus a zero point of the dtype: always):
 *  - an operand with multiplier 2^30 and shift 0 (the one with the larger scale: its real multiplier is
 *    exactly 1/2) is v << 19: SRDHM(v * 2^20, 2^30) = floor((v * 2^50 + 2^30) / 2^31) = v * 2^19.
 *  - any other operand: with m = mh * 2^11 + ml (ml < 2^11), SRDHM(v * 2^20, m) = floor((v*mh*2^31 + v*ml*2^20
 *    + 2^30) / 2^31) = v*mh + ((v*ml + 2^10) >> 11), where |v*mh| < 2^29 and |v*ml| < 2^20: two 32-bit
 *    multiplies instead of four 64-bit ones.
 *  - RDBPOT(x, e) = (x + 2^(e-1) - [x < 0]) >> e for e >= 1 (half up for x >= 0, half down below: gemmlowp's
 *    threshold), x itself for e = 0; here |x| < 2^30, so the sum cannot overflow. [x < 0] is the logical shift
 *    x >> 31, and x >> 32 (a shift count above 31 gives 0) for e = 0.
 * Every rescaled operand is below 2^29 in magnitude, their sum below 2^30: the output's SRDHM keeps the 64-bit
 * products (rq8_apply and rq16_apply), its RDBPOT is the shift form. */
enum { OP_FULL = 0, OP_LIN = 1, OP_SPLIT = 2 };

/* the operand modes of both operands, and the sign and sub flags, as constants of one instantiation */
#define ADD_MODES(BODY, S, SUB)                                                                                  \
    switch (modes) {                                                                                           \
    case OP_LIN * 3 + OP_SPLIT:                                                                                \
        BODY(&k, n, a, a_step, b, b_step, out, S, SUB, OP_LIN, OP_SPLIT);                                      \
        break;                                                                                                 \
    case OP_SPLIT * 3 + OP_LIN:                                                                                \
        BODY(&k, n, a, a_step, b, b_step, out, S, SUB, OP_SPLIT, OP_LIN);                                      \
        break;                                                                                                 \
    case OP_LIN * 3 + OP_LIN:                                                                                  \
        BODY(&k, n, a, a_step, b, b_step, out, S, SUB, OP_LIN, OP_LIN);                                        \
        break;                                                                                                 \
    case OP_SPLIT * 3 + OP_SPLIT:                                                                              \
        BODY(&k, n, a, a_step, b, b_step, out, S, SUB, OP_SPLIT, OP_SPLIT);                                    \
        break;                                                                                                 \
    default:                                                                                                   \
        BODY(&k, n, a, a_step, b, b_step, out, S, SUB, OP_FULL, OP_FULL);                                      \
    }
#define ADD_DISPATCH(BODY)                                                                                       \
    if (prm->is_signed) {                                                                                      \
        if (prm->sub) {                                                                                        \
            ADD_MODES(BODY, 1, 1)                                                                              \
        } else {                                                                                               \
            ADD_MODES(BODY, 1, 0)                                                                              \
        }                                                                                                      \
    } else {                                                                                                   \
        if (prm->sub) {                                                                                        \
            ADD_MODES(BODY, 0, 1)                                                                              \
        } else {                                                                                               \
            ADD_MODES(BODY, 0, 0)                                                                              \
        }                                                                                                      \
    }

/* the mode of each operand (OP_FULL for both unless both offsets allow the exact 32-bit forms) */
static int add_modes(const detc_add_q8_params *prm)
{
    if (prm->a_offset < -255 || prm->a_offset > 255 || prm->b_offset < -255 || prm->b_offset > 255)
        return OP_FULL * 3 + OP_FULL;
    int am = prm->a_mult == (1 << 30) && prm->a_rshift == 0 ? OP_LIN : OP_SPLIT;
    int bm = prm->b_mult == (1 << 30) && prm->b_rshift == 0 ? OP_LIN : OP_SPLIT;
    return am * 3 + bm;
}

/* ---------------- AVX2 ---------------- */

/* RDBPOT(SRDHM(x, mult), rshift) constants for 8 lanes, one multiplier and shift for all. */
typedef struct {
    __m256i mult, rmask, rthr;
    __m128i rsh;
} rq8;

INLINE_AVX2 rq8 rq8_make(int32_t mult, int32_t rshift)
{
    int32_t mask = (int32_t)((1LL << rshift) - 1);
    rq8 r = {_mm256_set1_epi32(mult), _mm256_set1_epi32(mask), _mm256_set1_epi32(mask >> 1), _mm_cvtsi32_si128(rshift)};
    return r;
}

/* SRDHM is floor((x*m + 2^30) / 2^31) for m >= 0 (see x86.c's dw_requant8): 64-bit products on even and odd
 * lanes, bits 31..62 kept. RDBPOT as quant.h: (x >> e) + ((x & mask) > (mask >> 1) + (x < 0)). */
INLINE_AVX2 __m256i rq8_apply(__m256i x, const rq8 *r)
{
    const __m256i nudge = _mm256_set1_epi64x(1LL << 30);
    __m256i pe = _mm256_add_epi64(_mm256_mul_epi32(x, r->mult), nudge);
    __m256i po = _mm256_add_epi64(_mm256_mul_epi32(_mm256_srli_epi64(x, 32), r->mult), nudge);
    __m256i h = _mm256_blend_epi32(_mm256_srli_epi64(pe, 31), _mm256_slli_epi64(po, 1), 0xAA);
    __m256i rem = _mm256_and_si256(h, r->rmask);
    __m256i thr = _mm256_sub_epi32(r->rthr, _mm256_srai_epi32(h, 31));
    return _mm256_sub_epi32(_mm256_sra_epi32(h, r->rsh), _mm256_cmpgt_epi32(rem, thr));
}

INLINE_AVX2 __m256i widen8_avx2(const uint8_t *p, int is_signed)
{
    __m128i v = _mm_loadl_epi64((const __m128i *)p);
    return is_signed ? _mm256_cvtepi8_epi32(v) : _mm256_cvtepu8_epi32(v);
}

typedef struct {
    __m256i half, mh, ml;
    __m128i sgn, rsh;
} rdb8;

INLINE_AVX2 rdb8 rdb8_make(int32_t mult, int32_t rshift)
{
    rdb8 r = {_mm256_set1_epi32(rshift ? (int32_t)(1u << (rshift - 1)) : 0), _mm256_set1_epi32(mult >> 11),
              _mm256_set1_epi32(mult & 2047), _mm_cvtsi32_si128(rshift ? 31 : 32), _mm_cvtsi32_si128(rshift)};
    return r;
}

/* RDBPOT's shift form (above) */
INLINE_AVX2 __m256i rdb8_apply(__m256i x, const rdb8 *r)
{
    __m256i t = _mm256_sub_epi32(_mm256_add_epi32(x, r->half), _mm256_srl_epi32(x, r->sgn));
    return _mm256_sra_epi32(t, r->rsh);
}

typedef struct {
    rq8 ra, rb, ro;
    rdb8 sa, sb, so;
    __m256i a_off, b_off, zp, lo, hi;
    __m256i a_const, b_const; /* the rescaled value of a broadcast operand */
} add_avx2_k;

/* 8 lanes: the operand's rescaled value, from bytes at p (or the broadcast constant), in the given mode */
INLINE_AVX2 __m256i add_operand8(const uint8_t *p, int step, int is_signed, __m256i off, const rq8 *r, const rdb8 *sr,
                                 __m256i cst, int mode)
{
    if (!step)
        return cst;
    __m256i v = _mm256_add_epi32(widen8_avx2(p, is_signed), off);
    if (mode == OP_LIN)
        return _mm256_slli_epi32(v, ADD_LEFT_SHIFT - 1);
    if (mode == OP_SPLIT) {
        __m256i lo = _mm256_add_epi32(_mm256_mullo_epi32(v, sr->ml), _mm256_set1_epi32(1 << 10));
        __m256i h = _mm256_add_epi32(_mm256_mullo_epi32(v, sr->mh), _mm256_srai_epi32(lo, 11));
        return rdb8_apply(h, sr);
    }
    return rq8_apply(_mm256_slli_epi32(v, ADD_LEFT_SHIFT), r);
}

INLINE_AVX2 __m256i add_block8(const add_avx2_k *k, const uint8_t *a, int as, const uint8_t *b, int bs, int is_signed,
                               int sub, int amode, int bmode)
{
    __m256i x = add_operand8(a, as, is_signed, k->a_off, &k->ra, &k->sa, k->a_const, amode);
    __m256i y = add_operand8(b, bs, is_signed, k->b_off, &k->rb, &k->sb, k->b_const, bmode);
    __m256i s = sub ? _mm256_sub_epi32(x, y) : _mm256_add_epi32(x, y);
    __m256i v;
    if (amode == OP_FULL) {
        v = rq8_apply(s, &k->ro);
    } else { /* rq8_apply's SRDHM, then the shift-form RDBPOT */
        const __m256i nudge = _mm256_set1_epi64x(1LL << 30);
        __m256i pe = _mm256_add_epi64(_mm256_mul_epi32(s, k->ro.mult), nudge);
        __m256i po = _mm256_add_epi64(_mm256_mul_epi32(_mm256_srli_epi64(s, 32), k->ro.mult), nudge);
        __m256i h = _mm256_blend_epi32(_mm256_srli_epi64(pe, 31), _mm256_slli_epi64(po, 1), 0xAA);
        v = rdb8_apply(h, &k->so);
    }
    v = _mm256_add_epi32(v, k->zp);
    return _mm256_min_epi32(_mm256_max_epi32(v, k->lo), k->hi);
}

/* 16 results (clamped to the byte range of the dtype) to 16 bytes */
INLINE_AVX2 __m128i pack16_avx2(__m256i v0, __m256i v1, int is_signed)
{
    __m256i v = _mm256_permute4x64_epi64(_mm256_packs_epi32(v0, v1), 0xD8);
    __m128i lo = _mm256_castsi256_si128(v), hi = _mm256_extracti128_si256(v, 1);
    return is_signed ? _mm_packs_epi16(lo, hi) : _mm_packus_epi16(lo, hi);
}

INLINE_AVX2 void add_q8_avx2_body(const add_avx2_k *k, size_t n, const uint8_t *a, int as, const uint8_t *b, int bs,
                                  uint8_t *out, int is_signed, int sub, int amode, int bmode)
{
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m256i v0 = add_block8(k, a + i * (size_t)as, as, b + i * (size_t)bs, bs, is_signed, sub, amode, bmode);
        __m256i v1 = add_block8(k, a + (i + 8) * (size_t)as, as, b + (i + 8) * (size_t)bs, bs, is_signed, sub, amode,
                                bmode);
        _mm_storeu_si128((__m128i *)(out + i), pack16_avx2(v0, v1, is_signed));
    }
    if (i < n) { /* the tail through a 16-byte copy: no read past the operands */
        uint8_t ta[16] = {0}, tb[16] = {0}, to[16];
        size_t r = n - i;
        memcpy(ta, a + i * (size_t)as, as ? r : 1);
        memcpy(tb, b + i * (size_t)bs, bs ? r : 1);
        __m256i v0 = add_block8(k, ta, as, tb, bs, is_signed, sub, amode, bmode);
        __m256i v1 = add_block8(k, ta + 8, as, tb + 8, bs, is_signed, sub, amode, bmode);
        _mm_storeu_si128((__m128i *)to, pack16_avx2(v0, v1, is_signed));
        memcpy(out + i, to, r);
    }
}

AVX2 void detc_add_q8_avx2(const detc_add_q8_params *prm, size_t n, const uint8_t *a, int a_step, const uint8_t *b,
                           int b_step, uint8_t *out)
{
    int is_signed = prm->is_signed, modes = add_modes(prm);
    add_avx2_k k;
    k.ra = rq8_make(prm->a_mult, prm->a_rshift);
    k.rb = rq8_make(prm->b_mult, prm->b_rshift);
    k.ro = rq8_make(prm->out_mult, prm->out_rshift);
    k.sa = rdb8_make(prm->a_mult, prm->a_rshift);
    k.sb = rdb8_make(prm->b_mult, prm->b_rshift);
    k.so = rdb8_make(prm->out_mult, prm->out_rshift);
    k.a_off = _mm256_set1_epi32(prm->a_offset);
    k.b_off = _mm256_set1_epi32(prm->b_offset);
    k.zp = _mm256_set1_epi32(prm->out_zp);
    k.lo = _mm256_set1_epi32(prm->act_min);
    k.hi = _mm256_set1_epi32(prm->act_max);
    k.a_const = _mm256_set1_epi32(a_step ? 0 : add_scalar_operand(a[0], is_signed, prm->a_offset, prm->a_mult, prm->a_rshift));
    k.b_const = _mm256_set1_epi32(b_step ? 0 : add_scalar_operand(b[0], is_signed, prm->b_offset, prm->b_mult, prm->b_rshift));
    ADD_DISPATCH(add_q8_avx2_body)
}

AVX2 void detc_quantize_q8_avx2(size_t n, const float *x, float scale, int32_t zp, int is_signed, uint8_t *out)
{
    const __m256 s = _mm256_set1_ps(scale), z = _mm256_set1_ps((float)zp);
    const __m256 lo = _mm256_set1_ps(is_signed ? -128.0f : 0.0f), hi = _mm256_set1_ps(is_signed ? 127.0f : 255.0f);
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m256i v0 = detc_quantize8_avx2(_mm256_loadu_ps(x + i), s, z, lo, hi);
        __m256i v1 = detc_quantize8_avx2(_mm256_loadu_ps(x + i + 8), s, z, lo, hi);
        _mm_storeu_si128((__m128i *)(out + i), pack16_avx2(v0, v1, is_signed));
    }
    if (i < n) {
        float tx[16] = {0};
        uint8_t to[16];
        memcpy(tx, x + i, (n - i) * sizeof(float));
        __m256i v0 = detc_quantize8_avx2(_mm256_loadu_ps(tx), s, z, lo, hi);
        __m256i v1 = detc_quantize8_avx2(_mm256_loadu_ps(tx + 8), s, z, lo, hi);
        _mm_storeu_si128((__m128i *)to, pack16_avx2(v0, v1, is_signed));
        memcpy(out + i, to, n - i);
    }
}

INLINE_AVX2 void dequant8_avx2(const uint8_t *q, int is_signed, __m256i zp, __m256 scale, float *out)
{
    __m256i v = _mm256_sub_epi32(widen8_avx2(q, is_signed), zp);
    _mm256_storeu_ps(out, _mm256_mul_ps(scale, _mm256_cvtepi32_ps(v)));
}

AVX2 void detc_dequantize_q8_avx2(size_t n, const uint8_t *q, float scale, int32_t zp, int is_signed, float *out)
{
    const __m256i z = _mm256_set1_epi32(zp);
    const __m256 s = _mm256_set1_ps(scale);
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        dequant8_avx2(q + i, is_signed, z, s, out + i);
    if (i < n) {
        uint8_t tq[8] = {0};
        float to[8];
        memcpy(tq, q + i, n - i);
        dequant8_avx2(tq, is_signed, z, s, to);
        memcpy(out + i, to, (n - i) * sizeof(float));
    }
}

/* roi_sample_q8, 8 channels: each term its own multiply and the sums left to right as the portable loop (the
 * intrinsics are never contracted into fused multiply-adds). */
INLINE_AVX2 __m256 roi_dq8(const uint8_t *p, int is_signed, __m256i zp, __m256 scale)
{
    return _mm256_mul_ps(scale, _mm256_cvtepi32_ps(_mm256_sub_epi32(widen8_avx2(p, is_signed), zp)));
}

INLINE_AVX2 void roi_sample8_avx2(const uint8_t *q1, const uint8_t *q2, const uint8_t *q3, const uint8_t *q4,
                                  int is_signed, __m256i z, __m256 s, const __m256 w[4], float *o)
{
    __m256 t = _mm256_mul_ps(w[0], roi_dq8(q1, is_signed, z, s));
    t = _mm256_add_ps(t, _mm256_mul_ps(w[1], roi_dq8(q2, is_signed, z, s)));
    t = _mm256_add_ps(t, _mm256_mul_ps(w[2], roi_dq8(q3, is_signed, z, s)));
    t = _mm256_add_ps(t, _mm256_mul_ps(w[3], roi_dq8(q4, is_signed, z, s)));
    _mm256_storeu_ps(o, _mm256_add_ps(_mm256_loadu_ps(o), t));
}

INLINE_AVX2 void roi_sample_avx2_body(int C, const uint8_t *q1, const uint8_t *q2, const uint8_t *q3,
                                      const uint8_t *q4, int is_signed, float scale, int32_t zp, const float w[4],
                                      float *o)
{
    const __m256i z = _mm256_set1_epi32(zp);
    const __m256 s = _mm256_set1_ps(scale);
    const __m256 wv[4] = {_mm256_set1_ps(w[0]), _mm256_set1_ps(w[1]), _mm256_set1_ps(w[2]), _mm256_set1_ps(w[3])};
    int c = 0;
    for (; c + 8 <= C; c += 8)
        roi_sample8_avx2(q1 + c, q2 + c, q3 + c, q4 + c, is_signed, z, s, wv, o + c);
    if (c < C) { /* the tail through 8-lane copies: no access past the channels */
        uint8_t t[4][8] = {{0}};
        float to[8];
        size_t r = (size_t)(C - c);
        memcpy(t[0], q1 + c, r);
        memcpy(t[1], q2 + c, r);
        memcpy(t[2], q3 + c, r);
        memcpy(t[3], q4 + c, r);
        memcpy(to, o + c, r * sizeof(float));
        roi_sample8_avx2(t[0], t[1], t[2], t[3], is_signed, z, s, wv, to);
        memcpy(o + c, to, r * sizeof(float));
    }
}

AVX2 void detc_roi_sample_q8_avx2(int C, const uint8_t *q1, const uint8_t *q2, const uint8_t *q3, const uint8_t *q4,
                                  int is_signed, float scale, int32_t zp, const float w[4], float *o)
{
    if (is_signed)
        roi_sample_avx2_body(C, q1, q2, q3, q4, 1, scale, zp, w, o);
    else
        roi_sample_avx2_body(C, q1, q2, q3, q4, 0, scale, zp, w, o);
}

/* roi_sample_f32, 8 channels */
INLINE_AVX2 void roi_sample8_f32_avx2(const float *p1, const float *p2, const float *p3, const float *p4,
                                      const __m256 w[4], float *o)
{
    __m256 t = _mm256_mul_ps(w[0], _mm256_loadu_ps(p1));
    t = _mm256_add_ps(t, _mm256_mul_ps(w[1], _mm256_loadu_ps(p2)));
    t = _mm256_add_ps(t, _mm256_mul_ps(w[2], _mm256_loadu_ps(p3)));
    t = _mm256_add_ps(t, _mm256_mul_ps(w[3], _mm256_loadu_ps(p4)));
    _mm256_storeu_ps(o, _mm256_add_ps(_mm256_loadu_ps(o), t));
}

AVX2 void detc_roi_sample_f32_avx2(int C, const float *p1, const float *p2, const float *p3, const float *p4,
                                   const float w[4], float *o)
{
    const __m256 wv[4] = {_mm256_set1_ps(w[0]), _mm256_set1_ps(w[1]), _mm256_set1_ps(w[2]), _mm256_set1_ps(w[3])};
    int c = 0;
    for (; c + 8 <= C; c += 8)
        roi_sample8_f32_avx2(p1 + c, p2 + c, p3 + c, p4 + c, wv, o + c);
    if (c < C) {
        float t[5][8] = {{0}};
        size_t r = (size_t)(C - c) * sizeof(float);
        memcpy(t[0], p1 + c, r);
        memcpy(t[1], p2 + c, r);
        memcpy(t[2], p3 + c, r);
        memcpy(t[3], p4 + c, r);
        memcpy(t[4], o + c, r);
        roi_sample8_f32_avx2(t[0], t[1], t[2], t[3], wv, t[4]);
        memcpy(o + c, t[4], r);
    }
}

/* ---------------- AVX-512F ---------------- */

typedef struct {
    __m512i mult, rmask, rthr;
    __m128i rsh;
} rq16;

INLINE_AVX512 rq16 rq16_make(int32_t mult, int32_t rshift)
{
    int32_t mask = (int32_t)((1LL << rshift) - 1);
    rq16 r = {_mm512_set1_epi32(mult), _mm512_set1_epi32(mask), _mm512_set1_epi32(mask >> 1), _mm_cvtsi32_si128(rshift)};
    return r;
}

/* rq8_apply on 16 lanes */
INLINE_AVX512 __m512i rq16_apply(__m512i x, const rq16 *r)
{
    const __m512i nudge = _mm512_set1_epi64(1LL << 30);
    __m512i pe = _mm512_add_epi64(_mm512_mul_epi32(x, r->mult), nudge);
    __m512i po = _mm512_add_epi64(_mm512_mul_epi32(_mm512_srli_epi64(x, 32), r->mult), nudge);
    __m512i h = _mm512_mask_blend_epi32(0xAAAA, _mm512_srli_epi64(pe, 31), _mm512_slli_epi64(po, 1));
    __m512i rem = _mm512_and_si512(h, r->rmask);
    __m512i thr = _mm512_sub_epi32(r->rthr, _mm512_srai_epi32(h, 31));
    __m512i v = _mm512_sra_epi32(h, r->rsh);
    return _mm512_mask_add_epi32(v, _mm512_cmpgt_epi32_mask(rem, thr), v, _mm512_set1_epi32(1));
}

INLINE_AVX512 __m512i widen16_avx512(const uint8_t *p, int is_signed)
{
    __m128i v = _mm_loadu_si128((const __m128i *)p);
    return is_signed ? _mm512_cvtepi8_epi32(v) : _mm512_cvtepu8_epi32(v);
}

typedef struct {
    __m512i half, mh, ml;
    __m128i sgn, rsh;
} rdb16;

INLINE_AVX512 rdb16 rdb16_make(int32_t mult, int32_t rshift)
{
    rdb16 r = {_mm512_set1_epi32(rshift ? (int32_t)(1u << (rshift - 1)) : 0), _mm512_set1_epi32(mult >> 11),
               _mm512_set1_epi32(mult & 2047), _mm_cvtsi32_si128(rshift ? 31 : 32), _mm_cvtsi32_si128(rshift)};
    return r;
}

INLINE_AVX512 __m512i rdb16_apply(__m512i x, const rdb16 *r)
{
    __m512i t = _mm512_sub_epi32(_mm512_add_epi32(x, r->half), _mm512_srl_epi32(x, r->sgn));
    return _mm512_sra_epi32(t, r->rsh);
}

typedef struct {
    rq16 ra, rb, ro;
    rdb16 sa, sb, so;
    __m512i a_off, b_off, zp, lo, hi, a_const, b_const;
    __m512i lo8, hi8; /* the activation range as bytes */
} add_avx512_k;

INLINE_AVX512 __m512i add_operand16(const uint8_t *p, int step, int is_signed, __m512i off, const rq16 *r,
                                    const rdb16 *sr, __m512i cst, int mode)
{
    if (!step)
        return cst;
    __m512i v = _mm512_add_epi32(widen16_avx512(p, is_signed), off);
    if (mode == OP_LIN)
        return _mm512_slli_epi32(v, ADD_LEFT_SHIFT - 1);
    if (mode == OP_SPLIT) {
        __m512i lo = _mm512_add_epi32(_mm512_mullo_epi32(v, sr->ml), _mm512_set1_epi32(1 << 10));
        __m512i h = _mm512_add_epi32(_mm512_mullo_epi32(v, sr->mh), _mm512_srai_epi32(lo, 11));
        return rdb16_apply(h, sr);
    }
    return rq16_apply(_mm512_slli_epi32(v, ADD_LEFT_SHIFT), r);
}

/* 16 results as 16 bytes (clamped to the dtype's range, so the truncating narrowing keeps them) */
/* 16 results plus the output zero point, not yet clamped */
INLINE_AVX512 __m512i add_sum16(const add_avx512_k *k, const uint8_t *a, int as, const uint8_t *b, int bs,
                                int is_signed, int sub, int amode, int bmode)
{
    __m512i x = add_operand16(a, as, is_signed, k->a_off, &k->ra, &k->sa, k->a_const, amode);
    __m512i y = add_operand16(b, bs, is_signed, k->b_off, &k->rb, &k->sb, k->b_const, bmode);
    __m512i s = sub ? _mm512_sub_epi32(x, y) : _mm512_add_epi32(x, y);
    __m512i v;
    if (amode == OP_FULL) {
        v = rq16_apply(s, &k->ro);
    } else { /* rq16_apply's SRDHM, then the shift-form RDBPOT */
        const __m512i nudge = _mm512_set1_epi64(1LL << 30);
        __m512i pe = _mm512_add_epi64(_mm512_mul_epi32(s, k->ro.mult), nudge);
        __m512i po = _mm512_add_epi64(_mm512_mul_epi32(_mm512_srli_epi64(s, 32), k->ro.mult), nudge);
        __m512i h = _mm512_mask_blend_epi32(0xAAAA, _mm512_srli_epi64(pe, 31), _mm512_slli_epi64(po, 1));
        v = rdb16_apply(h, &k->so);
    }
    return _mm512_add_epi32(v, k->zp);
}

/* 16 results as 16 bytes (clamped to the activation range, inside the dtype's: the truncating narrowing keeps
 * them) */
INLINE_AVX512 __m128i add_block16(const add_avx512_k *k, const uint8_t *a, int as, const uint8_t *b, int bs,
                                  int is_signed, int sub, int amode, int bmode)
{
    __m512i v = add_sum16(k, a, as, b, bs, is_signed, sub, amode, bmode);
    return _mm512_cvtepi32_epi8(_mm512_min_epi32(_mm512_max_epi32(v, k->lo), k->hi));
}

/* 64 results as 64 bytes: saturating packs to 16 and 8 bits (u8 or i8), one permute back to lane order (the
 * packs interleave the four blocks per 128-bit lane), then the activation clamp on bytes. Saturation to the
 * dtype's range then the clamp to the activation range inside it equals the clamp alone. */
INLINE_AVX512BW __m512i add_block64(const add_avx512_k *k, const uint8_t *a, int as, const uint8_t *b, int bs,
                                    int is_signed, int sub, int amode, int bmode)
{
    const __m512i order = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
    __m512i v[4];
    ADD_UNROLL_4
    for (int q = 0; q < 4; q++)
        v[q] = add_sum16(k, a + (size_t)(16 * q) * (size_t)as, as, b + (size_t)(16 * q) * (size_t)bs, bs, is_signed,
                         sub, amode, bmode);
    __m512i w01 = _mm512_packs_epi32(v[0], v[1]), w23 = _mm512_packs_epi32(v[2], v[3]);
    __m512i r = _mm512_permutexvar_epi32(order, is_signed ? _mm512_packs_epi16(w01, w23) : _mm512_packus_epi16(w01, w23));
    if (is_signed)
        return _mm512_min_epi8(_mm512_max_epi8(r, k->lo8), k->hi8);
    return _mm512_min_epu8(_mm512_max_epu8(r, k->lo8), k->hi8);
}

INLINE_AVX512BW void add_q8_avx512_body(const add_avx512_k *k, size_t n, const uint8_t *a, int as, const uint8_t *b,
                                        int bs, uint8_t *out, int is_signed, int sub, int amode, int bmode)
{
    size_t i = 0;
    for (; i + 64 <= n; i += 64)
        _mm512_storeu_si512((void *)(out + i),
                            add_block64(k, a + i * (size_t)as, as, b + i * (size_t)bs, bs, is_signed, sub, amode, bmode));
    for (; i + 16 <= n; i += 16)
        _mm_storeu_si128((__m128i *)(out + i),
                         add_block16(k, a + i * (size_t)as, as, b + i * (size_t)bs, bs, is_signed, sub, amode, bmode));
    if (i < n) {
        uint8_t ta[16] = {0}, tb[16] = {0}, to[16];
        size_t r = n - i;
        memcpy(ta, a + i * (size_t)as, as ? r : 1);
        memcpy(tb, b + i * (size_t)bs, bs ? r : 1);
        _mm_storeu_si128((__m128i *)to, add_block16(k, ta, as, tb, bs, is_signed, sub, amode, bmode));
        memcpy(out + i, to, r);
    }
}

AVX512BW void detc_add_q8_avx512(const detc_add_q8_params *prm, size_t n, const uint8_t *a, int a_step, const uint8_t *b,
                               int b_step, uint8_t *out)
{
    int is_signed = prm->is_signed, modes = add_modes(prm);
    add_avx512_k k;
    k.ra = rq16_make(prm->a_mult, prm->a_rshift);
    k.rb = rq16_make(prm->b_mult, prm->b_rshift);
    k.ro = rq16_make(prm->out_mult, prm->out_rshift);
    k.sa = rdb16_make(prm->a_mult, prm->a_rshift);
    k.sb = rdb16_make(prm->b_mult, prm->b_rshift);
    k.so = rdb16_make(prm->out_mult, prm->out_rshift);
    k.a_off = _mm512_set1_epi32(prm->a_offset);
    k.b_off = _mm512_set1_epi32(prm->b_offset);
    k.zp = _mm512_set1_epi32(prm->out_zp);
    k.lo = _mm512_set1_epi32(prm->act_min);
    k.hi = _mm512_set1_epi32(prm->act_max);
    k.lo8 = _mm512_set1_epi8((char)prm->act_min);
    k.hi8 = _mm512_set1_epi8((char)prm->act_max);
    k.a_const = _mm512_set1_epi32(a_step ? 0 : add_scalar_operand(a[0], is_signed, prm->a_offset, prm->a_mult, prm->a_rshift));
    k.b_const = _mm512_set1_epi32(b_step ? 0 : add_scalar_operand(b[0], is_signed, prm->b_offset, prm->b_mult, prm->b_rshift));
    ADD_DISPATCH(add_q8_avx512_body)
}

AVX512 void detc_quantize_q8_avx512(size_t n, const float *x, float scale, int32_t zp, int is_signed, uint8_t *out)
{
    const __m512 s = _mm512_set1_ps(scale), z = _mm512_set1_ps((float)zp);
    const __m512 lo = _mm512_set1_ps(is_signed ? -128.0f : 0.0f), hi = _mm512_set1_ps(is_signed ? 127.0f : 255.0f);
    size_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm_storeu_si128((__m128i *)(out + i),
                         _mm512_cvtepi32_epi8(detc_quantize16_avx512(_mm512_loadu_ps(x + i), s, z, lo, hi)));
    if (i < n) {
        __mmask16 m = (__mmask16)((1u << (n - i)) - 1);
        _mm512_mask_cvtepi32_storeu_epi8(out + i, m,
                                         detc_quantize16_avx512(_mm512_maskz_loadu_ps(m, x + i), s, z, lo, hi));
    }
}

AVX512 void detc_dequantize_q8_avx512(size_t n, const uint8_t *q, float scale, int32_t zp, int is_signed, float *out)
{
    const __m512i z = _mm512_set1_epi32(zp);
    const __m512 s = _mm512_set1_ps(scale);
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512i v = _mm512_sub_epi32(widen16_avx512(q + i, is_signed), z);
        _mm512_storeu_ps(out + i, _mm512_mul_ps(s, _mm512_cvtepi32_ps(v)));
    }
    if (i < n) {
        uint8_t tq[16] = {0};
        memcpy(tq, q + i, n - i);
        __m512i v = _mm512_sub_epi32(widen16_avx512(tq, is_signed), z);
        _mm512_mask_storeu_ps(out + i, (__mmask16)((1u << (n - i)) - 1), _mm512_mul_ps(s, _mm512_cvtepi32_ps(v)));
    }
}

/* roi_sample8_avx2 on 16 channels */
INLINE_AVX512 __m512 roi_dq16(const uint8_t *p, int is_signed, __m512i zp, __m512 scale)
{
    return _mm512_mul_ps(scale, _mm512_cvtepi32_ps(_mm512_sub_epi32(widen16_avx512(p, is_signed), zp)));
}

INLINE_AVX512 void roi_sample16_avx512(const uint8_t *q1, const uint8_t *q2, const uint8_t *q3, const uint8_t *q4,
                                       int is_signed, __m512i z, __m512 s, const __m512 w[4], float *o)
{
    __m512 t = _mm512_mul_ps(w[0], roi_dq16(q1, is_signed, z, s));
    t = _mm512_add_ps(t, _mm512_mul_ps(w[1], roi_dq16(q2, is_signed, z, s)));
    t = _mm512_add_ps(t, _mm512_mul_ps(w[2], roi_dq16(q3, is_signed, z, s)));
    t = _mm512_add_ps(t, _mm512_mul_ps(w[3], roi_dq16(q4, is_signed, z, s)));
    _mm512_storeu_ps(o, _mm512_add_ps(_mm512_loadu_ps(o), t));
}

INLINE_AVX512 void roi_sample_avx512_body(int C, const uint8_t *q1, const uint8_t *q2, const uint8_t *q3,
                                          const uint8_t *q4, int is_signed, float scale, int32_t zp,
                                          const float w[4], float *o)
{
    const __m512i z = _mm512_set1_epi32(zp);
    const __m512 s = _mm512_set1_ps(scale);
    const __m512 wv[4] = {_mm512_set1_ps(w[0]), _mm512_set1_ps(w[1]), _mm512_set1_ps(w[2]), _mm512_set1_ps(w[3])};
    int c = 0;
    for (; c + 16 <= C; c += 16)
        roi_sample16_avx512(q1 + c, q2 + c, q3 + c, q4 + c, is_signed, z, s, wv, o + c);
    if (c < C) {
        uint8_t t[4][16] = {{0}};
        float to[16];
        size_t r = (size_t)(C - c);
        memcpy(t[0], q1 + c, r);
        memcpy(t[1], q2 + c, r);
        memcpy(t[2], q3 + c, r);
        memcpy(t[3], q4 + c, r);
        memcpy(to, o + c, r * sizeof(float));
        roi_sample16_avx512(t[0], t[1], t[2], t[3], is_signed, z, s, wv, to);
        memcpy(o + c, to, r * sizeof(float));
    }
}

/* roi_sample_f32, 16 channels; the tail masked */
INLINE_AVX512 void roi_sample16_f32_avx512(const float *p1, const float *p2, const float *p3, const float *p4,
                                           const __m512 w[4], float *o, __mmask16 m)
{
    __m512 t = _mm512_mul_ps(w[0], _mm512_maskz_loadu_ps(m, p1));
    t = _mm512_add_ps(t, _mm512_mul_ps(w[1], _mm512_maskz_loadu_ps(m, p2)));
    t = _mm512_add_ps(t, _mm512_mul_ps(w[2], _mm512_maskz_loadu_ps(m, p3)));
    t = _mm512_add_ps(t, _mm512_mul_ps(w[3], _mm512_maskz_loadu_ps(m, p4)));
    _mm512_mask_storeu_ps(o, m, _mm512_add_ps(_mm512_maskz_loadu_ps(m, o), t));
}

AVX512 void detc_roi_sample_f32_avx512(int C, const float *p1, const float *p2, const float *p3, const float *p4,
                                       const float w[4], float *o)
{
    const __m512 wv[4] = {_mm512_set1_ps(w[0]), _mm512_set1_ps(w[1]), _mm512_set1_ps(w[2]), _mm512_set1_ps(w[3])};
    int c = 0;
    for (; c + 16 <= C; c += 16)
        roi_sample16_f32_avx512(p1 + c, p2 + c, p3 + c, p4 + c, wv, o + c, 0xFFFF);
    if (c < C)
        roi_sample16_f32_avx512(p1 + c, p2 + c, p3 + c, p4 + c, wv, o + c, (__mmask16)((1u << (C - c)) - 1));
}

AVX512 void detc_roi_sample_q8_avx512(int C, const uint8_t *q1, const uint8_t *q2, const uint8_t *q3,
                                      const uint8_t *q4, int is_signed, float scale, int32_t zp, const float w[4],
                                      float *o)
{
    if (is_signed)
        roi_sample_avx512_body(C, q1, q2, q3, q4, 1, scale, zp, w, o);
    else
        roi_sample_avx512_body(C, q1, q2, q3, q4, 0, scale, zp, w, o);
}

#endif

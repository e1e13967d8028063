/* AVX-512 pieces of the quantized kernels shared by x86.c (VNNI) and amx.c (AMX conv_q8).
 *
 * detc_requant_gemmlowp16: TFLite's MultiplyByQuantizedMultiplier with gemmlowp's two roundings on 16
 * int32 lanes. SaturatingRoundingDoublingHighMul is
 * floor((a*m + 2^30) / 2^31) for every a when m > 0 (its nudge 1 - 2^30 for a negative product, with C's
 * truncating division, lands on the same integer; the saturating case a = m = INT32_MIN cannot occur),
 * the 64-bit products formed on even and odd lanes and bits 31..62 kept; then RoundingDivideByPOT as
 * (x >> e) + ((x & mask) > (mask >> 1) + (x < 0)), with rmask = 2^e - 1 and rthr = rmask >> 1.
 * Without the output zero point and the clamp: the callers add and clamp in their own order. */
#ifndef DETC_Q8_AVX512_H
#define DETC_Q8_AVX512_H

#include <immintrin.h>
#include <stdint.h>

__attribute__((always_inline, target("avx512f"))) static inline __m512i
detc_requant_gemmlowp16(__m512i acc, __m512i mult, __m512i mult_odd, __m512i lsh, __m512i rsh, __m512i rmask,
                        __m512i rthr)
{
    const __m512i nudge = _mm512_set1_epi64(1LL << 30);
    __m512i a = _mm512_sllv_epi32(acc, lsh);
    __m512i pe = _mm512_add_epi64(_mm512_mul_epi32(a, mult), nudge);
    __m512i po = _mm512_add_epi64(_mm512_mul_epi32(_mm512_srli_epi64(a, 32), mult_odd), nudge);
    __m512i h = _mm512_mask_blend_epi32(0xAAAA, _mm512_srli_epi64(pe, 31), _mm512_slli_epi64(po, 1));
    __m512i rem = _mm512_and_si512(h, rmask);
    __m512i thr = _mm512_sub_epi32(rthr, _mm512_srai_epi32(h, 31));
    __m512i v = _mm512_srav_epi32(h, rsh);
    return _mm512_mask_add_epi32(v, _mm512_cmpgt_epi32_mask(rem, thr), v, _mm512_set1_epi32(1));
}

/* The same requantization in one 64-bit rounding per lane, for kernels that requantize many vectors with
 * one set of constants. With a = acc << lsh, P = a*m and e = rshift, gemmlowp gives
 * RDBPOT(h, e) with h = floor((P + 2^30) / 2^31); for e >= 1 RDBPOT(h, e) is floor((h + 2^(e-1) - [h < 0]) / 2^e),
 * and floor(floor(X / 2^31) + n) / 2^e) = floor((X + n*2^31) / 2^(31+e)) for an integer n, so
 *   result = (P + 2^30 + 2^(30+e) - [P < -2^30] * 2^31) >> (31 + e)     (e = 0: (P + 2^30) >> 31)
 * in int64 (|P| <= 2^62, so no overflow), exact for every int32 a. h < 0 is P + 2^30 < 0. Without the
 * [h < 0] term (fix = 0) a negative h gives floor((h + 2^(e-1)) / 2^e) <= 0 instead of the true value,
 * also <= 0: callers whose lower clamp (act_min - out_zp) is >= 0 clamp both to the same byte.
 * The left shift is applied only with fix = 2: a lane's lsh is almost always 0, and a run-time test per
 * vector had kept the shifts in a register and a branch in every requantization. */
typedef struct {
    __m512i mult, mult_odd, lsh, nud_e, nud_o, sh_e, sh_o, cor_e, cor_o;
} detc_rq64;

/* From the lanes' multipliers and shifts. */
__attribute__((always_inline, target("avx512f"))) static inline detc_rq64 detc_rq64_from(__m512i mult, __m512i lsh,
                                                                                          __m512i e)
{
    detc_rq64 r;
    const __m512i z = _mm512_setzero_si512(), b30 = _mm512_set1_epi64(1LL << 30);
    r.mult = mult;
    r.mult_odd = _mm512_srli_epi64(r.mult, 32);
    r.lsh = lsh;
    const __m512i ee = _mm512_and_si512(e, _mm512_set1_epi64(0xFFFFFFFFLL)), eo = _mm512_srli_epi64(e, 32);
    const __mmask8 pe = _mm512_cmpneq_epi64_mask(ee, z), po = _mm512_cmpneq_epi64_mask(eo, z);
    r.nud_e = _mm512_add_epi64(b30, _mm512_maskz_mov_epi64(pe, _mm512_sllv_epi64(b30, ee)));
    r.nud_o = _mm512_add_epi64(b30, _mm512_maskz_mov_epi64(po, _mm512_sllv_epi64(b30, eo)));
    r.sh_e = _mm512_add_epi64(ee, _mm512_set1_epi64(31));
    r.sh_o = _mm512_add_epi64(eo, _mm512_set1_epi64(31));
    r.cor_e = _mm512_maskz_mov_epi64(pe, _mm512_set1_epi64(1LL << 31));
    r.cor_o = _mm512_maskz_mov_epi64(po, _mm512_set1_epi64(1LL << 31));
    return r;
}

/* From 16 channels' arrays (lanes outside mk: multiplier and shifts 0). */
__attribute__((always_inline, target("avx512f"))) static inline detc_rq64
detc_rq64_load(const int32_t *mult, const int32_t *lshift, const int32_t *rshift, __mmask16 mk)
{
    return detc_rq64_from(_mm512_maskz_loadu_epi32(mk, mult), _mm512_maskz_loadu_epi32(mk, lshift),
                          _mm512_maskz_loadu_epi32(mk, rshift));
}

/* The output zero point added inside the rounding: floor((X + zp * 2^(31+e)) / 2^(31+e)) = floor(X / 2^(31+e)) + zp
 * exactly, one add fewer per vector. In int64 while e <= 22 (|P| <= 2^62, zp * 2^53 <= 2^61 for |zp| < 256). */
__attribute__((always_inline, target("avx512f"))) static inline void detc_rq64_add_zp(detc_rq64 *r, int32_t zp)
{
    const __m512i z = _mm512_set1_epi64(zp);
    r->nud_e = _mm512_add_epi64(r->nud_e, _mm512_sllv_epi64(z, r->sh_e));
    r->nud_o = _mm512_add_epi64(r->nud_o, _mm512_sllv_epi64(z, r->sh_o));
}

/* Some of n channels shift left (a multiplier of 1 or more: rare in convolutions). */
__attribute__((always_inline, target("avx512f"))) static inline int detc_any_lshift(const int32_t *lshift, int n)
{
    __mmask16 any = 0;
    for (int c = 0; c < n; c += 16) {
        const __mmask16 mk = n - c >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (n - c)) - 1);
        const __m512i v = _mm512_maskz_loadu_epi32(mk, lshift + c);
        any |= _mm512_test_epi32_mask(v, v);
    }
    return any != 0;
}

/* fix: 0 without the [h < 0] term (act_min - out_zp >= 0) and without left shifts, 1 with the term, 2 with
 * the term and the left shifts. */
__attribute__((always_inline, target("avx512f"))) static inline __m512i detc_rq64_apply(__m512i acc,
                                                                                         const detc_rq64 *r, int fix)
{
    const __m512i a = fix == 2 ? _mm512_sllv_epi32(acc, r->lsh) : acc;
    const __m512i pe = _mm512_mul_epi32(a, r->mult), po = _mm512_mul_epi32(_mm512_srli_epi64(a, 32), r->mult_odd);
    __m512i ye = _mm512_add_epi64(pe, r->nud_e), yo = _mm512_add_epi64(po, r->nud_o);
    if (fix) {
        const __m512i t = _mm512_set1_epi64(-(1LL << 30));
        ye = _mm512_mask_sub_epi64(ye, _mm512_cmplt_epi64_mask(pe, t), ye, r->cor_e);
        yo = _mm512_mask_sub_epi64(yo, _mm512_cmplt_epi64_mask(po, t), yo, r->cor_o);
    }
    ye = _mm512_srav_epi64(ye, r->sh_e);
    yo = _mm512_srav_epi64(yo, r->sh_o);
    /* low dwords: lane 2i from ye, lane 2i+1 from yo */
    const __m512i idx = _mm512_setr_epi32(0, 16, 2, 18, 4, 20, 6, 22, 8, 24, 10, 26, 12, 28, 14, 30);
    return _mm512_permutex2var_epi32(ye, idx, yo);
}

/* conv_q8's round_once requantization (ruy's single rounding, detc_qmul_apply_once) on 16 int32 lanes, for
 * x86.c's VNNI and amx.c's AMX conv_q8: a = acc << lshift saturated to int32, then
 * (a * mult + 2^(30 + rshift)) >> (31 + rshift) computed whole in 64 bits, even and odd lanes apart (vpmuldq
 * reads each 64-bit lane's low half), each shifted by its own count (vpsravq). |a * mult| < 2^62 and the
 * rounding term is at most 2^61: the sum fits, and the result fits in int32. Without the output zero point
 * and the clamp. */
typedef struct {
    __m512i mult, mult_odd, lsh, rnd_e, rnd_o, sh_e, sh_o;
    int has_lsh; /* any lane shifts left */
} detc_rq_once;

/* From 16 channels' arrays (lanes outside mk: multiplier and shifts 0). */
__attribute__((always_inline, target("avx512f"))) static inline detc_rq_once
detc_rq_once_load(const int32_t *mult, const int32_t *lshift, const int32_t *rshift, __mmask16 mk)
{
    detc_rq_once r;
    r.mult = _mm512_maskz_loadu_epi32(mk, mult);
    r.mult_odd = _mm512_srli_epi64(r.mult, 32);
    r.lsh = _mm512_maskz_loadu_epi32(mk, lshift);
    r.has_lsh = _mm512_test_epi32_mask(r.lsh, r.lsh) != 0;
    const __m512i e = _mm512_maskz_loadu_epi32(mk, rshift);
    const __m512i ee = _mm512_and_si512(e, _mm512_set1_epi64(0xFFFFFFFFLL)), eo = _mm512_srli_epi64(e, 32);
    const __m512i b30 = _mm512_set1_epi64(1LL << 30), c31 = _mm512_set1_epi64(31);
    r.rnd_e = _mm512_sllv_epi64(b30, ee);
    r.rnd_o = _mm512_sllv_epi64(b30, eo);
    r.sh_e = _mm512_add_epi64(ee, c31);
    r.sh_o = _mm512_add_epi64(eo, c31);
    return r;
}

__attribute__((always_inline, target("avx512f"))) static inline __m512i detc_rq_once_apply(__m512i acc,
                                                                                           const detc_rq_once *r)
{
    __m512i a = acc;
    if (r->has_lsh) {
        a = _mm512_sllv_epi32(acc, r->lsh);
        const __m512i sat = _mm512_xor_si512(_mm512_srai_epi32(acc, 31), _mm512_set1_epi32(INT32_MAX));
        a = _mm512_mask_blend_epi32(_mm512_cmpeq_epi32_mask(_mm512_srav_epi32(a, r->lsh), acc), sat, a);
    }
    const __m512i pe = _mm512_srav_epi64(_mm512_add_epi64(_mm512_mul_epi32(a, r->mult), r->rnd_e), r->sh_e);
    const __m512i po = _mm512_srav_epi64(
        _mm512_add_epi64(_mm512_mul_epi32(_mm512_srli_epi64(a, 32), r->mult_odd), r->rnd_o), r->sh_o);
    return _mm512_mask_blend_epi32(0xAAAA, pe, _mm512_slli_epi64(po, 32));
}

/* Sum of the first k bytes (u8, or i8 when is_signed) of a row, modulo 2^32: the row sums that filter zero
 * points multiply (and the u8-as-s8 correction of x86.c's VNNI kernel). */
__attribute__((always_inline, target("avx512f,avx512bw"))) static inline uint32_t
detc_row_sum_q8(const uint8_t *a, int k, int is_signed)
{
    const __m512i flip = _mm512_set1_epi8((char)0x80), zero = _mm512_setzero_si512();
    __m512i s = zero;
    for (int q = 0; q < k; q += 64) {
        __mmask64 mask = k - q >= 64 ? ~(__mmask64)0 : (((__mmask64)1 << (k - q)) - 1);
        __m512i v = _mm512_maskz_loadu_epi8(mask, a + q);
        if (is_signed)
            v = _mm512_maskz_mov_epi8(mask, _mm512_xor_si512(v, flip)); /* a + 128 */
        s = _mm512_add_epi64(s, _mm512_sad_epu8(v, zero));
    }
    uint64_t t = (uint64_t)_mm512_reduce_add_epi64(s);
    return (uint32_t)t - (is_signed ? 128u * (uint32_t)k : 0u);
}

/* detc_row_sum_q8 of 8 rows of k bytes (lda apart; NCH = ceil(k / 64), at most 4) at once, into
 * out[0..7]: each row's vpsadbw partial sums, then one tree of adds across the 8 vectors (unpacks within
 * 128-bit lanes, then lane shuffles) in place of a horizontal reduction per row. */
__attribute__((always_inline, target("avx512f,avx512bw"))) static inline void
detc_row_sums8_q8(const uint8_t *a, long lda, int k, const int NCH, int is_signed, uint32_t *out)
{
    const __m512i flip = _mm512_set1_epi8((char)0x80), zero = _mm512_setzero_si512();
    const int last = k - 64 * (NCH - 1); /* 1..64 bytes in the last chunk */
    const __mmask64 mask = last >= 64 ? ~(__mmask64)0 : (((__mmask64)1 << last) - 1);
    __m512i s[8], u[4], w[2];
#pragma GCC unroll 8
    for (int r = 0; r < 8; r++) {
        s[r] = zero;
#pragma GCC unroll 4
        for (int q = 0; q < NCH; q++) {
            const __mmask64 mq = q == NCH - 1 ? mask : ~(__mmask64)0;
            __m512i v = _mm512_maskz_loadu_epi8(mq, a + r * lda + 64 * q);
            if (is_signed)
                v = _mm512_maskz_mov_epi8(mq, _mm512_xor_si512(v, flip)); /* a + 128 */
            s[r] = _mm512_add_epi64(s[r], _mm512_sad_epu8(v, zero));
        }
    }
#pragma GCC unroll 4
    for (int r = 0; r < 4; r++) /* 128-bit lane l: (row 2r, row 2r+1) sums of lane l */
        u[r] = _mm512_add_epi64(_mm512_unpacklo_epi64(s[2 * r], s[2 * r + 1]),
                                _mm512_unpackhi_epi64(s[2 * r], s[2 * r + 1]));
#pragma GCC unroll 2
    for (int h = 0; h < 2; h++) /* lanes 0+1 and 2+3 of u[2h], then of u[2h+1] */
        w[h] = _mm512_add_epi64(_mm512_shuffle_i64x2(u[2 * h], u[2 * h + 1], 0x88),
                                _mm512_shuffle_i64x2(u[2 * h], u[2 * h + 1], 0xDD));
    __m512i t = _mm512_add_epi64(_mm512_shuffle_i64x2(w[0], w[1], 0x88), _mm512_shuffle_i64x2(w[0], w[1], 0xDD));
    if (is_signed)
        t = _mm512_sub_epi64(t, _mm512_set1_epi64(128LL * k));
    _mm256_storeu_si256((__m256i *)(void *)out, _mm512_cvtepi64_epi32(t)); /* modulo 2^32 */
}

/* The float form of the requantization (kernels.h's frq, quant.h's detc_rq_float_fit) on 16 lanes:
 * floor(fma(acc, scale, offset)), each step rounded to nearest whatever MXCSR says (as the fit checked it),
 * out_zp inside the offset, not clamped. 3 operations (convert, multiply-add, convert with floor) where
 * detc_rq64_apply takes 8, none of them a 64-bit multiply. */
__attribute__((always_inline, target("avx512f"))) static inline __m512i detc_rq_float_apply(__m512i acc, __m512 scale,
                                                                                            __m512 offset)
{
#define DETC_NEAR (_MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)
    const __m512 y = _mm512_fmadd_round_ps(_mm512_cvt_roundepi32_ps(acc, DETC_NEAR), scale, offset, DETC_NEAR);
#undef DETC_NEAR
    return _mm512_cvt_roundps_epi32(y, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
}

/* The output stage shared by x86.c's VNNI conv_q8 and the AVX-512 depthwise kernels (dw_q8_avx512.h). */
#define DETC_Q8_INLINE __attribute__((always_inline, target("avx512f,avx512bw"))) static inline

/* v clamped to [lo, hi] (act_min, act_max less out_zp), then + out_zp: never wraps. */
DETC_Q8_INLINE __m512i q8_clamp16(__m512i v, __m512i lo, __m512i hi, __m512i zp)
{
    return _mm512_add_epi32(_mm512_min_epi32(_mm512_max_epi32(v, lo), hi), zp);
}

/* The clamp and out_zp in 16-bit and 8-bit lanes, for q8_pack4. clamp 0: the range is the whole byte range,
 * which the saturating packs give already; zp 0: out_zp is 0 (both: a ReLU6 output at scale 6/255, SSD's). */
typedef struct {
    __m512i zp16, lo8, hi8;
    int clamp, zp;
} q8_out;

DETC_Q8_INLINE q8_out q8_out_load(int32_t out_zp, int32_t act_min, int32_t act_max, int is_signed)
{
    const int whole = act_min <= (is_signed ? -128 : 0) && act_max >= (is_signed ? 127 : 255);
    return (q8_out){_mm512_set1_epi16((short)out_zp), _mm512_set1_epi8((char)act_min), _mm512_set1_epi8((char)act_max),
                    !whole, out_zp != 0};
}

/* Four vectors of 16 requantized lanes (before + out_zp) to bytes, vector i in 128-bit lane i. The
 * saturations (int32 -> int16, + out_zp in int16, int16 -> 8 bits) are monotonic and as wide as the clamp
 * to [act_min, act_max] that follows, so the bytes are those of clamp(v + out_zp). packs leaves lane k
 * holding dword i = vector i's values 4k..4k+3; vpermd transposes that 4x4 of dwords. */
DETC_Q8_INLINE __m512i q8_pack4(__m512i v0, __m512i v1, __m512i v2, __m512i v3, const q8_out *q, int is_signed,
                             int add_zp)
{
    __m512i w01 = _mm512_packs_epi32(v0, v1), w23 = _mm512_packs_epi32(v2, v3);
    if (add_zp && q->zp) { /* else 0, or in v already (detc_rq64_add_zp) */
        w01 = _mm512_adds_epi16(w01, q->zp16);
        w23 = _mm512_adds_epi16(w23, q->zp16);
    }
    __m512i b = is_signed ? _mm512_packs_epi16(w01, w23) : _mm512_packus_epi16(w01, w23);
    if (q->clamp)
        b = is_signed ? _mm512_max_epi8(_mm512_min_epi8(b, q->hi8), q->lo8)
                      : _mm512_max_epu8(_mm512_min_epu8(b, q->hi8), q->lo8);
    const __m512i idx = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
    return _mm512_permutexvar_epi32(idx, b);
}

#endif

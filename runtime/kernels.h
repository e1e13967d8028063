/* Hot inner loops, reached through a table so that portable C, x86 SIMD and ARM NEON variants sit side
 * by side. detc_kernels_select() picks the best table the running CPU supports. Ops call through
 * exec->kernels; every variant must give results identical to the portable one (integers exactly,
 * floats within the tolerance stated by its test). */
#ifndef DETC_KERNELS_H
#define DETC_KERNELS_H

#include <stddef.h>
#include <stdint.h>

/* Quantized depthwise convolution with depth multiplier 1 (see dwconv_q8 below). Built once at load by
 * ops/depthwise_conv2d.c; every variant reads the same layout. Taps (kernel positions, row-major) are
 * taken in pairs: tap 2p and 2p+1 of channel c are adjacent int16 in w, so that SIMD variants multiply
 * two taps with one 16-bit multiply-add; an odd tap count is padded with a tap of weight 0. */
typedef struct detc_dwconv_q8_params {
    int channels;          /* C: channels of every input tap and of the output pixel */
    int tap_pairs;         /* P */
    int is_signed;         /* 0: u8 input and output, 1: i8 */
    const int16_t *w;      /* [P][C][2]: filter - filter zero point (|w| <= 255) */
    const int32_t *bias;   /* [C]: bias - x_zero_point * sum over taps of w (the input zero point folded in) */
    const int32_t *mult;   /* [C]: TFLite requantization multiplier, in [2^30, 2^31) or 0 */
    const int32_t *lshift; /* [C]: max(shift, 0) */
    const int32_t *rshift; /* [C]: max(-shift, 0), at most 31 */
    int32_t out_zp, act_min, act_max;
    int frq;               /* as conv_q8's (detc_conv_q8_params below) */
    float frq_scale, frq_offset;
} detc_dwconv_q8_params;

/* Quantized conv GEMM with fused requantization (conv_q8 below). The filter is packed once by the same
 * table's conv_q8_pack (each variant picks its own layout); everything else is shared. */
typedef struct detc_conv_q8_params {
    int n, k;              /* N output channels, K depth (KH*KW*Ci) */
    int is_signed;         /* 0: u8 input, filter and output, 1: i8 */
    const void *packed;    /* conv_q8_pack(N, K, filter, is_signed) of the same table */
    const int32_t *bias;   /* [N]: bias - xz*sum(w) + K*xz*wz[c], modulo 2^32 */
    const int32_t *w_zp;   /* [N]: filter zero points, or NULL when all are 0 */
    const int32_t *mult;   /* [N]: TFLite requantization multiplier, in [2^30, 2^31) or 0 */
    const int32_t *lshift; /* [N]: max(shift, 0) */
    const int32_t *rshift; /* [N]: max(-shift, 0), at most 31 */
    int32_t out_zp, act_min, act_max;
    int round_once;        /* 0: gemmlowp's two roundings (TFLite uint8 conv); 1: ruy's one rounding (TFLite int8 CONV_2D) */
    /* frq: every channel's requantization has the float form of quant.h's detc_rq_float_fit (one multiplier and
     * right shift, gemmlowp rounding, checked at prepare), with frq_scale and frq_offset; SIMD kernels may use it
     * (the bytes are the same), the portable one ignores it. */
    int frq;
    float frq_scale, frq_offset;
} detc_conv_q8_params;

/* Float depthwise convolution with depth multiplier 1 (dwconv_f32 below). ops/depthwise_conv2d.c passes
 * the filter tensor as it is: a [1, KH, KW, C] filter is already [taps][C]. */
typedef struct detc_dwconv_f32_params {
    int channels;          /* C: channels of every input tap and of the output pixel */
    int taps;              /* T: kernel positions, row-major */
    const float *w;        /* [T][C] */
    const float *bias;     /* [C] (a row of zeros when the op has no bias) */
    float act_lo, act_hi;  /* fused activation clamp (-inf, +inf for none) */
} detc_dwconv_f32_params;

/* Float conv GEMM with fused bias and activation (conv_f32 below). The filter is packed once by the same
 * table's conv_f32_pack; ops/conv2d.c also runs its Winograd products through it (bias NULL, no clamp). */
typedef struct detc_conv_f32_params {
    int n, k;              /* N output channels, K depth */
    const void *packed;    /* conv_f32_pack(N, K, filter) of the same table */
    const float *bias;     /* [N], or NULL for none */
    float act_lo, act_hi;  /* fused activation clamp (-inf, +inf for none) */
} detc_conv_f32_params;

/* Requantizing add or subtract of two u8 or i8 operands (add_q8 below): TensorFlow Lite's quantized ADD
 * (add.cc) with the constants ops/add.c computes at prepare. Every multiplier of that arithmetic is below 1
 * (MultiplyByQuantizedMultiplierSmallerThanOneExp), so each comes as a multiplier and a right shift. */
typedef struct detc_add_q8_params {
    int is_signed;              /* 0: u8 operands and output, 1: i8 */
    int sub;                    /* 0: a + b, 1: a - b */
    int32_t a_offset, b_offset; /* minus each input's zero point */
    int32_t a_mult, b_mult, out_mult;       /* in [0, 2^31) */
    int32_t a_rshift, b_rshift, out_rshift; /* 0..31 */
    int32_t out_zp, act_min, act_max;
} detc_add_q8_params;

/* Output stage of the int8 Winograd conv (wino_out_q8 below): per-conv constants, built once at load by
 * ops/conv2d_winograd_q8.c. */
typedef struct detc_wino_q8_out_params {
    int channels;         /* C */
    const float *scale;   /* [36][C]: the product scale of each transform position and output channel */
    const float *bias;    /* [C] */
    float out_scale;      /* the output's scale and zero point */
    int32_t out_zp;
    int32_t q_lo, q_hi;   /* the clamp: the activation's range within the type's (-128..127 for i8: the byte
                           * stored is the value's low byte either way) */
} detc_wino_q8_out_params;

/* The most tap pointers dwconv_q8_run / dwconv_f32_run take (the op's own limit for its tap pointers). */
#define DETC_DW_RUN_MAX_PTRS 1024

typedef struct detc_kernels {
    const char *name;
    /* C[m*ldc + n] = sum_k A[m*lda + k] * B[n*ldb + k]   (float) */
    void (*gemm_f32)(int M, int N, int K, const float *A, int lda, const float *B, int ldb, float *C, int ldc);
    /* Depthwise conv (multiplier 1), n output pixels of C channels written one after the other to out:
     *   acc = bias[c] + sum_p x[2p][c] * w[p][c][0] + x[2p+1][c] * w[p][c][1]   (int32, wrapping)
     *   out[i*C + c] = clamp(MultiplyByQuantizedMultiplier(acc, mult[c], shift[c]) + out_zp, act_min, act_max)
     * where x[t] = taps[i*2P + t] points at tap t's C input channels (u8, or i8 when is_signed); a tap in the
     * padding points at C bytes of the input zero point, which the folded bias cancels exactly. The
     * requantization is TFLite's (gemmlowp rounding), bit for bit. Portable C is the reference; x86 has AVX2
     * and AVX-512 VNNI variants; a NEON one would sit in its own table (vqrdmulhq_s32 is exactly
     * SaturatingRoundingDoublingHighMul; vrshlq_s32 alone rounds negative ties up, so RoundingDivideByPOT
     * needs gemmlowp's sign fixup first). */
    void (*dwconv_q8)(const detc_dwconv_q8_params *prm, int n, const uint8_t *const *taps, uint8_t *out);
    /* Float depthwise conv (multiplier 1), n output pixels of C channels written one after the other to out:
     *   acc = 0;  acc += x[t][c] * w[t][c] for t = 0 .. T-1 in order;  v = acc + bias[c]
     *   out[i*C + c] = min(max(v, act_lo), act_hi)   (a NaN passes through, as in the op's scalar loop)
     * where x[t] = taps[i*T + t] points at tap t's C input floats; a tap in the padding points at C zeros
     * (adding +-0 leaves the sum as it is, so the result is that of summing the taps inside the input).
     * Portable C is the reference (a multiply and an add per tap, as the op's per-pixel loop); the x86
     * AVX2 and AVX-512F variants vectorize over channels and fuse the multiply-add (FMA), which changes
     * each step's rounding only: tests/test_kernels.c holds every table to
     * |got - exact| <= 1e-5 * (sum |x*w| + |bias|) + 1e-6. */
    void (*dwconv_f32)(const detc_dwconv_f32_params *prm, int n, const float *const *taps, float *out);
    /* dwconv_q8 and dwconv_f32 on a run of n pixels whose taps move by a fixed step per pixel (the interior
     * of an output row): pixel i's tap t is taps0[t] + i * step (step in elements: bytes for q8, floats for
     * f32), taps0 holding pixel 0's 2P (q8, the weight-0 pad tap of an odd count included) or T (f32)
     * pointers, at most DETC_DW_RUN_MAX_PTRS. Every moved pointer must address C readable elements (the op
     * points the q8 pad tap at a real tap). Results are those of dwconv_q8 / dwconv_f32 of the same table on
     * the expanded pointers: the point is not writing and reading ~80 bytes of pointers per pixel. */
    void (*dwconv_q8_run)(const detc_dwconv_q8_params *prm, int n, const uint8_t *const *taps0, ptrdiff_t step,
                          uint8_t *out);
    void (*dwconv_f32_run)(const detc_dwconv_f32_params *prm, int n, const float *const *taps0, ptrdiff_t step,
                           float *out);
    /* Quantized conv GEMM, M rows of A (K bytes each, lda apart) against the packed filter:
     *   acc = sum_k A[m][k] * W[c][k] + bias[c] - w_zp[c] * sum_k A[m][k]   (raw values, int32 wrapping)
     *   out[m*ldo + c] = clamp(MultiplyByQuantizedMultiplier(acc, mult[c], shift[c]) + out_zp, act_min, act_max)
     * with shift[c] = lshift[c] - rshift[c] and MultiplyByQuantizedMultiplier chosen by round_once:
     *   0: TFLite's reference one, gemmlowp's two roundings (detc_qmul_apply in quant.h): what TFLite's uint8
     *      CONV_2D (gemmlowp) and its depthwise kernels compute;
     *   1: ruy's, one rounding half up (detc_qmul_apply_once): floor((acc * mult * 2^shift + 2^30) / 2^31),
     *      what TFLite's int8 CONV_2D computes (cpu_backend_gemm runs it through ruy). The bytes are those of
     *      exact arithmetic: acc * 2^lshift saturates to int32 (for mult 0 or >= 2^30 the clamp then gives
     *      what the unsaturated product would), and + out_zp never wraps (the portable kernel sums in int64;
     *      x86 clamps to act_min/act_max - out_zp first, NEON adds saturating); tests/test_kernels.c holds
     *      every table to ruy's int64 formula, exact ties and saturating shifts included.
     * conv_q8_pack lays out the [N][K] filter (u8, or i8 when is_signed) for this table's conv_q8 and returns
     * a buffer to release with free(), or NULL when memory runs out. The two always come from the same
     * variant (the table composition takes them together). */
    void *(*conv_q8_pack)(int n, int k, const uint8_t *w, int is_signed);
    void (*conv_q8)(const detc_conv_q8_params *prm, int m, const uint8_t *a, int lda, uint8_t *out, int ldo);
    /* Float conv GEMM, M rows of A (K floats each, lda apart) against the packed filter:
     *   v = sum_k A[m][k] * W[c][k] + bias[c];   out[m*ldo + c] = min(max(v, act_lo), act_hi)
     * conv_f32_pack lays out the [N][K] filter for this table's conv_f32 and returns a buffer to release
     * with free(), or NULL when memory runs out; the two come from the same variant (select.c composes them
     * together). Portable C is the reference (a multiply and an add per k, in order); SIMD variants block K
     * and fuse multiply-adds: tests/test_kernels.c holds every table to
     * |got - exact| <= 1e-5 * (sum |a*w| + |bias|) + 1e-6. */
    void *(*conv_f32_pack)(int n, int k, const float *w);
    void (*conv_f32)(const detc_conv_f32_params *prm, int m, const float *a, int lda, float *out, int ldo);
    /* Logistic on n floats: y[i] = 1 / (1 + exp(-x[i])) (y may equal x). Portable C is the reference
     * (expf, then a float add and divide); SIMD variants evaluate exp with their own range reduction and
     * polynomial: tests/test_kernels.c holds every table to |y - exact| <= 1e-6 * exact + 1e-37 against
     * float64 over the whole float range, and a NaN stays NaN. */
    void (*logistic_f32)(long n, const float *x, float *y);
    /* Winograd F(4x4, 3x3) transforms (ops/conv2d_winograd.c has the matrices), C channels each:
     *   wino_in_f32:  taps[p] (p = 0..35, the 6x6 input patch row-major) points at C floats (padding: C
     *                 zeros); writes v[xi*stride + c] = (B^T d B)[xi] of channel c, xi = 0..35.
     *   wino_out_f32: reads m[xi*stride + c]; for the 16 pixels p of the 4x4 output tile (row-major) with
     *                 out[p] != NULL writes out[p][c] = clamp((A^T m A)[p] + bias[c]) (bias NULL: 0; clamp
     *                 as conv_f32's).
     * Portable C is the reference (float, the order of conv2d_winograd.c's comments); SIMD variants
     * vectorize over channels and may contract multiply-adds: tests/test_kernels.c holds them to 1e-6 of the
     * sum of magnitudes against float64. */
    void (*wino_in_f32)(int channels, const float *const *taps, float *v, size_t stride);
    void (*wino_out_f32)(int channels, const float *m, size_t stride, const float *bias, float act_lo, float act_hi,
                         float *const *out);
    /* int16 GEMM of the int8 Winograd conv (ops/conv2d_winograd_q8.c), M rows of A (K int16 each, lda apart)
     * against the packed [N][K] int16 filter W:
     *   out[m*ldo + c] = sum_k A[m][k] * W[c][k]   (int32, modulo 2^32; the caller bounds the sums so that
     *                                              they are exact)
     * conv_s16_pack lays out W for this table's gemm_s16 and returns a buffer to release with free(), or NULL
     * when memory runs out; the two come from the same variant (select.c composes them together). Integers:
     * every variant equals the portable one bit for bit. */
    /* The int8 Winograd conv's input transform, C channels: taps[p] (p = 0..35, the 6x6 patch row-major) points
     * at C bytes (u8, or i8 when is_signed; a tap in the padding points at C bytes of zp); with d = x - zp,
     * writes v[xi*stride + c] = (B^T d B)[xi] of channel c (conv2d_winograd.c's B^T), exact in int16 (|d| <= 255
     * and B^T's row abs-sums are at most 10: |v| <= 25500). Integers: every variant equals the portable one. */
    void (*wino_in_s16)(int channels, const uint8_t *const *taps, int32_t zp, int is_signed, int16_t *v, size_t stride);
    void *(*conv_s16_pack)(int n, int k, const int16_t *w);
    void (*gemm_s16)(const void *packed, int n, int k, int m, const int16_t *a, int lda, int32_t *out, int ldo);
    /* The int8 Winograd conv's output stage, one 4x4 tile of C channels from gemm_s16's products
     * acc[xi*stride + c] (xi = 0..35):
     *   m[xi][c] = (float)acc[xi*stride + c] * scale[xi*C + c]   (each a single rounding)
     *   y[p][c]  = (A^T m A)[p] + bias[c]                         (wino_out_f32's arithmetic, without its clamp)
     *   out[p][c] = clamp(round_half_away(y[p][c] / out_scale) + out_zp, q_lo, q_hi)   (quantize_q8's)
     * for the pixels p (row-major) with out[p] != NULL. Every variant gives the portable kernel's bytes. */
    void (*wino_out_q8)(const detc_wino_q8_out_params *prm, const int32_t *acc, size_t stride, uint8_t *const *out);
    /* Requantizing add (ops/add.c, ops/sub.c), n output bytes; a_step and b_step are 1, or 0 for an operand
     * broadcast along the run (one byte read n times). With SRDHM = SaturatingRoundingDoublingHighMul and
     * RDBPOT = RoundingDivideByPOT (quant.h), x the raw byte (i8 when is_signed):
     *   a' = RDBPOT(SRDHM((xa + a_offset) << 20, a_mult), a_rshift);   b' likewise
     *   out[i] = clamp(RDBPOT(SRDHM(a' + b' (a' - b' when sub), out_mult), out_rshift) + out_zp, act_min, act_max)
     * Integers, exact: every variant equals the portable one bit for bit. */
    void (*add_q8)(const detc_add_q8_params *prm, size_t n, const uint8_t *a, int a_step, const uint8_t *b, int b_step,
                   uint8_t *out);
    /* f32 -> u8/i8 with per-tensor parameters (ops/cast.c, TFLite's AffineQuantize), n values:
     *   r = round_half_away_from_zero(x[i] / scale)   (an IEEE single division; NaN gives 0)
     *   out[i] = clamp(r + zp, qmin, qmax)   (qmin, qmax: 0, 255, or -128, 127 when is_signed)
     * Exact: every variant divides (never multiplies by a reciprocal) and rounds as roundf does. */
    void (*quantize_q8)(size_t n, const float *x, float scale, int32_t zp, int is_signed, uint8_t *out);
    /* u8/i8 -> f32 with per-tensor parameters (TFLite's Dequantize), n values:
     *   out[i] = scale * (float)(q[i] - zp)   (one rounding, so every variant gives the same floats) */
    void (*dequantize_q8)(size_t n, const uint8_t *q, float scale, int32_t zp, int is_signed, float *out);
    /* roi_align's bilinear sample on a quantized map (ops/roi_align.c), C channels added to o:
     *   o[c] += w[0] * d(q1[c]) + w[1] * d(q2[c]) + w[2] * d(q3[c]) + w[3] * d(q4[c])
     * with d(q) = scale * (float)(q - zp) (dequantize_q8's value; q i8 when is_signed), the sums left to right
     * and every multiply and add a single IEEE operation (no fused multiply-add): every variant gives the same
     * floats, the ones the f32 op computes on the dequantized map. */
    void (*roi_sample_q8)(int C, const uint8_t *q1, const uint8_t *q2, const uint8_t *q3, const uint8_t *q4,
                          int is_signed, float scale, int32_t zp, const float w[4], float *o);
    /* roi_sample_q8 on f32 values, d(p) = p:  o[c] += w[0] * p1[c] + w[1] * p2[c] + w[2] * p3[c] + w[3] * p4[c]
     * (left to right, no fused multiply-add; every variant gives the same floats). */
    void (*roi_sample_f32)(int C, const float *p1, const float *p2, const float *p3, const float *p4, const float w[4],
                           float *o);
    /* Byte table look-up, n bytes: out[i] = table[in[i]] (ops/concat.c's requantization of an input whose
     * scale or zero point differ from the output's: a function of the byte alone; the quantized logistic and
     * tanh, ops/logistic.c and ops/tanh.c, as TFLite's tables). out may equal in.
     * Exact: every variant gives the portable loop's bytes. x86: AVX-512 VBMI (vpermi2b) where the CPU
     * has it, else the scalar loop. */
    void (*lut_u8)(const uint8_t table[256], size_t n, const uint8_t *in, uint8_t *out);
} detc_kernels;

extern const detc_kernels detc_kernels_portable;

/* name: NULL, "" or "auto" for the best available, else a table name ("portable", "neon", ...): the portable
 * table with that variant over it; or names joined by '+' ("avx2+avx512vnni+blas"): the portable table with
 * those variants over it in select.c's order of preference. NULL if any is unknown or not supported by this
 * CPU. Tables are composed once per process and never change; the pointers may be kept and shared between
 * threads. */
const detc_kernels *detc_kernels_select(const char *name);

/* Pixels first .. n-1 of a dwconv_q8_run / dwconv_f32_run by expanding their pointers in stack chunks for the
 * per-pixel entry dw: the tables without a run path of their own, and the remainders of those with one. */
#define DETC_DW_RUN_EXPAND(T, dw, prm, nptr, first, n, taps0, step, out, out_c)                                   \
    do {                                                                                                       \
        const T *dw_tp_[DETC_DW_RUN_MAX_PTRS];                                                                 \
        const int dw_chunk_ = DETC_DW_RUN_MAX_PTRS / (nptr);                                                   \
        for (int dw_i0_ = (first); dw_i0_ < (n); dw_i0_ += dw_chunk_) {                                        \
            const int dw_cnt_ = (n) - dw_i0_ < dw_chunk_ ? (n) - dw_i0_ : dw_chunk_;                           \
            for (int dw_i_ = 0; dw_i_ < dw_cnt_; dw_i_++)                                                      \
                for (int dw_t_ = 0; dw_t_ < (nptr); dw_t_++)                                                   \
                    dw_tp_[dw_i_ * (nptr) + dw_t_] = (taps0)[dw_t_] + (ptrdiff_t)(dw_i0_ + dw_i_) * (step);    \
            dw((prm), dw_cnt_, dw_tp_, (out) + (ptrdiff_t)dw_i0_ * (out_c));                                    \
        }                                                                                                      \
    } while (0)

static inline void detc_dwconv_q8_run_expand(void (*dw)(const detc_dwconv_q8_params *, int, const uint8_t *const *,
                                                        uint8_t *),
                                             const detc_dwconv_q8_params *prm, int first, int n,
                                             const uint8_t *const *taps0, ptrdiff_t step, uint8_t *out)
{
    DETC_DW_RUN_EXPAND(uint8_t, dw, prm, 2 * prm->tap_pairs, first, n, taps0, step, out, prm->channels);
}

static inline void detc_dwconv_f32_run_expand(void (*dw)(const detc_dwconv_f32_params *, int, const float *const *,
                                                         float *),
                                              const detc_dwconv_f32_params *prm, int first, int n,
                                              const float *const *taps0, ptrdiff_t step, float *out)
{
    DETC_DW_RUN_EXPAND(float, dw, prm, prm->taps, first, n, taps0, step, out, prm->channels);
}

#endif

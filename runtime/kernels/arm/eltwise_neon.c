/* NEON elementwise int8 kernels for the neon table (neon.c's initializer names them): the requantizing add
 * (add_q8) on armv7 and aarch64, the f32 <-> u8/i8 casts (quantize_q8, dequantize_q8) and the int8 Winograd
 * output stage (wino_out_q8), which ends in quantize_q8's arithmetic, on aarch64 only (armv7
 * NEON has no division and flushes subnormal results to zero, so its results could differ from the scalar
 * VFP code's; there the portable entries stay). Built like neon.c (-mfpu=neon-vfpv4 on armhf). Every result
 * equals the portable kernel's bit for bit: vqrdmulhq_s32 is SaturatingRoundingDoublingHighMul exactly, and
 * RoundingDivideByPOT is gemmlowp's NEON form (conv_q8_neon.h's cq_requant); FRINTA (vrndaq_f32) rounds half
 * away from zero as roundf. */
#include "kernels.h"

#if defined(__ARM_NEON) || defined(__ARM_NEON__)
#include <arm_neon.h>
#include <string.h>

#include "eltwise_neon.h"
#include "quant.h"

#define ADD_LEFT_SHIFT 20

/* RDBPOT(SRDHM(x, mult), rshift) on 4 lanes; nrsh = -rshift: the sign bit of h & nrsh is set only when
 * rshift > 0 and h < 0, and that -1 turns vrshlq_s32's ties-up into ties away from zero. */
static inline int32x4_t rescale4(int32x4_t x, int32x4_t mult, int32x4_t nrsh)
{
    int32x4_t h = vqrdmulhq_s32(x, mult);
    h = vqaddq_s32(h, vshrq_n_s32(vandq_s32(h, nrsh), 31));
    return vrshlq_s32(h, nrsh);
}

typedef struct {
    int32x4_t a_mult, a_nrsh, b_mult, b_nrsh, o_mult, o_nrsh, a_off, b_off, zp, lo, hi, a_const, b_const;
} add_neon_k;

/* 16 bytes widened to four int32x4 */
static inline void widen16(const uint8_t *p, int is_signed, int32x4_t v[4])
{
    if (is_signed) {
        int8x16_t b = vld1q_s8((const int8_t *)p);
        int16x8_t l = vmovl_s8(vget_low_s8(b)), h = vmovl_s8(vget_high_s8(b));
        v[0] = vmovl_s16(vget_low_s16(l));
        v[1] = vmovl_s16(vget_high_s16(l));
        v[2] = vmovl_s16(vget_low_s16(h));
        v[3] = vmovl_s16(vget_high_s16(h));
    } else {
        uint8x16_t b = vld1q_u8(p);
        uint16x8_t l = vmovl_u8(vget_low_u8(b)), h = vmovl_u8(vget_high_u8(b));
        v[0] = vreinterpretq_s32_u32(vmovl_u16(vget_low_u16(l)));
        v[1] = vreinterpretq_s32_u32(vmovl_u16(vget_high_u16(l)));
        v[2] = vreinterpretq_s32_u32(vmovl_u16(vget_low_u16(h)));
        v[3] = vreinterpretq_s32_u32(vmovl_u16(vget_high_u16(h)));
    }
}

/* four int32x4 already within the byte range of the dtype to 16 bytes (narrowing keeps the low bits) */
static inline uint8x16_t narrow16(const int32x4_t v[4])
{
    int16x8_t l = vcombine_s16(vmovn_s32(v[0]), vmovn_s32(v[1]));
    int16x8_t h = vcombine_s16(vmovn_s32(v[2]), vmovn_s32(v[3]));
    return vreinterpretq_u8_s8(vcombine_s8(vmovn_s16(l), vmovn_s16(h)));
}

static inline void add_operand16(const uint8_t *p, int step, int is_signed, int32x4_t off, int32x4_t mult,
                                 int32x4_t nrsh, int32x4_t cst, int32x4_t v[4])
{
    if (!step) {
        v[0] = v[1] = v[2] = v[3] = cst;
        return;
    }
    widen16(p, is_signed, v);
    for (int j = 0; j < 4; j++)
        v[j] = rescale4(vshlq_n_s32(vaddq_s32(v[j], off), ADD_LEFT_SHIFT), mult, nrsh);
}

static inline uint8x16_t add_block16(const add_neon_k *k, const uint8_t *a, int as, const uint8_t *b, int bs,
                                     int is_signed, int sub)
{
    int32x4_t x[4], y[4], v[4];
    add_operand16(a, as, is_signed, k->a_off, k->a_mult, k->a_nrsh, k->a_const, x);
    add_operand16(b, bs, is_signed, k->b_off, k->b_mult, k->b_nrsh, k->b_const, y);
    for (int j = 0; j < 4; j++) {
        int32x4_t s = sub ? vsubq_s32(x[j], y[j]) : vaddq_s32(x[j], y[j]);
        int32x4_t r = vaddq_s32(rescale4(s, k->o_mult, k->o_nrsh), k->zp);
        v[j] = vminq_s32(vmaxq_s32(r, k->lo), k->hi);
    }
    return narrow16(v);
}

static int32_t scalar_operand(uint8_t byte, int is_signed, int32_t offset, int32_t mult, int32_t rshift)
{
    int32_t q = is_signed ? (int8_t)byte : byte;
    return detc_rdbpot(detc_srdhm((q + offset) * (1 << ADD_LEFT_SHIFT), mult), rshift);
}

static inline void add_body(const detc_add_q8_params *prm, size_t n, const uint8_t *a, int as, const uint8_t *b, int bs,
                            uint8_t *out, int is_signed, int sub)
{
    add_neon_k k;
    k.a_mult = vdupq_n_s32(prm->a_mult);
    k.b_mult = vdupq_n_s32(prm->b_mult);
    k.o_mult = vdupq_n_s32(prm->out_mult);
    k.a_nrsh = vdupq_n_s32(-prm->a_rshift);
    k.b_nrsh = vdupq_n_s32(-prm->b_rshift);
    k.o_nrsh = vdupq_n_s32(-prm->out_rshift);
    k.a_off = vdupq_n_s32(prm->a_offset);
    k.b_off = vdupq_n_s32(prm->b_offset);
    k.zp = vdupq_n_s32(prm->out_zp);
    k.lo = vdupq_n_s32(prm->act_min);
    k.hi = vdupq_n_s32(prm->act_max);
    k.a_const = vdupq_n_s32(as ? 0 : scalar_operand(a[0], is_signed, prm->a_offset, prm->a_mult, prm->a_rshift));
    k.b_const = vdupq_n_s32(bs ? 0 : scalar_operand(b[0], is_signed, prm->b_offset, prm->b_mult, prm->b_rshift));
    size_t i = 0;
    for (; i + 16 <= n; i += 16)
        vst1q_u8(out + i, add_block16(&k, a + i * (size_t)as, as, b + i * (size_t)bs, bs, is_signed, sub));
    if (i < n) { /* the tail through a 16-byte copy: no read past the operands */
        uint8_t ta[16] = {0}, tb[16] = {0}, to[16];
        size_t r = n - i;
        memcpy(ta, a + i * (size_t)as, as ? r : 1);
        memcpy(tb, b + i * (size_t)bs, bs ? r : 1);
        vst1q_u8(to, add_block16(&k, ta, as, tb, bs, is_signed, sub));
        memcpy(out + i, to, r);
    }
}

void detc_add_q8_neon(const detc_add_q8_params *prm, size_t n, const uint8_t *a, int a_step, const uint8_t *b,
                      int b_step, uint8_t *out)
{
    if (prm->is_signed)
        prm->sub ? add_body(prm, n, a, a_step, b, b_step, out, 1, 1) : add_body(prm, n, a, a_step, b, b_step, out, 1, 0);
    else
        prm->sub ? add_body(prm, n, a, a_step, b, b_step, out, 0, 1) : add_body(prm, n, a, a_step, b, b_step, out, 0, 0);
}

#ifdef __aarch64__
/* 4 floats: roundf(x / scale) (NaN: 0) + zp, clamped, as an integer */
static inline int32x4_t quant4(float32x4_t x, float32x4_t scale, float32x4_t zp, float32x4_t lo, float32x4_t hi)
{
    float32x4_t q = vdivq_f32(x, scale);
    uint32x4_t ordered = vceqq_f32(q, q);
    float32x4_t r = vreinterpretq_f32_u32(vandq_u32(vreinterpretq_u32_f32(vrndaq_f32(q)), ordered));
    float32x4_t v = vminq_f32(vmaxq_f32(vaddq_f32(r, zp), lo), hi);
    return vcvtq_s32_f32(v); /* an integer already: exact */
}

void detc_quantize_q8_neon(size_t n, const float *x, float scale, int32_t zp, int is_signed, uint8_t *out)
{
    const float32x4_t s = vdupq_n_f32(scale), z = vdupq_n_f32((float)zp);
    const float32x4_t lo = vdupq_n_f32(is_signed ? -128.0f : 0.0f), hi = vdupq_n_f32(is_signed ? 127.0f : 255.0f);
    size_t i = 0;
    int32x4_t v[4];
    for (; i + 16 <= n; i += 16) {
        for (int j = 0; j < 4; j++)
            v[j] = quant4(vld1q_f32(x + i + 4 * j), s, z, lo, hi);
        vst1q_u8(out + i, narrow16(v));
    }
    if (i < n) {
        float tx[16] = {0};
        uint8_t to[16];
        memcpy(tx, x + i, (n - i) * sizeof(float));
        for (int j = 0; j < 4; j++)
            v[j] = quant4(vld1q_f32(tx + 4 * j), s, z, lo, hi);
        vst1q_u8(to, narrow16(v));
        memcpy(out + i, to, n - i);
    }
}

/* A^T of six rows (conv2d_winograd.c's order, each a separate multiply and add: the portable kernel's floats) */
static inline void at6_neon(const float32x4_t m[6], float32x4_t o[4])
{
    float32x4_t s12 = vaddq_f32(m[1], m[2]), d12 = vsubq_f32(m[1], m[2]);
    float32x4_t s34 = vaddq_f32(m[3], m[4]), d34 = vsubq_f32(m[3], m[4]);
    o[0] = vaddq_f32(vaddq_f32(m[0], s12), s34);
    o[1] = vaddq_f32(d12, vmulq_n_f32(d34, 2.0f));
    o[2] = vaddq_f32(s12, vmulq_n_f32(s34, 4.0f));
    o[3] = vaddq_f32(vaddq_f32(d12, vmulq_n_f32(d34, 8.0f)), m[5]);
}

/* `live` (1..4) 32-bit lanes from p (int32 or float), zeros past them: a plain load for a whole vector, a copy
 * for a tail. */
static inline uint32x4_t load_live(const void *p, int live)
{
    if (live == 4)
        return vld1q_u32((const uint32_t *)p);
    uint32_t v[4] = {0, 0, 0, 0};
    memcpy(v, p, (size_t)live * sizeof(uint32_t));
    return vld1q_u32(v);
}

/* The int8 Winograd output stage (kernels.h), 4 channels per vector: scale, A^T m A, bias, quant4. */
void detc_wino_out_q8_neon(const detc_wino_q8_out_params *prm, const int32_t *acc, size_t stride, uint8_t *const *out)
{
    const int C = prm->channels;
    const float32x4_t s = vdupq_n_f32(prm->out_scale), z = vdupq_n_f32((float)prm->out_zp);
    const float32x4_t lo = vdupq_n_f32((float)prm->q_lo), hi = vdupq_n_f32((float)prm->q_hi);
    for (int c0 = 0; c0 < C; c0 += 4) {
        const int live = C - c0 < 4 ? C - c0 : 4;
        float32x4_t t[4][6];
        for (int x = 0; x < 6; x++) {
            float32x4_t a[6], o[4];
            for (int y = 0; y < 6; y++) {
                size_t xi = (size_t)(y * 6 + x);
                a[y] = vmulq_f32(vcvtq_f32_s32(vreinterpretq_s32_u32(load_live(acc + xi * stride + c0, live))),
                                 vreinterpretq_f32_u32(load_live(prm->scale + xi * (size_t)C + c0, live)));
            }
            at6_neon(a, o);
            for (int r = 0; r < 4; r++)
                t[r][x] = o[r];
        }
        const float32x4_t b = vreinterpretq_f32_u32(load_live(prm->bias + c0, live));
        for (int r = 0; r < 4; r++) {
            float32x4_t o[4];
            at6_neon(t[r], o);
            for (int x = 0; x < 4; x++) {
                uint8_t *dst = out[r * 4 + x];
                if (!dst)
                    continue;
                /* in [q_lo, q_hi]: the low byte of each lane is the value */
                int32x4_t q = quant4(vaddq_f32(o[x], b), s, z, lo, hi);
                uint8x8_t n8 = vmovn_u16(vcombine_u16(vmovn_u32(vreinterpretq_u32_s32(q)), vdup_n_u16(0)));
                if (live == 4) { /* one 4-byte store (memcpy: dst + c0 need not be 4-byte aligned) */
                    uint32_t w = vget_lane_u32(vreinterpret_u32_u8(n8), 0);
                    memcpy(dst + c0, &w, sizeof w);
                } else {
                    uint8_t b8[8];
                    vst1_u8(b8, n8);
                    memcpy(dst + c0, b8, (size_t)live);
                }
            }
        }
    }
}

static inline void dequant16(const uint8_t *q, int is_signed, int32x4_t zp, float32x4_t scale, float *out)
{
    int32x4_t v[4];
    widen16(q, is_signed, v);
    for (int j = 0; j < 4; j++)
        vst1q_f32(out + 4 * j, vmulq_f32(scale, vcvtq_f32_s32(vsubq_s32(v[j], zp))));
}

void detc_dequantize_q8_neon(size_t n, const uint8_t *q, float scale, int32_t zp, int is_signed, float *out)
{
    const int32x4_t z = vdupq_n_s32(zp);
    const float32x4_t s = vdupq_n_f32(scale);
    size_t i = 0;
    for (; i + 16 <= n; i += 16)
        dequant16(q + i, is_signed, z, s, out + i);
    if (i < n) {
        uint8_t tq[16] = {0};
        float to[16];
        memcpy(tq, q + i, n - i);
        dequant16(tq, is_signed, z, s, to);
        memcpy(out + i, to, (n - i) * sizeof(float));
    }
}
#endif

#endif

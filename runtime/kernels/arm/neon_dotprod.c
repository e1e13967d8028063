/* aarch64 dot-product kernels (UDOT/SDOT, armv8.2-A+dotprod): the quantized conv GEMM only. This
 * object alone is built with -march=armv8.2-a+dotprod; select.c uses it when AT_HWCAP reports ASIMDDP.
 * Four 8-bit products summed into each 32-bit lane cannot overflow, so bytes are used as they are and
 * the sums are the portable kernel's exactly. */
#include "kernels.h"

#if defined(__aarch64__) && defined(__ARM_FEATURE_DOTPROD)
#include "conv_q8_neon.h"

#define MAC_UDOT(acc, a, b)                                                                                    \
    (acc) = vreinterpretq_s32_u32(                                                                             \
        vdotq_u32(vreinterpretq_u32_s32(acc), vreinterpretq_u8_s8(a), vreinterpretq_u8_s8(b)))
#define MAC_SDOT(acc, a, b) (acc) = vdotq_s32((acc), (a), (b))

CQ_TILE_KERNEL(tile_udot, MAC_UDOT, 0)
CQ_TILE_KERNEL(tile_sdot, MAC_SDOT, 0)
CQ_DRIVER(conv_udot, tile_udot, 0)
CQ_DRIVER(conv_sdot, tile_sdot, 0)

static void *conv_q8_pack_dot(int n, int k, const uint8_t *w, int is_signed)
{
    return cq_pack_filter(n, k, w, is_signed, 1);
}

static void conv_q8_dot(const detc_conv_q8_params *prm, int m, const uint8_t *a, int lda, uint8_t *out, int ldo)
{
    if (prm->is_signed)
        conv_sdot(prm, m, a, lda, out, ldo);
    else
        conv_udot(prm, m, a, lda, out, ldo);
}

const detc_kernels detc_kernels_neon_dotprod = {
    .name = "neon-dotprod",
    .conv_q8_pack = conv_q8_pack_dot,
    .conv_q8 = conv_q8_dot,
};
#elif defined(__aarch64__)
#error "neon_dotprod.c needs -march=armv8.2-a+dotprod (the Makefile's KERNEL_FLAGS_neon_dotprod)"
#endif

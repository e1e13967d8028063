/* detc's own float GEMM (gemm_f32's contract, kernels.h): A and B are packed into panels a micro-kernel
 * reads front to back, K in blocks of DETC_SGEMM_KC. The driver (portable/sgemm.c) is shared; each
 * architecture brings its micro-kernel and tile size (arm/neon.c, x86/x86.c). */
#ifndef DETC_SGEMM_H
#define DETC_SGEMM_H

#define DETC_SGEMM_KC 256 /* K per packed block */
#define DETC_SGEMM_MC 64  /* rows of A packed at once */

/* c[r*ldc + j] (+)= sum_k a[k*mr + r] * b[k*nr + j] for the whole mr x nr tile: a and b are packed
 * (zero rows and columns past the matrix edge), accumulate: 0 overwrites c, 1 adds to it. */
typedef void (*detc_sgemm_ukr)(int kc, const float *a, const float *b, float *c, int ldc, int accumulate);

/* Optional: packs 8 whole rows (of A or B, ld apart; values k0 .. k0+kc-1 of each, kc a multiple of 4)
 * k-major, dst[k*8 + r], as the driver's generic loops would, faster; used where mr or nr is 8. */
typedef void (*detc_sgemm_pack8)(const float *src, int ld, int k0, int kc, float *dst);

typedef struct {
    int mr, nr; /* at most 16 each */
    detc_sgemm_ukr ukr;
    detc_sgemm_pack8 pack8;
} detc_sgemm_arch;

void detc_sgemm(const detc_sgemm_arch *arch, int M, int N, int K, const float *A, int lda, const float *B, int ldb,
                float *C, int ldc);

#endif

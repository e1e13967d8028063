/* The packed, blocked SGEMM driver (sgemm.h): for each block of K, rows of A in panels of mr, then for
 * each panel of nr columns of B, the micro-kernel over every A panel. Tiles at the edges go through a
 * small local tile so the micro-kernel always runs whole. */
#include "../sgemm.h"

#include <stdlib.h>
#include <string.h>

/* A rows [m0, m0+mc), K values [k0, k0+kc) into panels of mr rows, k-major, zero rows past mc. */
static void pack_a(const detc_sgemm_arch *arch, const float *A, int lda, int mc, int k0, int kc, float *dst)
{
    const int mr = arch->mr;
    for (int i0 = 0; i0 < mc; i0 += mr) {
        if (arch->pack8 && mr == 8 && i0 + mr <= mc && kc % 4 == 0) {
            arch->pack8(A + (size_t)i0 * lda, lda, k0, kc, dst);
            dst += (size_t)8 * kc;
            continue;
        }
        for (int k = 0; k < kc; k++)
            for (int r = 0; r < mr; r++)
                *dst++ = i0 + r < mc ? A[(size_t)(i0 + r) * lda + k0 + k] : 0.0f;
    }
}

/* B rows [n0, n0+nc) (columns of the product), k-major, zero columns past nc. */
static void pack_b(const float *B, int ldb, int nc, int k0, int kc, int nr, float *dst)
{
    for (int k = 0; k < kc; k++)
        for (int j = 0; j < nr; j++)
            *dst++ = j < nc ? B[(size_t)j * ldb + k0 + k] : 0.0f;
}

static void gemm_naive(int M, int N, int K, const float *A, int lda, const float *B, int ldb, float *C, int ldc)
{
    for (int m = 0; m < M; m++)
        for (int n = 0; n < N; n++) {
            float acc = 0.0f;
            for (int k = 0; k < K; k++)
                acc += A[(size_t)m * lda + k] * B[(size_t)n * ldb + k];
            C[(size_t)m * ldc + n] = acc;
        }
}

void detc_sgemm(const detc_sgemm_arch *arch, int M, int N, int K, const float *A, int lda, const float *B, int ldb,
                float *C, int ldc)
{
    if (M <= 0 || N <= 0)
        return;
    const int mr = arch->mr, nr = arch->nr;
    if (K <= 0) {
        for (int m = 0; m < M; m++)
            memset(C + (size_t)m * ldc, 0, (size_t)N * sizeof(float));
        return;
    }
    int mc_max = M < DETC_SGEMM_MC ? M : DETC_SGEMM_MC;
    int kc_max = K < DETC_SGEMM_KC ? K : DETC_SGEMM_KC;
    size_t a_len = (size_t)((mc_max + mr - 1) / mr * mr) * (size_t)kc_max;
    float *buf = malloc((a_len + (size_t)nr * (size_t)kc_max) * sizeof(float));
    if (!buf) { /* gemm_f32 cannot fail: the slow loop needs no memory */
        gemm_naive(M, N, K, A, lda, B, ldb, C, ldc);
        return;
    }
    float *ap = buf, *bp = buf + a_len;
    float tile[16 * 16] = {0}; /* lanes past the edge are computed and dropped */
    for (int k0 = 0; k0 < K; k0 += DETC_SGEMM_KC) {
        int kc = K - k0 < DETC_SGEMM_KC ? K - k0 : DETC_SGEMM_KC;
        int acc = k0 > 0;
        for (int m0 = 0; m0 < M; m0 += DETC_SGEMM_MC) {
            int mc = M - m0 < DETC_SGEMM_MC ? M - m0 : DETC_SGEMM_MC;
            pack_a(arch, A + (size_t)m0 * lda, lda, mc, k0, kc, ap);
            for (int n0 = 0; n0 < N; n0 += nr) {
                int nc = N - n0 < nr ? N - n0 : nr;
                if (arch->pack8 && nr == 8 && nc == nr && kc % 4 == 0)
                    arch->pack8(B + (size_t)n0 * ldb, ldb, k0, kc, bp);
                else
                    pack_b(B + (size_t)n0 * ldb, ldb, nc, k0, kc, nr, bp);
                for (int i0 = 0; i0 < mc; i0 += mr) {
                    int rows = mc - i0 < mr ? mc - i0 : mr;
                    float *c = C + (size_t)(m0 + i0) * ldc + n0;
                    const float *a = ap + (size_t)i0 * kc;
                    if (rows == mr && nc == nr) {
                        arch->ukr(kc, a, bp, c, ldc, acc);
                        continue;
                    }
                    for (int r = 0; r < rows && acc; r++)
                        memcpy(tile + r * nr, c + (size_t)r * ldc, (size_t)nc * sizeof(float));
                    arch->ukr(kc, a, bp, tile, nr, acc);
                    for (int r = 0; r < rows; r++)
                        memcpy(c + (size_t)r * ldc, tile + r * nr, (size_t)nc * sizeof(float));
                }
            }
        }
    }
    free(buf);
}

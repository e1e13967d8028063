/* CBLAS kernels (OpenBLAS by default, any CBLAS with BLAS=cblas): the float GEMM only (cblas_sgemm). The integer kernels stay with the portable/SIMD
 * variants, which are exact; this table leaves them NULL so select.c keeps those.
 *
 * Threads: detc parallelises convolutions itself (each pool thread runs its own tiles and calls the GEMM
 * on them), so OpenBLAS must not start threads of its own inside those calls: with both, 2 pool threads
 * x N OpenBLAS threads oversubscribe the cores and OpenBLAS's spinning workers steal time from detc's.
 * With OpenBLAS (DETC_HAVE_OPENBLAS), the first probe calls openblas_set_num_threads(1) once for the process, which also overrides
 * OPENBLAS_NUM_THREADS; every cblas_sgemm then runs on the calling thread (OpenBLAS 0.3 is safe to call
 * from several threads at once). Measured on SSD MobileNet v1 in f32 (2-core machine, 1 detc thread,
 * conv2d time per run): 41 ms with 1 OpenBLAS thread, 182 ms with 2 (conv2d hands OpenBLAS 32-row tiles,
 * too small to split, so its threads only add hand-off and spinning). Another CBLAS is used as it comes:
 * set its own thread count to 1 (e.g. its environment variable) when detc runs several threads.
 *
 * Results differ from the portable loop only in summation order (OpenBLAS blocks K and uses FMA):
 * tests/test_kernels.c bounds the difference against a double-precision reference. */
#include "kernels.h"

#include <cblas.h>
#include <pthread.h>

#ifdef DETC_HAVE_OPENBLAS
/* Declared by OpenBLAS's cblas.h; repeated here in case another CBLAS header is the system default. */
void openblas_set_num_threads(int num_threads);

static pthread_once_t blas_once = PTHREAD_ONCE_INIT;

static void blas_init(void)
{
    openblas_set_num_threads(1);
}
#endif

int detc_blas_supported(void)
{
#ifdef DETC_HAVE_OPENBLAS
    pthread_once(&blas_once, blas_init);
#endif
    return 1;
}

/* C[m*ldc + n] = sum_k A[m*lda + k] * B[n*ldb + k]: row-major A (M x K) times B^T (B is N x K). */
static void gemm_f32(int M, int N, int K, const float *A, int lda, const float *B, int ldb, float *C, int ldc)
{
    if (M <= 0 || N <= 0)
        return;
    if (K <= 0) { /* an empty sum; BLAS would reject lda = 0 */
        for (int m = 0; m < M; m++)
            for (int n = 0; n < N; n++)
                C[(long)m * ldc + n] = 0.0f;
        return;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1.0f, A, lda, B, ldb, 0.0f, C, ldc);
}

const detc_kernels detc_kernels_blas = {
    .name = "blas",
    .gemm_f32 = gemm_f32,
};

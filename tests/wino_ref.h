/* The Winograd F(4x4, 3x3) input transform t = B^T d B in int64 (B^T of ops/conv2d_winograd.c, written out here
 * independently of the kernels): the reference of tests/test_kernels.c (wino_in_s16) and
 * tests/test_winograd_q8.c (the int8 Winograd conv). */
#ifndef DETC_TESTS_WINO_REF_H
#define DETC_TESTS_WINO_REF_H

#include <stdint.h>

static const int WINO_REF_BT[6][6] = {{4, 0, -5, 0, 1, 0},  {0, -4, -4, 1, 1, 0}, {0, 4, -4, -1, 1, 0},
                                      {0, -2, -1, 2, 1, 0}, {0, 2, -1, -2, 1, 0}, {0, 4, 0, -5, 0, 1}};

/* t[a * 6 + b] = (B^T d B)[a][b] */
static inline void wino_ref_input(const int64_t d[6][6], int64_t t[36])
{
    int64_t tmp[6][6];
    for (int a = 0; a < 6; a++)
        for (int x = 0; x < 6; x++) {
            tmp[a][x] = 0;
            for (int y = 0; y < 6; y++)
                tmp[a][x] += WINO_REF_BT[a][y] * d[y][x];
        }
    for (int a = 0; a < 6; a++)
        for (int b = 0; b < 6; b++) {
            int64_t s = 0;
            for (int x = 0; x < 6; x++)
                s += tmp[a][x] * WINO_REF_BT[b][x];
            t[a * 6 + b] = s;
        }
}

/* The largest |t[xi]| over inputs d in [dlo, dhi]^36: t is linear in d, with the coefficients read off the
 * transform of unit impulses, so each d_yx sits at the end of its range that its coefficient's sign picks. */
static inline int64_t wino_ref_t_bound(int xi, int64_t dlo, int64_t dhi)
{
    int64_t hi = 0, lo = 0;
    for (int y = 0; y < 6; y++)
        for (int x = 0; x < 6; x++) {
            int64_t d[6][6] = {{0}}, t[36];
            d[y][x] = 1;
            wino_ref_input(d, t);
            int64_t a = t[xi] * dlo, b = t[xi] * dhi;
            hi += a > b ? a : b;
            lo += a < b ? a : b;
        }
    return hi > -lo ? hi : -lo;
}

#endif

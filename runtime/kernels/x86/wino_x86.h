/* Winograd F(4x4, 3x3) transforms on SIMD vectors (ops/conv2d_winograd.c has the matrices), shared by the float
 * Winograd kernels (conv_f32.c) and the int8 Winograd output stage (wino_q8_x86.c). A^T's constants are powers of
 * two, so a fused multiply-add in WINO_AT6 rounds as the separate multiply and add: its floats are the portable
 * kernel's on every ISA (B^T's 5 makes WINO_BT6's fused forms differ from it in the last bits). */
#ifndef DETC_WINO_X86_H
#define DETC_WINO_X86_H

/* The transforms' loops over rows and columns run fully unrolled, so that their vectors stay in registers (not
 * unrolled, gcc kept every row of the tile in memory: the int8 output stage ran 1.6x slower). */
#if defined(__clang__)
#define WINO_UNROLL _Pragma("clang loop unroll(full)")
#else
#define WINO_UNROLL _Pragma("GCC unroll 6")
#endif

/* B^T on six vectors (d0..d5 -> o[0..5], o[k] at o[k * os]) and A^T (-> o[0..3]), with the ISA's add, sub,
 * fmadd (a*b+c) and fnmadd (c-a*b) and constants f2, f4, f5, f8 in scope. */
#define WINO_BT6(ADD, SUB, FMA, FNMA, d0, d1, d2, d3, d4, d5, o, os)                                           \
    do {                                                                                                       \
        (o)[0 * (os)] = FMA(f4, d0, FNMA(f5, d2, d4));                                                         \
        (o)[1 * (os)] = FNMA(f4, ADD(d1, d2), ADD(d3, d4));                                                    \
        (o)[2 * (os)] = FMA(f4, SUB(d1, d2), SUB(d4, d3));                                                     \
        (o)[3 * (os)] = FMA(f2, SUB(d3, d1), SUB(d4, d2));                                                     \
        (o)[4 * (os)] = FMA(f2, SUB(d1, d3), SUB(d4, d2));                                                     \
        (o)[5 * (os)] = FMA(f4, d1, FNMA(f5, d3, d5));                                                         \
    } while (0)
#define WINO_AT6(ADD, SUB, FMA, m0, m1, m2, m3, m4, m5, o, os)                                                 \
    do {                                                                                                       \
        __typeof__(m0) s12 = ADD(m1, m2), d12 = SUB(m1, m2), s34 = ADD(m3, m4), d34 = SUB(m3, m4);             \
        (o)[0 * (os)] = ADD(ADD(m0, s12), s34);                                                                \
        (o)[1 * (os)] = FMA(f2, d34, d12);                                                                     \
        (o)[2 * (os)] = FMA(f4, s34, s12);                                                                     \
        (o)[3 * (os)] = ADD(FMA(f8, d34, d12), m5);                                                            \
    } while (0)

/* A^T m A of one block of channels in wino_out_f32's order (columns, then rows): LOAD(xi) is m[xi] (xi = 6y + x),
 * EMIT(p, v) is handed output pixel p's vector (p = 4r + x). ADD, SUB, FMA as WINO_AT6's, with f2, f4, f8 in
 * scope. Shared by the float output transform and the int8 output stage, which differ in LOAD and EMIT. */
#define WINO_AT_TILE(VEC, ADD, SUB, FMA, LOAD, EMIT)                                                              \
    do {                                                                                                       \
        VEC wt_[24];                                                                                           \
        WINO_UNROLL                                                                                            \
        for (int wx_ = 0; wx_ < 6; wx_++) {                                                                    \
            VEC wa_[6];                                                                                        \
            WINO_UNROLL                                                                                        \
            for (int wy_ = 0; wy_ < 6; wy_++)                                                                  \
                wa_[wy_] = LOAD(wy_ * 6 + wx_);                                                                \
            WINO_AT6(ADD, SUB, FMA, wa_[0], wa_[1], wa_[2], wa_[3], wa_[4], wa_[5], wt_ + wx_, 6);             \
        }                                                                                                      \
        WINO_UNROLL                                                                                            \
        for (int wr_ = 0; wr_ < 4; wr_++) {                                                                    \
            VEC wo_[4];                                                                                        \
            const VEC *wr6_ = wt_ + wr_ * 6;                                                                   \
            WINO_AT6(ADD, SUB, FMA, wr6_[0], wr6_[1], wr6_[2], wr6_[3], wr6_[4], wr6_[5], wo_, 1);             \
            WINO_UNROLL                                                                                        \
            for (int wp_ = 0; wp_ < 4; wp_++)                                                                  \
                EMIT(wr_ * 4 + wp_, wo_[wp_]);                                                                 \
        }                                                                                                      \
    } while (0)

#endif

/* The avx512vbmi table: AVX-512 VBMI on top of avx512vnni (Ice Lake, Sapphire Rapids, Zen 4; not Cascade Lake).
 * Its entries need byte permutes (vpermt2b), so they live in a table of their own that select.c takes only on a
 * CPU with VBMI, and every other AVX-512 function stays free of VBMI instructions:
 *   - dwconv_q8 and dwconv_q8_run: dw_q8_avx512.h's kernels with dwv_pair's byte pairs in one vpermt2b;
 *   - lut_u8: 64 bytes per step. */
#include "kernels.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

#define DWV_TARGET __attribute__((target("avx512f,avx512bw,avx512vnni,avx512vbmi")))
#define DWV_VBMI 1
#define DWV_DWCONV_Q8 dwconv_q8_vbmi
#define DWV_DWCONV_Q8_RUN dwconv_q8_run_vbmi
#include "dw_q8_avx512.h"

/* vpermi2b looks every byte's low 7 bits up in one 128-byte half of the table, and bit 7 picks the half. The
 * tail is one masked load and store. */
__attribute__((target("avx512f,avx512bw,avx512vbmi"))) static void lut_u8_vbmi(const uint8_t table[256], size_t n,
                                                                              const uint8_t *in, uint8_t *out)
{
    const __m512i t0 = _mm512_loadu_si512(table), t1 = _mm512_loadu_si512(table + 64);
    const __m512i t2 = _mm512_loadu_si512(table + 128), t3 = _mm512_loadu_si512(table + 192);
    for (size_t i = 0; i < n; i += 64) {
        const __mmask64 m = n - i >= 64 ? ~(__mmask64)0 : (((__mmask64)1 << (n - i)) - 1);
        const __m512i x = _mm512_maskz_loadu_epi8(m, in + i);
        const __m512i lo = _mm512_permutex2var_epi8(t0, x, t1), hi = _mm512_permutex2var_epi8(t2, x, t3);
        _mm512_mask_storeu_epi8(out + i, m, _mm512_mask_blend_epi8(_mm512_movepi8_mask(x), lo, hi));
    }
}

const detc_kernels detc_kernels_avx512vbmi = {
    .name = "avx512vbmi",
    .dwconv_q8 = dwconv_q8_vbmi,
    .dwconv_q8_run = dwconv_q8_run_vbmi,
    .lut_u8 = lut_u8_vbmi,
};

#endif

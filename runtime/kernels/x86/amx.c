/* Intel AMX kernels: the quantized conv GEMM (conv_q8) on the tile unit, requantized with AVX-512.
 *
 * Only conv_q8_pack and conv_q8: select.c takes every other entry from the lower x86 tables, and picks this
 * one only when cpuid reports AMX-TILE, AMX-INT8 and AVX-512 (F, BW) and Linux grants the process the tile
 * data state (arch_prctl ARCH_REQ_XCOMP_PERM). Where the permission is refused, or on any CPU without AMX
 * (every AMD Zen so far), the table is simply not offered and the AVX-512 VNNI / AVX2 kernels run as before.
 *
 * Compiled with target attributes, as x86.c: the build needs no -march flag. Results are identical to the
 * portable kernel: the tile unit's dot products (TDPBUUD for u8 x u8, TDPBSSD for i8 x i8) add exact 32-bit
 * products into 32-bit accumulators that wrap, as the portable uint32 sums do; the rest is integer
 * arithmetic lane by lane. */
#include "kernels.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#include <stdlib.h>
#include <string.h>

#include "q8_avx512.h"

#define AMX __attribute__((target("amx-tile,amx-int8,avx512f,avx512bw")))
#define INLINE_AMX AMX __attribute__((always_inline)) static inline

/* gcc's _tile_loadd and _tile_loadconfig are asm statements that do not tell the compiler they read
 * memory: barriers around the writes of a scratch tile or of the configuration keep them in their place. */
#define AMX_MEMORY_BARRIER() __asm__ volatile("" ::: "memory")

/* Packed filter: 16-channel blocks of 64-byte K chunks, [N16/16][K64/64][16 rows of 4 K][16 channels][4
 * bytes], i.e. each (block, chunk) is one 1 KiB B tile in the layout TDPB*D reads (row r holds K 4r..4r+3
 * of the 16 channels). K is padded to a multiple of 64 and N to 16 with zero weights: a zero weight adds
 * nothing whatever byte of A meets it, which lets the kernel read A rows past K (up to the row stride or
 * into the next row) instead of copying them. */
#define AMX_CHUNK 64   /* K bytes per A tile row */
#define AMX_TILE_B 1024 /* bytes of a B tile */
#define AMX_MR 32      /* rows per block: two A tiles */

static size_t amx_weight_bytes(int n, int k)
{
    return (size_t)((n + 15) / 16) * (size_t)((k + AMX_CHUNK - 1) / AMX_CHUNK) * AMX_TILE_B;
}

/* Below one 64-byte K chunk the tile unit multiplies mostly padding and the requantization dominates: the
 * AVX-512 VNNI kernel (x86.c) packs and runs those filters (SSD's first conv, K = 27, went from 0.75 to
 * 1.0 ms on the tile unit). Both entries decide on K alone, so a filter is always read by the kernel that
 * packed it. */
#define AMX_MIN_K 64
extern const detc_kernels detc_kernels_avx512vnni;

static void *conv_q8_pack_amx(int n, int k, const uint8_t *w, int is_signed)
{
    if (k < AMX_MIN_K)
        return detc_kernels_avx512vnni.conv_q8_pack(n, k, w, is_signed);
    (void)is_signed; /* the bytes are multiplied as they are: TDPBSSD or TDPBUUD */
    if (n < 0 || k < 0)
        return NULL;
    const int KC = (k + AMX_CHUNK - 1) / AMX_CHUNK;
    size_t total = amx_weight_bytes(n, k);
    if (!total)
        total = 64;
    uint8_t *p = aligned_alloc(64, total);
    if (!p)
        return NULL;
    memset(p, 0, total);
    for (int c = 0; c < n; c++)
        for (int q = 0; q < k; q++)
            p[((size_t)(c / 16) * KC + q / AMX_CHUNK) * AMX_TILE_B + (size_t)(q % AMX_CHUNK / 4) * 64 + (c % 16) * 4 +
              q % 4] = w[(size_t)c * k + q];
    return p;
}

/* ldtilecfg's 64-byte operand, palette 1. */
typedef struct {
    uint8_t palette, start_row;
    uint8_t reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
} __attribute__((aligned(64))) amx_tilecfg;

/* Every tile is 16 rows of 64 bytes: tmm0-3 the 2x2 int32 accumulators (16 rows x 16 channels), tmm4-5
 * two A tiles (16 rows x 64 K), tmm6-7 two B tiles (16 rows of 4 K x 16 channels). */
INLINE_AMX void amx_configure(void)
{
    amx_tilecfg cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.palette = 1;
    for (int t = 0; t < 8; t++) {
        cfg.colsb[t] = 64;
        cfg.rows[t] = 16;
    }
    AMX_MEMORY_BARRIER();
    _tile_loadconfig(&cfg);
}

/* Where A tile h (rows r0 + 16h .. + 15 of the block) of chunk s is read from: in place (stride lda) for
 * chunks below direct[h], else a copy into scratch (stride 64) with the bytes past K and the rows past the
 * block's mr zeroed (masked loads: nothing outside the rows' K bytes is touched). */
INLINE_AMX const uint8_t *amx_a_tile(const uint8_t *A, int lda, int K, int r0, int rows, int s, int direct,
                                     uint8_t *scratch, long *stride)
{
    if (s < direct) {
        *stride = lda;
        return A + (long)r0 * lda + (long)s * AMX_CHUNK;
    }
    const int left = K - s * AMX_CHUNK;
    const __mmask64 mask = left >= 64 ? ~(__mmask64)0 : (((__mmask64)1 << left) - 1);
    AMX_MEMORY_BARRIER(); /* the previous chunk's tile load has read scratch (gcc: see above) */
    for (int r = 0; r < 16; r++) {
        __m512i v = r < rows ? _mm512_maskz_loadu_epi8(mask, A + (long)(r0 + r) * lda + (long)s * AMX_CHUNK)
                             : _mm512_setzero_si512();
        _mm512_store_si512(scratch + r * 64, v);
    }
    AMX_MEMORY_BARRIER();
    *stride = 64;
    return scratch;
}

/* Per-channel constants of 16 channels (lanes past N masked to 0). */
typedef struct {
    __m512i bias, wzp, mult, mult_odd, lsh, rsh, rmask, rthr, zp, lo, hi; /* gemmlowp's two roundings */
    detc_rq_once once;                                                   /* round_once */
} amx_rq;

INLINE_AMX amx_rq amx_rq_load(const detc_conv_q8_params *prm, int c, __mmask16 mk)
{
    amx_rq r;
    r.bias = _mm512_maskz_loadu_epi32(mk, prm->bias + c);
    r.wzp = prm->w_zp ? _mm512_maskz_loadu_epi32(mk, prm->w_zp + c) : _mm512_setzero_si512();
    r.mult = _mm512_maskz_loadu_epi32(mk, prm->mult + c);
    r.mult_odd = _mm512_srli_epi64(r.mult, 32);
    r.lsh = _mm512_maskz_loadu_epi32(mk, prm->lshift + c);
    r.rsh = _mm512_maskz_loadu_epi32(mk, prm->rshift + c);
    const __m512i one = _mm512_set1_epi32(1);
    r.rmask = _mm512_sub_epi32(_mm512_sllv_epi32(one, r.rsh), one);
    r.rthr = _mm512_srli_epi32(r.rmask, 1);
    if (prm->round_once)
        r.once = detc_rq_once_load(prm->mult + c, prm->lshift + c, prm->rshift + c, mk);
    r.zp = _mm512_set1_epi32(prm->out_zp);
    r.lo = _mm512_set1_epi32(prm->act_min);
    r.hi = _mm512_set1_epi32(prm->act_max);
    return r;
}

/* gemmlowp's two roundings: q8_avx512.h, shared with x86.c's VNNI kernels. */
INLINE_AMX __m512i amx_requant_gemmlowp(__m512i acc, const amx_rq *r)
{
    return detc_requant_gemmlowp16(acc, r->mult, r->mult_odd, r->lsh, r->rsh, r->rmask, r->rthr);
}

/* A finished block waiting for its requantization: its accumulators in cbuf ([32][32] int32), rows
 * [next, mr) still to store. The vector work of one block runs between the tile instructions of the next
 * (amx_block), so that the AVX-512 ports and the tile unit work at the same time. */
typedef struct {
    const int32_t *cbuf;
    const uint32_t *rs; /* row sums of the block's rows */
    uint8_t *out;       /* row 0, channel c */
    int mr, next, TN, ldo;
    __mmask16 mk[2];
    amx_rq r[2];        /* channels c .. c + 15, c + 16 .. c + 31 */
} amx_pending;

INLINE_AMX void amx_pend(amx_pending *p, const detc_conv_q8_params *prm, const int32_t *cbuf, const uint32_t *rs,
                         uint8_t *out, int ldo, int mr, int c, int TN)
{
    p->cbuf = cbuf;
    p->rs = rs;
    p->out = out;
    p->mr = mr;
    p->next = 0;
    p->TN = TN;
    p->ldo = ldo;
    for (int j = 0; j < TN; j++) {
        const int left = prm->n - c - 16 * j;
        p->mk[j] = left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1);
        p->r[j] = amx_rq_load(prm, c + 16 * j, p->mk[j]);
    }
}

/* acc = dot + bias - w_zp * rowsum (mod 2^32), requantized, + out_zp, clamped, stored as bytes (the clamp
 * keeps it in the output type's range, so truncating to bytes is exact): rows [next, next + count) of p. */
INLINE_AMX void amx_store_rows(amx_pending *p, int count, int once, int wzp)
{
    if (p->next >= p->mr)
        return;
    const int stop = p->mr - p->next < count ? p->mr : p->next + count;
    for (int j = 0; j < p->TN; j++) {
        const amx_rq *r = &p->r[j];
        for (int i = p->next; i < stop; i++) {
            __m512i v = _mm512_add_epi32(_mm512_load_si512(p->cbuf + i * 32 + 16 * j), r->bias);
            if (wzp)
                v = _mm512_sub_epi32(v, _mm512_mullo_epi32(r->wzp, _mm512_set1_epi32((int32_t)p->rs[i])));
            if (once) /* q8_avx512.h's round_once, clamped to [lo - zp, hi - zp] first: a result near 2^31
                       * plus zp would wrap */
                v = _mm512_add_epi32(_mm512_min_epi32(_mm512_max_epi32(detc_rq_once_apply(v, &r->once),
                                                                       _mm512_sub_epi32(r->lo, r->zp)),
                                                      _mm512_sub_epi32(r->hi, r->zp)),
                                     r->zp);
            else
                v = _mm512_min_epi32(_mm512_max_epi32(_mm512_add_epi32(amx_requant_gemmlowp(v, r), r->zp), r->lo),
                                     r->hi);
            _mm512_mask_cvtepi32_storeu_epi8(p->out + (long)i * p->ldo + 16 * j, p->mk[j], v);
        }
    }
    p->next = stop;
}

/* The K loop of one block: TM (1 or 2) A tiles x TN (1 or 2) B tiles into tmm0-3, stored to
 * cbuf[32][32] (tile (i, j) at rows 16i, columns 16j); the previous block's rows are stored a few at a time
 * between the K steps. */
INLINE_AMX void amx_block(const detc_conv_q8_params *prm, const uint8_t *A, int lda, int r0, int mr,
                          const int *direct, const uint8_t *b, size_t bstride, int TM, int TN, int is_signed,
                          int once, int wzp, uint8_t (*scratch)[1024], int32_t *cbuf, amx_pending *prev)
{
    const int K = prm->k, KC = (K + AMX_CHUNK - 1) / AMX_CHUNK;
    const int per_step = KC ? (prev->mr - prev->next + KC - 1) / KC : 0;
    _tile_zero(0);
    if (TN == 2)
        _tile_zero(1);
    if (TM == 2)
        _tile_zero(2);
    if (TM == 2 && TN == 2)
        _tile_zero(3);
    for (int s = 0; s < KC; s++) {
        long st0, st1 = 0;
        const uint8_t *a0 = amx_a_tile(A, lda, K, r0, mr, s, direct[0], scratch[0], &st0), *a1 = NULL;
        if (TM == 2)
            a1 = amx_a_tile(A, lda, K, r0 + 16, mr - 16, s, direct[1], scratch[1], &st1);
        const uint8_t *b0 = b + (size_t)s * AMX_TILE_B;
        _tile_loadd(4, a0, st0);
        _tile_loadd(6, b0, 64);
        if (TN == 2)
            _tile_loadd(7, b0 + bstride, 64);
        if (TM == 2)
            _tile_loadd(5, a1, st1);
        if (is_signed) {
            _tile_dpbssd(0, 4, 6);
            if (TN == 2)
                _tile_dpbssd(1, 4, 7);
            if (TM == 2)
                _tile_dpbssd(2, 5, 6);
            if (TM == 2 && TN == 2)
                _tile_dpbssd(3, 5, 7);
        } else {
            _tile_dpbuud(0, 4, 6);
            if (TN == 2)
                _tile_dpbuud(1, 4, 7);
            if (TM == 2)
                _tile_dpbuud(2, 5, 6);
            if (TM == 2 && TN == 2)
                _tile_dpbuud(3, 5, 7);
        }
        amx_store_rows(prev, per_step, once, wzp);
    }
    amx_store_rows(prev, AMX_MR, once, wzp);
    _tile_stored(0, cbuf, 128);
    if (TN == 2)
        _tile_stored(1, cbuf + 16, 128);
    if (TM == 2)
        _tile_stored(2, cbuf + 16 * 32, 128);
    if (TM == 2 && TN == 2)
        _tile_stored(3, cbuf + 16 * 32 + 16, 128);
}

INLINE_AMX void amx_body(const detc_conv_q8_params *prm, int m, const uint8_t *A, int lda, uint8_t *out, int ldo,
                         int is_signed, int once, int wzp)
{
    const int N = prm->n, K = prm->k, KC = (K + AMX_CHUNK - 1) / AMX_CHUNK, NBLK = (N + 15) / 16;
    const uint8_t *B = prm->packed;
    const size_t bstride = (size_t)KC * AMX_TILE_B;
    /* The last byte this call may read is A[(m - 1) * lda + K - 1]: a chunk read in place must end there. */
    const long end = (long)(m - 1) * lda + K;
    int32_t cbuf[2][AMX_MR * 32] __attribute__((aligned(64)));
    uint8_t scratch[2][1024] __attribute__((aligned(64)));
    uint32_t rs[2][AMX_MR];
    amx_pending prev;
    memset(&prev, 0, sizeof prev);
    int buf = 0;
    amx_configure();
    for (int m0 = 0; m0 < m; m0 += AMX_MR) {
        const int mr = m - m0 < AMX_MR ? m - m0 : AMX_MR, TM = mr > 16 ? 2 : 1;
        uint32_t *rsb = rs[(m0 / AMX_MR) & 1];
        for (int i = 0; i < mr; i++)
            rsb[i] = wzp ? detc_row_sum_q8(A + (long)(m0 + i) * lda, K, is_signed) : 0;
        /* Chunks of tile h read in place: its 16 rows present and chunk s's 64 bytes of its last row
         * within end. */
        int direct[2] = {0, 0};
        for (int h = 0; h < TM; h++) {
            if (mr - 16 * h < 16)
                continue;
            long room = end - (long)(m0 + 16 * h + 15) * lda; /* >= K */
            long full = room / AMX_CHUNK;
            direct[h] = full < KC ? (int)full : KC;
        }
        for (int nb = 0; nb < NBLK; nb += 2) {
            const int TN = NBLK - nb >= 2 ? 2 : 1;
            const uint8_t *b = B + (size_t)nb * bstride;
            int32_t *cb = cbuf[buf];
            if (TM == 2 && TN == 2)
                amx_block(prm, A, lda, m0, mr, direct, b, bstride, 2, 2, is_signed, once, wzp, scratch, cb, &prev);
            else if (TM == 2)
                amx_block(prm, A, lda, m0, mr, direct, b, bstride, 2, 1, is_signed, once, wzp, scratch, cb, &prev);
            else if (TN == 2)
                amx_block(prm, A, lda, m0, mr, direct, b, bstride, 1, 2, is_signed, once, wzp, scratch, cb, &prev);
            else
                amx_block(prm, A, lda, m0, mr, direct, b, bstride, 1, 1, is_signed, once, wzp, scratch, cb, &prev);
            amx_pend(&prev, prm, cb, rsb, out + (long)m0 * ldo + nb * 16, ldo, mr, nb * 16, TN);
            buf ^= 1;
        }
    }
    /* Back to the init state: the thread's tile data no longer needs saving at context switches. */
    _tile_release();
    amx_store_rows(&prev, AMX_MR, once, wzp);
}

/* One function per byte type, rounding and presence of filter zero points (none: no row sums, no
 * multiply in the requantization). */
#define AMX_ENTRY(NAME, SIGNED, ONCE, WZP)                                                                    \
    AMX static void NAME(const detc_conv_q8_params *prm, int m, const uint8_t *a, int lda, uint8_t *out, int ldo) \
    {                                                                                                          \
        amx_body(prm, m, a, lda, out, ldo, SIGNED, ONCE, WZP);                                                 \
    }
AMX_ENTRY(cq_amx_u8, 0, 0, 0)
AMX_ENTRY(cq_amx_u8_zp, 0, 0, 1)
AMX_ENTRY(cq_amx_s8, 1, 0, 0)
AMX_ENTRY(cq_amx_s8_zp, 1, 0, 1)
AMX_ENTRY(cq_amx_u8_once, 0, 1, 0)
AMX_ENTRY(cq_amx_u8_zp_once, 0, 1, 1)
AMX_ENTRY(cq_amx_s8_once, 1, 1, 0)
AMX_ENTRY(cq_amx_s8_zp_once, 1, 1, 1)

static void conv_q8_amx(const detc_conv_q8_params *prm, int m, const uint8_t *a, int lda, uint8_t *out, int ldo)
{
    typedef void (*entry)(const detc_conv_q8_params *, int, const uint8_t *, int, uint8_t *, int);
    static const entry entries[8] = {cq_amx_u8,      cq_amx_u8_zp,      cq_amx_s8,      cq_amx_s8_zp,
                                     cq_amx_u8_once, cq_amx_u8_zp_once, cq_amx_s8_once, cq_amx_s8_zp_once};
    if (m <= 0)
        return;
    if (prm->k < AMX_MIN_K) {
        detc_kernels_avx512vnni.conv_q8(prm, m, a, lda, out, ldo);
        return;
    }
    entries[(prm->round_once ? 4 : 0) + (prm->is_signed ? 2 : 0) + (prm->w_zp ? 1 : 0)](prm, m, a, lda, out, ldo);
}

const detc_kernels detc_kernels_amx = {
    .name = "amx",
    .conv_q8_pack = conv_q8_pack_amx,
    .conv_q8 = conv_q8_amx,
};

#endif

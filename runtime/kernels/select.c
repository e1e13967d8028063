/* Kernel table composition and CPU feature detection.
 *
 * Variants, in increasing preference. A variant may implement only some entries (NULL elsewhere): a
 * composed table starts from the portable one and takes each supported variant's entries over it, so
 * e.g. the quantized conv can come from AVX-512 VNNI while float GEMM comes from another variant.
 *
 * All tables are composed once per process (pthread_once) and never written again: every model, test or
 * thread that selects gets a pointer to the same immutable table, so loading a model while another runs
 * cannot change the kernels under it. */
#include "kernels.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#if defined(__linux__) && (defined(__aarch64__) || defined(__arm__))
#include <sys/auxv.h>
#endif

typedef struct {
    const detc_kernels *table;
    int (*supported)(void);
} kernel_variant;

static int always(void)
{
    return 1;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define DETC_HAVE_X86_KERNELS 1
extern const detc_kernels detc_kernels_avx2, detc_kernels_avx512vnni;

/* FMA too: the AVX2 table's float kernels use it (every AVX2 CPU made has it). */
static int has_avx2(void)
{
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

static int has_avx512vnni(void)
{
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vnni");
}
#endif

#if defined(__aarch64__) && defined(__linux__)
#define DETC_HAVE_ARM_KERNELS 1
extern const detc_kernels detc_kernels_neon, detc_kernels_neon_dotprod;

/* Advanced SIMD is part of armv8.0-A (the ABI requires it); dot product is optional before armv8.4. */
static int has_neon(void)
{
    return 1;
}

static int has_dotprod(void)
{
#ifndef HWCAP_ASIMDDP
#define HWCAP_ASIMDDP (1UL << 20) /* the kernel's value, for headers older than it */
#endif
    return (getauxval(AT_HWCAP) & HWCAP_ASIMDDP) != 0;
}
#elif defined(__arm__) && defined(__linux__)
#define DETC_HAVE_ARM_KERNELS 1
extern const detc_kernels detc_kernels_neon;

/* armhf guarantees VFP only: NEON and the VFPv4 fused multiply-add are probed. */
static int has_neon(void)
{
#ifndef HWCAP_NEON
#define HWCAP_NEON (1UL << 12)
#endif
#ifndef HWCAP_VFPv4
#define HWCAP_VFPv4 (1UL << 16)
#endif
    unsigned long hw = getauxval(AT_HWCAP);
    return (hw & HWCAP_NEON) && (hw & HWCAP_VFPv4);
}
#endif

#ifdef DETC_HAVE_BLAS
/* A CBLAS float GEMM (blas/blas.c); built when the Makefile links a BLAS (BLAS=openblas or cblas). */
extern const detc_kernels detc_kernels_blas;
int detc_blas_supported(void);
#endif

/* On 32-bit ARM detc's own NEON SGEMM beats OpenBLAS on detc's shapes (SSD f32 under qemu, Cortex-A15:
 * 727 M instructions per inference with it, 1,276 M with OpenBLAS's), so there the BLAS table comes before
 * the NEON one and the NEON GEMM wins the composition; elsewhere OpenBLAS is as fast or faster and comes last. */
#if defined(DETC_HAVE_BLAS) && defined(__arm__)
#define DETC_BLAS_FIRST 1
#endif

static const kernel_variant variants[] = {
    {&detc_kernels_portable, always},
#ifdef DETC_BLAS_FIRST
    {&detc_kernels_blas, detc_blas_supported},
#endif
#ifdef DETC_HAVE_X86_KERNELS
    {&detc_kernels_avx2, has_avx2},
    {&detc_kernels_avx512vnni, has_avx512vnni},
#endif
#ifdef DETC_HAVE_ARM_KERNELS
    {&detc_kernels_neon, has_neon},
#ifdef __aarch64__
    {&detc_kernels_neon_dotprod, has_dotprod},
#endif
#endif
#if defined(DETC_HAVE_BLAS) && !defined(DETC_BLAS_FIRST)
    {&detc_kernels_blas, detc_blas_supported},
#endif
};
#define N_VARIANTS ((int)(sizeof variants / sizeof variants[0]))

static void overlay(detc_kernels *dst, const detc_kernels *src)
{
    if (src->gemm_f32)
        dst->gemm_f32 = src->gemm_f32;
    if (src->dwconv_q8)
        dst->dwconv_q8 = src->dwconv_q8;
    if (src->dwconv_f32)
        dst->dwconv_f32 = src->dwconv_f32;
    if (src->conv_q8) { /* the packed layout belongs to the variant: both or neither */
        dst->conv_q8_pack = src->conv_q8_pack;
        dst->conv_q8 = src->conv_q8;
    }
    if (src->wino_in_f32)
        dst->wino_in_f32 = src->wino_in_f32;
    if (src->wino_out_f32)
        dst->wino_out_f32 = src->wino_out_f32;
    if (src->conv_f32) {
        dst->conv_f32_pack = src->conv_f32_pack;
        dst->conv_f32 = src->conv_f32;
    }
    if (src->add_q8)
        dst->add_q8 = src->add_q8;
    if (src->quantize_q8)
        dst->quantize_q8 = src->quantize_q8;
    if (src->dequantize_q8)
        dst->dequantize_q8 = src->dequantize_q8;
}

/* composed[i] for i < N_VARIANTS: the portable table with variant i over it (NULL name when the CPU lacks
 * it); composed[N_VARIANTS]: "auto", every supported variant in order of preference. */
static detc_kernels composed[N_VARIANTS + 1];
static char auto_name[128];
static pthread_once_t compose_once = PTHREAD_ONCE_INIT;

static void compose_all(void)
{
    detc_kernels all = detc_kernels_portable;
    size_t used = 0;
    for (int i = 0; i < N_VARIANTS; i++) {
        if (!variants[i].supported())
            continue;
        detc_kernels one = detc_kernels_portable;
        overlay(&one, variants[i].table);
        one.name = variants[i].table->name;
        composed[i] = one;
        overlay(&all, variants[i].table);
        snprintf(auto_name + used, sizeof auto_name - used, "%s%s", used ? "+" : "", variants[i].table->name);
        used = strlen(auto_name);
    }
    all.name = auto_name;
    composed[N_VARIANTS] = all;
}

const detc_kernels *detc_kernels_select(const char *name)
{
    pthread_once(&compose_once, compose_all);
    if (!name || !*name || strcmp(name, "auto") == 0) /* unset, empty (DETC_KERNELS=) or "auto" */
        return &composed[N_VARIANTS];
    for (int i = 0; i < N_VARIANTS; i++)
        if (strcmp(name, variants[i].table->name) == 0)
            return composed[i].name ? &composed[i] : NULL;
    return NULL;
}

/* Kernel table composition and CPU feature detection.
 *
 * Variants, in increasing preference. A variant may implement only some entries (NULL elsewhere): a
 * composed table starts from the portable one and takes each supported variant's entries over it, so
 * e.g. the quantized conv can come from AVX-512 VNNI while float GEMM comes from another variant.
 *
 * All tables are composed once per process (pthread_once) and never written again: every model, test or
 * thread that selects gets a pointer to the same immutable table, so loading a model while another runs
 * cannot change the kernels under it. */
#define _GNU_SOURCE /* syscall() for arch_prctl */
#include "kernels.h"

#include <pthread.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#if defined(__linux__) && (defined(__aarch64__) || defined(__arm__))
#include <sys/auxv.h>
#endif
#if defined(__linux__) && defined(__x86_64__)
#include <cpuid.h>
#include <sys/syscall.h>
#include <unistd.h>
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
extern const detc_kernels detc_kernels_avx2, detc_kernels_avx512vnni, detc_kernels_avx512vbmi;
#ifdef __linux__
#define DETC_HAVE_AMX_KERNELS 1
extern const detc_kernels detc_kernels_amx;
#endif

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

/* VNNI and VBMI (byte permutes): Ice Lake, Sapphire Rapids, Zen 4; Cascade Lake has VNNI alone. */
static int has_avx512vbmi(void)
{
    return has_avx512vnni() && __builtin_cpu_supports("avx512vbmi");
}

#ifdef DETC_HAVE_AMX_KERNELS
/* AMX-TILE and AMX-INT8 (cpuid leaf 7 EDX bits 24 and 25: __builtin_cpu_supports knows them only from gcc
 * 13 and clang 16), AVX-512 F and BW for the requantization, and the tile data state: Linux enables it only
 * for a process that asks (arch_prctl ARCH_REQ_XCOMP_PERM, kernel 5.16 and later; the grant covers every
 * thread of the process, those started before too). Asked once, here, before any thread runs a tile
 * instruction (which without the grant would die with SIGILL). A refusal (older kernel, seccomp, a
 * hypervisor that hides the state, or a thread of the host program already on a sigaltstack too small for
 * the larger signal frame: ENOSPC) only leaves the table out: conv_q8 then comes from avx512vnni or avx2 as
 * on a CPU without AMX, which includes every AMD CPU to date. Once granted, Linux refuses later
 * sigaltstack() calls with stacks smaller than the frame with tile data (AT_MINSIGSTKSZ tells the size):
 * DETC_AMX=0 in the environment keeps detc from asking. */
static int has_amx(void)
{
    const char *env = getenv("DETC_AMX"); /* "0": never ask (a host program with small sigaltstacks) */
    if (env && strcmp(env, "0") == 0)
        return 0;
    unsigned eax, ebx, ecx, edx;
    if (!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx))
        return 0;
    if (!(edx & (1u << 24)) || !(edx & (1u << 25)))
        return 0;
    if (!__builtin_cpu_supports("avx512f") || !__builtin_cpu_supports("avx512bw"))
        return 0;
    const long arch_req_xcomp_perm = 0x1023, xfeature_xtiledata = 18;
    return syscall(SYS_arch_prctl, arch_req_xcomp_perm, xfeature_xtiledata) == 0;
}
#endif
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
    {&detc_kernels_avx512vbmi, has_avx512vbmi},
#ifdef DETC_HAVE_AMX_KERNELS
    {&detc_kernels_amx, has_amx},
#endif
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
    if (src->dwconv_q8_run)
        dst->dwconv_q8_run = src->dwconv_q8_run;
    if (src->dwconv_f32_run)
        dst->dwconv_f32_run = src->dwconv_f32_run;
    if (src->conv_q8) { /* the packed layout belongs to the variant: both or neither */
        dst->conv_q8_pack = src->conv_q8_pack;
        dst->conv_q8 = src->conv_q8;
    }
    if (src->wino_in_f32)
        dst->wino_in_f32 = src->wino_in_f32;
    if (src->wino_out_f32)
        dst->wino_out_f32 = src->wino_out_f32;
    if (src->logistic_f32)
        dst->logistic_f32 = src->logistic_f32;
    if (src->conv_f32) {
        dst->conv_f32_pack = src->conv_f32_pack;
        dst->conv_f32 = src->conv_f32;
    }
    if (src->wino_in_s16)
        dst->wino_in_s16 = src->wino_in_s16;
    if (src->gemm_s16) { /* the packed layout belongs to the variant: both or neither */
        dst->conv_s16_pack = src->conv_s16_pack;
        dst->gemm_s16 = src->gemm_s16;
    }
    if (src->add_q8)
        dst->add_q8 = src->add_q8;
    if (src->quantize_q8)
        dst->quantize_q8 = src->quantize_q8;
    if (src->wino_out_q8)
        dst->wino_out_q8 = src->wino_out_q8;
    if (src->dequantize_q8)
        dst->dequantize_q8 = src->dequantize_q8;
    if (src->roi_sample_q8)
        dst->roi_sample_q8 = src->roi_sample_q8;
    if (src->roi_sample_f32)
        dst->roi_sample_f32 = src->roi_sample_f32;
    if (src->lut_u8)
        dst->lut_u8 = src->lut_u8;
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

/* A '+'-joined name ("avx2+avx512vnni+blas", the form of the auto table's own name) is the portable table
 * with those variants over it, in the order of preference above whatever their order in the name: e.g.
 * auto less one variant, to measure what that variant brings. Each set is composed on first request and
 * kept, immutable, like the others. */
static detc_kernels subsets[1 << N_VARIANTS];
static char subset_names[1 << N_VARIANTS][128];
static pthread_mutex_t subset_lock = PTHREAD_MUTEX_INITIALIZER;

static const detc_kernels *select_set(const char *name)
{
    unsigned set = 1; /* the portable table, under every set */
    for (const char *p = name;; p++) {
        const char *end = strchr(p, '+');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        int found = -1;
        for (int i = 0; i < N_VARIANTS && found < 0; i++)
            if (strlen(variants[i].table->name) == len && strncmp(p, variants[i].table->name, len) == 0)
                found = i;
        if (found < 0 || !composed[found].name) /* unknown, or not supported by this CPU */
            return NULL;
        set |= 1u << found;
        if (!end)
            break;
        p = end;
    }
    pthread_mutex_lock(&subset_lock);
    detc_kernels *k = &subsets[set];
    if (!k->name) {
        detc_kernels all = detc_kernels_portable;
        size_t used = 0;
        for (int i = 0; i < N_VARIANTS; i++) {
            if (!(set & (1u << i)))
                continue;
            overlay(&all, variants[i].table);
            snprintf(subset_names[set] + used, sizeof subset_names[set] - used, "%s%s", used ? "+" : "",
                     variants[i].table->name);
            used = strlen(subset_names[set]);
        }
        all.name = subset_names[set];
        *k = all;
    }
    pthread_mutex_unlock(&subset_lock);
    return k;
}

const detc_kernels *detc_kernels_select(const char *name)
{
    pthread_once(&compose_once, compose_all);
    if (!name || !*name || strcmp(name, "auto") == 0) /* unset, empty (DETC_KERNELS=) or "auto" */
        return &composed[N_VARIANTS];
    for (int i = 0; i < N_VARIANTS; i++)
        if (strcmp(name, variants[i].table->name) == 0)
            return composed[i].name ? &composed[i] : NULL;
    return strchr(name, '+') ? select_set(name) : NULL;
}

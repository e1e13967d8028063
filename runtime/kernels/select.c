#include "kernels.h"

#include <stdio.h>
#include <stdbool.h>
#include <string.h>

/* Variants, in increasing preference. A variant may implement only some entries (NULL elsewhere): the
 * selected table starts from the portable one and takes each supported variant's entries over it, so
 * e.g. the quantized conv can come from AVX-512 VNNI while float GEMM comes from another variant. */
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
int detc_cpu_has_avx2(void);
int detc_cpu_has_avx512vnni(void);
#endif

/* OpenBLAS float GEMM (blas/blas.c); the Makefile always links OpenBLAS. */
extern const detc_kernels detc_kernels_blas;
int detc_blas_supported(void);

static const kernel_variant variants[] = {
    {&detc_kernels_portable, always},
#ifdef DETC_HAVE_X86_KERNELS
    {&detc_kernels_avx2, detc_cpu_has_avx2},
    {&detc_kernels_avx512vnni, detc_cpu_has_avx512vnni},
#endif
    {&detc_kernels_blas, detc_blas_supported},
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
}

/* One composed table per variant prefix: "auto" uses all supported variants; a name uses the portable
 * table plus that variant alone (for tests and comparisons). */
static detc_kernels composed[N_VARIANTS + 1];
static char composed_names[N_VARIANTS + 1][128];

const detc_kernels *detc_kernels_select(const char *name)
{
    int want = -1; /* -1: all supported */
    if (name && strcmp(name, "auto") != 0) {
        for (int i = 0; i < N_VARIANTS; i++)
            if (strcmp(name, variants[i].table->name) == 0)
                want = i;
        if (want < 0 || !variants[want].supported())
            return NULL;
    }
    int slot = want < 0 ? N_VARIANTS : want;
    /* Composed in locals and copied whole: selecting again (another model loading) rewrites the shared
     * table with the same values, so a model running meanwhile never sees a half-composed table (a
     * conv_q8 from one variant with a conv_q8_pack from another would misread its packed filter). */
    detc_kernels t = detc_kernels_portable;
    char label[128] = "";
    for (int i = 0; i < N_VARIANTS; i++) {
        if ((want >= 0 && i != want && i != 0) || !variants[i].supported())
            continue;
        if (want >= 0 && i == 0 && want != 0)
            continue;
        overlay(&t, variants[i].table);
        size_t used = strlen(label);
        snprintf(label + used, sizeof label - used, "%s%s", used ? "+" : "", variants[i].table->name);
    }
    if (want > 0)
        snprintf(label, sizeof label, "%s", variants[want].table->name);
    memcpy(composed_names[slot], label, sizeof label);
    t.name = composed_names[slot];
    composed[slot] = t;
    return &composed[slot];
}

/* When Linux refuses the AMX tile state, the amx table is left out and the quantized conv GEMM comes from
 * the next table, as on a CPU without AMX. The refusal is provoked the way a host program can cause it:
 * a sigaltstack large enough for the AVX-512 signal frame but too small for the frame with tile data
 * (arch_prctl ARCH_REQ_XCOMP_PERM then fails with ENOSPC). Runs in its own process: the tables are
 * composed once per process, and this must happen before. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "kernels.h"

#if defined(__linux__) && defined(__x86_64__)
#include <sys/syscall.h>
#endif

int main(void)
{
#if defined(__linux__) && defined(__x86_64__)
    /* 8 KiB: above the AVX-512 frame (about 3.5 KiB), below the one with AMX tile data (about 11.5 KiB) */
    static char alt[8192] __attribute__((aligned(64)));
    stack_t ss = {.ss_sp = alt, .ss_size = sizeof alt, .ss_flags = 0};
    if (sigaltstack(&ss, NULL) != 0) {
        printf("SKIP: sigaltstack of %zu bytes refused (%s)\n", sizeof alt, strerror(errno));
        return check_summary("test_kernels_amx_refused");
    }
    const detc_kernels *autot = detc_kernels_select(NULL), *amx = detc_kernels_select("amx");
    CHECK(amx == NULL, "no amx table when the tile permission is refused");
    CHECK(autot && !strstr(autot->name, "amx"), "auto leaves amx out (%s)", autot ? autot->name : "NULL");
    const detc_kernels *vnni = detc_kernels_select("avx512vnni"), *avx2 = detc_kernels_select("avx2");
    const detc_kernels *below = vnni ? vnni : avx2 ? avx2 : detc_kernels_select("portable");
    CHECK(autot && below && autot->conv_q8 == below->conv_q8 && autot->conv_q8_pack == below->conv_q8_pack,
          "auto's conv_q8 is %s's", below ? below->name : "NULL");
    /* The probe asked and was refused (or the CPU or kernel has no AMX at all): asking again gives the same. */
    long r = syscall(SYS_arch_prctl, 0x1023, 18);
    printf("arch_prctl(ARCH_REQ_XCOMP_PERM, XTILEDATA) with an 8 KiB sigaltstack: %s\n",
           r == 0 ? "granted" : strerror(errno));
    CHECK(r != 0, "the permission is refused with the small sigaltstack");
    ss.ss_flags = SS_DISABLE;
    sigaltstack(&ss, NULL);
#else
    printf("SKIP: AMX exists on x86-64 Linux only\n");
#endif
    return check_summary("test_kernels_amx_refused");
}

/* DETC_AMX=0: detc never asks Linux for the AMX tile state (a host program with small alternate signal
 * stacks needs that), so the amx table is left out. Checked on the process itself: after the tables are
 * composed, ARCH_GET_XCOMP_PERM must not list the tile data; then the test asks for it itself, which tells
 * whether this machine could have granted it (otherwise the check above proves nothing here and says so).
 * Runs in its own process: the tables are composed once per process. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
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
    setenv("DETC_AMX", "0", 1);
    const detc_kernels *autot = detc_kernels_select(NULL);
    CHECK(detc_kernels_select("amx") == NULL, "DETC_AMX=0: no amx table");
    CHECK(autot && !strstr(autot->name, "amx"), "DETC_AMX=0: auto leaves amx out (%s)", autot ? autot->name : "NULL");
    const long arch_get_xcomp_perm = 0x1022, arch_req_xcomp_perm = 0x1023, xtiledata = 18;
    uint64_t perm = 0;
    if (syscall(SYS_arch_prctl, arch_get_xcomp_perm, &perm) != 0) {
        printf("SKIP: ARCH_GET_XCOMP_PERM not supported (%s): a kernel without AMX support\n", strerror(errno));
        return check_summary("test_kernels_no_amx_env");
    }
    CHECK(!(perm & (1ull << xtiledata)), "DETC_AMX=0: the process holds no tile data permission (%#llx)",
          (unsigned long long)perm);
    if (syscall(SYS_arch_prctl, arch_req_xcomp_perm, xtiledata) == 0)
        printf("the tile state is grantable here: detc did not ask because of DETC_AMX=0\n");
    else
        printf("SKIP: this machine grants no tile state (%s): the permission check above is trivially true\n",
               strerror(errno));
#else
    printf("SKIP: AMX exists on x86-64 Linux only\n");
#endif
    return check_summary("test_kernels_no_amx_env");
}

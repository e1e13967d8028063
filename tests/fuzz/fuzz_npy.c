/* libFuzzer harness: bytes -> detc_npy_read_memory (every .npy header and payload check). */
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "npy.h"

#ifdef FUZZ_REPLAY
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_npy_one
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    detc_npy a;
    memset(&a, 0, sizeof a);
    char err[512] = "";
    if (detc_npy_read_memory(data, size, "fuzz.npy", &a, err, sizeof err) == 0) {
        /* A successful read must describe its data consistently. */
        size_t item = detc_npy_itemsize(a.descr);
        size_t n = item;
        for (int i = 0; i < a.rank; i++)
            n *= (size_t)a.shape[i];
        if (!a.data || item == 0 || a.rank < 0 || a.rank > DETC_NPY_MAX_RANK || n != a.nbytes)
            abort();
        /* Touch every byte so that ASan sees a short buffer. */
        volatile uint8_t sum = 0;
        for (size_t i = 0; i < a.nbytes; i++)
            sum ^= ((const uint8_t *)a.data)[i];
        (void)sum;
        detc_npy_free(&a);
    } else if (err[0] == '\0') {
        abort(); /* a failure must say why */
    }
    return 0;
}

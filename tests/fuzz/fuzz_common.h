/* Shared by the libFuzzer harnesses in tests/fuzz/ (see tests/fuzz/README.md).
 *
 * Each harness defines LLVMFuzzerTestOneInput. Built with -fsanitize=fuzzer (make fuzz), libFuzzer
 * supplies main(). Built with -DFUZZ_REPLAY (tests/test_fuzz_regressions.c), the harness is compiled
 * under another name and replayed on the saved crash inputs in tests/fuzz/regressions/ without
 * libFuzzer, in the normal and the ASan builds. */
#ifndef DETC_FUZZ_COMMON_H
#define DETC_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>

/* A small deterministic generator seeded from the input, so that a replay computes what the fuzzer did. */
static inline uint64_t fuzz_hash(const uint8_t *data, size_t size)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < size; i++)
        h = (h ^ data[i]) * 1099511628211ull;
    return h;
}

static inline uint32_t fuzz_next(uint64_t *state)
{
    *state = *state * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(*state >> 33);
}

#endif

/* Reading test data files, and writing small .detc models, shared by the C tests. */
#ifndef DETC_TEST_FILES_H
#define DETC_TEST_FILES_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The whole file in a malloc'd buffer (*len bytes), or NULL when it cannot be opened or memory runs out. */
static inline uint8_t *test_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, n = 0;
    uint8_t *buf = malloc(cap);
    while (buf) {
        if (n == cap) {
            uint8_t *b = realloc(buf, cap * 2);
            if (!b) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = b;
            cap *= 2;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        if (got == 0)
            break;
        n += got;
    }
    fclose(f);
    *len = n;
    return buf;
}

/* A .detc model (weights/FORMAT.md: the 32-byte header, the JSON header, the data section at the next
 * multiple of 64) in a 64-byte aligned buffer to release with free(); *len its size. NULL when memory runs
 * out. */
static inline uint8_t *test_detc_bytes(const char *json, const void *data, size_t data_len, size_t *len)
{
    uint32_t jl = (uint32_t)strlen(json);
    size_t off = (32u + jl + 63u) / 64u * 64u, total = off + data_len;
    uint8_t *b = aligned_alloc(64, (total + 63) / 64 * 64);
    if (!b)
        return NULL;
    memset(b, 0, (total + 63) / 64 * 64);
    memcpy(b, "DETCMODL", 8);
    b[8] = 1;
    for (int i = 0; i < 4; i++)
        b[12 + i] = (uint8_t)(jl >> (8 * i));
    for (int i = 0; i < 8; i++) {
        b[16 + i] = (uint8_t)((uint64_t)off >> (8 * i));
        b[24 + i] = (uint8_t)((uint64_t)data_len >> (8 * i));
    }
    memcpy(b + 32, json, jl);
    if (data_len)
        memcpy(b + off, data, data_len);
    *len = total;
    return b;
}

#endif

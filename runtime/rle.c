/* COCO RLE (see rle.h). */
#include "rle.h"
#include "pixels.h" /* detc_set_err */

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A count needs at most 34 bits as a signed difference (two uint32 values), i.e. 7 groups. */
#define MAX_GROUPS 7

int detc_rle_encode(const uint8_t *mask, int h, int w, uint32_t **counts, size_t *n)
{
    if (!counts || !n)
        return 1;
    *counts = NULL;
    *n = 0;
    if (h < 0 || w < 0 || (uint64_t)h * (uint64_t)w > UINT32_MAX || (!mask && h > 0 && w > 0))
        return 1;
    /* first pass: number of runs, so the array is allocated once at its exact size */
    size_t runs = 1;
    int prev = 0;
    for (int x = 0; x < w; x++) {
        for (int y = 0; y < h; y++) {
            int v = mask[(size_t)y * w + x] != 0;
            runs += v != prev;
            prev = v;
        }
    }
    uint32_t *c = malloc(runs * sizeof *c);
    if (!c)
        return 1;
    size_t k = 0;
    uint32_t run = 0;
    prev = 0;
    for (int x = 0; x < w; x++) {
        for (int y = 0; y < h; y++) {
            int v = mask[(size_t)y * w + x] != 0;
            if (v != prev) {
                c[k++] = run;
                run = 0;
                prev = v;
            }
            run++;
        }
    }
    c[k++] = run;
    *counts = c;
    *n = k;
    return 0;
}

char *detc_rle_to_string(const uint32_t *counts, size_t n)
{
    if ((!counts && n) || n > (SIZE_MAX - 1) / MAX_GROUPS)
        return NULL;
    char *s = malloc(n * MAX_GROUPS + 1);
    if (!s)
        return NULL;
    size_t p = 0;
    for (size_t i = 0; i < n; i++) {
        int64_t x = counts[i];
        if (i > 2) /* pycocotools: i > 2, not i >= 2 */
            x -= counts[i - 2];
        int more = 1;
        while (more) {
            /* low 5 bits and an arithmetic shift, written without relying on how negative
             * numbers shift: x - low is a multiple of 32, so the division is exact */
            int64_t low = ((x % 32) + 32) % 32;
            x = (x - low) / 32;
            more = (low & 0x10) ? x != -1 : x != 0;
            s[p++] = (char)(48 + (low | (more ? 0x20 : 0)));
        }
    }
    s[p] = '\0';
    return s;
}

int detc_rle_from_string(const char *s, uint32_t **counts, size_t *n, char *err, size_t err_len)
{
    if (!s || !counts || !n) {
        detc_set_err(err, err_len, "rle: missing argument");
        return 1;
    }
    *counts = NULL;
    *n = 0;
    size_t len = strlen(s);
    uint32_t *c = malloc((len ? len : 1) * sizeof *c); /* at most one count per character */
    if (!c) {
        detc_set_err(err, err_len, "rle: out of memory");
        return 1;
    }
    size_t m = 0, p = 0;
    while (p < len) {
        int64_t x = 0;
        int groups = 0, more = 1, last = 0;
        while (more) {
            if (p >= len) {
                detc_set_err(err, err_len, "rle: string ends inside count %zu", m);
                goto fail;
            }
            int ch = (unsigned char)s[p];
            if (ch < 48 || ch > 111) {
                detc_set_err(err, err_len, "rle: character %zu (0x%02x) is outside '0'..'o'", p, (unsigned)ch);
                goto fail;
            }
            if (groups == MAX_GROUPS) {
                detc_set_err(err, err_len, "rle: count %zu has more than %d groups", m, MAX_GROUPS);
                goto fail;
            }
            last = ch - 48;
            x += (int64_t)(last & 0x1f) << (5 * groups);
            more = last & 0x20;
            groups++;
            p++;
        }
        if (last & 0x10) /* sign-extend from the last group's top bit */
            x -= (int64_t)1 << (5 * groups);
        if (m > 2)
            x += c[m - 2];
        if (x < 0 || x > UINT32_MAX) {
            detc_set_err(err, err_len, "rle: count %zu is %lld, outside 0..%lu", m, (long long)x,
                    (unsigned long)UINT32_MAX);
            goto fail;
        }
        c[m++] = (uint32_t)x;
    }
    *counts = c;
    *n = m;
    return 0;
fail:
    free(c);
    return 1;
}

int detc_rle_decode(const uint32_t *counts, size_t n, int h, int w, uint8_t *mask, char *err, size_t err_len)
{
    if (h < 0 || w < 0 || (!counts && n) || (!mask && h > 0 && w > 0)) {
        detc_set_err(err, err_len, "rle: invalid arguments (h=%d, w=%d)", h, w);
        return 1;
    }
    uint64_t area = (uint64_t)h * (uint64_t)w, total = 0;
    for (size_t i = 0; i < n && total <= area; i++)
        total += counts[i]; /* stops early, so the sum cannot overflow */
    if (total != area) {
        detc_set_err(err, err_len, "rle: counts add up to %llu, but the mask is %dx%d = %llu pixels",
                (unsigned long long)total, h, w, (unsigned long long)area);
        return 1;
    }
    uint64_t j = 0;
    uint8_t v = 0;
    for (size_t i = 0; i < n; i++, v ^= 1) {
        for (uint32_t k = 0; k < counts[i]; k++, j++) {
            uint64_t x = j / (uint64_t)h, y = j % (uint64_t)h; /* h > 0 here since area > 0 */
            mask[y * (uint64_t)w + x] = v;
        }
    }
    return 0;
}

/* The one table of dtype facts. Adding a dtype touches dtype.h and dtype.c only. */
#ifndef DETC_DTYPE_H
#define DETC_DTYPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "detc.h" /* the detc_dtype enum is public */

/* Bit masks of dtypes, for "this operand accepts ..." checks. */
#define DETC_MASK(d) (1u << (unsigned)(d))

typedef struct {
    const char *name;     /* as written in .detc files and messages */
    size_t size;          /* bytes per element */
    bool is_float;
    bool quantizable;     /* may carry scale/zero point */
    int64_t qmin, qmax;   /* integer range (quantizable dtypes) */
    const char *npy;      /* canonical .npy descr ("<f4") */
    const char *numpy;    /* numpy's name ("float32") */
} detc_dtype_info;

const detc_dtype_info *detc_dtype_get(detc_dtype d); /* NULL for invalid */
/* From detc's name ("f32") or numpy's ("float32"), or DETC_DTYPE_INVALID. */
detc_dtype detc_dtype_from_any_name(const char *name);
/* u8, i8, i16, i32, i64 (not bool, not floats). */
bool detc_dtype_is_integer(detc_dtype d);
/* Comma-separated names of the dtypes in mask, e.g. "f32, u8". */
void detc_dtype_mask_names(uint32_t mask, char *out, size_t out_len);

float detc_f16_to_f32(uint16_t h);
uint16_t detc_f32_to_f16(float f);

#endif

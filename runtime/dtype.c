#include "dtype.h"

#include <stdio.h>
#include <string.h>

static const detc_dtype_info dtype_table[DETC_DTYPE_COUNT] = {
    [DETC_F32] = {.name = "f32", .size = 4, .is_float = true, .npy = "<f4", .numpy = "float32"},
    [DETC_F16] = {.name = "f16", .size = 2, .is_float = true, .npy = "<f2", .numpy = "float16"},
    [DETC_I8] = {.name = "i8", .size = 1, .quantizable = true, .qmin = -128, .qmax = 127, .npy = "|i1",
                 .numpy = "int8"},
    [DETC_U8] = {.name = "u8", .size = 1, .quantizable = true, .qmin = 0, .qmax = 255, .npy = "|u1",
                 .numpy = "uint8"},
    [DETC_I16] = {.name = "i16", .size = 2, .quantizable = true, .qmin = -32768, .qmax = 32767, .npy = "<i2",
                  .numpy = "int16"},
    [DETC_I32] = {.name = "i32", .size = 4, .quantizable = true, .qmin = INT32_MIN, .qmax = INT32_MAX,
                  .npy = "<i4", .numpy = "int32"},
    [DETC_I64] = {.name = "i64", .size = 8, .npy = "<i8", .numpy = "int64"},
    [DETC_F64] = {.name = "f64", .size = 8, .is_float = true, .npy = "<f8", .numpy = "float64"},
    [DETC_BOOL] = {.name = "bool", .size = 1, .npy = "|b1", .numpy = "bool"},
};

const detc_dtype_info *detc_dtype_get(detc_dtype d)
{
    if ((int)d < 0 || d >= DETC_DTYPE_COUNT)
        return NULL;
    return &dtype_table[d];
}

const char *detc_dtype_name(detc_dtype d)
{
    const detc_dtype_info *info = detc_dtype_get(d);
    return info ? info->name : "invalid";
}

detc_dtype detc_dtype_parse(const char *name)
{
    for (int d = 0; d < DETC_DTYPE_COUNT; d++)
        if (strcmp(dtype_table[d].name, name) == 0)
            return (detc_dtype)d;
    return DETC_DTYPE_INVALID;
}

size_t detc_dtype_size(detc_dtype d)
{
    const detc_dtype_info *info = detc_dtype_get(d);
    return info ? info->size : 0;
}

void detc_dtype_mask_names(uint32_t mask, char *out, size_t out_len)
{
    size_t used = 0;
    if (out_len == 0)
        return;
    out[0] = '\0';
    for (int d = 0; d < DETC_DTYPE_COUNT; d++) {
        if (!(mask & DETC_MASK(d)))
            continue;
        int n = snprintf(out + used, out_len - used, "%s%s", used ? ", " : "", dtype_table[d].name);
        if (n < 0 || (size_t)n >= out_len - used)
            return;
        used += (size_t)n;
    }
}

/* IEEE-754 binary16 <-> binary32, exact for every f16 value (subnormals included). */
float detc_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu;
    uint32_t mant = h & 0x3ffu;
    uint32_t bits;
    if (exp == 0x1f) {
        bits = sign | 0x7f800000u | (mant << 13);
    } else if (exp != 0) {
        bits = sign | ((exp + 112u) << 23) | (mant << 13);
    } else if (mant == 0) {
        bits = sign;
    } else {
        /* subnormal: normalise */
        int e = -1;
        do {
            e++;
            mant <<= 1;
        } while (!(mant & 0x400u));
        bits = sign | ((uint32_t)(112 - e) << 23) | ((mant & 0x3ffu) << 13);
    }
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

uint16_t detc_f32_to_f16(float f)
{
    uint32_t x;
    memcpy(&x, &f, sizeof x);
    uint16_t sign = (uint16_t)((x >> 16) & 0x8000u);
    uint32_t exp = (x >> 23) & 0xffu;
    uint32_t mant = x & 0x7fffffu;
    if (exp == 0xff)
        return (uint16_t)(sign | 0x7c00u | (mant ? 0x200u : 0));
    int e = (int)exp - 127 + 15;
    if (e >= 0x1f)
        return (uint16_t)(sign | 0x7c00u);
    if (e <= 0) {
        if (e < -10)
            return sign;
        mant |= 0x800000u;
        uint32_t shift = (uint32_t)(14 - e);
        uint32_t half = mant >> shift;
        uint32_t rem = mant & ((1u << shift) - 1);
        uint32_t mid = 1u << (shift - 1);
        if (rem > mid || (rem == mid && (half & 1u)))
            half++;
        return (uint16_t)(sign | half);
    }
    uint32_t h = ((uint32_t)e << 10) | (mant >> 13);
    uint32_t rem = mant & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (h & 1u)))
        h++; /* may carry into the exponent, which is the correct rounding */
    return (uint16_t)(sign | h);
}

detc_dtype detc_dtype_from_npy(const char *descr, size_t len)
{
    /* '<', '|' or '=': little-endian or order-free on the machines detc runs on; kind and size must match */
    if (!descr || len != 3 || (descr[0] != '<' && descr[0] != '|' && descr[0] != '='))
        return DETC_DTYPE_INVALID;
    for (int d = 0; d < DETC_DTYPE_COUNT; d++)
        if (descr[1] == dtype_table[d].npy[1] && descr[2] == dtype_table[d].npy[2])
            return (detc_dtype)d;
    return DETC_DTYPE_INVALID;
}

detc_dtype detc_dtype_from_any_name(const char *name)
{
    for (int d = 0; name && d < DETC_DTYPE_COUNT; d++)
        if (strcmp(name, dtype_table[d].name) == 0 || strcmp(name, dtype_table[d].numpy) == 0)
            return (detc_dtype)d;
    return DETC_DTYPE_INVALID;
}

bool detc_dtype_is_integer(detc_dtype d)
{
    const detc_dtype_info *info = detc_dtype_get(d);
    return info && !info->is_float && d != DETC_BOOL;
}

const char *detc_dtype_npy(detc_dtype d)
{
    const detc_dtype_info *info = detc_dtype_get(d);
    return info ? info->npy : NULL;
}

/* cast: converts x to the dtype named by attribute `to`.
 *   f16 -> f32                       exact
 *   u8/i8 with quant -> f32          dequantize, scale * (q - zero_point) (per tensor or per channel),
 *                                    as TFLite's Dequantize: one rounding of the exact product
 *   u8/i8 without quant, i32, i64 -> f32   value conversion
 *   f32 -> u8/i8 (output quant)      quantize as TFLite's AffineQuantize: round_half_away(x / scale) + zero
 *                                    point, clamped to the dtype (NaN -> zero point)
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"
#include "op_util.h"
#include "ops.h"
#include "threadpool.h"

typedef struct {
    detc_dtype from, to;
    int64_t count;
    int channels;     /* quantization entries (1 = per tensor) */
    int64_t inner;    /* elements after the channel axis */
    const detc_quant *q; /* the quantized side's parameters (input or output tensor) */
} cast_data;

static bool supported(detc_dtype from, detc_dtype to)
{
    if (to == DETC_F32)
        return from == DETC_F16 || from == DETC_U8 || from == DETC_I8 || from == DETC_I32 || from == DETC_I64;
    return from == DETC_F32 && (to == DETC_U8 || to == DETC_I8);
}

static bool check_quant_axis(detc_prep *p, const detc_tensor *t, const char *what)
{
    if (t->quant.count <= 1)
        return true;
    if (t->quant.axis < 0 || t->quant.axis >= t->rank || t->dims[t->quant.axis] != t->quant.count) {
        detc_prep_error(p, DETC_ERR_QUANT, "%s '%s' has %d per-channel scales on axis %d, which does not match its "
                                           "shape",
                        what, t->name, t->quant.count, t->quant.axis);
        return false;
    }
    for (int i = 0; i < t->quant.count; i++)
        if (!(isfinite(t->quant.scale[i]) && t->quant.scale[i] > 0.0f)) {
            detc_prep_error(p, DETC_ERR_QUANT, "%s '%s' has scale[%d] = %g, expected finite positive scales", what,
                            t->name, i, t->quant.scale[i]);
            return false;
        }
    return true;
}

static void fill_layout(cast_data *d, const detc_tensor *quantized_side)
{
    const detc_quant *q = &quantized_side->quant;
    d->q = q;
    d->channels = q->count > 1 ? q->count : 1;
    d->inner = 1;
    if (q->count > 1)
        for (int k = q->axis + 1; k < quantized_side->rank; k++)
            d->inner *= quantized_side->dims[k];
}

static bool cast_prepare(detc_prep *p)
{
    const detc_tensor *x = detc_prep_in(p, 0);
    bool ok = op_check_counts(p);
    if (!detc_prep_require_input(p, 0, "input"))
        return false;
    static const char *const names[] = {"f32", "u8", "i8", NULL};
    static const detc_dtype dtypes[] = {DETC_F32, DETC_U8, DETC_I8};
    int choice = 0;
    ok = detc_attr_enum(p, "to", true, 0, names, &choice) && ok;
    if (!ok)
        return false;
    detc_dtype to = dtypes[choice];
    if (!supported(x->dtype, to)) {
        char desc[600];
        detc_prep_operand_desc(p, 0, desc, sizeof desc);
        detc_prep_error(p, DETC_ERR_DTYPE,
                        "%s is %s; cast to %s supports %s; fix: convert the tensor to a supported dtype when "
                        "converting",
                        desc, detc_dtype_name(x->dtype), names[choice],
                        to == DETC_F32 ? "f16, u8, i8, i32, i64" : "f32");
        return false;
    }
    bool quantize = to != DETC_F32;
    if (!detc_prep_set_output(p, 0, to, x->rank, x->dims, NULL, false))
        return false;
    const detc_tensor *out = detc_out(p->g, p->node, 0);
    if (quantize && out->quant.count == 0) {
        detc_prep_error(p, DETC_ERR_QUANT,
                        "output 0 '%s' is %s and needs quantization parameters (scale, zero point) to quantize "
                        "into; give it a \"quant\" entry when converting",
                        out->name, detc_dtype_name(to));
        return false;
    }
    const detc_tensor *qside = quantize ? out : x;
    if (!check_quant_axis(p, qside, quantize ? "output" : "input"))
        return false;
    if (qside->quant.count == 1 && quantize && !op_check_output_quant(p, 0))
        return false;
    cast_data *d = op_new_data(p, sizeof *d);
    if (!d)
        return false;
    d->from = x->dtype;
    d->to = to;
    d->count = detc_tensor_count(x);
    fill_layout(d, qside);
    return true;
}

/* ---------------- eval ---------------- */

static int channel_of(const cast_data *d, int64_t i)
{
    return d->channels > 1 ? (int)(i / d->inner % d->channels) : 0;
}

/* Per-tensor casts of whole feature maps (the boundaries of int8 regions) go to the kernel table's
 * quantize_q8 / dequantize_q8, split over the pool: elementwise, memory bound, at least this many
 * elements per part. */
#define CAST_MIN_PER_PART 16384

typedef struct {
    const cast_data *d;
    const detc_kernels *k;
    const void *src;
    void *dst;
    int parts;
} cast_job;

static void cast_parts(void *ctx, int begin, int end)
{
    const cast_job *j = ctx;
    const cast_data *d = j->d;
    bool is_signed = d->from == DETC_I8 || d->to == DETC_I8;
    float scale = d->q->scale[0];
    int32_t zp = d->q->zero_point[0];
    for (int part = begin; part < end; part++) {
        int64_t lo = d->count * part / j->parts, hi = d->count * (part + 1) / j->parts;
        if (d->to == DETC_F32)
            j->k->dequantize_q8((size_t)(hi - lo), (const uint8_t *)j->src + lo, scale, zp, is_signed,
                                (float *)j->dst + lo);
        else
            j->k->quantize_q8((size_t)(hi - lo), (const float *)j->src + lo, scale, zp, is_signed,
                              (uint8_t *)j->dst + lo);
    }
}

static void cast_per_tensor(const detc_exec *x, const cast_data *d, const void *src, void *dst)
{
    cast_job j = {.d = d, .k = x->kernels, .src = src, .dst = dst};
    j.parts = op_parts(x, d->count, CAST_MIN_PER_PART);
    detc_parallel_for(x->pool, j.parts, 1, cast_parts, &j);
}

/* Per channel, or u8/i8 without quantization (plain integers). */
static void dequantize(const cast_data *d, const void *src, float *dst)
{
    bool is_signed = d->from == DETC_I8;
    const uint8_t *s = src;
    for (int64_t i = 0; i < d->count; i++) {
        int32_t q = is_signed ? (int32_t)(int8_t)s[i] : (int32_t)s[i];
        if (d->q->count == 0) {
            dst[i] = (float)q;
            continue;
        }
        int c = channel_of(d, i);
        dst[i] = d->q->scale[c] * (float)(q - d->q->zero_point[c]);
    }
}

/* Per channel (per tensor goes to the kernel table). */
static void quantize(const cast_data *d, const float *src, uint8_t *dst)
{
    const detc_dtype_info *info = detc_dtype_get(d->to);
    float lo = (float)info->qmin, hi = (float)info->qmax;
    for (int64_t i = 0; i < d->count; i++) {
        int c = channel_of(d, i);
        float r = roundf(src[i] / d->q->scale[c]);
        /* clamp in float first: the int conversion of a huge value is undefined */
        r = isnan(r) ? 0.0f : (r < -1e9f ? -1e9f : (r > 1e9f ? 1e9f : r));
        float v = r + (float)d->q->zero_point[c];
        v = v < lo ? lo : (v > hi ? hi : v);
        dst[i] = (uint8_t)(int32_t)v; /* modulo 256: i8 bytes keep their bit pattern */
    }
}

static detc_code cast_eval(const detc_exec *x, detc_node *node)
{
    const cast_data *d = node->op_data;
    const void *src = detc_in(x->g, node, 0)->data;
    void *dst = detc_out(x->g, node, 0)->data;
    switch (d->from) {
    case DETC_F16:
        for (int64_t i = 0; i < d->count; i++)
            ((float *)dst)[i] = detc_f16_to_f32(((const uint16_t *)src)[i]);
        break;
    case DETC_U8:
    case DETC_I8:
        if (d->q->count == 1)
            cast_per_tensor(x, d, src, dst);
        else
            dequantize(d, src, dst);
        break;
    case DETC_I32:
        for (int64_t i = 0; i < d->count; i++)
            ((float *)dst)[i] = (float)((const int32_t *)src)[i];
        break;
    case DETC_I64:
        for (int64_t i = 0; i < d->count; i++)
            ((float *)dst)[i] = (float)((const int64_t *)src)[i];
        break;
    case DETC_F32:
        if (d->channels == 1)
            cast_per_tensor(x, d, src, dst);
        else
            quantize(d, src, dst);
        break;
    default:
        return DETC_ERR_RUNTIME;
    }
    return DETC_OK;
}

const detc_op detc_op_cast = {
    .name = "cast",
    .min_inputs = 1,
    .max_inputs = 1,
    .n_outputs = 1,
    .prepare = cast_prepare,
    .eval = cast_eval,
};

/* concat: joins 1..1024 tensors of equal rank and dtype along `axis`.
 * f32/i32 copy. u8/i8: an input whose scale and zero point equal the output's is copied; any other is
 * requantized element by element exactly as TFLite's ConcatenationWithScaling (uint8) does, in float:
 *   scale = in_scale * (1 / out_scale); bias = -in_zp * scale;
 *   q = round_half_away(x * scale + bias) + out_zp, clamped.
 * (TFLite refuses int8 inputs whose parameters differ from the output's; detc requantizes them the same way.)
 * The result depends on the input byte only: prepare runs that arithmetic on all 256 byte values once, and
 * eval looks every element up in the input's table (the kernel table's lut_u8). */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF /* x * scale + bias must round twice, as in TFLite */
#endif
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"
#include "op_util.h"
#include "ops.h"

typedef struct {
    int axis, n_inputs;
    int64_t outer;      /* product of dims before axis */
    int64_t *chunk;     /* per input: elements per outer step (dims[axis] * inner) */
    bool *copy;         /* per input: bytes can be copied as they are */
    uint8_t (*lut)[256]; /* per input: every byte's requantized value (unused where copy[i]) */
    int32_t out_zp, qmin, qmax;
    size_t esize;
    detc_dtype dtype;
} concat_data;

static void concat_release(void *op_data)
{
    concat_data *d = op_data;
    if (!d)
        return;
    free(d->chunk);
    free(d->copy);
    free(d->lut);
    free(d);
}

/* ---------------- prepare ---------------- */

static bool check_inputs(detc_prep *p, int axis)
{
    const detc_tensor *t0 = detc_prep_in(p, 0);
    bool ok = true;
    for (int i = 0; i < p->node->n_inputs; i++) {
        const detc_tensor *t = detc_prep_in(p, i);
        if (!t) {
            ok = detc_prep_require_input(p, i, "tensor to join") && ok;
            continue;
        }
        ok = detc_prep_dtype(p, i,
                             DETC_MASK(DETC_F32) | DETC_MASK(DETC_I32) | DETC_MASK(DETC_U8) | DETC_MASK(DETC_I8),
                             "convert the model to f32, or quantize it to u8/i8") &&
             ok;
        if (!t0 || i == 0)
            continue;
        char desc[600], s0[128], si[128];
        detc_prep_operand_desc(p, i, desc, sizeof desc);
        if (t->dtype != t0->dtype) {
            detc_prep_error(p, DETC_ERR_DTYPE, "%s is %s but input 0 is %s; all inputs must have one dtype", desc,
                            detc_dtype_name(t->dtype), detc_dtype_name(t0->dtype));
            ok = false;
        }
        detc_shape_str(t0->rank, t0->dims, s0, sizeof s0);
        detc_shape_str(t->rank, t->dims, si, sizeof si);
        bool same = t->rank == t0->rank;
        for (int k = 0; same && k < t->rank; k++)
            same = k == axis || t->dims[k] == t0->dims[k];
        if (!same) {
            detc_prep_error(p, DETC_ERR_SHAPE,
                            "%s has shape %s, which does not match input 0's %s outside axis %d; all inputs must "
                            "have the same rank and equal dimensions except along the axis",
                            desc, si, s0, axis);
            ok = false;
        }
    }
    return ok;
}

static bool quant_inputs_ok(detc_prep *p)
{
    bool ok = true;
    for (int i = 0; i < p->node->n_inputs; i++)
        ok = op_require_per_tensor_quant(p, i, "input") && ok;
    return ok;
}

/* The output keeps its declared parameters; when it declares none and all inputs agree, it takes theirs. */
static const detc_quant *inherited_quant(detc_prep *p)
{
    const detc_tensor *out = detc_out(p->g, p->node, 0);
    const detc_tensor *t0 = detc_prep_in(p, 0);
    if (out->quant.count)
        return NULL;
    for (int i = 1; i < p->node->n_inputs; i++)
        if (!detc_quant_equal(&detc_prep_in(p, i)->quant, &t0->quant))
            return NULL;
    return &t0->quant;
}

static int32_t clamp_i32(int32_t v, int32_t lo, int32_t hi)
{
    return v < lo ? lo : (v > hi ? hi : v);
}

/* TFLite's ConcatenationWithScaling arithmetic (see the top), for n bytes of one input. */
static void requantize(const concat_data *d, float scale, float bias, const uint8_t *src, uint8_t *dst, int64_t n)
{
    bool is_signed = d->dtype == DETC_I8;
    for (int64_t k = 0; k < n; k++) {
        float x = is_signed ? (float)(int8_t)src[k] : (float)src[k];
        float scaled = x * scale;
        float r = roundf(scaled + bias); /* TfLiteRound: half away from zero */
        r = r < -1e9f ? -1e9f : (r > 1e9f ? 1e9f : r);
        int32_t v = (int32_t)r + d->out_zp;
        dst[k] = (uint8_t)clamp_i32(v, d->qmin, d->qmax);
    }
}

static bool fill_scaling(detc_prep *p, concat_data *d)
{
    const detc_tensor *out = detc_out(p->g, p->node, 0);
    const detc_dtype_info *info = detc_dtype_get(d->dtype);
    d->copy = calloc((size_t)d->n_inputs, sizeof *d->copy);
    d->lut = calloc((size_t)d->n_inputs, sizeof *d->lut);
    if (!d->copy || !d->lut) {
        detc_prep_error(p, DETC_ERR_NOMEM, "out of memory");
        return false;
    }
    bool quantized = d->dtype == DETC_U8 || d->dtype == DETC_I8;
    float out_scale = quantized ? out->quant.scale[0] : 1.0f;
    d->out_zp = quantized ? out->quant.zero_point[0] : 0;
    d->qmin = (int32_t)info->qmin;
    d->qmax = (int32_t)info->qmax;
    float inverse_out = 1.0f / out_scale;
    for (int i = 0; i < d->n_inputs; i++) {
        const detc_tensor *t = detc_prep_in(p, i);
        d->copy[i] = !quantized || (t->quant.scale[0] == out_scale && t->quant.zero_point[0] == d->out_zp);
        if (!d->copy[i]) {
            float scale = t->quant.scale[0] * inverse_out;
            uint8_t bytes[256];
            for (int v = 0; v < 256; v++)
                bytes[v] = (uint8_t)v;
            requantize(d, scale, (float)-t->quant.zero_point[0] * scale, bytes, d->lut[i], 256);
        }
    }
    return true;
}

static bool concat_prepare(detc_prep *p)
{
    const detc_tensor *t0 = detc_prep_in(p, 0);
    int64_t axis = 0;
    bool ok = op_check_counts(p);
    if (!t0)
        return detc_prep_require_input(p, 0, "tensor to join") && false;
    ok = detc_attr_int(p, "axis", true, 0, -DETC_MAX_RANK, DETC_MAX_RANK - 1, &axis) && ok;
    if (ok && (axis < -t0->rank || axis >= t0->rank)) {
        detc_prep_error(p, DETC_ERR_ATTR, "attribute 'axis' is %lld, expected %d..%d for rank-%d inputs",
                        (long long)axis, -t0->rank, t0->rank - 1, t0->rank);
        ok = false;
    }
    if (!ok)
        return false;
    int ax = (int)(axis < 0 ? axis + t0->rank : axis);
    if (!check_inputs(p, ax))
        return false;
    bool quantized = t0->dtype == DETC_U8 || t0->dtype == DETC_I8;
    if (quantized && !quant_inputs_ok(p))
        return false;
    int32_t dims[DETC_MAX_RANK];
    memcpy(dims, t0->dims, sizeof dims);
    int64_t sum = 0;
    for (int i = 0; i < p->node->n_inputs; i++)
        sum += detc_prep_in(p, i)->dims[ax];
    if (sum > INT32_MAX) {
        detc_prep_error(p, DETC_ERR_SHAPE, "the joined axis would have %lld entries", (long long)sum);
        return false;
    }
    dims[ax] = (int32_t)sum;
    if (!detc_prep_set_output(p, 0, t0->dtype, t0->rank, dims, quantized ? inherited_quant(p) : NULL, quantized))
        return false;
    if (quantized && !op_check_output_quant(p, 0))
        return false;
    concat_data *d = op_new_data(p, sizeof *d);
    if (!d)
        return false;
    d->axis = ax;
    d->n_inputs = p->node->n_inputs;
    d->dtype = t0->dtype;
    d->esize = detc_dtype_size(t0->dtype);
    d->outer = 1;
    for (int k = 0; k < ax; k++)
        d->outer *= t0->dims[k];
    d->chunk = calloc((size_t)d->n_inputs, sizeof *d->chunk);
    if (!d->chunk) {
        detc_prep_error(p, DETC_ERR_NOMEM, "out of memory");
        return false;
    }
    for (int i = 0; i < d->n_inputs; i++) {
        const detc_tensor *t = detc_prep_in(p, i);
        d->chunk[i] = 1;
        for (int k = ax; k < t->rank; k++)
            d->chunk[i] *= t->dims[k];
    }
    return fill_scaling(p, d);
}

/* ---------------- eval ---------------- */

static detc_code concat_eval(const detc_exec *x, detc_node *node)
{
    const concat_data *d = node->op_data;
    uint8_t *out = detc_out(x->g, node, 0)->data;
    for (int64_t o = 0; o < d->outer; o++)
        for (int i = 0; i < d->n_inputs; i++) {
            const uint8_t *src = (const uint8_t *)detc_in(x->g, node, i)->data + o * d->chunk[i] * (int64_t)d->esize;
            if (d->copy[i])
                memcpy(out, src, (size_t)d->chunk[i] * d->esize);
            else
                x->kernels->lut_u8(d->lut[i], (size_t)d->chunk[i], src, out);
            out += d->chunk[i] * (int64_t)d->esize;
        }
    return DETC_OK;
}

const detc_op detc_op_concat = {
    .name = "concat",
    .min_inputs = 1,
    .max_inputs = 1024,
    .n_outputs = 1,
    .prepare = concat_prepare,
    .eval = concat_eval,
    .release = concat_release,
};

#include "op_util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "threadpool.h"

void *op_new_data(detc_prep *p, size_t size)
{
    detc_node *n = p->node;
    if (n->op_data) { /* prepared before (the runtime releases first, callers like tests may not) */
        if (n->op && n->op->release)
            n->op->release(n->op_data);
        else
            free(n->op_data);
        n->op_data = NULL;
    }
    void *d = calloc(1, size);
    if (!d)
        detc_prep_error(p, DETC_ERR_NOMEM, "out of memory");
    p->node->op_data = d;
    return d;
}

bool op_check_row_count(detc_prep *p, int slot)
{
    const detc_tensor *c = detc_prep_in(p, slot);
    if (!c)
        return true;
    bool ok = detc_prep_dtype(p, slot, DETC_MASK(DETC_I32),
                              "give the detection count (i32 [1], as box_detections produces it)");
    if (ok && (c->rank != 1 || c->dims[0] != 1)) {
        char cd[600], cs[128];
        detc_prep_operand_desc(p, slot, cd, sizeof cd);
        detc_shape_str(c->rank, c->dims, cs, sizeof cs);
        detc_prep_error(p, DETC_ERR_SHAPE, "%s: the row count must have shape [1], found %s", cd, cs);
        ok = false;
    }
    return ok;
}

int op_row_count(const detc_exec *x, const detc_node *n, int slot, int rows)
{
    const detc_tensor *c = detc_in(x->g, n, slot);
    if (!c)
        return rows;
    int32_t v = op_read_i32(c, 0);
    return v < 0 ? 0 : v > rows ? rows : v;
}

int op_parts(const detc_exec *x, int64_t items, int64_t min_per_part)
{
    int64_t parts = detc_threadpool_size(x->pool);
    if (parts > OP_MAX_PARTS)
        parts = OP_MAX_PARTS;
    if (min_per_part < 1)
        min_per_part = 1;
    if (parts > items / min_per_part)
        parts = items / min_per_part;
    return parts < 1 ? 1 : (int)parts;
}

bool op_check_counts(detc_prep *p)
{
    const detc_op *op = p->node->op;
    if (!op)
        return true;
    bool ok = true;
    if (p->node->n_inputs < op->min_inputs || p->node->n_inputs > op->max_inputs) {
        detc_prep_error(p, DETC_ERR_GRAPH, "has %d inputs, %s takes %d..%d; see ops/README.md", p->node->n_inputs,
                        op->name, op->min_inputs, op->max_inputs);
        ok = false;
    }
    if (p->node->n_outputs != op->n_outputs) {
        detc_prep_error(p, DETC_ERR_GRAPH, "has %d outputs, %s produces %d", p->node->n_outputs, op->name,
                        op->n_outputs);
        ok = false;
    }
    return ok;
}

static bool scale_ok(float s)
{
    return isfinite(s) && s > 0.0f;
}

static bool zero_point_ok(detc_dtype dt, int32_t zp)
{
    const detc_dtype_info *info = detc_dtype_get(dt);
    return info && zp >= info->qmin && zp <= info->qmax;
}

bool op_require_per_tensor_quant(detc_prep *p, int slot, const char *role)
{
    const detc_tensor *t = detc_prep_in(p, slot);
    if (!t)
        return true;
    char desc[600];
    detc_prep_operand_desc(p, slot, desc, sizeof desc);
    if (t->quant.count == 0) {
        detc_prep_error(p, DETC_ERR_QUANT,
                        "%s (%s) is %s without quantization parameters, expected a per-tensor scale and zero point; "
                        "fix: give it a \"quant\" entry when converting (detc-convert copies TFLite's)",
                        desc, role, detc_dtype_name(t->dtype));
        return false;
    }
    if (t->quant.count > 1) {
        detc_prep_error(p, DETC_ERR_QUANT,
                        "%s (%s) has %d per-channel scales, expected per-tensor quantization; fix: requantize it "
                        "per tensor when converting",
                        desc, role, t->quant.count);
        return false;
    }
    bool ok = true;
    if (!scale_ok(t->quant.scale[0])) {
        detc_prep_error(p, DETC_ERR_QUANT, "%s (%s) has scale %g, expected a finite positive number", desc, role,
                        t->quant.scale[0]);
        ok = false;
    }
    if (!zero_point_ok(t->dtype, t->quant.zero_point[0])) {
        detc_prep_error(p, DETC_ERR_QUANT, "%s (%s) has zero point %d, outside the %s range", desc, role,
                        (int)t->quant.zero_point[0], detc_dtype_name(t->dtype));
        ok = false;
    }
    return ok;
}

bool op_check_output_quant(detc_prep *p, int slot)
{
    const detc_tensor *t = detc_out(p->g, p->node, slot);
    if (t->quant.count != 1)
        return false; /* detc_prep_set_output reported it */
    bool ok = true;
    if (!scale_ok(t->quant.scale[0])) {
        detc_prep_error(p, DETC_ERR_QUANT, "output %d '%s' has scale %g, expected a finite positive number", slot,
                        t->name, t->quant.scale[0]);
        ok = false;
    }
    if (!zero_point_ok(t->dtype, t->quant.zero_point[0])) {
        detc_prep_error(p, DETC_ERR_QUANT, "output %d '%s' has zero point %d, outside the %s range", slot, t->name,
                        (int)t->quant.zero_point[0], detc_dtype_name(t->dtype));
        ok = false;
    }
    return ok;
}

bool op_check_scale_list(detc_prep *p, int slot, const char *role)
{
    const detc_tensor *t = detc_prep_in(p, slot);
    if (!t)
        return true;
    for (int i = 0; i < t->quant.count; i++)
        if (!scale_ok(t->quant.scale[i])) {
            char desc[600];
            detc_prep_operand_desc(p, slot, desc, sizeof desc);
            detc_prep_error(p, DETC_ERR_QUANT, "%s (%s) has scale[%d] = %g, expected finite positive scales", desc,
                            role, i, t->quant.scale[i]);
            return false;
        }
    return true;
}

bool op_dims_equal(const detc_tensor *a, const detc_tensor *b)
{
    if (a->rank != b->rank)
        return false;
    for (int i = 0; i < a->rank; i++)
        if (a->dims[i] != b->dims[i])
            return false;
    return true;
}

bool op_parse_window_attrs(detc_prep *p, op_window *w)
{
    static const int64_t ones[2] = {1, 1};
    int64_t stride[2] = {1, 1}, dil[2] = {1, 1};
    bool ok = detc_attr_ints(p, "stride", false, 2, 2, ones, 1, 64, stride, NULL);
    ok = detc_attr_ints(p, "dilation", false, 2, 2, ones, 1, 64, dil, NULL) && ok;
    ok = detc_attr_activation(p, &w->act) && ok;
    w->stride_h = (int)stride[0];
    w->stride_w = (int)stride[1];
    w->dil_h = (int)dil[0];
    w->dil_w = (int)dil[1];
    w->out_h = w->out_w = 0;
    return ok;
}

bool op_parse_window_padding(detc_prep *p, int in_h, int in_w, int k_h, int k_w, op_window *w)
{
    return detc_attr_padding(p, in_h, in_w, k_h, k_w, w->stride_h, w->stride_w, w->dil_h, w->dil_w, &w->pads,
                             &w->out_h, &w->out_w);
}

int32_t op_read_i32(const detc_tensor *t, int64_t i)
{
    int32_t v;
    memcpy(&v, (const char *)t->data + i * (int64_t)sizeof v, sizeof v);
    return v;
}

float op_read_f32(const detc_tensor *t, int64_t i)
{
    float v;
    memcpy(&v, (const char *)t->data + i * (int64_t)sizeof v, sizeof v);
    return v;
}

void op_requant_free(op_requant *rq)
{
    free(rq->mul);
    free(rq->w_zp);
    free(rq->bias);
    free(rq->mult);
    free(rq->lshift);
    free(rq->rshift);
    memset(rq, 0, sizeof *rq);
}

bool op_requant_split(op_requant *rq)
{
    size_t n = (size_t)rq->channels;
    if (!rq->mult)
        rq->mult = malloc(n * sizeof *rq->mult);
    if (!rq->lshift)
        rq->lshift = malloc(n * sizeof *rq->lshift);
    if (!rq->rshift)
        rq->rshift = malloc(n * sizeof *rq->rshift);
    if (!rq->mult || !rq->lshift || !rq->rshift)
        return false;
    for (size_t c = 0; c < n; c++) {
        rq->mult[c] = rq->mul[c].multiplier;
        rq->lshift[c] = rq->mul[c].shift > 0 ? rq->mul[c].shift : 0;
        rq->rshift[c] = rq->mul[c].shift > 0 ? 0 : -rq->mul[c].shift;
    }
    return true;
}

bool op_requant_float(const op_requant *rq, bool round_once, float *scale, float *offset)
{
    if (round_once || rq->channels < 1)
        return false;
    for (int c = 1; c < rq->channels; c++)
        if (rq->mul[c].multiplier != rq->mul[0].multiplier || rq->mul[c].shift != rq->mul[0].shift)
            return false;
    if (rq->mul[0].shift > 0)
        return false;
    return detc_rq_float_fit(rq->mul[0].multiplier, -rq->mul[0].shift, rq->out_zp, rq->act_min, rq->act_max, scale,
                             offset);
}

/* Filter: u8 per tensor (any zero point), or i8 per tensor / per channel on w_axis with zero point 0. */
static bool check_filter_quant(detc_prep *p, int channels, int w_axis)
{
    const detc_tensor *w = detc_prep_in(p, 1);
    char desc[600];
    detc_prep_operand_desc(p, 1, desc, sizeof desc);
    if (w->quant.count == 0) {
        detc_prep_error(p, DETC_ERR_QUANT,
                        "%s (filter) is %s without quantization parameters; fix: give it a \"quant\" entry "
                        "(%s) when converting",
                        desc, detc_dtype_name(w->dtype),
                        w->dtype == DETC_U8 ? "per-tensor scale and zero point"
                                            : "per-tensor or per-channel scales, zero point 0");
        return false;
    }
    if (!op_check_scale_list(p, 1, "filter"))
        return false;
    if (w->quant.count > 1 && w->dtype == DETC_U8) {
        detc_prep_error(p, DETC_ERR_QUANT,
                        "%s (filter) is u8 with %d per-channel scales; u8 filters must be quantized per tensor, "
                        "as TensorFlow Lite's uint8 kernels require; fix: convert to i8 per-channel or u8 per-tensor",
                        desc, w->quant.count);
        return false;
    }
    if (w->quant.count > 1 && (w->quant.count != channels || w->quant.axis != w_axis)) {
        detc_prep_error(p, DETC_ERR_QUANT,
                        "%s (filter) has %d scales on axis %d, expected %d (one per output channel) on axis %d",
                        desc, w->quant.count, w->quant.axis, channels, w_axis);
        return false;
    }
    for (int i = 0; i < w->quant.count; i++) {
        int32_t zp = w->quant.zero_point[i];
        if (w->dtype == DETC_I8 ? zp != 0 : !zero_point_ok(w->dtype, zp)) {
            detc_prep_error(p, DETC_ERR_QUANT, "%s (filter) has zero point %d%s, expected %s", desc, (int)zp,
                            w->quant.count > 1 ? " on a channel" : "",
                            w->dtype == DETC_I8 ? "0 for i8 filters (symmetric, as TensorFlow Lite requires)"
                                                : "0..255");
            return false;
        }
    }
    return true;
}

static float filter_scale(const detc_tensor *w, int c)
{
    return w->quant.scale[w->quant.count > 1 ? c : 0];
}

/* Bias: i32, zero point 0, scale == x.scale * filter.scale[c] within relative 1e-6. scales_known: the
 * input's and filter's quantization passed their checks; otherwise only what does not depend on them (the
 * count and the zero points) is checked, so that those problems are reported in the same pass. */
static bool check_bias_quant(detc_prep *p, int channels, bool scales_known)
{
    const detc_tensor *x = detc_prep_in(p, 0), *w = detc_prep_in(p, 1), *b = detc_prep_in(p, 2);
    if (!b)
        return true;
    char desc[600];
    detc_prep_operand_desc(p, 2, desc, sizeof desc);
    if (b->quant.count != 1 && b->quant.count != channels) {
        detc_prep_error(p, DETC_ERR_QUANT,
                        "%s (bias) has %d quantization scales, expected 1 or %d with scale = input scale x filter "
                        "scale and zero point 0; fix: give it a \"quant\" entry when converting",
                        desc, b->quant.count, channels);
        return false;
    }
    if (!scales_known) {
        for (int i = 0; i < b->quant.count; i++)
            if (b->quant.zero_point[i] != 0) {
                detc_prep_error(p, DETC_ERR_QUANT,
                                "%s (bias) has zero point %d%s, expected 0; fix: requantize the bias when converting "
                                "(its scale is checked against input scale x filter scale once those are valid)",
                                desc, (int)b->quant.zero_point[i], b->quant.count > 1 ? " on a channel" : "");
                return false;
            }
        return true;
    }
    int bad = 0, first_bad = -1;
    double first_expected = 0.0;
    for (int c = 0; c < channels; c++) {
        int bc = b->quant.count > 1 ? c : 0;
        double expected = (double)x->quant.scale[0] * (double)filter_scale(w, c);
        double got = b->quant.scale[bc];
        double lo = expected < got ? expected : got;
        if (!(fabs(got - expected) <= 1e-6 * lo) || b->quant.zero_point[bc] != 0) {
            if (first_bad < 0) {
                first_bad = c;
                first_expected = expected;
            }
            bad++;
        }
    }
    if (bad) {
        int bc = b->quant.count > 1 ? first_bad : 0;
        detc_prep_error(p, DETC_ERR_QUANT,
                        "%s (bias) must have zero point 0 and scale = input scale x filter scale; channel %d has "
                        "scale %.9g zero point %d, expected scale %.9g (%d channel(s) differ); fix: requantize the "
                        "bias when converting",
                        desc, first_bad, b->quant.scale[bc], (int)b->quant.zero_point[bc], first_expected, bad);
        return false;
    }
    return true;
}

static bool alloc_requant(op_requant *rq, int channels)
{
    memset(rq, 0, sizeof *rq);
    rq->channels = channels;
    rq->mul = calloc((size_t)channels, sizeof *rq->mul);
    rq->w_zp = calloc((size_t)channels, sizeof *rq->w_zp);
    rq->bias = calloc((size_t)channels, sizeof *rq->bias);
    return rq->mul && rq->w_zp && rq->bias;
}

static bool compute_multipliers(detc_prep *p, op_requant *rq)
{
    const detc_tensor *x = detc_prep_in(p, 0), *w = detc_prep_in(p, 1), *b = detc_prep_in(p, 2);
    const detc_tensor *out = detc_out(p->g, p->node, 0);
    rq->x_zp = x->quant.zero_point[0];
    rq->out_zp = out->quant.zero_point[0];
    for (int c = 0; c < rq->channels; c++) {
        /* u8 (GetQuantizedConvolutionMultipler): the scale product is rounded to f32 first,
         * static_cast<double>(input_scale * filter_scale) / output_scale; computing it in double moves a
         * few outputs per layer by one quantum (seen on SSD MobileNet's Conv2d_10_pointwise).
         * i8 (the per-channel multipliers of PopulateConvolutionQuantizationParams): all in double. */
        double product = x->dtype == DETC_U8 ? (double)(x->quant.scale[0] * filter_scale(w, c))
                                             : (double)x->quant.scale[0] * (double)filter_scale(w, c);
        double real = product / (double)out->quant.scale[0];
        if (!detc_qmul_from_double(real, &rq->mul[c])) {
            detc_prep_error(p, DETC_ERR_QUANT,
                            "the requantization multiplier of channel %d (input scale x filter scale / output "
                            "scale = %g) cannot be represented; check the output '%s' quantization",
                            c, real, out->name);
            return false;
        }
        rq->w_zp[c] = w->quant.zero_point[w->quant.count > 1 ? c : 0];
        if (b && b->kind == DETC_TENSOR_CONSTANT && b->data && b->rank == 1 && c < b->dims[0])
            rq->bias[c] = op_read_i32(b, c); /* a bias of the wrong length was reported by the op */
    }
    return true;
}

bool op_requant_prepare(detc_prep *p, int channels, int w_axis, detc_activation act, op_requant *rq)
{
    if (!alloc_requant(rq, channels)) {
        detc_prep_error(p, DETC_ERR_NOMEM, "out of memory");
        return false;
    }
    bool ok = op_require_per_tensor_quant(p, 0, "input");
    bool filter_ok = check_filter_quant(p, channels, w_axis);
    ok = check_bias_quant(p, channels, ok && filter_ok) && filter_ok && ok;
    ok = op_check_output_quant(p, 0) && ok;
    if (!ok || !compute_multipliers(p, rq))
        return false;
    detc_activation_range_q(act, detc_out(p->g, p->node, 0), &rq->act_min, &rq->act_max);
    return true;
}

void op_fill_lut(uint8_t table[256], const detc_tensor *x, const detc_tensor *out, float (*f)(float))
{
    const detc_dtype_info *info = detc_dtype_get(x->dtype);
    int32_t lo = (int32_t)info->qmin, hi = (int32_t)info->qmax;
    float in_scale = x->quant.scale[0], inverse_out = 1.0f / out->quant.scale[0];
    int32_t in_zp = x->quant.zero_point[0], out_zp = out->quant.zero_point[0];
    for (int32_t q = lo; q <= hi; q++) {
        float real = in_scale * (float)(q - in_zp);
        int32_t v = (int32_t)roundf(f(real) * inverse_out) + out_zp;
        table[(uint8_t)q] = (uint8_t)(v < lo ? lo : (v > hi ? hi : v));
    }
}

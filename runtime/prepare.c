/* Helpers that ops' prepare steps use to check operands and attributes and to report problems with
 * full context: model, node, op, operand, expected, found, producer, fix. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "graph.h"
#include "json_field.h"
#include "quant.h"

int64_t detc_tensor_count(const detc_tensor *t)
{
    int64_t n = 1;
    for (int i = 0; i < t->rank; i++)
        n *= t->dims[i];
    return n;
}

bool detc_tensor_is_quantized(const detc_tensor *t)
{
    const detc_dtype_info *info = detc_dtype_get(t->dtype);
    return info && info->quantizable && t->quant.count > 0;
}

void detc_shape_str(int rank, const int32_t *dims, char *out, size_t out_len)
{
    size_t used = 0;
    if (out_len == 0)
        return;
    int n = snprintf(out, out_len, "[");
    used = n > 0 ? (size_t)n : 0;
    for (int i = 0; i < rank && used < out_len; i++) {
        n = snprintf(out + used, out_len - used, "%s%d", i ? ", " : "", (int)dims[i]);
        if (n < 0)
            return;
        used += (size_t)n;
    }
    if (used < out_len)
        snprintf(out + used, out_len - used, "]");
}

void detc_prep_error(detc_prep *p, detc_code code, const char *fmt, ...)
{
    char body[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(body, sizeof body, fmt, ap);
    va_end(ap);
    const detc_node *n = p->node;
    detc_errors_add(p->errs, code, n->index, "%s: node %d '%s' (%s): %s", p->g->model_name, n->index, n->name,
                    n->op_name, body);
    p->failed = true;
}

static void tensor_origin(const detc_graph *g, const detc_tensor *t, char *out, size_t out_len)
{
    if (t->kind == DETC_TENSOR_CONSTANT)
        snprintf(out, out_len, "constant");
    else if (t->kind == DETC_TENSOR_INPUT)
        snprintf(out, out_len, "graph input");
    else if (t->producer >= 0) {
        const detc_node *pn = &g->nodes[t->producer];
        snprintf(out, out_len, "from node %d '%s' (%s)", pn->index, pn->name, pn->op_name);
    } else
        snprintf(out, out_len, "no producer");
}

void detc_prep_operand_desc(detc_prep *p, int slot, char *out, size_t out_len)
{
    const detc_tensor *t = detc_in(p->g, p->node, slot);
    if (!t) {
        snprintf(out, out_len, "input %d (omitted)", slot);
        return;
    }
    char origin[300];
    tensor_origin(p->g, t, origin, sizeof origin);
    snprintf(out, out_len, "input %d '%s' (%s)", slot, t->name, origin);
}

detc_tensor *detc_prep_in(detc_prep *p, int slot)
{
    return detc_in(p->g, p->node, slot);
}

void detc_prep_copied_input(detc_prep *p, int slot)
{
    const detc_tensor *t = detc_in(p->g, p->node, slot);
    if (t && t->kind == DETC_TENSOR_CONSTANT && slot >= 0 && slot < 32)
        p->node->copied_inputs |= 1u << slot;
}

bool detc_prep_require_input(detc_prep *p, int slot, const char *role)
{
    if (detc_in(p->g, p->node, slot))
        return true;
    detc_prep_error(p, DETC_ERR_GRAPH, "input %d (%s) is required but omitted; give the node a tensor for it", slot,
                    role);
    return false;
}

bool detc_prep_dtype(detc_prep *p, int slot, uint32_t allowed, const char *fix)
{
    const detc_tensor *t = detc_in(p->g, p->node, slot);
    if (!t || (allowed & DETC_MASK(t->dtype)))
        return true;
    char desc[600], names[200];
    detc_prep_operand_desc(p, slot, desc, sizeof desc);
    detc_dtype_mask_names(allowed, names, sizeof names);
    detc_prep_error(p, DETC_ERR_DTYPE, "%s is %s, expected %s; fix: %s", desc, detc_dtype_name(t->dtype), names,
                    fix && *fix ? fix : "convert the model so this operand has one of the expected dtypes");
    return false;
}

bool detc_prep_rank(detc_prep *p, int slot, int rank_min, int rank_max)
{
    const detc_tensor *t = detc_in(p->g, p->node, slot);
    if (!t || (t->rank >= rank_min && t->rank <= rank_max))
        return true;
    char desc[600], shape[128];
    detc_prep_operand_desc(p, slot, desc, sizeof desc);
    detc_shape_str(t->rank, t->dims, shape, sizeof shape);
    if (rank_min == rank_max)
        detc_prep_error(p, DETC_ERR_SHAPE, "%s has shape %s (rank %d), expected rank %d", desc, shape, t->rank,
                        rank_min);
    else
        detc_prep_error(p, DETC_ERR_SHAPE, "%s has shape %s (rank %d), expected rank %d..%d", desc, shape, t->rank,
                        rank_min, rank_max);
    return false;
}

bool detc_prep_constant(detc_prep *p, int slot, const char *why)
{
    const detc_tensor *t = detc_in(p->g, p->node, slot);
    if (!t || t->kind == DETC_TENSOR_CONSTANT)
        return true;
    char desc[600];
    detc_prep_operand_desc(p, slot, desc, sizeof desc);
    detc_prep_error(p, DETC_ERR_GRAPH, "%s must be a constant (%s); fold it into the model when converting", desc,
                    why);
    return false;
}

static void quant_str(const detc_quant *q, char *out, size_t out_len)
{
    if (q->count == 0)
        snprintf(out, out_len, "no quantization");
    else if (q->count == 1)
        snprintf(out, out_len, "scale %.9g zero point %d", q->scale[0], (int)q->zero_point[0]);
    else
        snprintf(out, out_len, "%d per-channel scales on axis %d", q->count, q->axis);
}

bool detc_prep_set_output(detc_prep *p, int slot, detc_dtype dtype, int rank, const int32_t *dims,
                          const detc_quant *q, bool need_quant)
{
    detc_tensor *t = detc_out(p->g, p->node, slot);
    char inferred[128], declared[128];
    bool ok = true;
    if (t->poisoned) {
        /* Its declaration in the file is broken (bad quant, dtype or shape, or a second producer) and was
         * reported when the file was read; comparing against it would only repeat that problem. */
        p->failed = true;
        return false;
    }
    detc_shape_str(rank, dims, inferred, sizeof inferred);
    if (t->dtype != DETC_DTYPE_INVALID && t->dtype != dtype) {
        /* Between float and 8-bit, the usual cause is a missing boundary of an int8 region. */
        bool q8 = dtype == DETC_U8 || dtype == DETC_I8, declared_q8 = t->dtype == DETC_U8 || t->dtype == DETC_I8;
        const char *fix = q8 && t->dtype == DETC_F32
                              ? "the op computes in its inputs' dtype, so a float result needs float inputs: insert "
                                "a dequantize (cast to f32) before it, or declare the output %s with quantization"
                          : dtype == DETC_F32 && declared_q8
                              ? "the op computes in its inputs' dtype, so an 8-bit result needs 8-bit inputs: insert "
                                "a quantize (cast to %s with the input's scale and zero point) before it, or declare "
                                "the output f32"
                              : "fix the declaration or the inputs' dtypes%s";
        char fixed[300];
        snprintf(fixed, sizeof fixed, fix, q8 ? detc_dtype_name(dtype) : declared_q8 ? detc_dtype_name(t->dtype) : "");
        detc_prep_error(p, DETC_ERR_DTYPE, "output %d '%s' is declared %s in the file, but %s produces %s from these "
                        "inputs; %s",
                        slot, t->name, detc_dtype_name(t->dtype), p->node->op_name, detc_dtype_name(dtype), fixed);
        t->poisoned = true; /* its quantization would only repeat the problem */
        p->failed = true;
        return false;
    }
    if (t->shape_declared) {
        bool same = t->declared_rank == rank;
        for (int i = 0; same && i < rank; i++)
            same = t->declared_dims[i] == dims[i];
        if (!same) {
            detc_shape_str(t->declared_rank, t->declared_dims, declared, sizeof declared);
            detc_prep_error(p, DETC_ERR_SHAPE,
                            "output %d '%s' is declared with shape %s, but the inputs give %s; fix the "
                            "declaration or the operands' shapes",
                            slot, t->name, declared, inferred);
            ok = false;
        }
    }
    t->dtype = dtype;
    t->rank = rank;
    memcpy(t->dims, dims, (size_t)rank * sizeof *dims);
    t->shape_known = true;
    if (q) {
        if (t->quant.count && !detc_quant_equal(&t->quant, q)) {
            char a[128], b[128];
            quant_str(&t->quant, a, sizeof a);
            quant_str(q, b, sizeof b);
            detc_prep_error(p, DETC_ERR_QUANT,
                            "output %d '%s' is declared with %s, but %s passes its input's %s through unchanged; "
                            "make them equal or insert a requantizing op",
                            slot, t->name, a, p->node->op_name, b);
            ok = false;
        } else if (!t->quant.count && !detc_quant_copy(&t->quant, q)) {
            detc_prep_error(p, DETC_ERR_NOMEM, "out of memory");
            ok = false;
        }
    } else if (need_quant) {
        if (t->quant.count != 1) {
            detc_prep_error(p, DETC_ERR_QUANT,
                            "output %d '%s' is %s and must carry per-tensor quantization parameters (scale, zero "
                            "point), found %s; give it a \"quant\" entry when converting (detc-convert keeps "
                            "TFLite's output quantization)",
                            slot, t->name, detc_dtype_name(dtype), t->quant.count ? "per-channel parameters" : "none");
            ok = false;
        }
    }
    if (!ok)
        t->poisoned = true;
    return ok;
}

/* ---- attributes ---- */

const cJSON *detc_attr_get(detc_prep *p, const char *name)
{
    const cJSON *attrs = p->node->attrs;
    return attrs ? cJSON_GetObjectItemCaseSensitive(attrs, name) : NULL;
}

static bool attr_missing(detc_prep *p, const char *name, bool required)
{
    if (required)
        detc_prep_error(p, DETC_ERR_ATTR, "required attribute '%s' is missing; see ops/README.md for %s", name,
                        p->node->op_name);
    return !required;
}

/* Integral values up to 9e15 (exact in a double); the attribute's own range is checked by the caller. */
static bool json_int(const cJSON *v, int64_t *out)
{
    return detc_json_integer(v, -9000000000000000LL, 9000000000000000LL, out);
}

bool detc_attr_int(detc_prep *p, const char *name, bool required, int64_t def, int64_t min, int64_t max,
                   int64_t *out)
{
    const cJSON *v = detc_attr_get(p, name);
    *out = def;
    if (!v)
        return attr_missing(p, name, required);
    int64_t x;
    if (!json_int(v, &x)) {
        detc_prep_error(p, DETC_ERR_ATTR, "attribute '%s' must be an integer", name);
        return false;
    }
    if (x < min || x > max) {
        detc_prep_error(p, DETC_ERR_ATTR, "attribute '%s' is %lld, expected %lld..%lld", name, (long long)x,
                        (long long)min, (long long)max);
        return false;
    }
    *out = x;
    return true;
}

bool detc_attr_float(detc_prep *p, const char *name, bool required, double def, double min, double max,
                     double *out)
{
    const cJSON *v = detc_attr_get(p, name);
    *out = def;
    if (!v)
        return attr_missing(p, name, required);
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble)) {
        detc_prep_error(p, DETC_ERR_ATTR, "attribute '%s' must be a finite number", name);
        return false;
    }
    if (v->valuedouble < min || v->valuedouble > max) {
        detc_prep_error(p, DETC_ERR_ATTR, "attribute '%s' is %g, expected %g..%g", name, v->valuedouble, min, max);
        return false;
    }
    *out = v->valuedouble;
    return true;
}

bool detc_attr_bool(detc_prep *p, const char *name, bool def, bool *out)
{
    const cJSON *v = detc_attr_get(p, name);
    *out = def;
    if (!v)
        return true;
    if (!cJSON_IsBool(v)) {
        detc_prep_error(p, DETC_ERR_ATTR, "attribute '%s' must be true or false", name);
        return false;
    }
    *out = cJSON_IsTrue(v);
    return true;
}

bool detc_attr_ints(detc_prep *p, const char *name, bool required, int n, int max_n, const int64_t *def,
                    int64_t min, int64_t max, int64_t *out, int *count)
{
    const cJSON *v = detc_attr_get(p, name);
    if (count)
        *count = n > 0 ? n : 0;
    if (!v) {
        if (def && n > 0)
            memcpy(out, def, (size_t)n * sizeof *out);
        return attr_missing(p, name, required);
    }
    int len = cJSON_IsArray(v) ? cJSON_GetArraySize(v) : -1;
    if (len < 0 || (n >= 0 && len != n) || (n < 0 && (len < 1 || len > max_n))) {
        if (n >= 0)
            detc_prep_error(p, DETC_ERR_ATTR, "attribute '%s' must be a list of %d integers", name, n);
        else
            detc_prep_error(p, DETC_ERR_ATTR, "attribute '%s' must be a list of 1..%d integers", name, max_n);
        return false;
    }
    int i = 0;
    const cJSON *item;
    cJSON_ArrayForEach(item, v)
    {
        int64_t x;
        if (!json_int(item, &x) || x < min || x > max) {
            detc_prep_error(p, DETC_ERR_ATTR, "attribute '%s'[%d] must be an integer in %lld..%lld", name, i,
                            (long long)min, (long long)max);
            return false;
        }
        out[i++] = x;
    }
    if (count)
        *count = len;
    return true;
}

bool detc_attr_enum(detc_prep *p, const char *name, bool required, int def, const char *const *choices, int *out)
{
    const cJSON *v = detc_attr_get(p, name);
    *out = def;
    if (!v)
        return attr_missing(p, name, required);
    if (cJSON_IsString(v))
        for (int i = 0; choices[i]; i++)
            if (strcmp(v->valuestring, choices[i]) == 0) {
                *out = i;
                return true;
            }
    char list[256] = "";
    size_t used = 0;
    for (int i = 0; choices[i] && used < sizeof list; i++) {
        int k = snprintf(list + used, sizeof list - used, "%s\"%s\"", i ? ", " : "", choices[i]);
        if (k < 0)
            break;
        used += (size_t)k;
    }
    detc_prep_error(p, DETC_ERR_ATTR, "attribute '%s' must be one of %s", name, list);
    return false;
}

bool detc_attr_activation(detc_prep *p, detc_activation *out)
{
    static const char *const names[] = {"none", "relu", "relu6", "relu_n1_to_1", NULL};
    int v;
    bool ok = detc_attr_enum(p, "activation", false, 0, names, &v);
    *out = (detc_activation)v;
    return ok;
}

static int out_size_same(int in, int s)
{
    return (int)(((int64_t)in + s - 1) / s);
}

bool detc_attr_padding(detc_prep *p, int in_h, int in_w, int k_h, int k_w, int s_h, int s_w, int d_h, int d_w,
                       detc_pads *pads, int *out_h, int *out_w)
{
    memset(pads, 0, sizeof *pads);
    int64_t eff_h = (int64_t)(k_h - 1) * d_h + 1, eff_w = (int64_t)(k_w - 1) * d_w + 1;
    const cJSON *v = detc_attr_get(p, "padding");
    if (v && cJSON_IsArray(v)) {
        int64_t t[4];
        if (!detc_attr_ints(p, "padding", true, 4, 4, NULL, 0, 1024, t, NULL))
            return false;
        pads->top = (int)t[0];
        pads->left = (int)t[1];
        pads->bottom = (int)t[2];
        pads->right = (int)t[3];
    } else {
        static const char *const names[] = {"valid", "same", NULL};
        int mode;
        if (!detc_attr_enum(p, "padding", false, 0, names, &mode))
            return false;
        if (mode == 1) {
            /* TensorFlow SAME: output = ceil(in / stride); the odd pixel of padding goes bottom/right. */
            int oh = out_size_same(in_h, s_h), ow = out_size_same(in_w, s_w);
            int64_t ph = ((int64_t)oh - 1) * s_h + eff_h - in_h;
            int64_t pw = ((int64_t)ow - 1) * s_w + eff_w - in_w;
            if (ph < 0)
                ph = 0;
            if (pw < 0)
                pw = 0;
            pads->top = (int)(ph / 2);
            pads->bottom = (int)(ph - ph / 2);
            pads->left = (int)(pw / 2);
            pads->right = (int)(pw - pw / 2);
        }
    }
    int64_t ph = (int64_t)in_h + pads->top + pads->bottom - eff_h;
    int64_t pw = (int64_t)in_w + pads->left + pads->right - eff_w;
    if (ph < 0 || pw < 0) {
        /* every caller slides the window over input 0 */
        char desc[600];
        detc_prep_operand_desc(p, 0, desc, sizeof desc);
        detc_prep_error(p, DETC_ERR_SHAPE,
                        "the %lldx%lld window (kernel %dx%d, dilation %dx%d) does not fit the %dx%d %s with padding "
                        "[%d, %d, %d, %d]; use a smaller kernel or more padding",
                        (long long)eff_h, (long long)eff_w, k_h, k_w, d_h, d_w, in_h, in_w, desc, pads->top,
                        pads->left, pads->bottom, pads->right);
        return false;
    }
    *out_h = (int)(ph / s_h + 1);
    *out_w = (int)(pw / s_w + 1);
    return true;
}

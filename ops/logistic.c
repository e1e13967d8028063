/* logistic: 1 / (1 + exp(-x)).
 * u8/i8 follow TensorFlow Lite's default LOGISTIC kernel (activations.cc, kGenericOptimized: SigmoidPrepare
 * fills a 256-entry table with LUTPopulate / PopulateLookupTable, SigmoidEval looks every element up):
 *   real = in_scale * (q - in_zp)           (float)
 *   y    = 1.0f / (1.0f + expf(-real))      (float)
 *   q'   = clamp(round_half_away(y * (1 / out_scale)) + out_zp)
 * The output must be scale 1/256 with zero point 0 (u8) or -128 (i8), as TFLite requires.
 * f32 runs the kernel table's logistic_f32 (portable: the formula above; SIMD: a vectorized exp held to
 * 1e-6 relative of float64 by tests/test_kernels.c), split across the pool in blocks of 16 Ki elements. */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"
#include "op_util.h"
#include "ops.h"
#include "threadpool.h"

/* Elements per part: a hand-off costs about as much as a few thousand exps. */
#define LOGISTIC_BLOCK 16384

typedef struct {
    detc_dtype dtype;
    uint8_t table[256]; /* indexed by the raw byte */
} logistic_data;

static float sigmoid(float real)
{
    return 1.0f / (1.0f + expf(-real));
}

static bool check_output_quant(detc_prep *p, detc_dtype dt)
{
    const detc_tensor *out = detc_out(p->g, p->node, 0);
    int32_t want_zp = dt == DETC_U8 ? 0 : -128;
    if (out->quant.count == 1 && out->quant.scale[0] == 1.0f / 256.0f && out->quant.zero_point[0] == want_zp)
        return true;
    if (out->quant.count != 1)
        return false; /* reported by detc_prep_set_output */
    detc_prep_error(p, DETC_ERR_QUANT,
                    "output 0 '%s' has scale %.9g zero point %d; a quantized logistic must output scale 1/256 "
                    "(0.00390625) with zero point %d, as TensorFlow Lite requires; fix the output's \"quant\" when "
                    "converting",
                    out->name, out->quant.scale[0], (int)out->quant.zero_point[0], (int)want_zp);
    return false;
}

static bool logistic_prepare(detc_prep *p)
{
    const detc_tensor *x = detc_prep_in(p, 0);
    bool ok = op_check_counts(p);
    if (!detc_prep_require_input(p, 0, "input"))
        return false;
    ok = detc_prep_dtype(p, 0, DETC_MASK(DETC_F32) | DETC_MASK(DETC_U8) | DETC_MASK(DETC_I8),
                         "logistic takes f32, or u8/i8 with quantization; cast the input to f32 first") &&
         ok;
    bool quantized = x->dtype == DETC_U8 || x->dtype == DETC_I8;
    if (quantized)
        ok = op_require_per_tensor_quant(p, 0, "input") && ok;
    if (!ok)
        return false;
    if (!detc_prep_set_output(p, 0, x->dtype, x->rank, x->dims, NULL, quantized))
        return false;
    logistic_data *d = op_new_data(p, sizeof *d);
    if (!d)
        return false;
    d->dtype = x->dtype;
    if (!quantized)
        return true;
    if (!check_output_quant(p, x->dtype))
        return false;
    op_fill_lut(d->table, x, detc_out(p->g, p->node, 0), sigmoid);
    return true;
}

typedef struct {
    void (*fn)(long n, const float *x, float *y);
    const float *src;
    float *dst;
    int64_t n;
} logistic_job;

static void logistic_blocks(void *ctx, int begin, int end)
{
    const logistic_job *j = ctx;
    int64_t lo = (int64_t)begin * LOGISTIC_BLOCK, hi = (int64_t)end * LOGISTIC_BLOCK;
    if (hi > j->n)
        hi = j->n;
    j->fn((long)(hi - lo), j->src + lo, j->dst + lo);
}

static detc_code logistic_eval(const detc_exec *x, detc_node *node)
{
    const logistic_data *d = node->op_data;
    const detc_tensor *in = detc_in(x->g, node, 0);
    int64_t n = detc_tensor_count(in);
    if (d->dtype == DETC_F32) {
        logistic_job j = {x->kernels->logistic_f32, in->data, detc_out(x->g, node, 0)->data, n};
        int64_t blocks = (n + LOGISTIC_BLOCK - 1) / LOGISTIC_BLOCK;
        if (blocks > INT32_MAX)
            return DETC_ERR_SHAPE;
        detc_parallel_for(x->pool, (int)blocks, 1, logistic_blocks, &j);
        return DETC_OK;
    }
    x->kernels->lut_u8(d->table, (size_t)n, in->data, detc_out(x->g, node, 0)->data);
    return DETC_OK;
}

const detc_op detc_op_logistic = {
    .name = "logistic",
    .min_inputs = 1,
    .max_inputs = 1,
    .n_outputs = 1,
    .prepare = logistic_prepare,
    .eval = logistic_eval,
};

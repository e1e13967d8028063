/* Helpers shared by the ops in this folder: quantization checks, sliding-window attributes, per-channel
 * requantization parameters, and the "slots" scheme that gives each parallel part of an op its own piece
 * of scratch memory. Internal to ops/. */
#ifndef DETC_OP_UTIL_H
#define DETC_OP_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "graph.h"
#include "quant.h"

/* Parallel parts an op splits its work into at most. Each part owns one scratch slot, so scratch is
 * sized in prepare without knowing the pool; pools larger than this leave threads idle for that op. */
#define OP_MAX_PARTS 8

#define OP_ALIGN 64
static inline size_t op_align(size_t n)
{
    return (n + OP_ALIGN - 1) & ~(size_t)(OP_ALIGN - 1);
}

/* Zeroed per-node data of `size` bytes, attached as the node's op_data (released first if the node still
 * has some from an earlier prepare; the runtime releases it when the model is freed). NULL, with the error
 * reported, when memory runs out. */
void *op_new_data(detc_prep *p, size_t size);

/* The optional `count` operand (i32 [1]) of row-wise ops in detection heads (conv2d, conv2d_transpose,
 * relu): only rows [0, count) of the batch axis are computed and later rows are set to zero (the zero
 * point when quantized), so a mask head sized for 100 detections costs what the detections cost. True
 * when the slot is absent or holds an i32 [1] tensor; otherwise reports why. */
bool op_check_row_count(detc_prep *p, int slot);
/* Rows to compute: the count operand clamped to [0, rows], or rows when the slot is absent. */
int op_row_count(const detc_exec *x, const detc_node *n, int slot, int rows);

/* Number of parts for `items` units of work, at least `min_per_part` units each. */
int op_parts(const detc_exec *x, int64_t items, int64_t min_per_part);

/* Operand checks that report a complete message. `role` names the operand ("filter", "bias", ...). */
bool op_check_counts(detc_prep *p);
/* slot must carry valid per-tensor parameters (scale > 0 finite, zero point within the dtype range). */
bool op_require_per_tensor_quant(detc_prep *p, int slot, const char *role);
/* Checks an output's declared per-tensor parameters (after detc_prep_set_output). */
bool op_check_output_quant(detc_prep *p, int slot);
bool op_check_scale_list(detc_prep *p, int slot, const char *role);
bool op_dims_equal(const detc_tensor *a, const detc_tensor *b);

/* TFLite's LUTPopulate for a u8/i8 activation with per-tensor x and out parameters: for every value q of
 * x's dtype, table[(uint8_t)q] = clamp(round_half_away(f(x.scale * (q - x.zp)) * (1 / out.scale)) + out.zp),
 * all in f32. Eval then looks each raw byte up (the kernel table's lut_u8). */
void op_fill_lut(uint8_t table[256], const detc_tensor *x, const detc_tensor *out, float (*f)(float));

/* stride, dilation, padding and activation of conv-like ops, with the resulting output size. */
typedef struct {
    int stride_h, stride_w, dil_h, dil_w;
    detc_pads pads;
    int out_h, out_w;
    detc_activation act;
} op_window;
/* stride, dilation and activation: parse these first, so they are reported even when operands are bad. */
bool op_parse_window_attrs(detc_prep *p, op_window *w);
/* padding and the output size, once the input and kernel sizes are known. */
bool op_parse_window_padding(detc_prep *p, int in_h, int in_w, int k_h, int k_w, op_window *w);

/* Per-output-channel requantization of a quantized conv-like op (TFLite PopulateConvolutionQuantizationParams):
 * multiplier = x_scale * filter_scale[c] / out_scale in double, the activation clamp, zero points, and the
 * bias as int32 (0 when absent). */
typedef struct {
    int channels;
    int32_t x_zp, out_zp, act_min, act_max;
    detc_qmul *mul;   /* [channels] */
    int32_t *w_zp;    /* [channels], filter zero point (0 for i8) */
    int32_t *bias;    /* [channels] */
    /* mul as the kernel table's SIMD kernels take it (op_requant_split): multiplier, max(shift, 0),
     * max(-shift, 0); NULL until split */
    int32_t *mult, *lshift, *rshift;
} op_requant;

/* Validates x/filter/bias/output quantization of a conv-like op and fills rq. w_axis is the filter's
 * channel axis (0 for conv2d, 3 for depthwise). Reports every problem; returns false if any. */
bool op_requant_prepare(detc_prep *p, int channels, int w_axis, detc_activation act, op_requant *rq);
void op_requant_free(op_requant *rq);
/* Fills rq->mult, lshift and rshift from rq->mul (after op_requant_prepare). False when memory runs out. */
bool op_requant_split(op_requant *rq);
/* The float form of rq's requantization for the SIMD kernels (kernels.h's frq): when every channel has the same
 * multiplier and a right shift and detc_rq_float_fit holds for it (gemmlowp rounding only: round_once false).
 * Returns whether it does, with *scale and *offset set. */
bool op_requant_float(const op_requant *rq, bool round_once, float *scale, float *offset);

static inline int32_t op_requantize(int32_t acc, const op_requant *rq, int c)
{
    int32_t v = detc_qmul_apply(acc, rq->mul[c]) + rq->out_zp;
    return v < rq->act_min ? rq->act_min : (v > rq->act_max ? rq->act_max : v);
}

/* Reads element i of a constant i32 tensor whose data may be unaligned. */
int32_t op_read_i32(const detc_tensor *t, int64_t i);
float op_read_f32(const detc_tensor *t, int64_t i);

#endif

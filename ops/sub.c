/* sub: a - b with numpy broadcasting and a fused activation. f32, or quantized u8/u8 -> u8, i8/i8 -> i8
 * as TensorFlow Lite's SUB: the operands rescaled as ADD rescales them (ops/add.c), then subtracted,
 * then rescaled to the output. add.c has the arithmetic. */
#include "ops.h"

const detc_op detc_op_sub = {
    .name = "sub",
    .min_inputs = 2,
    .max_inputs = 2,
    .n_outputs = 1,
    .prepare = detc_add_prepare,
    .eval = detc_add_eval,
};

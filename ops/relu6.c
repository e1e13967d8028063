/* relu6: min(max(x, 0), 6). f32, and u8/i8 with TensorFlow Lite's quantized RELU6 (the output may carry
 * its own quantization; the input is rescaled to it). The arithmetic is shared with relu, see
 * ops/relu.h. */
#include "relu.h"
#include "ops.h"

static bool relu6_prepare(detc_prep *p)
{
    return op_relux_prepare(p, 6.0f);
}

const detc_op detc_op_relu6 = {
    .name = "relu6",
    .min_inputs = 1,
    .max_inputs = 2,
    .n_outputs = 1,
    .prepare = relu6_prepare,
    .eval = op_relux_eval,
};

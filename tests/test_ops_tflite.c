/* Load-time checks of the ops added for TFLite detectors (sub, requantize, hard_swish, transpose, slice,
 * tanh, mean, resize_bilinear): what each refuses and that the message names the rule, plus a few
 * hand-checked values. Their numerics against TFLite itself are in tests/test_tflite_ops.py. */
#include <string.h>

#include "check.h"
#include "op_harness.h"

static void test_transpose_and_slice(void)
{
    oh_case c;
    int32_t xd[3] = {2, 3, 4};
    float x[24];
    for (int i = 0; i < 24; i++)
        x[i] = (float)i;
    oh_init(&c, "transpose", "{\"perm\": [2, 0, 1]}");
    oh_input(&c, DETC_F32, 3, xd, x, false);
    int o = oh_output(&c, DETC_DTYPE_INVALID);
    CHECK(oh_prepare(&c) && oh_eval(&c, 1) == DETC_OK, "transpose [2,0,1] runs");
    const detc_tensor *t = oh_tensor(&c, o);
    const float *y = oh_data(&c, o);
    CHECK(t->dims[0] == 4 && t->dims[1] == 2 && t->dims[2] == 3, "transpose output is [4, 2, 3]");
    /* y[k][i][j] = x[i][j][k] */
    CHECK(y[1 * 6 + 1 * 3 + 2] == x[1 * 12 + 2 * 4 + 1], "transpose moves x[1][2][1] to y[1][1][2]");
    oh_free(&c);

    oh_init(&c, "transpose", "{\"perm\": [0, 0, 1]}");
    oh_input(&c, DETC_F32, 3, xd, NULL, false);
    oh_output(&c, DETC_DTYPE_INVALID);
    CHECK(!oh_prepare(&c) && oh_has_error(&c, DETC_ERR_ATTR, "'perm'", "permutation"), "a repeated axis is refused");
    oh_free(&c);

    oh_init(&c, "slice", "{\"begin\": [1, 1, 0], \"size\": [1, -1, 2]}");
    oh_input(&c, DETC_F32, 3, xd, x, false);
    o = oh_output(&c, DETC_DTYPE_INVALID);
    CHECK(oh_prepare(&c) && oh_eval(&c, 1) == DETC_OK, "slice runs");
    t = oh_tensor(&c, o);
    y = oh_data(&c, o);
    CHECK(t->dims[0] == 1 && t->dims[1] == 2 && t->dims[2] == 2, "slice output is [1, 2, 2]");
    CHECK(y[0] == 16 && y[1] == 17 && y[2] == 20 && y[3] == 21, "slice copies x[1, 1:3, 0:2]");
    oh_free(&c);

    oh_init(&c, "slice", "{\"begin\": [0, 2, 0], \"size\": [2, 2, 4]}");
    oh_input(&c, DETC_F32, 3, xd, NULL, false);
    oh_output(&c, DETC_DTYPE_INVALID);
    CHECK(!oh_prepare(&c) && oh_has_error(&c, DETC_ERR_ATTR, "axis 1", "begin + size <= dim"),
          "a slice past the end is refused");
    oh_free(&c);
}

static void test_requantize_and_hard_swish(void)
{
    oh_case c;
    int32_t d[1] = {4};
    uint8_t q[4] = {0, 127, 128, 255};
    oh_init(&c, "requantize", NULL);
    oh_quant1(&c, oh_input(&c, DETC_U8, 1, d, q, false), 0.0078125f, 128);
    int o = oh_output(&c, DETC_I8);
    oh_quant1(&c, o, 0.0078125f, 0);
    CHECK(oh_prepare(&c) && oh_eval(&c, 1) == DETC_OK, "u8 -> i8 requantize runs");
    const int8_t *y = oh_data(&c, o);
    CHECK(y[0] == -128 && y[1] == -1 && y[2] == 0 && y[3] == 127, "equal scales: the byte minus 128");
    oh_free(&c);

    oh_init(&c, "requantize", NULL);
    oh_input(&c, DETC_F32, 1, d, NULL, false);
    oh_output(&c, DETC_I8);
    CHECK(!oh_prepare(&c) && oh_has_error(&c, DETC_ERR_DTYPE, "input 0", "use cast for f32"),
          "requantize refuses f32 and points to cast");
    oh_free(&c);

    oh_init(&c, "hard_swish", NULL);
    oh_quant1(&c, oh_input(&c, DETC_U8, 1, d, q, false), 0.05f, 128);
    oh_quant1(&c, oh_output(&c, DETC_U8), 0.0001f, 0);
    CHECK(!oh_prepare(&c) && oh_has_error(&c, DETC_ERR_QUANT, "output multiplier", "below 1"),
          "hard_swish with an output scale below input scale / 128 is refused");
    oh_free(&c);

    float xf[4] = {-4.0f, -1.5f, 0.5f, 4.0f};
    oh_init(&c, "hard_swish", NULL);
    oh_input(&c, DETC_F32, 1, d, xf, false);
    o = oh_output(&c, DETC_DTYPE_INVALID);
    CHECK(oh_prepare(&c) && oh_eval(&c, 1) == DETC_OK, "f32 hard_swish runs");
    const float *yf = oh_data(&c, o);
    CHECK(yf[0] == 0.0f && yf[1] == -1.5f * 1.5f / 6.0f && yf[2] == 0.5f * 3.5f / 6.0f && yf[3] == 4.0f,
          "f32 hard_swish: x * relu6(x + 3) / 6");
    oh_free(&c);
}

static void test_mean_tanh_bilinear_sub(void)
{
    oh_case c;
    int32_t xd[4] = {1, 2, 2, 3};
    float x[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
    oh_init(&c, "mean", "{\"axes\": [1, 2], \"keep_dims\": true}");
    oh_input(&c, DETC_F32, 4, xd, x, false);
    int o = oh_output(&c, DETC_DTYPE_INVALID);
    CHECK(oh_prepare(&c) && oh_eval(&c, 1) == DETC_OK, "mean over H, W runs");
    const float *y = oh_data(&c, o);
    CHECK(oh_tensor(&c, o)->rank == 4 && y[0] == 5.5f && y[1] == 6.5f && y[2] == 7.5f, "mean per channel");
    oh_free(&c);

    oh_init(&c, "mean", "{\"axes\": [4]}");
    oh_input(&c, DETC_F32, 4, xd, x, false);
    oh_output(&c, DETC_DTYPE_INVALID);
    CHECK(!oh_prepare(&c) && oh_has_error(&c, DETC_ERR_ATTR, "'axes'", NULL), "an axis past the rank is refused");
    oh_free(&c);

    oh_init(&c, "tanh", NULL);
    oh_quant1(&c, oh_input(&c, DETC_U8, 4, xd, NULL, false), 0.1f, 128);
    oh_quant1(&c, oh_output(&c, DETC_U8), 1.0f / 256, 0);
    CHECK(!oh_prepare(&c) && oh_has_error(&c, DETC_ERR_QUANT, "output 0", "scale 1/128"),
          "a quantized tanh output other than 1/128 is refused, as TFLite refuses it");
    oh_free(&c);

    oh_init(&c, "resize_bilinear", "{\"size\": [4, 4], \"align_corners\": true, \"half_pixel_centers\": true}");
    oh_input(&c, DETC_F32, 4, xd, x, false);
    oh_output(&c, DETC_DTYPE_INVALID);
    CHECK(!oh_prepare(&c) && oh_has_error(&c, DETC_ERR_ATTR, "align_corners and half_pixel_centers", "TFLite refuses"),
          "bilinear with both flags is refused, as TFLite refuses it");
    oh_free(&c);

    oh_init(&c, "resize_bilinear", "{\"size\": [4, 4], \"align_corners\": true}");
    oh_input(&c, DETC_F32, 4, xd, x, false);
    o = oh_output(&c, DETC_DTYPE_INVALID);
    CHECK(oh_prepare(&c) && oh_eval(&c, 1) == DETC_OK, "bilinear 2x2 -> 4x4 runs");
    y = oh_data(&c, o);
    /* align_corners: the corners are the input's corners */
    CHECK(y[0] == 1.0f && y[(3 * 4 + 3) * 3 + 2] == 12.0f, "align_corners keeps the corner values");
    oh_free(&c);

    int32_t ad[1] = {3};
    float a[3] = {1.0f, 5.0f, -2.0f}, b[3] = {4.0f, 1.0f, 1.0f};
    oh_init(&c, "sub", "{\"activation\": \"relu\"}");
    oh_input(&c, DETC_F32, 1, ad, a, false);
    oh_input(&c, DETC_F32, 1, ad, b, false);
    o = oh_output(&c, DETC_DTYPE_INVALID);
    CHECK(oh_prepare(&c) && oh_eval(&c, 1) == DETC_OK, "sub runs");
    y = oh_data(&c, o);
    CHECK(y[0] == 0.0f && y[1] == 4.0f && y[2] == 0.0f, "sub: a - b, then relu");
    oh_free(&c);
}

int main(void)
{
    test_transpose_and_slice();
    test_requantize_and_hard_swish();
    test_mean_tanh_bilinear_sub();
    return check_summary("test_ops_tflite");
}

/* resize_nearest's index rules (ops/resize_nearest.c): PyTorch (default), TensorFlow and ONNX, on cases
 * whose source indices are worked out by hand in the comments, and prepare's reports. ONNX's own Resize /
 * Upsample nearest vectors run in tests/test_onnx_nodes.py; torchvision's FPN use in test_maskrcnn_ops.c.
 * Also roi_align's extrapolation_value (ONNX Resize tf_crop_and_resize maps to roi_align).
 *
 * The input holds y * 1000 + x at (y, x), so every output value names the source pixel it copied. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "op_harness.h"

#define COUNT(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* Resizes [1, in_h, in_w, 2] to (out_h, out_w) given by the `size` attribute (attrs must hold it) or,
 * with like = true, by a like input. Checks the source rows/columns against want_y / want_x (NULL: skip). */
static void check_rule(const char *what, const char *attrs, bool like, int in_h, int in_w, int out_h, int out_w,
                       const int *want_y, const int *want_x)
{
    float x[64 * 64 * 2];
    for (int y = 0; y < in_h; y++)
        for (int i = 0; i < in_w; i++)
            for (int c = 0; c < 2; c++)
                x[(y * in_w + i) * 2 + c] = (float)(y * 1000 + i) + (c ? 0.5f : 0.0f);
    oh_case c;
    int32_t xd[4] = {1, in_h, in_w, 2}, ld[4] = {1, out_h, out_w, 1};
    CHECK(oh_init(&c, "resize_nearest", attrs), "%s: attributes parse", what);
    oh_input(&c, DETC_F32, 4, xd, x, false);
    if (like)
        oh_input(&c, DETC_F32, 4, ld, NULL, true);
    int o = oh_output(&c, DETC_DTYPE_INVALID);
    bool ok = oh_prepare(&c);
    if (!ok)
        oh_print_errors(&c);
    const detc_tensor *t = oh_tensor(&c, o);
    CHECK(ok && t->dims[0] == 1 && t->dims[1] == out_h && t->dims[2] == out_w && t->dims[3] == 2,
          "%s: prepare, output [1, %d, %d, 2]", what, out_h, out_w);
    if (!ok) {
        oh_free(&c);
        return;
    }
    for (int threads = 1; threads <= 2; threads++) {
        CHECK(oh_eval(&c, threads) == DETC_OK, "%s: eval", what);
        const float *y = oh_data(&c, o);
        int bad = 0;
        for (int i = 0; i < out_h; i++)
            for (int j = 0; j < out_w; j++) {
                float v = y[(i * out_w + j) * 2], v1 = y[(i * out_w + j) * 2 + 1];
                int sy = (int)v / 1000, sx = (int)v % 1000;
                bad += v1 != v + 0.5f; /* both channels from the same pixel */
                if (want_y && sy != want_y[i]) {
                    if (j == 0)
                        printf("    %s: row %d copies row %d, expected %d\n", what, i, sy, want_y[i]);
                    bad++;
                }
                if (want_x && sx != want_x[j]) {
                    if (i == 0)
                        printf("    %s: column %d copies column %d, expected %d\n", what, j, sx, want_x[j]);
                    bad++;
                }
            }
        CHECK(bad == 0, "%s (%d threads): %d values differ", what, threads, bad);
    }
    oh_free(&c);
}

static void test_pytorch(void)
{
    /* floor(i * 3/5): 0, 0.6, 1.2, 1.8, 2.4 -> 0 0 1 1 2; 2x: i >> 1; same size: i. */
    static const int y35[5] = {0, 0, 1, 1, 2}, x24[4] = {0, 0, 1, 1}, same[3] = {0, 1, 2};
    check_rule("pytorch (default) 3 -> 5, 2 -> 4, like input", NULL, true, 3, 2, 5, 4, y35, x24);
    check_rule("pytorch 3 -> 5 with size", "{\"size\": [5, 3]}", false, 3, 3, 5, 3, y35, same);
    /* shrinking 5 -> 3: floor(i * 5/3) = 0, 1.67, 3.33 -> 0 1 3 */
    static const int y53[3] = {0, 1, 3};
    check_rule("pytorch 5 -> 3", "{\"rules\": \"pytorch\", \"size\": [3, 3]}", false, 5, 3, 3, 3, y53, same);
}

static void test_tensorflow(void)
{
    /* Legacy (no flags): floorf(i * (float)in / out). 2 -> 82: (float)2/82 = 0.024390243 is below 1/41, so
     * row 41 gives 41 * 0.024390243 = 0.99999996 -> 0 in float (TF's arithmetic); exactly 1 in real numbers
     * (the ONNX rule below, in double, gives 1). */
    int y82[82];
    for (int i = 0; i < 82; i++)
        y82[i] = i < 42 ? 0 : 1;
    static const int one[1] = {0};
    check_rule("tensorflow legacy 2 -> 82 in float", "{\"rules\": \"tensorflow\", \"size\": [82, 1]}", false, 2, 1, 82,
               1, y82, one);
    int y82o[82];
    for (int i = 0; i < 82; i++)
        y82o[i] = i < 41 ? 0 : 1;
    check_rule("onnx asymmetric floor 2 -> 82 in double",
               "{\"rules\": \"onnx\", \"coordinate_transformation_mode\": \"asymmetric\", \"nearest_mode\": "
               "\"floor\", \"size\": [82, 1]}",
               false, 2, 1, 82, 1, y82o, one);
    /* align_corners: scale (3-1)/(5-1) = 0.5: 0, 0.5, 1, 1.5, 2 -> roundf (half away from zero) 0 1 1 2 2.
     * Columns 4 -> 4 with align_corners: scale 1, identity. */
    static const int yac[5] = {0, 1, 1, 2, 2}, x4[4] = {0, 1, 2, 3};
    check_rule("tensorflow align_corners 3 -> 5",
               "{\"rules\": \"tensorflow\", \"align_corners\": true, \"size\": [5, 4]}", false, 3, 4, 5, 4, yac, x4);
    /* half_pixel_centers: scale 3/5 = 0.6: (i + 0.5) * 0.6 = 0.3, 0.9, 1.5, 2.1, 2.7 -> floor 0 0 1 2 2;
     * columns 4 -> 2: (j + 0.5) * 2 = 1, 3 -> 1 3. */
    static const int yhp[5] = {0, 0, 1, 2, 2}, xhp[2] = {1, 3};
    check_rule("tensorflow half_pixel_centers 3 -> 5, 4 -> 2",
               "{\"rules\": \"tensorflow\", \"half_pixel_centers\": true, \"size\": [5, 2]}", false, 3, 4, 5, 2, yhp,
               xhp);
    /* align_corners to one row: TF uses in / out (4), row 0 -> 0 */
    check_rule("tensorflow align_corners to 1",
               "{\"rules\": \"tensorflow\", \"align_corners\": true, \"size\": [1, 4]}", false, 3, 4, 1, 4, one, x4);
}

static void test_onnx(void)
{
    /* asymmetric 4 -> 8: x = i / 2 = 0, .5, 1, 1.5, 2, 2.5, 3, 3.5 */
    static const int rpf[8] = {0, 0, 1, 1, 2, 2, 3, 3}, rpc[8] = {0, 1, 1, 2, 2, 3, 3, 3};
    static const int fl[8] = {0, 0, 1, 1, 2, 2, 3, 3}, ce[8] = {0, 1, 1, 2, 2, 3, 3, 3};
    const char *modes[4] = {"round_prefer_floor", "round_prefer_ceil", "floor", "ceil"};
    const int *want[4] = {rpf, rpc, fl, ce};
    for (int m = 0; m < 4; m++) {
        char attrs[256], what[96];
        snprintf(attrs, sizeof attrs,
                 "{\"rules\": \"onnx\", \"coordinate_transformation_mode\": \"asymmetric\", \"nearest_mode\": \"%s\", "
                 "\"size\": [8, 8]}",
                 modes[m]);
        snprintf(what, sizeof what, "onnx asymmetric %s 4 -> 8", modes[m]);
        check_rule(what, attrs, false, 4, 4, 8, 8, want[m], want[m]);
    }
    /* half_pixel (default) + round_prefer_floor (default) 2 -> 4: (i + .5) / 2 - .5 = -.25, .25, .75, 1.25 ->
     * 0 0 1 1; 4 -> 1 columns: x = .5 / .25 - .5 = 1.5 -> 1 (tie to floor) */
    static const int hp24[4] = {0, 0, 1, 1}, hp41[1] = {1}, zero[1] = {0};
    check_rule("onnx defaults (half_pixel, round_prefer_floor)", "{\"rules\": \"onnx\", \"size\": [4, 1]}", false, 2, 4,
               4, 1, hp24, hp41);
    /* pytorch_half_pixel to one column: x = 0 */
    check_rule("onnx pytorch_half_pixel to 1",
               "{\"rules\": \"onnx\", \"coordinate_transformation_mode\": \"pytorch_half_pixel\", \"size\": [4, 1]}",
               false, 2, 4, 4, 1, hp24, zero);
    /* tf_half_pixel_for_nn 4 -> 3 (s = .75): (i + .5) / .75 = .67, 2, 3.33 -> 1 2 3 */
    static const int th[3] = {1, 2, 3};
    check_rule("onnx tf_half_pixel_for_nn 4 -> 3",
               "{\"rules\": \"onnx\", \"coordinate_transformation_mode\": \"tf_half_pixel_for_nn\", \"size\": [3, 3]}",
               false, 4, 4, 3, 3, th, th);
    /* align_corners 3 -> 5: i * 2 / 4 = 0, .5, 1, 1.5, 2 -> round_prefer_floor 0 0 1 1 2 */
    static const int ac[5] = {0, 0, 1, 1, 2};
    check_rule("onnx align_corners 3 -> 5",
               "{\"rules\": \"onnx\", \"coordinate_transformation_mode\": \"align_corners\", \"size\": [5, 5]}", false,
               3, 3, 5, 5, ac, ac);
    /* scales change the mapping, not the size: 4 -> 3 asymmetric. With scale 0.8 (ONNX: floor(4 * 0.8) = 3):
     * i / 0.8 = 0, 1.25, 2.5 -> round_prefer_floor 0 1 2; without (s = 3/4): 0, 1.33, 2.67 -> 0 1 3. */
    static const int s08[3] = {0, 1, 2}, s075[3] = {0, 1, 3};
    check_rule("onnx asymmetric with scales 0.8",
               "{\"rules\": \"onnx\", \"coordinate_transformation_mode\": \"asymmetric\", \"scales\": [0.8, 0.8], "
               "\"size\": [3, 3]}",
               false, 4, 4, 3, 3, s08, s08);
    check_rule("onnx asymmetric without scales",
               "{\"rules\": \"onnx\", \"coordinate_transformation_mode\": \"asymmetric\", \"size\": [3, 3]}", false, 4,
               4, 3, 3, s075, s075);
    /* ceil far past the end clamps to in - 1: ceil half_pixel 2 -> 3: (i + .5) / 1.5 - .5 = -.17, .5, 1.17 ->
     * ceil 0 (clamped from -0) 1 2 -> clamped to 1 */
    static const int cl[3] = {0, 1, 1};
    check_rule("onnx ceil clamps", "{\"rules\": \"onnx\", \"nearest_mode\": \"ceil\", \"size\": [3, 3]}", false, 2, 2,
               3, 3, cl, cl);
}

static void expect_error(const char *what, const char *attrs, bool like, detc_code code, const char *n1, const char *n2)
{
    oh_case c;
    int32_t xd[4] = {1, 3, 3, 2}, ld[4] = {1, 6, 6, 1};
    bool parsed = oh_init(&c, "resize_nearest", attrs);
    oh_input(&c, DETC_F32, 4, xd, NULL, false);
    if (like)
        oh_input(&c, DETC_F32, 4, ld, NULL, true);
    oh_output(&c, DETC_DTYPE_INVALID);
    bool ok = parsed && !oh_prepare(&c) && oh_has_error(&c, code, n1, n2);
    CHECK(ok, "%s is reported (%s / %s)", what, n1, n2 ? n2 : "");
    if (!ok)
        oh_print_errors(&c);
    oh_free(&c);
}

static void test_errors(void)
{
    expect_error("no output size", NULL, false, DETC_ERR_ATTR, "needs the output size", "'size'");
    expect_error("size and like together", "{\"size\": [6, 6]}", true, DETC_ERR_ATTR, "both a 'like' input", NULL);
    expect_error("a zero size", "{\"size\": [0, 6]}", false, DETC_ERR_ATTR, "'size'", "1..");
    expect_error("a TF attribute under pytorch rules", "{\"align_corners\": true}", true, DETC_ERR_ATTR,
                 "'align_corners' belongs to rules \"tensorflow\"", NULL);
    expect_error("an ONNX attribute under tensorflow rules", "{\"rules\": \"tensorflow\", \"nearest_mode\": \"floor\"}",
                 true, DETC_ERR_ATTR, "'nearest_mode' belongs to rules \"onnx\"", NULL);
    {
        /* TFLite's kernel takes align_corners with half_pixel_centers (tests/test_tflite_ops.py checks the values) */
        oh_case c;
        int32_t xd[4] = {1, 3, 3, 2};
        oh_init(&c, "resize_nearest",
                "{\"rules\": \"tensorflow\", \"size\": [6, 6], \"align_corners\": true, \"half_pixel_centers\": true}");
        oh_input(&c, DETC_F32, 4, xd, NULL, false);
        oh_output(&c, DETC_DTYPE_INVALID);
        CHECK(oh_prepare(&c), "align_corners with half_pixel_centers prepares, as in TFLite");
        oh_free(&c);
    }
    expect_error("an unknown coordinate mode",
                 "{\"rules\": \"onnx\", \"coordinate_transformation_mode\": \"tf_crop_and_resize\"}", true,
                 DETC_ERR_ATTR, "coordinate_transformation_mode", "half_pixel");
    expect_error("an unknown nearest mode", "{\"rules\": \"onnx\", \"nearest_mode\": \"nearest\"}", true, DETC_ERR_ATTR,
                 "nearest_mode", "round_prefer_floor");
    expect_error("a zero scale", "{\"rules\": \"onnx\", \"scales\": [0, 2]}", true, DETC_ERR_ATTR, "'scales'",
                 "output / input");
    expect_error("one scale", "{\"rules\": \"onnx\", \"scales\": [2]}", true, DETC_ERR_ATTR, "'scales'", NULL);
    expect_error("unknown rules", "{\"rules\": \"opencv\"}", true, DETC_ERR_ATTR, "rules", "pytorch");

    oh_case c;
    int32_t xd[3] = {3, 3, 2};
    oh_init(&c, "resize_nearest", "{\"size\": [6, 6]}");
    oh_input(&c, DETC_F64, 3, xd, NULL, false);
    oh_output(&c, DETC_DTYPE_INVALID);
    CHECK(!oh_prepare(&c) && oh_has_error(&c, DETC_ERR_DTYPE, "input 0", "cast the input first") &&
              oh_has_error(&c, DETC_ERR_SHAPE, "input 0", NULL),
          "an f64 rank-3 input: both problems reported");
    oh_free(&c);
}

/* roi_align's tf_crop_and_resize mode (the op ONNX Resize tf_crop_and_resize maps to) fills samples outside
 * the map with extrapolation_value: map [[1, 2], [3, 4]], box (y0, x0, y1, x1) = (0, 0, 2, 1), output 3 x 1:
 * rows at y = 0, 1, 2 (2 > h - 1: outside), one column at x = 0.5 * (0 + 1) * (2 - 1) = 0.5 ->
 * 1.5, 3.5, then the extrapolation value. */
static void test_crop_extrapolation(void)
{
    static const float map[4] = {1, 2, 3, 4}, box[4] = {0, 0, 2, 1};
    static const int32_t one[1] = {1}, bd[2] = {1, 4}, cd[1] = {1}, md[4] = {1, 2, 2, 1};
    oh_case c;
    oh_init(&c, "roi_align",
            "{\"mode\": \"tf_crop_and_resize\", \"output_size\": [3, 1], \"extrapolation_value\": -7}");
    oh_input(&c, DETC_F32, 2, bd, box, true);
    oh_input(&c, DETC_I32, 1, cd, one, true);
    oh_input(&c, DETC_F32, 4, md, map, false);
    int o = oh_output(&c, DETC_DTYPE_INVALID);
    CHECK(oh_prepare(&c) && oh_eval(&c, 1) == DETC_OK, "crop_and_resize with extrapolation_value runs");
    const float *y = oh_data(&c, o);
    CHECK(y[0] == 1.5f && y[1] == 3.5f && y[2] == -7.0f, "crop_and_resize: %g %g %g, expected 1.5 3.5 -7", (double)y[0],
          (double)y[1], (double)y[2]);
    oh_free(&c);

    oh_init(&c, "roi_align", "{\"output_size\": 2, \"spatial_scales\": [1], \"extrapolation_value\": 1}");
    oh_input(&c, DETC_F32, 2, bd, box, true);
    oh_input(&c, DETC_I32, 1, cd, one, true);
    oh_input(&c, DETC_F32, 4, md, map, false);
    oh_output(&c, DETC_DTYPE_INVALID);
    CHECK(!oh_prepare(&c) && oh_has_error(&c, DETC_ERR_ATTR, "'extrapolation_value'", "tf_crop_and_resize"),
          "extrapolation_value in torchvision mode is refused");
    oh_free(&c);
}

/* A re-prepare with a new input size rebuilds the tables. */
static void test_reprepare(void)
{
    oh_case c;
    int32_t small[4] = {1, 2, 2, 1}, big[4] = {1, 4, 4, 1};
    float x[16] = {0};
    oh_init(&c, "resize_nearest", "{\"rules\": \"onnx\", \"size\": [8, 8]}");
    int t = oh_input(&c, DETC_F32, 4, big, x, false);
    oh_output(&c, DETC_DTYPE_INVALID);
    bool a = oh_prepare(&c);
    memcpy(oh_tensor(&c, t)->dims, small, sizeof small); /* the 16-value buffer covers both shapes */
    bool b = oh_prepare(&c);
    CHECK(a && b && oh_eval(&c, 1) == DETC_OK, "resize_nearest re-prepares for a new input size");
    oh_free(&c);
}

int main(void)
{
    test_pytorch();
    test_tensorflow();
    test_onnx();
    test_errors();
    test_reprepare();
    test_crop_extrapolation();
    return check_summary("test_resize_nearest");
}

/* non_max_suppression (ops/non_max_suppression.c) on hand-checkable cases, and prepare's reports.
 * The ONNX node tests (tests/test_onnx_nodes.py) check it against ONNX's 9 NonMaxSuppression vectors;
 * here every expected row is worked out by hand in the comments (IoU = intersection / union). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "op_harness.h"

#define COUNT(a) ((int)(sizeof(a) / sizeof((a)[0])))

typedef struct {
    int sel, count;
} nms_io;

/* Builds boxes [B, N, 4] + scores [B, C, N], prepares and runs (threads 1 and 2 give the same), checks the
 * selected rows against want[n_want][3] (rows after count must be zero) and the capacity rows. */
static void check_nms(const char *what, const char *attrs, int B, int N, int C, const float *boxes, const float *scores,
                      const int32_t (*want)[3], int n_want, int capacity)
{
    for (int threads = 1; threads <= 2; threads++) {
        oh_case c;
        int32_t bd[3] = {B, N, 4}, sd[3] = {B, C, N};
        CHECK(oh_init(&c, "non_max_suppression", attrs), "%s: attributes parse", what);
        oh_input(&c, DETC_F32, 3, bd, boxes, false);
        oh_input(&c, DETC_F32, 3, sd, scores, false);
        int sel = oh_output(&c, DETC_DTYPE_INVALID), cnt = oh_output(&c, DETC_DTYPE_INVALID);
        bool ok = oh_prepare(&c);
        if (!ok)
            oh_print_errors(&c);
        CHECK(ok, "%s: prepare", what);
        if (!ok) {
            oh_free(&c);
            return;
        }
        const detc_tensor *st = oh_tensor(&c, sel), *ct = oh_tensor(&c, cnt);
        CHECK(st->dtype == DETC_I32 && st->rank == 2 && st->dims[0] == capacity && st->dims[1] == 3 &&
                  ct->dtype == DETC_I32 && ct->rank == 1 && ct->dims[0] == 1,
              "%s: outputs i32 [%d, 3] and i32 [1], got [%d, %d]", what, capacity, (int)st->dims[0], (int)st->dims[1]);
        CHECK(oh_eval(&c, threads) == DETC_OK, "%s: eval", what);
        const int32_t *s = oh_data(&c, sel), *n = oh_data(&c, cnt);
        int bad = 0;
        for (int r = 0; r < capacity; r++)
            for (int k = 0; k < 3; k++)
                bad += s[r * 3 + k] != (r < n_want ? want[r][k] : 0);
        CHECK(n[0] == n_want && bad == 0, "%s (%d threads): count %d (expected %d), %d values differ", what, threads,
              (int)n[0], n_want, bad);
        if (bad)
            for (int r = 0; r < capacity; r++)
                printf("    row %d: %d %d %d\n", r, (int)s[r * 3], (int)s[r * 3 + 1], (int)s[r * 3 + 2]);
        oh_free(&c);
    }
}

static void test_selection(void)
{
    /* b0 (0,0)-(10,10) 0.9; b1 (1,1)-(11,11) 0.8: IoU with b0 = 81 / 119 = 0.68;
     * b2 corners given max first, (20,20)-(10,10): touches b0 at a corner, IoU 0, 0.85;
     * b3 = b0, 0.3: IoU 1 with b0. Candidates by score: b0, b2, b1, b3. */
    static const float boxes[16] = {0, 0, 10, 10, 1, 1, 11, 11, 20, 20, 10, 10, 0, 0, 10, 10};
    static const float scores[4] = {0.9f, 0.8f, 0.85f, 0.3f};
    static const int32_t t05[][3] = {{0, 0, 0}, {0, 0, 2}};
    check_nms("iou 0.5: b1 (0.68) and b3 (1.0) suppressed",
              "{\"max_output_boxes_per_class\": 4, \"iou_threshold\": 0.5}", 1, 4, 1, boxes, scores, t05, 2, 4);
    static const int32_t t07[][3] = {{0, 0, 0}, {0, 0, 2}, {0, 0, 1}};
    check_nms("iou 0.7: b1 kept (0.68 <= 0.7)", "{\"max_output_boxes_per_class\": 4, \"iou_threshold\": 0.7}", 1, 4, 1,
              boxes, scores, t07, 3, 4);
    static const int32_t t068[][3] = {{0, 0, 0}, {0, 0, 2}};
    check_nms("iou 0.68: b1 suppressed (81/119 = 0.6807 > 0.68)",
              "{\"max_output_boxes_per_class\": 4, \"iou_threshold\": 0.68}", 1, 4, 1, boxes, scores, t068, 2, 4);
    static const int32_t ts[][3] = {{0, 0, 0}};
    check_nms("score_threshold 0.85 is strict: b2 (0.85) is no candidate",
              "{\"max_output_boxes_per_class\": 4, \"iou_threshold\": 0.7, \"score_threshold\": 0.85}", 1, 4, 1, boxes,
              scores, ts, 1, 4);
    static const int32_t t1[][3] = {{0, 0, 0}};
    check_nms("max_output_boxes_per_class 1", "{\"max_output_boxes_per_class\": 1, \"iou_threshold\": 0.7}", 1, 4, 1,
              boxes, scores, t1, 1, 1);
    check_nms("max_output_boxes_per_class 0 selects nothing (one zero row of capacity)",
              "{\"max_output_boxes_per_class\": 0}", 1, 4, 1, boxes, scores, NULL, 0, 1);
    static const int32_t tbig[][3] = {{0, 0, 0}, {0, 0, 2}, {0, 0, 1}};
    check_nms("max_output_boxes_per_class above N: capacity N per class",
              "{\"max_output_boxes_per_class\": 2147483647, \"iou_threshold\": 0.7}", 1, 4, 1, boxes, scores, tbig, 3,
              4);

    /* Equal scores: the lower index first (TF's priority queue / ONNX). Disjoint boxes. */
    static const float tie_boxes[12] = {0, 0, 1, 1, 5, 5, 6, 6, 9, 9, 10, 10};
    static const float tie_scores[3] = {0.5f, 0.5f, 0.5f};
    static const int32_t tt[][3] = {{0, 0, 0}, {0, 0, 1}};
    check_nms("ties by lower index", "{\"max_output_boxes_per_class\": 2}", 1, 3, 1, tie_boxes, tie_scores, tt, 2, 2);

    /* x corners flipped on one box: (10,0)-(0,10) is the same square as b0 for TF (IoU 1: suppressed); under
     * torchvision's rules its area is -100 and the intersection 0, IoU = 0 / 0 = NaN, nothing suppressed. */
    static const float flip_boxes[8] = {0, 0, 10, 10, 10, 0, 0, 10};
    static const float flip_scores[2] = {0.9f, 0.8f};
    static const int32_t tf_flip[][3] = {{0, 0, 0}};
    static const int32_t tv_flip[][3] = {{0, 0, 0}, {0, 0, 1}};
    check_nms("tensorflow rules: corners in either order",
              "{\"max_output_boxes_per_class\": 2, \"iou_threshold\": 0.5}", 1, 2, 1, flip_boxes, flip_scores, tf_flip,
              1, 2);
    check_nms("torchvision rules: raw corners",
              "{\"max_output_boxes_per_class\": 2, \"iou_threshold\": 0.5, \"rules\": \"torchvision\"}", 1, 2, 1,
              flip_boxes, flip_scores, tv_flip, 2, 2);
    /* torchvision rules, threshold and limit: candidates b0, b2, b1 (b3 0.3 <= 0.5); b1 suppressed by b0
     * (0.68 > 0.5); then at most 1. */
    static const int32_t tv1[][3] = {{0, 0, 0}};
    check_nms("torchvision rules with score threshold and limit",
              "{\"max_output_boxes_per_class\": 1, \"iou_threshold\": 0.5, \"score_threshold\": 0.5, \"rules\": "
              "\"torchvision\"}",
              1, 4, 1, boxes, scores, tv1, 1, 1);
    static const int32_t tv2[][3] = {{0, 0, 0}, {0, 0, 2}};
    check_nms("torchvision rules, no limit reached",
              "{\"max_output_boxes_per_class\": 3, \"iou_threshold\": 0.5, \"score_threshold\": 0.5, \"rules\": "
              "\"torchvision\"}",
              1, 4, 1, boxes, scores, tv2, 2, 3);
}

static void test_batches_classes_centers(void)
{
    /* center_point_box 1: [xc, yc, w, h]. Batch 0: (5,5,10,10) -> (0,0)-(10,10), (6,5,10,10) -> (1,0)-(11,10):
     * IoU = 90 / 110 = 0.82. Batch 1: (5,5,10,10) and (50,50,10,10): disjoint. */
    static const float boxes[16] = {5, 5, 10, 10, 6, 5, 10, 10, 5, 5, 10, 10, 50, 50, 10, 10};
    static const float scores[8] = {0.9f, 0.8f, 0.1f, 0.95f, 0.2f, 0.3f, 0.5f, 0.4f};
    /* b0c0: box 0 (0.9) suppresses box 1; b0c1: box 1 (0.95) suppresses box 0; b1c0: box 1 then box 0;
     * b1c1: box 0 then box 1. Capacity 2 x 2 x 2 = 8, two zero rows. */
    static const int32_t want[][3] = {{0, 0, 0}, {0, 1, 1}, {1, 0, 1}, {1, 0, 0}, {1, 1, 0}, {1, 1, 1}};
    check_nms("2 batches x 2 classes, center boxes",
              "{\"max_output_boxes_per_class\": 2, \"iou_threshold\": 0.5, \"center_point_box\": 1}", 2, 2, 2, boxes,
              scores, want, 6, 8);
    /* Without center_point_box the same numbers are corners (y1, x1, y2, x2): batch 0 box 0 (5,5)-(10,10),
     * box 1 (6,5)-(10,10): IoU = 20 / 25 = 0.8, suppressed at 0.5 as well. */
    check_nms("2 batches x 2 classes, corner boxes", "{\"max_output_boxes_per_class\": 2, \"iou_threshold\": 0.5}", 2,
              2, 2, boxes, scores, want, 6, 8);
}

static void expect_error(const char *what, const char *attrs, int rank_b, const int32_t *bd, detc_dtype bt, int rank_s,
                         const int32_t *sd, detc_dtype st, detc_code code, const char *n1, const char *n2)
{
    oh_case c;
    bool parsed = oh_init(&c, "non_max_suppression", attrs);
    oh_input(&c, bt, rank_b, bd, NULL, false);
    oh_input(&c, st, rank_s, sd, NULL, false);
    oh_output(&c, DETC_DTYPE_INVALID);
    oh_output(&c, DETC_DTYPE_INVALID);
    bool ok = parsed && !oh_prepare(&c) && oh_has_error(&c, code, n1, n2);
    CHECK(ok, "%s is reported (%s / %s)", what, n1, n2 ? n2 : "");
    if (!ok)
        oh_print_errors(&c);
    oh_free(&c);
}

static void test_errors(void)
{
    static const int32_t b3[3] = {1, 3, 4}, s3[3] = {1, 2, 3}, s4[3] = {1, 2, 4}, b2[3] = {2, 3, 4};
    static const int32_t b5[3] = {1, 3, 5}, flat[2] = {3, 4};
    const char *a = "{\"max_output_boxes_per_class\": 2}";
    expect_error("box count differing from the scores'", a, 3, b3, DETC_F32, 3, s4, DETC_F32, DETC_ERR_SHAPE,
                 "hold 3 boxes per batch", "[B, C, N]");
    expect_error("batch sizes differing", a, 3, b2, DETC_F32, 3, s3, DETC_F32, DETC_ERR_SHAPE, "different batch sizes",
                 NULL);
    expect_error("boxes not [B, N, 4]", a, 3, b5, DETC_F32, 3, s3, DETC_F32, DETC_ERR_SHAPE, "[B, N, 4]", "reshape");
    expect_error("rank-2 boxes", a, 2, flat, DETC_F32, 3, s3, DETC_F32, DETC_ERR_SHAPE, "input 0", NULL);
    expect_error("u8 scores", a, 3, b3, DETC_F32, 3, s3, DETC_U8, DETC_ERR_DTYPE, "input 1", "cast them to f32");
    expect_error("a missing max_output_boxes_per_class", "{\"iou_threshold\": 0.5}", 3, b3, DETC_F32, 3, s3, DETC_F32,
                 DETC_ERR_ATTR, "max_output_boxes_per_class", "missing");
    expect_error("a negative max_output_boxes_per_class", "{\"max_output_boxes_per_class\": -1}", 3, b3, DETC_F32, 3,
                 s3, DETC_F32, DETC_ERR_ATTR, "max_output_boxes_per_class", "0..");
    expect_error("iou_threshold above 1", "{\"max_output_boxes_per_class\": 2, \"iou_threshold\": 1.5}", 3, b3,
                 DETC_F32, 3, s3, DETC_F32, DETC_ERR_ATTR, "iou_threshold", "0..1");
    expect_error("a string score_threshold", "{\"max_output_boxes_per_class\": 2, \"score_threshold\": \"low\"}", 3, b3,
                 DETC_F32, 3, s3, DETC_F32, DETC_ERR_ATTR, "score_threshold", "finite number");
    expect_error("center_point_box 2", "{\"max_output_boxes_per_class\": 2, \"center_point_box\": 2}", 3, b3, DETC_F32,
                 3, s3, DETC_F32, DETC_ERR_ATTR, "center_point_box", "0..1");
    expect_error("unknown rules", "{\"max_output_boxes_per_class\": 2, \"rules\": \"caffe\"}", 3, b3, DETC_F32, 3, s3,
                 DETC_F32, DETC_ERR_ATTR, "rules", "tensorflow");

    /* Every problem at once: an attribute problem and an operand problem are both reported. */
    oh_case c;
    oh_init(&c, "non_max_suppression", "{\"iou_threshold\": -1}");
    oh_input(&c, DETC_F32, 3, b3, NULL, false);
    oh_input(&c, DETC_I32, 3, s3, NULL, false);
    oh_output(&c, DETC_DTYPE_INVALID);
    oh_output(&c, DETC_DTYPE_INVALID);
    CHECK(!oh_prepare(&c) && c.errs.count >= 3 && oh_has_error(&c, DETC_ERR_DTYPE, "input 1", NULL) &&
              oh_has_error(&c, DETC_ERR_ATTR, "iou_threshold", NULL) &&
              oh_has_error(&c, DETC_ERR_ATTR, "max_output_boxes_per_class", NULL),
          "all problems of one node are reported together (%d reports)", c.errs.count);
    oh_free(&c);

    /* one input only */
    oh_init(&c, "non_max_suppression", a);
    oh_input(&c, DETC_F32, 3, b3, NULL, false);
    oh_output(&c, DETC_DTYPE_INVALID);
    oh_output(&c, DETC_DTYPE_INVALID);
    CHECK(!oh_prepare(&c) && oh_has_error(&c, DETC_ERR_GRAPH, "has 1 inputs", NULL), "a missing scores input");
    oh_free(&c);
}

/* NaN / infinite boxes and scores: no crash; NaN and -inf scores are never candidates; a box with a NaN
 * corner has a NaN IoU with every box, which is not <= threshold, so under TF rules it suppresses the
 * boxes after it (as TF's `sim <= threshold ? 1 : 0` does). */
static void test_hostile(void)
{
    static const float boxes[16] = {NAN, 0, 10, 10, 0,      0,      INFINITY, INFINITY,
                                    0,   0, 10, 10, -1e30f, -1e30f, 1e30f,    1e30f};
    static const float scores[4] = {0.9f, NAN, 0.5f, -INFINITY};
    oh_case c;
    int32_t bd[3] = {1, 4, 4}, sd[3] = {1, 1, 4};
    oh_init(&c, "non_max_suppression", "{\"max_output_boxes_per_class\": 4, \"iou_threshold\": 0.5}");
    oh_input(&c, DETC_F32, 3, bd, boxes, false);
    oh_input(&c, DETC_F32, 3, sd, scores, false);
    int sel = oh_output(&c, DETC_DTYPE_INVALID), cnt = oh_output(&c, DETC_DTYPE_INVALID);
    CHECK(oh_prepare(&c) && oh_eval(&c, 1) == DETC_OK, "hostile values run");
    const int32_t *s = oh_data(&c, sel), *n = oh_data(&c, cnt);
    /* candidates: box 0 (0.9), box 2 (0.5); NaN and -inf scores are not > -inf. Box 0 has a NaN corner: its IoU
     * with box 2 is NaN, not <= 0.5, so box 2 is suppressed (TF keeps a box only while IoU <= threshold). */
    CHECK(n[0] == 1 && s[2] == 0, "NaN box first, NaN/-inf scores skipped: count %d, first box %d", (int)n[0],
          (int)s[2]);
    oh_free(&c);
}

int main(void)
{
    test_selection();
    test_batches_classes_centers();
    test_errors();
    test_hostile();
    return check_summary("test_nms_op");
}

/* Non-maximum suppression and box helpers shared by the detection ops (rpn_proposals, box_detections,
 * and any op that needs NMS). Internal to ops/.
 *
 * Two rule sets, chosen per call:
 *
 * NMS_TORCHVISION   torchvision 0.14's CPU kernel (csrc/ops/cpu/nms_kernel.cpp): candidates are ordered
 *                   by a STABLE descending sort of the scores (equal scores: lower index first; checked
 *                   against torchvision.ops.nms, tests/gen_maskrcnn_op_refs.py). Other sorts torchvision
 *                   does in Python (the final sort of batched_nms' per-group path, topk) use torch's
 *                   default unstable CPU sort, which in torch 1.13 is libstdc++'s std::sort (introsort)
 *                   over (score, index) pairs with "a > b, NaN first": nms_sort_torch() / nms_topk_torch()
 *                   replay those algorithms step by step, so equal scores come out in torch's exact
 *                   order. IoU = inter / (area_i + area_j - inter)
 *                   with area = (x1 - x0) * (y1 - y0) (no +1), all in float; box j is suppressed when
 *                   IoU > threshold (a NaN IoU suppresses nothing). No score threshold, no output limit.
 * NMS_TENSORFLOW    TensorFlow's NonMaxSuppressionV3 (image/non_max_suppression_op.cc) and ONNX
 *                   NonMaxSuppression: only scores > score_threshold are candidates, ordered by score
 *                   with ties broken by the lower index (TF's priority queue); corners may be given in
 *                   either order (min/max per axis); IoU is 0 when either area is <= 0; a candidate is
 *                   kept only if its IoU with every kept box is <= threshold; at most max_out kept.
 *
 * nms_batched_torchvision() is torchvision.ops.batched_nms: with more than 1000 boxes (boxes.numel()
 * > 4000 on CPU) it runs NMS per group and sorts the survivors by score (again torch's sort);
 * otherwise it offsets every box by group * (max coordinate + 1) and runs one NMS, as torchvision's
 * _batched_nms_coordinate_trick does (the offsets change float rounding, so both paths are kept). */
#ifndef DETC_NMS_UTIL_H
#define DETC_NMS_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "graph.h"

typedef struct {
    float score;
    int index;
} nms_entry;

typedef enum { NMS_TORCHVISION = 0, NMS_TENSORFLOW = 1 } nms_rules;

/* torch.sort(descending=True) on CPU (torch 1.13): libstdc++ std::sort of v[0..n) with "a > b, NaN first". */
void nms_sort_torch(nms_entry *v, int n);
/* Descending by score, ties by ascending index (a strict total order: stable for index-ordered input). */
void nms_sort_stable(nms_entry *v, int n);
/* torch.topk(k, largest=True, sorted=True) of one row on CPU: v[j] = (value j, j) on entry; the k best
 * end up in v[0..k) in torch's order (std::partial_sort when k * 64 <= n, else std::nth_element then
 * std::sort of the first k - 1). */
void nms_topk_torch(nms_entry *v, int n, int k);

/* Working memory for n boxes in at most `groups` groups (labels 0..groups-1). */
typedef struct {
    nms_entry *order;    /* n */
    uint8_t *kept;       /* n: batched keep mask */
    float *areas;        /* n */
    float *boxes;        /* 4n: offset boxes */
    float *sorted;       /* 5n: corners and areas in score order, one array each */
    int32_t *supp;       /* n: suppressed, in score order */
    int *members;        /* n: group members, grouped */
    int *local_keep;     /* n */
    int *group_start;    /* groups + 1 */
    int *cursor;         /* groups + 1 */
    int n, groups;
} nms_work;

size_t nms_work_bytes(int n, int groups);
/* mem: nms_work_bytes(n, groups) bytes, 8-byte aligned. */
void nms_work_init(nms_work *w, void *mem, int n, int groups);

/* Greedy NMS over the boxes subset[0..m) (or 0..m when subset is NULL); boxes are [.][4] corners
 * (x0, y0, x1, y1) or (y0, x0, y1, x1): IoU does not care. Writes kept positions 0..m, best first,
 * into keep and returns how many. score_threshold and max_out (< 0: no limit) apply to NMS_TENSORFLOW. */
int nms_single(nms_rules rules, const float *boxes, const float *scores, const int *subset, int m,
               float iou_threshold, float score_threshold, int max_out, int *keep, nms_work *w);

/* torchvision.ops.batched_nms(boxes, scores, groups, iou_threshold): indices into 0..n, by decreasing
 * score. groups[i] in 0..w->groups-1. */
int nms_batched_torchvision(const float *boxes, const float *scores, const int *groups, int n,
                            float iou_threshold, int *keep, nms_work *w);

/* ---- torchvision box helpers (models/detection/_utils.py BoxCoder, ops/boxes.py), in float ---- */

/* BoxCoder.decode_single for one box: anchor/proposal (x0, y0, x1, y1), deltas (dx, dy, dw, dh) divided
 * by weights, dw/dh clamped at `clip`. */
void nms_decode_box(const float *ref, const float *delta, const float weights[4], float clip, float *out);
/* clip_boxes_to_image: x to [0, width], y to [0, height]. */
void nms_clip_box(float *box, float height, float width);

/* Reads an optional list of `n` finite floats attribute (default def); reports problems. */
bool nms_attr_floats(detc_prep *p, const char *name, int n, const float *def, float *out);
/* Reads an optional list of 1..max_n finite floats; *count = its length (0 when absent). */
bool nms_attr_float_list(detc_prep *p, const char *name, bool required, int max_n, float *out, int *count);

#endif

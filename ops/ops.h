/* The ops detc implements, one file each in ops/; the registry (ops/registry.c) lists them all. */
#ifndef DETC_OPS_H
#define DETC_OPS_H

#include "graph.h"

extern const detc_op detc_op_conv2d;
extern const detc_op detc_op_depthwise_conv2d;
extern const detc_op detc_op_concat;
extern const detc_op detc_op_reshape;
extern const detc_op detc_op_logistic;
extern const detc_op detc_op_detection_postprocess;
extern const detc_op detc_op_cast;
extern const detc_op detc_op_add;
extern const detc_op detc_op_mul;
extern const detc_op detc_op_max_pool2d;
extern const detc_op detc_op_avg_pool2d;
extern const detc_op detc_op_pad;
extern const detc_op detc_op_relu;
extern const detc_op detc_op_relu6;
extern const detc_op detc_op_softmax;
extern const detc_op detc_op_l2_normalize;
extern const detc_op detc_op_ssd_detection_output;
extern const detc_op detc_op_roi_align;
extern const detc_op detc_op_rpn_proposals;
extern const detc_op detc_op_box_detections;
extern const detc_op detc_op_anchors;
extern const detc_op detc_op_resize_nearest;
extern const detc_op detc_op_fully_connected;
extern const detc_op detc_op_conv2d_transpose;
extern const detc_op detc_op_mask_select;
extern const detc_op detc_op_non_max_suppression;
extern const detc_op detc_op_sub;
extern const detc_op detc_op_requantize;
extern const detc_op detc_op_hard_swish;
extern const detc_op detc_op_transpose;
extern const detc_op detc_op_slice;
extern const detc_op detc_op_tanh;
extern const detc_op detc_op_mean;
extern const detc_op detc_op_resize_bilinear;

/* add.c computes sub too */
bool detc_add_prepare(detc_prep *p);
detc_code detc_add_eval(const detc_exec *x, detc_node *node);

#endif

/* Pipeline kind "blazeface": MediaPipe's SSD-style face detector (BlazeFace short range). The graph ends
 * at the raw head outputs, regressors [1, A, C] and classificators [1, A, K]; this file does what
 * MediaPipe's calculators do after the model:
 *   SsdAnchorsCalculator             anchors, generated once at load from the "anchors" fields
 *   TensorsToDetectionsCalculator    box/keypoint decoding against the anchors, sigmoid scores with
 *                                    clipping, score threshold, boxes with negative size dropped
 *   NonMaxSuppressionCalculator      WEIGHTED (score-weighted average of each cluster) or DEFAULT
 * and maps the relative boxes back onto the original image. The image is resized to the model input,
 * stretched or (keep_aspect_ratio, as MediaPipe's face detection graph does) letterboxed onto a border
 * of pixel value 0; postprocess undoes the letterbox (DetectionLetterboxRemovalCalculator).
 * Field names follow MediaPipe's calculator options; models/README.md documents them. Everything the
 * pipeline needs is checked and allocated at load; postprocess only computes (and allocates the result). */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline.h"

#define BF_MAX_LAYERS 16
#define BF_MAX_RATIOS 16

typedef struct {
    float x_center, y_center, w, h;
} bf_anchor;

/* One decoded detection: MediaPipe's relative bounding box (xmin, ymin, width, height) and score. */
typedef struct {
    float xmin, ymin, width, height;
    float score;
    int class_id;
    int box; /* anchor index: its keypoints are kp[box * 2 * num_keypoints ...] */
} bf_detection;

typedef enum { BF_IOU, BF_JACCARD, BF_MODIFIED_JACCARD } bf_overlap;

typedef struct {
    bool keep_aspect_ratio;         /* letterbox the image into the input (MediaPipe's face detection graph) */
    int regressors, classificators; /* output tensors */
    int num_boxes, num_coords, num_classes;
    /* decoding (TensorsToDetectionsCalculatorOptions) */
    int box_coord_offset, keypoint_coord_offset, num_keypoints;
    bool reverse_output_order, apply_exponential_on_box_size, sigmoid_score, has_clipping;
    float x_scale, y_scale, w_scale, h_scale, score_clipping_thresh, min_score_thresh;
    /* non-maximum suppression (NonMaxSuppressionCalculatorOptions) */
    bool weighted;
    bf_overlap overlap;
    float min_suppression_threshold;
    int max_num_detections; /* -1: no limit (the DEFAULT algorithm only, as in MediaPipe) */
    bf_anchor *anchors;     /* num_boxes */
    /* postprocess work arrays: NULL in the model's state, allocated in each context's copy (bf_new_work) */
    bf_detection *dets;     /* candidates, then sorted by score */
    bf_detection *kept;     /* NMS output */
    int *remained, *next, *cluster;
    float *kp;              /* decoded keypoints, x then y, per anchor */
    float *kp_kept;         /* keypoints of the kept detections (weighted averages) */
    float *kp_acc;          /* one detection's keypoint sums */
    int n_kept;
} bf_state;

static void free_work_arrays(bf_state *s)
{
    free(s->dets);
    free(s->kept);
    free(s->remained);
    free(s->next);
    free(s->cluster);
    free(s->kp);
    free(s->kp_kept);
    free(s->kp_acc);
}

static void bf_free(void *state)
{
    bf_state *s = state;
    if (!s)
        return;
    free(s->anchors);
    free_work_arrays(s);
    free(s);
}

/* ---------------- reading the pipeline's fields ---------------- */

typedef struct {
    detc_model *m;
    detc_errors *errs;
    const char *section; /* "anchors", "decode", "nms" */
} bf_reader;

static void field_error(bf_reader *r, const char *key, const char *expected)
{
    char what[300];
    snprintf(what, sizeof what, "\"%s\".\"%s\" must be %s", r->section, key, expected);
    detc_pipeline_error(r->m, r->errs, what, "fix the pipeline (models/README.md lists the blazeface fields)");
}

static float read_float(bf_reader *r, const cJSON *obj, const char *key, bool required, double def, double lo,
                        double hi)
{
    const cJSON *v = detc_json_field(obj, key);
    char expected[160];
    snprintf(expected, sizeof expected, "a number in %g..%g%s", lo, hi, required ? " (required)" : "");
    if (!v) {
        if (required)
            field_error(r, key, expected);
        return (float)def;
    }
    double d;
    if (!detc_json_number(v, lo, hi, &d)) {
        field_error(r, key, expected);
        return (float)def;
    }
    return (float)d;
}

static int read_int(bf_reader *r, const cJSON *obj, const char *key, bool required, int def, int lo, int hi)
{
    const cJSON *v = detc_json_field(obj, key);
    char expected[160];
    snprintf(expected, sizeof expected, "an integer in %d..%d%s", lo, hi, required ? " (required)" : "");
    if (!v) {
        if (required)
            field_error(r, key, expected);
        return def;
    }
    int64_t n;
    if (!detc_json_integer(v, lo, hi, &n)) {
        field_error(r, key, expected);
        return def;
    }
    return (int)n;
}

static bool read_bool(bf_reader *r, const cJSON *obj, const char *key, bool def)
{
    const cJSON *v = detc_json_field(obj, key);
    if (!v)
        return def;
    if (!cJSON_IsBool(v)) {
        field_error(r, key, "true or false");
        return def;
    }
    return cJSON_IsTrue(v);
}

/* A list of 1..max numbers in lo..hi; returns the count (0 after reporting a problem). */
static int read_list(bf_reader *r, const cJSON *obj, const char *key, int max, double lo, double hi, float *out)
{
    const cJSON *v = detc_json_field(obj, key);
    char expected[160];
    snprintf(expected, sizeof expected, "a list of 1..%d numbers in %g..%g (required)", max, lo, hi);
    int n = cJSON_IsArray(v) ? cJSON_GetArraySize(v) : 0;
    if (n < 1 || n > max) {
        field_error(r, key, expected);
        return 0;
    }
    int i = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, v)
    {
        double d;
        if (!detc_json_number(e, lo, hi, &d)) {
            field_error(r, key, expected);
            return 0;
        }
        out[i++] = (float)d;
    }
    return n;
}

static int read_choice(bf_reader *r, const cJSON *obj, const char *key, int def, const char *const *choices)
{
    const cJSON *v = detc_json_field(obj, key);
    if (!v)
        return def;
    for (int i = 0; cJSON_IsString(v) && choices[i]; i++)
        if (strcmp(v->valuestring, choices[i]) == 0)
            return i;
    char expected[200] = "one of";
    for (int i = 0; choices[i]; i++) {
        size_t used = strlen(expected);
        snprintf(expected + used, sizeof expected - used, "%s \"%s\"", i ? "," : "", choices[i]);
    }
    field_error(r, key, expected);
    return def;
}

/* ---------------- anchors (MediaPipe SsdAnchorsCalculator, non-multiscale) ---------------- */

typedef struct {
    int num_layers, n_strides, n_ratios, input_w, input_h;
    int strides[BF_MAX_LAYERS];
    float ratios[BF_MAX_RATIOS];
    float min_scale, max_scale, offset_x, offset_y, interpolated_ratio;
    bool fixed_size, reduce_lowest;
} bf_anchor_options;

static float calculate_scale(float min_scale, float max_scale, int index, int n)
{
    if (n == 1)
        return (min_scale + max_scale) * 0.5f;
    /* as MediaPipe: the product and quotient in double, the result rounded to float */
    return (float)((double)min_scale + (double)(max_scale - min_scale) * 1.0 * index / (double)(n - 1.0f));
}

static int feature_map_size(int input, int stride)
{
    return (int)ceilf(1.0f * (float)input / (float)stride);
}

/* Counts the anchors the options produce (out == NULL) or writes them. */
static int generate_anchors(const bf_anchor_options *o, bf_anchor *out)
{
    int count = 0;
    int layer = 0;
    while (layer < o->num_layers) {
        float heights[BF_MAX_LAYERS * (BF_MAX_RATIOS + 3)], widths[BF_MAX_LAYERS * (BF_MAX_RATIOS + 3)];
        float ratios[BF_MAX_LAYERS * (BF_MAX_RATIOS + 3)], scales[BF_MAX_LAYERS * (BF_MAX_RATIOS + 3)];
        int n = 0, last = layer;
        /* layers with the same stride share one grid; their anchors interleave per cell */
        while (last < o->n_strides && o->strides[last] == o->strides[layer]) {
            float scale = calculate_scale(o->min_scale, o->max_scale, last, o->n_strides);
            if (last == 0 && o->reduce_lowest) {
                ratios[n] = 1.0f, scales[n++] = 0.1f;
                ratios[n] = 2.0f, scales[n++] = scale;
                ratios[n] = 0.5f, scales[n++] = scale;
            } else {
                for (int i = 0; i < o->n_ratios; i++)
                    ratios[n] = o->ratios[i], scales[n++] = scale;
                if (o->interpolated_ratio > 0.0f) {
                    float next = last == o->n_strides - 1
                                     ? 1.0f
                                     : calculate_scale(o->min_scale, o->max_scale, last + 1, o->n_strides);
                    scales[n] = sqrtf(scale * next);
                    ratios[n++] = o->interpolated_ratio;
                }
            }
            last++;
        }
        for (int i = 0; i < n; i++) {
            float r = sqrtf(ratios[i]);
            heights[i] = scales[i] / r;
            widths[i] = scales[i] * r;
        }
        int fh = feature_map_size(o->input_h, o->strides[layer]), fw = feature_map_size(o->input_w, o->strides[layer]);
        for (int y = 0; y < fh; y++)
            for (int x = 0; x < fw; x++)
                for (int a = 0; a < n; a++, count++) {
                    if (!out)
                        continue;
                    bf_anchor *an = &out[count];
                    an->x_center = ((float)x + o->offset_x) * 1.0f / (float)fw;
                    an->y_center = ((float)y + o->offset_y) * 1.0f / (float)fh;
                    an->w = o->fixed_size ? 1.0f : widths[a];
                    an->h = o->fixed_size ? 1.0f : heights[a];
                }
        layer = last;
    }
    return count;
}

static void read_anchor_options(bf_reader *r, const cJSON *a, const detc_image_input *in, bf_anchor_options *o)
{
    float strides[BF_MAX_LAYERS];
    memset(o, 0, sizeof *o);
    r->section = "anchors";
    if (!cJSON_IsObject(a)) {
        detc_pipeline_error(r->m, r->errs, "a \"blazeface\" pipeline needs an \"anchors\" object",
                            "see models/README.md (MediaPipe's SsdAnchorsCalculator options)");
        return;
    }
    o->num_layers = read_int(r, a, "num_layers", true, 0, 1, BF_MAX_LAYERS);
    o->n_strides = read_list(r, a, "strides", BF_MAX_LAYERS, 1, 4096, strides);
    for (int i = 0; i < o->n_strides; i++) {
        if (strides[i] != floorf(strides[i]))
            field_error(r, "strides", "a list of integers");
        o->strides[i] = (int)strides[i];
    }
    if (o->num_layers && o->n_strides && o->n_strides != o->num_layers) {
        char what[200];
        snprintf(what, sizeof what, "\"anchors\": %d strides for %d layers", o->n_strides, o->num_layers);
        detc_pipeline_error(r->m, r->errs, what, "give one stride per layer");
    }
    o->min_scale = read_float(r, a, "min_scale", true, 0.0, 0.0, 100.0);
    o->max_scale = read_float(r, a, "max_scale", true, 0.0, 0.0, 100.0);
    o->input_w = read_int(r, a, "input_size_width", false, in->width, 1, 16384);
    o->input_h = read_int(r, a, "input_size_height", false, in->height, 1, 16384);
    o->offset_x = read_float(r, a, "anchor_offset_x", false, 0.5, 0.0, 1.0);
    o->offset_y = read_float(r, a, "anchor_offset_y", false, 0.5, 0.0, 1.0);
    o->n_ratios = read_list(r, a, "aspect_ratios", BF_MAX_RATIOS, 1e-3, 1e3, o->ratios);
    o->interpolated_ratio = read_float(r, a, "interpolated_scale_aspect_ratio", false, 1.0, 0.0, 1e3);
    o->fixed_size = read_bool(r, a, "fixed_anchor_size", false);
    o->reduce_lowest = read_bool(r, a, "reduce_boxes_in_lowest_layer", false);
    static const char *const unsupported[] = {"feature_map_width", "feature_map_height", "multiscale_anchor_generation",
                                              NULL};
    for (int i = 0; unsupported[i]; i++)
        if (detc_json_field(a, unsupported[i])) {
            char what[200];
            snprintf(what, sizeof what, "\"anchors\".\"%s\" is not supported", unsupported[i]);
            detc_pipeline_error(r->m, r->errs, what, "give the grid through \"strides\" and the input size");
        }
}

/* ---------------- load ---------------- */

static void read_decode_options(bf_reader *r, const cJSON *d, bf_state *s)
{
    r->section = "decode";
    if (!cJSON_IsObject(d)) {
        detc_pipeline_error(r->m, r->errs, "a \"blazeface\" pipeline needs a \"decode\" object",
                            "see models/README.md (MediaPipe's TensorsToDetectionsCalculator options)");
        return;
    }
    s->box_coord_offset = read_int(r, d, "box_coord_offset", false, 0, 0, 1 << 20);
    s->keypoint_coord_offset = read_int(r, d, "keypoint_coord_offset", false, 0, 0, 1 << 20);
    s->num_keypoints = read_int(r, d, "num_keypoints", false, 0, 0, 1 << 16);
    if (read_int(r, d, "num_values_per_keypoint", false, 2, 2, 2) != 2)
        return;
    s->reverse_output_order = read_bool(r, d, "reverse_output_order", false);
    s->apply_exponential_on_box_size = read_bool(r, d, "apply_exponential_on_box_size", false);
    s->sigmoid_score = read_bool(r, d, "sigmoid_score", false);
    s->x_scale = read_float(r, d, "x_scale", true, 1.0, 1e-6, 1e6);
    s->y_scale = read_float(r, d, "y_scale", true, 1.0, 1e-6, 1e6);
    s->w_scale = read_float(r, d, "w_scale", true, 1.0, 1e-6, 1e6);
    s->h_scale = read_float(r, d, "h_scale", true, 1.0, 1e-6, 1e6);
    s->has_clipping = detc_json_field(d, "score_clipping_thresh") != NULL;
    s->score_clipping_thresh = read_float(r, d, "score_clipping_thresh", false, 0.0, 0.0, 1e30);
    s->min_score_thresh = read_float(r, d, "min_score_thresh", false, 0.5, -1e30, 1e30);
    static const char *const unsupported[] = {"flip_vertically", "box_format", "allow_classes", "ignore_classes",
                                              "max_results", NULL};
    for (int i = 0; unsupported[i]; i++)
        if (detc_json_field(d, unsupported[i])) {
            char what[200];
            snprintf(what, sizeof what, "\"decode\".\"%s\" is not supported", unsupported[i]);
            detc_pipeline_error(r->m, r->errs, what, "remove it; detc implements the options listed in models/README.md");
        }
}

static void read_nms_options(bf_reader *r, const cJSON *n, bf_state *s)
{
    static const char *const algorithms[] = {"weighted", "default", NULL};
    static const char *const overlaps[] = {"intersection_over_union", "jaccard", "modified_jaccard", NULL};
    r->section = "nms";
    if (!cJSON_IsObject(n)) {
        detc_pipeline_error(r->m, r->errs, "a \"blazeface\" pipeline needs an \"nms\" object",
                            "see models/README.md (MediaPipe's NonMaxSuppressionCalculator options)");
        return;
    }
    s->weighted = read_choice(r, n, "algorithm", 0, algorithms) == 0;
    s->overlap = (bf_overlap)read_choice(r, n, "overlap_type", 0, overlaps);
    s->min_suppression_threshold = read_float(r, n, "min_suppression_threshold", true, 1.0, 0.0, 1.0);
    s->max_num_detections = read_int(r, n, "max_num_detections", false, -1, -1, 1 << 20);
    if (s->max_num_detections == 0)
        field_error(r, "max_num_detections", "-1 (no limit) or a positive integer");
}

/* Checks the raw outputs against each other and the decoding options. */
static void check_outputs(detc_model *m, bf_state *s, detc_errors *errs)
{
    const detc_tensor *reg = &m->base->g.tensors[s->regressors], *cls = &m->base->g.tensors[s->classificators];
    char what[400];
    if (reg->dims[0] != 1 || cls->dims[0] != 1 || cls->dims[1] != reg->dims[1]) {
        snprintf(what, sizeof what,
                 "regressors '%s' [%d, %d, %d] and classificators '%s' [%d, %d, %d] must be [1, A, C] and [1, A, K] "
                 "with the same A (one row per anchor)",
                 reg->name, (int)reg->dims[0], (int)reg->dims[1], (int)reg->dims[2], cls->name, (int)cls->dims[0],
                 (int)cls->dims[1], (int)cls->dims[2]);
        detc_pipeline_error(m, errs, what, "point \"outputs\" at the model's raw head outputs");
    }
    int box_end = s->box_coord_offset + 4, kp_end = s->keypoint_coord_offset + 2 * s->num_keypoints;
    if (box_end > s->num_coords || (s->num_keypoints && kp_end > s->num_coords) ||
        4 + 2 * s->num_keypoints != s->num_coords) {
        snprintf(what, sizeof what,
                 "the regressors have %d values per anchor, but the decoding reads a box at %d..%d and %d keypoints "
                 "at %d..%d (MediaPipe requires num_coords = 4 + 2 * num_keypoints)",
                 s->num_coords, s->box_coord_offset, box_end - 1, s->num_keypoints, s->keypoint_coord_offset,
                 kp_end - 1);
        detc_pipeline_error(m, errs, what, "fix \"decode\".\"box_coord_offset\", \"keypoint_coord_offset\" or "
                                           "\"num_keypoints\"");
    }
}

static bool allocate_work(bf_state *s)
{
    size_t n = (size_t)s->num_boxes, kp = (size_t)s->num_keypoints * 2;
    s->dets = calloc(n, sizeof *s->dets);
    s->kept = calloc(n, sizeof *s->kept);
    s->remained = calloc(n, sizeof *s->remained);
    s->next = calloc(n, sizeof *s->next);
    s->cluster = calloc(n, sizeof *s->cluster);
    s->kp = calloc(n * kp + 1, sizeof *s->kp);
    s->kp_kept = calloc(n * kp + 1, sizeof *s->kp_kept);
    s->kp_acc = calloc(kp + 1, sizeof *s->kp_acc);
    return s->dets && s->kept && s->remained && s->next && s->cluster && s->kp && s->kp_kept && s->kp_acc;
}

/* A context's copy of the state: the configuration and the shared anchors, with its own work arrays. */
static void *bf_new_work(const detc_pipeline *p)
{
    bf_state *w = malloc(sizeof *w);
    if (!w)
        return NULL;
    *w = *(const bf_state *)p->state;
    if (!allocate_work(w)) {
        free_work_arrays(w);
        free(w);
        return NULL;
    }
    return w;
}

static void bf_free_work(void *work)
{
    if (!work)
        return;
    free_work_arrays(work);
    free(work);
}

static int bf_load(detc_model *m, detc_pipeline *p, const cJSON *pj, detc_errors *errs)
{
    int before = errs->count;
    bf_state *s = calloc(1, sizeof *s);
    if (!s) {
        detc_errors_add(errs, DETC_ERR_NOMEM, -1, "out of memory");
        return -1;
    }
    p->state = s;
    bf_reader r = {.m = m, .errs = errs};
    bool input_ok = detc_image_input_load(m, detc_json_field(pj, "input"), &p->input, errs) == 0;
    const cJSON *outs = detc_json_field(pj, "outputs");
    if (!cJSON_IsObject(outs)) {
        detc_pipeline_error(m, errs, "a \"blazeface\" pipeline needs an \"outputs\" object naming \"regressors\" and "
                                     "\"classificators\"",
                            "see models/README.md");
        return -1;
    }
    const cJSON *keep = detc_json_field(pj, "keep_aspect_ratio");
    if (keep && !cJSON_IsBool(keep))
        detc_pipeline_error(m, errs, "\"keep_aspect_ratio\" must be true or false", "fix the pipeline");
    s->keep_aspect_ratio = cJSON_IsTrue(keep);
    s->regressors = detc_pipeline_output(m, errs, outs, "regressors", 3);
    s->classificators = detc_pipeline_output(m, errs, outs, "classificators", 3);
    bf_anchor_options ao;
    int mark = errs->count;
    read_anchor_options(&r, detc_json_field(pj, "anchors"), &p->input, &ao);
    bool anchors_ok = errs->count == mark;
    mark = errs->count;
    read_decode_options(&r, detc_json_field(pj, "decode"), s);
    bool decode_ok = errs->count == mark;
    read_nms_options(&r, detc_json_field(pj, "nms"), s);
    if (!input_ok || s->regressors < 0 || s->classificators < 0)
        return -1;
    const detc_tensor *reg = &m->base->g.tensors[s->regressors], *cls = &m->base->g.tensors[s->classificators];
    s->num_boxes = reg->dims[1];
    s->num_coords = reg->dims[2];
    s->num_classes = cls->dims[2];
    /* the cross-checks run only on sections that parsed, so one mistake is reported once */
    if (decode_ok)
        check_outputs(m, s, errs);
    int n_anchors = anchors_ok ? generate_anchors(&ao, NULL) : 0;
    if (anchors_ok && n_anchors != s->num_boxes) {
        char what[300];
        snprintf(what, sizeof what,
                 "the \"anchors\" options give %d anchors, but the regressors '%s' have %d rows (one per anchor)",
                 n_anchors, m->base->g.tensors[s->regressors].name, s->num_boxes);
        detc_pipeline_error(m, errs, what,
                            "use the model's SsdAnchorsCalculator options (num_layers, strides, aspect_ratios, "
                            "interpolated_scale_aspect_ratio, input size)");
    }
    if (errs->count > before)
        return -1;
    s->anchors = calloc((size_t)s->num_boxes, sizeof *s->anchors);
    if (!s->anchors) {
        detc_errors_add(errs, DETC_ERR_NOMEM, -1, "out of memory");
        return -1;
    }
    generate_anchors(&ao, s->anchors);
    return 0;
}

/* Where the image lands in the model input: the whole input (stretched), or with keep_aspect_ratio the
 * largest centred rectangle of the image's aspect ratio, the rest being border (MediaPipe's
 * ImageToTensorCalculator with keep_aspect_ratio and BORDER_ZERO: pixel value 0). */
typedef struct {
    int left, top, width, height;
} bf_placement;

static bf_placement placement(const detc_pipeline *p, const detc_image *img)
{
    const bf_state *s = p->state;
    bf_placement g = {0, 0, p->input.width, p->input.height};
    if (!s->keep_aspect_ratio || img->width < 1 || img->height < 1)
        return g;
    double sx = (double)p->input.width / img->width, sy = (double)p->input.height / img->height;
    double scale = sx < sy ? sx : sy;
    g.width = (int)lround(img->width * scale);
    g.height = (int)lround(img->height * scale);
    g.width = g.width < 1 ? 1 : g.width > p->input.width ? p->input.width : g.width;
    g.height = g.height < 1 ? 1 : g.height > p->input.height ? p->input.height : g.height;
    g.left = (p->input.width - g.width) / 2;
    g.top = (p->input.height - g.height) / 2;
    return g;
}

static int bf_preprocess(detc_context *c, const detc_pipeline *p, void *work, const detc_image *img, const detc_detect_options *opts,
                         detc_errors *errs)
{
    (void)work;
    const bf_state *s = p->state;
    detc_resize_mode mode = p->input.resize;
    if (opts && opts->resize)
        detc_resize_mode_parse(opts->resize, &mode); /* validated by detc_preprocess */
    if (!s->keep_aspect_ratio || !img || !img->pixels || img->channels != 3)
        return detc_image_input_fill(c, &p->input, img, mode, errs);
    /* Letterbox: resize into the placement on a zero canvas of the input size, then normalise the canvas
     * (a same-size resize copies it unchanged). */
    bf_placement g = placement(p, img);
    detc_image small = {0}, canvas = {0};
    char err[256];
    int rc = -1;
    if (detc_image_resize(img, g.width, g.height, mode, &small, err, sizeof err) != 0 ||
        detc_image_alloc(&canvas, p->input.width, p->input.height, 3, err, sizeof err) != 0) {
        detc_errors_add(errs, DETC_ERR_IMAGE, -1, "%s", err);
        goto done;
    }
    for (int y = 0; y < g.height; y++)
        memcpy(canvas.pixels + ((size_t)(g.top + y) * (size_t)canvas.width + (size_t)g.left) * 3,
               small.pixels + (size_t)y * (size_t)g.width * 3, (size_t)g.width * 3);
    rc = detc_image_input_fill(c, &p->input, &canvas, mode, errs);
done:
    detc_image_free(&small);
    detc_image_free(&canvas);
    return rc;
}

/* ---------------- decoding (TensorsToDetectionsCalculator) ---------------- */

static float box_score(const bf_state *s, const float *raw, int *class_id)
{
    float best = -INFINITY;
    *class_id = -1;
    for (int k = 0; k < s->num_classes; k++) {
        float v = raw[k];
        if (s->sigmoid_score) {
            if (s->has_clipping) {
                v = v < -s->score_clipping_thresh ? -s->score_clipping_thresh : v;
                v = v > s->score_clipping_thresh ? s->score_clipping_thresh : v;
            }
            v = 1.0f / (1.0f + expf(-v));
        }
        if (best < v) {
            best = v;
            *class_id = k;
        }
    }
    return best;
}

/* Decodes anchor i into a detection (and its keypoints into s->kp); false when it is dropped. */
static bool decode_box(bf_state *s, const float *raw, int i, float score, int class_id, bf_detection *det)
{
    const bf_anchor *a = &s->anchors[i];
    const float *b = raw + s->box_coord_offset;
    float yc = b[0], xc = b[1], h = b[2], w = b[3];
    if (s->reverse_output_order) {
        xc = b[0];
        yc = b[1];
        w = b[2];
        h = b[3];
    }
    xc = xc / s->x_scale * a->w + a->x_center;
    yc = yc / s->y_scale * a->h + a->y_center;
    if (s->apply_exponential_on_box_size) {
        h = expf(h / s->h_scale) * a->h;
        w = expf(w / s->w_scale) * a->w;
    } else {
        h = h / s->h_scale * a->h;
        w = w / s->w_scale * a->w;
    }
    float ymin = yc - h / 2.0f, xmin = xc - w / 2.0f, ymax = yc + h / 2.0f, xmax = xc + w / 2.0f;
    det->xmin = xmin;
    det->ymin = ymin;
    det->width = xmax - xmin;
    det->height = ymax - ymin;
    det->score = score;
    det->class_id = class_id;
    det->box = i;
    /* MediaPipe drops boxes whose decoded size is negative or NaN */
    if (!(det->width >= 0.0f) || !(det->height >= 0.0f))
        return false;
    float *kp = s->kp + (size_t)i * 2 * (size_t)s->num_keypoints;
    for (int k = 0; k < s->num_keypoints; k++) {
        const float *v = raw + s->keypoint_coord_offset + 2 * k;
        float ky = v[0], kx = v[1];
        if (s->reverse_output_order) {
            kx = v[0];
            ky = v[1];
        }
        kp[2 * k] = kx / s->x_scale * a->w + a->x_center;
        kp[2 * k + 1] = ky / s->y_scale * a->h + a->y_center;
    }
    return true;
}

/* ---------------- non-maximum suppression (NonMaxSuppressionCalculator) ---------------- */

/* MediaPipe's Rectangle_f over a relative box: min = (xmin, ymin), max = min + (width, height). */
static float overlap_similarity(bf_overlap type, const bf_detection *r1, const bf_detection *r2)
{
    float ax0 = r1->xmin, ay0 = r1->ymin, ax1 = r1->xmin + r1->width, ay1 = r1->ymin + r1->height;
    float bx0 = r2->xmin, by0 = r2->ymin, bx1 = r2->xmin + r2->width, by1 = r2->ymin + r2->height;
    bool empty = ax0 > ax1 || ay0 > ay1 || bx0 > bx1 || by0 > by1;
    if (empty || bx1 < ax0 || ax1 < bx0 || by1 < ay0 || ay1 < by0)
        return 0.0f;
    float ix0 = ax0 > bx0 ? ax0 : bx0, iy0 = ay0 > by0 ? ay0 : by0;
    float ix1 = ax1 < bx1 ? ax1 : bx1, iy1 = ay1 < by1 ? ay1 : by1;
    float inter = (ix1 - ix0) * (iy1 - iy0);
    float area1 = (ax1 - ax0) * (ay1 - ay0), area2 = (bx1 - bx0) * (by1 - by0), norm;
    switch (type) {
    case BF_JACCARD: { /* MediaPipe's Rectangle::Union: the bounding box of both */
        float ux0 = ax0 < bx0 ? ax0 : bx0, uy0 = ay0 < by0 ? ay0 : by0;
        float ux1 = ax1 > bx1 ? ax1 : bx1, uy1 = ay1 > by1 ? ay1 : by1;
        norm = (ux1 - ux0) * (uy1 - uy0);
        break;
    }
    case BF_MODIFIED_JACCARD:
        norm = area2;
        break;
    default:
        norm = area1 + area2 - inter;
        break;
    }
    return norm > 0.0f ? inter / norm : 0.0f;
}

/* Score descending; ties keep the anchor order (MediaPipe's std::sort leaves them unspecified). */
static int by_score(const void *pa, const void *pb)
{
    const bf_detection *a = pa, *b = pb;
    if (a->score != b->score)
        return a->score > b->score ? -1 : 1;
    return a->box - b->box;
}

static void keep(bf_state *s, const bf_detection *d, const float *kp)
{
    size_t nk = (size_t)s->num_keypoints * 2;
    s->kept[s->n_kept] = *d;
    memcpy(s->kp_kept + (size_t)s->n_kept * nk, kp, nk * sizeof *kp);
    s->n_kept++;
}

static void weighted_nms(bf_state *s, int n)
{
    int n_remained = n, nk = s->num_keypoints * 2;
    for (int i = 0; i < n; i++)
        s->remained[i] = i;
    while (n_remained > 0) {
        const bf_detection *top = &s->dets[s->remained[0]];
        int n_next = 0, n_cluster = 0;
        for (int i = 0; i < n_remained; i++) {
            const bf_detection *d = &s->dets[s->remained[i]];
            if (overlap_similarity(s->overlap, d, top) > s->min_suppression_threshold)
                s->cluster[n_cluster++] = s->remained[i];
            else
                s->next[n_next++] = s->remained[i];
        }
        bf_detection w = *top;
        const float *kp_out = s->kp + (size_t)top->box * (size_t)nk;
        /* scores that underflow to 0 (sigmoid of a clipped -100 logit) kept by a negative threshold sum to 0:
         * the average is then undefined and the top box stands for its cluster */
        float total = 0.0f;
        for (int c = 0; c < n_cluster; c++)
            total += s->dets[s->cluster[c]].score;
        if (n_cluster > 0 && total > 0.0f && isfinite(total)) {
            float wx0 = 0.0f, wy0 = 0.0f, wx1 = 0.0f, wy1 = 0.0f;
            float *kps = s->kp_acc;
            memset(kps, 0, (size_t)nk * sizeof *kps);
            for (int c = 0; c < n_cluster; c++) {
                const bf_detection *d = &s->dets[s->cluster[c]];
                wx0 += d->xmin * d->score;
                wy0 += d->ymin * d->score;
                wx1 += (d->xmin + d->width) * d->score;
                wy1 += (d->ymin + d->height) * d->score;
                const float *dkp = s->kp + (size_t)d->box * (size_t)nk;
                for (int k = 0; k < nk; k++)
                    kps[k] += dkp[k] * d->score;
            }
            w.xmin = wx0 / total;
            w.ymin = wy0 / total;
            w.width = wx1 / total - w.xmin;
            w.height = wy1 / total - w.ymin;
            for (int k = 0; k < nk; k++)
                kps[k] /= total;
            kp_out = kps;
        }
        keep(s, &w, kp_out);
        if (n_next == n_remained) /* nothing was clustered: MediaPipe stops here */
            break;
        memcpy(s->remained, s->next, (size_t)n_next * sizeof *s->next);
        n_remained = n_next;
    }
}

static void default_nms(bf_state *s, int n)
{
    int limit = s->max_num_detections > 0 ? s->max_num_detections : n;
    for (int i = 0; i < n && s->n_kept < limit; i++) {
        const bf_detection *d = &s->dets[i];
        bool suppressed = false;
        for (int k = 0; k < s->n_kept && !suppressed; k++)
            suppressed = overlap_similarity(s->overlap, &s->kept[k], d) > s->min_suppression_threshold;
        if (!suppressed)
            keep(s, d, s->kp + (size_t)d->box * 2 * (size_t)s->num_keypoints);
    }
}

static float clampf(float v, float lo, float hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

static int bf_postprocess(detc_context *c, const detc_pipeline *p, void *work, const detc_image *img, const detc_detect_options *opts,
                          detc_detections *out, detc_errors *errs)
{
    (void)p;
    bf_state *s = work; /* the context's copy: configuration plus its own work arrays */
    const detc_tensor *reg = &c->g.tensors[s->regressors], *cls = &c->g.tensors[s->classificators];
    if (reg->dims[1] != s->num_boxes || reg->dims[2] != s->num_coords || cls->dims[2] != s->num_classes) {
        detc_errors_add(errs, DETC_ERR_ARG, -1,
                        "%s: the raw outputs no longer have the shapes the blazeface pipeline was loaded for (%d "
                        "anchors); detection needs the model's own input size",
                        c->g.model_name, s->num_boxes);
        return -1;
    }
    float min_score = detc_score_threshold(opts, s->min_score_thresh);
    const float *raw_boxes = reg->data, *raw_scores = cls->data;
    int n = 0;
    for (int i = 0; i < s->num_boxes; i++) {
        int class_id;
        float score = box_score(s, raw_scores + (size_t)i * (size_t)s->num_classes, &class_id);
        if (class_id < 0 || !(score >= min_score))
            continue;
        if (decode_box(s, raw_boxes + (size_t)i * (size_t)s->num_coords, i, score, class_id, &s->dets[n]))
            n++;
    }
    qsort(s->dets, (size_t)n, sizeof *s->dets, by_score);
    s->n_kept = 0;
    if (s->weighted)
        weighted_nms(s, n);
    else
        default_nms(s, n);

    out->items = calloc((size_t)s->n_kept + 1, sizeof *out->items);
    if (!out->items) {
        detc_errors_add(errs, DETC_ERR_NOMEM, -1, "out of memory");
        return -1;
    }
    /* relative to the model input -> input pixels -> minus the letterbox border -> image pixels */
    bf_placement g = placement(p, img);
    float W = (float)img->width, H = (float)img->height;
    float ax = (float)p->input.width * W / (float)g.width, bx = -(float)g.left * W / (float)g.width;
    float ay = (float)p->input.height * H / (float)g.height, by = -(float)g.top * H / (float)g.height;
    for (int i = 0; i < s->n_kept; i++) {
        const bf_detection *d = &s->kept[i];
        /* weighted NMS divides by the cluster's total score: with scores summing to 0 (no sigmoid, threshold
         * below 0) or overflowing, the averaged box is NaN, which is no detection */
        if (!isfinite(d->xmin) || !isfinite(d->ymin) || !isfinite(d->xmin + d->width) ||
            !isfinite(d->ymin + d->height))
            continue;
        detc_detection *det = &out->items[out->count++];
        det->x0 = clampf(d->xmin * ax + bx, 0, W);
        det->y0 = clampf(d->ymin * ay + by, 0, H);
        det->x1 = clampf((d->xmin + d->width) * ax + bx, 0, W);
        det->y1 = clampf((d->ymin + d->height) * ay + by, 0, H);
        det->score = d->score;
        det->class_id = d->class_id;
        det->label = detc_label(c->model, d->class_id);
    }
    return 0;
}

const detc_pipeline_kind detc_pipeline_blazeface = {
    .name = "blazeface",
    .new_work = bf_new_work,
    .free_work = bf_free_work,
    .load = bf_load,
    .preprocess = bf_preprocess,
    .postprocess = bf_postprocess,
    .free_state = bf_free,
};

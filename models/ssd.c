/* Pipeline kind "ssd": the graph ends in detection_postprocess (TFLite_Detection_PostProcess), so
 * detection only reads four outputs: boxes, classes, scores, count. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline.h"

typedef struct {
    int boxes, classes, scores, count; /* output tensors */
    bool box_yxyx;
    int class_offset; /* added to the class output to index the labels */
} ssd_state;

static int ssd_load(detc_model *m, detc_pipeline *p, const cJSON *pj, detc_errors *errs)
{
    int before = errs->count;
    const cJSON *outs = detc_json_field(pj, "outputs");
    ssd_state *s = calloc(1, sizeof *s);
    if (!s) {
        detc_errors_add(errs, DETC_ERR_NOMEM, -1, "out of memory");
        return -1;
    }
    p->state = s;
    detc_image_input_load(m, detc_json_field(pj, "input"), &p->input, errs);
    if (!cJSON_IsObject(outs)) {
        detc_pipeline_error(m, errs, "an \"ssd\" pipeline needs an \"outputs\" object", "see models/README.md");
        return -1;
    }
    s->boxes = detc_pipeline_output(m, errs, outs, "boxes", 3);
    s->classes = detc_pipeline_output(m, errs, outs, "classes", 2);
    s->scores = detc_pipeline_output(m, errs, outs, "scores", 2);
    s->count = detc_pipeline_output(m, errs, outs, "count", 1);
    const cJSON *order = detc_json_field(outs, "box_order"), *offset = detc_json_field(outs, "class_offset");
    s->box_yxyx = !(cJSON_IsString(order) && strcmp(order->valuestring, "xyxy") == 0);
    if (order && !(cJSON_IsString(order) && (!s->box_yxyx || strcmp(order->valuestring, "yxyx") == 0)))
        detc_pipeline_error(m, errs, "\"box_order\" must be \"yxyx\" or \"xyxy\"", "fix the pipeline");
    int64_t class_offset;
    if (offset && !detc_json_integer(offset, -1, 1000, &class_offset))
        detc_pipeline_error(m, errs, "\"class_offset\" must be an integer in -1..1000", "fix the pipeline");
    else if (offset)
        s->class_offset = (int)class_offset;
    if (s->boxes >= 0 && s->scores >= 0 && s->classes >= 0) {
        const detc_tensor *b = &m->base->g.tensors[s->boxes], *sc = &m->base->g.tensors[s->scores],
                          *c = &m->base->g.tensors[s->classes];
        if (b->dims[2] != 4 || sc->dims[1] != b->dims[1] || c->dims[1] != b->dims[1])
            detc_pipeline_error(m, errs, "boxes must be [1, D, 4] and classes/scores [1, D] with the same D",
                                "point the outputs at the detection post-process");
    }
    return errs->count > before ? -1 : 0;
}

static int ssd_preprocess(detc_context *c, const detc_pipeline *p, void *work, const detc_image *img, const detc_detect_options *opts,
                          detc_errors *errs)
{
    (void)work;
    detc_resize_mode mode = p->input.resize;
    if (opts && opts->resize)
        detc_resize_mode_parse(opts->resize, &mode); /* validated by detc_preprocess */
    return detc_image_input_fill(c, &p->input, img, mode, errs);
}

static float clampf(float v, float lo, float hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

static int ssd_postprocess(detc_context *c, const detc_pipeline *p, void *work, const detc_image *img, const detc_detect_options *opts,
                           detc_detections *out, detc_errors *errs)
{
    (void)work;
    const ssd_state *s = p->state;
    float threshold = detc_score_threshold(opts, 0.5f);
    const float *boxes = c->g.tensors[s->boxes].data, *scores = c->g.tensors[s->scores].data,
                *classes = c->g.tensors[s->classes].data, *count = c->g.tensors[s->count].data;
    int d = c->g.tensors[s->scores].dims[1];
    int n = isfinite(count[0]) ? (int)count[0] : 0;
    n = n < 0 ? 0 : n > d ? d : n;
    out->items = calloc((size_t)n + 1, sizeof *out->items);
    if (!out->items) {
        detc_errors_add(errs, DETC_ERR_NOMEM, -1, "out of memory");
        return -1;
    }
    float W = (float)img->width, H = (float)img->height;
    for (int i = 0; i < n; i++) {
        if (!(scores[i] >= threshold) || !isfinite(classes[i]) || fabsf(classes[i]) > 1e6f)
            continue;
        const float *b = boxes + 4 * i;
        float y0 = s->box_yxyx ? b[0] : b[1], x0 = s->box_yxyx ? b[1] : b[0];
        float y1 = s->box_yxyx ? b[2] : b[3], x1 = s->box_yxyx ? b[3] : b[2];
        if (!isfinite(x0) || !isfinite(y0) || !isfinite(x1) || !isfinite(y1))
            continue; /* a NaN or infinite box (broken weights) is no detection */
        detc_detection *det = &out->items[out->count++];
        det->x0 = clampf(x0 * W, 0, W);
        det->y0 = clampf(y0 * H, 0, H);
        det->x1 = clampf(x1 * W, 0, W);
        det->y1 = clampf(y1 * H, 0, H);
        det->score = scores[i];
        det->class_id = (int)classes[i] + s->class_offset;
        det->label = detc_label(c->model, det->class_id);
    }
    return 0;
}

const detc_pipeline_kind detc_pipeline_ssd = {
    .name = "ssd",
    .load = ssd_load,
    .preprocess = ssd_preprocess,
    .postprocess = ssd_postprocess,
};

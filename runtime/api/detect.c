/* The API layer's detection entry points: a context's pipeline from pixels to detections, and box-local
 * masks (pasting into a frame, COCO run-length encoding without a full-image buffer). */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "pipeline.h"
#include "rle.h"

void detc_detect_options_init(detc_detect_options *o)
{
    if (o)
        *o = (detc_detect_options){.size = sizeof *o};
}

static detc_detect_options read_options(const detc_detect_options *o)
{
    detc_detect_options r;
    detc_detect_options_init(&r);
    detc_struct_read(&r, sizeof r, o);
    return r;
}

/* The pipeline and this context's work for it, made on first use. */
static int ready(detc_context *c, void **work, detc_errors *errs)
{
    if (!c) {
        detc_errors_add(errs, DETC_ERR_ARG, -1, "no context given");
        return -1;
    }
    const detc_model *m = c->model;
    if (!m->pipeline) {
        detc_errors_add(errs, DETC_ERR_ARG, -1,
                        "%s: the model has no \"pipeline\", so detc cannot turn images into its input; use `detc run` "
                        "with input tensors, or convert it with a pipeline (detc-convert --pipeline-json)",
                        c->g.model_name);
        return -1;
    }
    const detc_pipeline_kind *k = m->pipeline->kind;
    if (k->new_work && !c->pipeline_work) {
        c->pipeline_work = k->new_work(m->pipeline);
        c->pipeline_work_free = k->free_work ? k->free_work : free;
        if (!c->pipeline_work) {
            detc_errors_add(errs, DETC_ERR_NOMEM, -1, "out of memory");
            return -1;
        }
    }
    *work = c->pipeline_work;
    return 0;
}

static int preprocess(detc_context *c, const detc_image *img, const detc_detect_options *opts, void **work,
                      detc_errors *errs)
{
    if (ready(c, work, errs) != 0)
        return -1;
    if (!img || !img->pixels || img->channels != 3 || img->width < 1 || img->height < 1) {
        detc_errors_add(errs, DETC_ERR_ARG, -1, "the image must be RGB with at least one pixel");
        return -1;
    }
    if (opts->resize) {
        detc_resize_mode mode;
        if (detc_resize_mode_parse(opts->resize, &mode) != 0) {
            detc_errors_add(errs, DETC_ERR_ARG, -1, "unknown resize mode '%s': use nearest, bilinear or area_aa",
                            opts->resize);
            return -1;
        }
    }
    const detc_pipeline *p = c->model->pipeline;
    return p->kind->preprocess(c, p, *work, img, opts, errs);
}

int detc_context_preprocess(detc_context *c, const detc_image *img, const detc_detect_options *opts,
                            detc_errors *errs)
{
    detc_detect_options o = read_options(opts);
    void *work;
    return preprocess(c, img, &o, &work, errs);
}

int detc_context_detect(detc_context *c, const detc_image *img, const detc_detect_options *opts,
                        detc_detections *out, detc_errors *errs)
{
    if (!out) {
        detc_errors_add(errs, DETC_ERR_ARG, -1, "detc_context_detect: no output given");
        return -1;
    }
    memset(out, 0, sizeof *out);
    detc_detect_options o = read_options(opts);
    void *work;
    if (preprocess(c, img, &o, &work, errs) != 0 || detc_context_run(c, NULL, NULL, errs) != 0)
        return -1;
    out->image_width = img->width;
    out->image_height = img->height;
    const detc_pipeline *p = c->model->pipeline;
    if (p->kind->postprocess(c, p, work, img, &o, out, errs) != 0) {
        detc_detections_free(out);
        return -1;
    }
    return 0;
}

int detc_preprocess(detc_model *m, const detc_image *img, const detc_detect_options *opts, detc_errors *errs)
{
    detc_context *c = detc_default_context(m, errs);
    return c ? detc_context_preprocess(c, img, opts, errs) : -1;
}

int detc_detect(detc_model *m, const detc_image *img, const detc_detect_options *opts, detc_detections *out,
                detc_errors *errs)
{
    if (out)
        memset(out, 0, sizeof *out);
    detc_context *c = detc_default_context(m, errs);
    return c ? detc_context_detect(c, img, opts, out, errs) : -1;
}

void detc_detections_free(detc_detections *d)
{
    if (!d)
        return;
    for (int i = 0; i < d->count; i++)
        free(d->items[i].mask);
    free(d->items);
    memset(d, 0, sizeof *d);
}

/* ---- box-local masks ---- */

static int mask_ok(const detc_detection *d, int width, int height)
{
    return d && d->mask && width > 0 && height > 0 && d->mask_width >= 0 && d->mask_height >= 0 &&
           d->mask_x >= 0 && d->mask_y >= 0 && d->mask_x <= width - d->mask_width &&
           d->mask_y <= height - d->mask_height;
}

long detc_mask_paste(const detc_detection *d, uint8_t *frame, int width, int height, uint8_t value)
{
    if (!mask_ok(d, width, height) || !frame)
        return -1;
    long set = 0;
    for (int y = 0; y < d->mask_height; y++) {
        const uint8_t *src = d->mask + (size_t)y * (size_t)d->mask_width;
        uint8_t *dst = frame + (size_t)(d->mask_y + y) * (size_t)width + (size_t)d->mask_x;
        for (int x = 0; x < d->mask_width; x++)
            if (src[x]) {
                dst[x] = value;
                set++;
            }
    }
    return set;
}

/* COCO RLE runs over the full image in column-major order, walking only the mask's window: every pixel
 * outside it is a zero, added to the current zero run in bulk. */
char *detc_mask_rle(const detc_detection *d, int width, int height)
{
    if (!mask_ok(d, width, height) || (uint64_t)width * (uint64_t)height > UINT32_MAX)
        return NULL;
    size_t cap = 16, n = 0;
    uint32_t *counts = malloc(cap * sizeof *counts);
    if (!counts)
        return NULL;
    counts[0] = 0;
    uint8_t cur = 0; /* the value of run counts[n] */
    int fail = 0;
#define ADD_RUN(v, len)                                                                 \
    do {                                                                                \
        uint32_t len_ = (uint32_t)(len);                                                \
        if (len_ == 0)                                                                  \
            break;                                                                      \
        if ((v) != cur) {                                                               \
            if (n + 2 > cap) {                                                          \
                uint32_t *grown = realloc(counts, cap * 2 * sizeof *counts);            \
                if (!grown) {                                                           \
                    fail = 1;                                                           \
                    break;                                                              \
                }                                                                       \
                counts = grown;                                                         \
                cap *= 2;                                                               \
            }                                                                           \
            counts[++n] = 0;                                                            \
            cur = (v);                                                                  \
        }                                                                               \
        counts[n] += len_;                                                              \
    } while (0)
    int x0 = d->mask_x, x1 = d->mask_x + d->mask_width;
    ADD_RUN(0, (uint64_t)x0 * (uint64_t)height); /* columns left of the window */
    for (int x = x0; x < x1 && !fail; x++) {
        ADD_RUN(0, d->mask_y);
        for (int y = 0; y < d->mask_height && !fail; y++) {
            uint8_t v = d->mask[(size_t)y * (size_t)d->mask_width + (size_t)(x - x0)] ? 1 : 0;
            ADD_RUN(v, 1);
        }
        ADD_RUN(0, height - d->mask_y - d->mask_height);
    }
    ADD_RUN(0, (uint64_t)(width - x1) * (uint64_t)height);
#undef ADD_RUN
    char *s = fail ? NULL : detc_rle_to_string(counts, n + 1);
    free(counts);
    return s;
}

/* Model pipelines: how `detc detect` turns an image into graph inputs and graph outputs into
 * detections. One file per kind (models/ssd.c, ...), registered in models/pipeline.c. A kind's load()
 * validates the file's "pipeline" object against the graph when the model is loaded, so a mismatch is
 * reported before any image is read. See models/README.md for each kind's fields. */
#ifndef DETC_PIPELINE_H
#define DETC_PIPELINE_H

#include <stdbool.h>

#include "pixels.h"
#include "json_field.h"
#include "model.h"

struct cJSON;

/* The part every image model shares: resize, channel order, normalisation, input dtype. */
typedef struct {
    int tensor;             /* graph input fed with the image */
    int width, height;      /* model input size */
    bool bgr;               /* channel order the model expects */
    detc_resize_mode resize;
    float mean[3], std[3];  /* x = (pixel - mean) / std, per channel in model order */
} detc_image_input;

/* A kind's state (p->state) is built at load and read-only afterwards: contexts on other threads share it.
 * What a kind writes while detecting lives in its per-context work (new_work), handed to both steps. */
typedef struct detc_pipeline_kind {
    const char *name;
    /* Validate pj against the graph (m->base); store kind state in p->state. Report every problem; return -1
     * if any. */
    int (*load)(detc_model *m, struct detc_pipeline *p, const struct cJSON *pj, detc_errors *errs);
    /* Fill the context's graph inputs from the image (after detc_image_input_fill or its own variant). */
    int (*preprocess)(detc_context *c, const struct detc_pipeline *p, void *work, const detc_image *img,
                      const detc_detect_options *opts, detc_errors *errs);
    /* Read the outputs of the context's finished run into detections in original-image pixels. */
    int (*postprocess)(detc_context *c, const struct detc_pipeline *p, void *work, const detc_image *img,
                       const detc_detect_options *opts, detc_detections *out, detc_errors *errs);
    void (*free_state)(void *state);
    /* Optional per-context working memory: made on a context's first detect, freed with the context. */
    void *(*new_work)(const struct detc_pipeline *p);
    void (*free_work)(void *work);
} detc_pipeline_kind;

typedef struct detc_pipeline {
    const detc_pipeline_kind *kind;
    detc_image_input input;
    void *state; /* kind-specific, freed by kind->free_state or free() */
} detc_pipeline;

extern const detc_pipeline_kind detc_pipeline_ssd;
extern const detc_pipeline_kind detc_pipeline_blazeface;
extern const detc_pipeline_kind detc_pipeline_maskrcnn;

/* Helpers for kinds. */
void detc_pipeline_error(detc_model *m, detc_errors *errs, const char *what, const char *fix);
/* Parses "input" {width, height, color, resize, mean, std, tensor} and checks it against the graph input. */
int detc_image_input_load(detc_model *m, const struct cJSON *in, detc_image_input *out, detc_errors *errs);
/* Resizes img to the input size with `mode` and writes (p - mean) / std in the input's dtype. */
int detc_image_input_fill(detc_context *c, const detc_image_input *in, const detc_image *img, detc_resize_mode mode,
                          detc_errors *errs);
/* The minimum score a detection needs: opts->threshold when positive, `model_default` when it is 0 (or
 * opts is NULL, or NaN), and every detection (-inf) when it is negative. */
float detc_score_threshold(const detc_detect_options *opts, float model_default);
/* 0 when tensor t, which the pipeline reads after a run as obj[key], is a graph output or a constant;
 * otherwise reports it (its memory is reused during the run) and returns -1. Every tensor a kind reads
 * goes through this check at load. */
int detc_pipeline_kept(detc_model *m, detc_errors *errs, const char *key, int t);
/* Resolves a tensor name from obj[key] to a graph tensor of dtype f32 and rank `rank` that outlives the run
 * (-1 if invalid). */
int detc_pipeline_output(detc_model *m, detc_errors *errs, const struct cJSON *obj, const char *key, int rank);

/* Loading and freeing (called by the API layer, runtime/api/). */
int detc_pipeline_load(detc_model *m, detc_errors *errs);
void detc_pipeline_free(struct detc_pipeline *p);

#endif

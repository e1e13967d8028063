/* detc: object-detection inference runtime. The public C API, in one header.
 *
 * Life of a model:
 *   detc_model_load()   map the .detc file, validate every tensor and node, plan memory
 *   detc_detect()       image -> detections (pipeline from the file), or
 *   detc_set_input() + detc_run() + detc_get_tensor()   raw graph execution
 *   detc_model_free()
 *
 * Errors are values: every function that can fail fills a detc_errors list (code + message per
 * problem) and returns non-zero / NULL. Loading reports every problem found, not just the first.
 */
#ifndef DETC_H
#define DETC_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define DETC_VERSION_STRING "0.1.0"
#define DETC_FORMAT_VERSION 1

typedef enum {
    DETC_OK = 0,
    DETC_ERR_IO,          /* file cannot be read or written */
    DETC_ERR_FORMAT,      /* file structure: magic, version, offsets, JSON */
    DETC_ERR_GRAPH,       /* undefined operand, cycle, duplicate producer, unknown op */
    DETC_ERR_DTYPE,       /* an operand's dtype is not what the op accepts */
    DETC_ERR_SHAPE,       /* ranks, dimensions, broadcasting */
    DETC_ERR_QUANT,       /* missing or inconsistent quantization parameters */
    DETC_ERR_ATTR,        /* missing or out-of-range attribute */
    DETC_ERR_UNSUPPORTED, /* valid model, but detc has no kernel for it */
    DETC_ERR_INPUT,       /* a caller's input does not match the model's declared input */
    DETC_ERR_NOMEM,
    DETC_ERR_ARG,         /* bad API or command-line argument */
    DETC_ERR_IMAGE,       /* image cannot be decoded or encoded */
    DETC_ERR_RUNTIME      /* failure while computing */
} detc_code;

const char *detc_code_name(detc_code code);

typedef struct {
    detc_code code;
    int node;      /* node index the problem is about, or -1 */
    char *message; /* complete, human-readable sentence(s) */
} detc_error;

typedef struct {
    int count;
    int capacity;
    detc_error *items;
    int dropped; /* problems not recorded after the cap (kept bounded for hostile files) */
} detc_errors;

void detc_errors_init(detc_errors *errs);
void detc_errors_free(detc_errors *errs);
void detc_errors_add(detc_errors *errs, detc_code code, int node, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

/* ---- images ---- */
#ifndef DETC_IMAGE_DEFINED
#define DETC_IMAGE_DEFINED
typedef struct {
    int width, height, channels; /* channels is 3 (RGB) for decoded images */
    uint8_t *pixels;             /* interleaved, row-major, owned */
} detc_image;
#endif

int detc_image_read(const char *path, detc_image *out, detc_errors *errs);
int detc_image_write(const char *path, const detc_image *img, detc_errors *errs); /* .jpg/.png by extension */
void detc_image_release(detc_image *img);

/* ---- models ---- */
typedef struct detc_model detc_model;

typedef struct {
    int threads;       /* worker threads including the caller; 0 or 1 = single-threaded */
    int profile;       /* record per-node timings */
    int no_reuse;      /* give every activation its own memory (debugging) */
    size_t max_memory; /* bytes the model may allocate for activations and folded constants; 0: the machine's
                        * physical memory. A model beyond it is refused at load (DETC_ERR_NOMEM) instead of
                        * running out of memory later: a broken or hostile file can declare huge tensors. The
                        * folded constants count too (detc_model_info.folded_bytes + arena_bytes); no_fold
                        * trades them for a larger arena, often smaller in all. */
    int no_fold;       /* keep nodes whose inputs are all constants in the graph, run on every detc_run,
                        * instead of evaluating them once at load (their outputs then live in the arena,
                        * not in heap memory beside the mapped weights). Environment: DETC_FOLD=0 does
                        * the same for every load; DETC_FOLD=1 or unset leaves folding on. */
    int verify;        /* check the data section against the file's CRC-32 ("data_crc32", written by
                        * detc-convert) and refuse the model on a mismatch. Reads every weight byte once:
                        * about 1.5-2 GB/s on one core (tens of ms for a 65 MB model). Files without a
                        * checksum load as before (detc_model_info.checksum says which). */
} detc_options;

detc_model *detc_model_load(const char *path, const detc_options *opts, detc_errors *errs);
void detc_model_free(detc_model *model);

/* Introspection (for `detc inspect`, tools and bindings). Strings live as long as the model. */
typedef struct {
    const char *name;
    const char *dtype;
    int rank;
    const int32_t *dims;
    int is_constant, is_input, is_output;
    int is_folded;          /* a constant computed at load time by node `producer` (is_constant is 1) */
    int quant_count;        /* 0: not quantized, 1: per tensor, >1: per channel */
    int quant_axis;
    const float *scale;
    const int32_t *zero_point;
    size_t nbytes;
    int producer;           /* node index, -1 for inputs and constants from the file */
} detc_tensor_info;

typedef struct {
    const char *name;
    const char *op;
    int n_inputs, n_outputs;
    const int *inputs;      /* tensor indices, -1 for an omitted optional operand */
    const int *outputs;
    size_t scratch_bytes;
    double total_us;        /* accumulated eval time when profiling */
    int calls;
    int folded;             /* evaluated once at load (inputs all constant); detc_run skips it */
} detc_node_info;

typedef struct {
    const char *name;
    const char *path;
    int n_tensors, n_nodes, n_inputs, n_outputs;
    size_t constant_bytes;  /* mapped weights */
    int n_folded;           /* nodes evaluated once at load (see detc_options.no_fold) */
    size_t folded_bytes;    /* heap bytes of the constants those nodes produced */
    size_t folded_source_bytes; /* mapped weights only folded nodes read (not needed after load) */
    size_t arena_bytes;     /* planned peak of activations + scratch */
    size_t unplanned_bytes; /* sum of all activation + scratch sizes without reuse */
    int threads;
    const char *kernels;    /* name of the selected kernel table */
    const char *pipeline;   /* pipeline kind, or NULL */
    int n_labels;
    int checksum;           /* DETC_CHECKSUM_NONE (the file has none), _PRESENT (not checked), _VERIFIED */
} detc_model_info;

enum { DETC_CHECKSUM_NONE = 0, DETC_CHECKSUM_PRESENT = 1, DETC_CHECKSUM_VERIFIED = 2 };

void detc_model_get_info(const detc_model *m, detc_model_info *info);
int detc_tensor_get_info(const detc_model *m, int tensor, detc_tensor_info *info);
int detc_node_get_info(const detc_model *m, int node, detc_node_info *info);
int detc_find_tensor(const detc_model *m, const char *name); /* -1 if absent */
int detc_input_tensor(const detc_model *m, int i);           /* i-th graph input's tensor index */
int detc_output_tensor(const detc_model *m, int i);
/* Node index at position `step` (0 .. n_nodes-1) of the topological order; folded nodes keep their place
 * there (detc_node_info.folded) but detc_run skips them and never calls the observer for them. */
int detc_node_order(const detc_model *m, int step);
const char *detc_label(const detc_model *m, int class_id);  /* NULL if none */

/* Changes a graph input's shape (same rank): every op's prepare step runs again for the new shapes and
 * memory is planned again. A no-op when the shape is unchanged. On failure the old shape is kept. */
int detc_model_set_input_shape(detc_model *m, int tensor, int rank, const int64_t *dims, detc_errors *errs);

/* ---- raw execution ---- */
/* Copies data into the graph input. dtype and shape must equal the declared ones exactly. */
int detc_set_input(detc_model *m, int tensor, const char *dtype, int rank, const int64_t *dims, const void *data,
                   size_t nbytes, detc_errors *errs);
/* Called after each executed node with that node's index; its outputs are readable with detc_tensor_data.
 * Folded nodes are not executed: their outputs are constants, readable at any time. */
typedef int (*detc_observer)(detc_model *m, int node, void *user);
int detc_run(detc_model *m, detc_observer observer, void *user, detc_errors *errs);
/* Pointer into the model's memory; valid until the next run (activations are reused). */
const void *detc_tensor_data(const detc_model *m, int tensor);
void detc_reset_profile(detc_model *m);

/* ---- detection ---- */
typedef struct {
    float x0, y0, x1, y1; /* original-image pixels */
    float score;
    int class_id;         /* index into the model's labels */
    const char *label;    /* NULL if the model has no labels */
    uint8_t *mask;        /* NULL, or image_height x image_width bytes of 0/1 */
} detc_detection;

typedef struct {
    int image_width, image_height;
    int count;
    detc_detection *items;
} detc_detections;

typedef struct {
    float threshold;     /* minimum score; 0: the pipeline's default (0.5; BlazeFace: its min_score_thresh);
                          * negative: every detection the model returns */
    const char *resize;  /* override the pipeline's resize mode ("nearest", "bilinear", "area_aa"), or NULL */
} detc_detect_options;

int detc_detect(detc_model *m, const detc_image *img, const detc_detect_options *opts, detc_detections *out,
                detc_errors *errs);
void detc_detections_free(detc_detections *d);
/* Fills the model's input from an image with the pipeline's preprocessing (no run). */
int detc_preprocess(detc_model *m, const detc_image *img, const detc_detect_options *opts, detc_errors *errs);
/* Boxes, labels and masks drawn onto img. */
void detc_draw_detections(detc_image *img, const detc_detections *d);

#ifdef __cplusplus
}
#endif
#endif

/* detc: object-detection inference runtime. The public C API, in one header.
 *
 * Life of a model:
 *   detc_model_load() / detc_model_load_memory()   validate every tensor and node, prepare, plan memory
 *   detc_context_new()                             per-caller state: activations, scratch, threads
 *   detc_context_detect()                          image pixels -> detections (pipeline from the file), or
 *   detc_context_set_input() + detc_context_run() + detc_context_tensor_data()   raw graph execution
 *   detc_context_free(), detc_model_free()
 *
 * Threads. A detc_model is read-only once loaded and may be shared by any number of threads: each thread
 * (or each request) uses its own detc_context. Functions taking a `const detc_model *` and detc_context_new
 * may be called concurrently on one model; functions taking a detc_context may be called concurrently on
 * different contexts, never on the same one. detc_model_free must not overlap anything else on that model,
 * and every context of a model must be freed before it. Kernel tables are chosen once per process.
 *
 * The calls without a context (detc_detect, detc_run, detc_set_input, ...) are a convenience for
 * one-thread programs: they use one default context that the model creates on first use. They must not be
 * called concurrently with each other on one model (contexts of that model may run meanwhile).
 *
 * Errors are values: every function that can fail takes an optional detc_errors list (code + message per
 * problem; NULL: no messages, same return codes) and returns non-zero / NULL. Loading reports every problem
 * found, not just the first.
 *
 * Layers: this header is the API of libdetc (the core: graph, ops, kernels, pipelines on pixel buffers;
 * no image file formats) and of libdetc-image (detc_image_read/write, detc_draw_detections: JPEG and PNG
 * through libjpeg-turbo and libpng). `pkg-config detc` links both, `pkg-config detc-core` the core only.
 */
#ifndef DETC_H
#define DETC_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) || defined(__clang__)
#define DETC_API __attribute__((visibility("default")))
#else
#define DETC_API
#endif

#define DETC_VERSION_MAJOR 0
#define DETC_VERSION_MINOR 2
#define DETC_VERSION_PATCH 0
#define DETC_VERSION_STRING "0.2.0"
/* The shared library's SONAME is libdetc.so.DETC_ABI_VERSION; it changes only when a compiled caller would
 * break (a removed function, a changed signature or struct layout). Option structs grow by appending. */
#define DETC_ABI_VERSION 1
#define DETC_FORMAT_VERSION 1

/* The library's own version at run time ("0.2.0"), which may differ from DETC_VERSION_STRING above when a
 * program runs against a newer shared library. */
DETC_API const char *detc_version(void);
/* DETC_ABI_VERSION of the running library. */
DETC_API int detc_abi_version(void);

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

DETC_API const char *detc_code_name(detc_code code);

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

DETC_API void detc_errors_init(detc_errors *errs);
DETC_API void detc_errors_free(detc_errors *errs);
/* Appends one problem; a NULL errs discards it. */
DETC_API void detc_errors_add(detc_errors *errs, detc_code code, int node, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

/* ---- element types ---- */
typedef enum {
    DETC_F32 = 0,
    DETC_F16,
    DETC_I8,
    DETC_U8,
    DETC_I16,
    DETC_I32,
    DETC_I64,
    DETC_F64,
    DETC_BOOL,
    DETC_DTYPE_COUNT,
    DETC_DTYPE_INVALID = -1
} detc_dtype;

DETC_API const char *detc_dtype_name(detc_dtype d);     /* "f32", ...; "invalid" for anything else */
DETC_API detc_dtype detc_dtype_parse(const char *name); /* DETC_DTYPE_INVALID if unknown */
DETC_API size_t detc_dtype_size(detc_dtype d);          /* bytes per element, 0 if invalid */
/* The .npy descriptor of a dtype ("<f4"; NULL if invalid), and the dtype of a descriptor of len bytes
 * (byte order '<', '|' or '='; DETC_DTYPE_INVALID for anything else, big-endian included). */
DETC_API const char *detc_dtype_npy(detc_dtype d);
DETC_API detc_dtype detc_dtype_from_npy(const char *descr, size_t len);

/* ---- images (pixel buffers) ---- */
#ifndef DETC_IMAGE_DEFINED
#define DETC_IMAGE_DEFINED
typedef struct {
    int width, height, channels; /* channels is 3 (RGB) for decoded images */
    uint8_t *pixels;             /* interleaved, row-major, owned */
} detc_image;
#endif

/* libdetc-image: JPEG/PNG files (recognised by content; written by extension .jpg/.jpeg/.png). */
DETC_API int detc_image_read(const char *path, detc_image *out, detc_errors *errs);
DETC_API int detc_image_write(const char *path, const detc_image *img, detc_errors *errs);
/* detc_image_read, then turned upright as the file's EXIF orientation says (JPEG APP1, PNG eXIf), as
 * viewers show it; *orientation (may be NULL) gets the orientation applied, 1..8 (1: none). */
DETC_API int detc_image_read_upright(const char *path, detc_image *out, int *orientation, detc_errors *errs);
DETC_API void detc_image_release(detc_image *img);

/* ---- models ---- */
typedef struct detc_model detc_model;
typedef struct detc_context detc_context;

/* Growing structs: `size` is sizeof the struct as the caller compiled it. The *_init functions set it and
 * the defaults; a zero `size` (a designated initialiser without it) is read as this first layout, so
 * callers written for ABI 1 keep working when later versions append fields. */
typedef struct {
    size_t size;
    int threads;       /* threads of the default context (the calls without a context); 0 or 1: one */
    int profile;       /* the default context records per-node timings */
    int no_reuse;      /* give every activation its own memory (debugging) */
    size_t max_memory; /* bytes one context may allocate for activations, plus the folded constants; 0: the
                        * machine's physical memory. A model beyond it is refused at load (DETC_ERR_NOMEM)
                        * instead of running out of memory later: a broken or hostile file can declare huge
                        * tensors. no_fold trades the folded constants for a larger arena. */
    int no_fold;       /* keep nodes whose inputs are all constants in the graph, run on every run, instead
                        * of evaluating them once at load. Environment: DETC_FOLD=0 does the same. */
    int verify;        /* check the data section against the file's CRC-32 ("data_crc32", written by
                        * detc-convert) and refuse the model on a mismatch. Reads every weight byte once:
                        * about 1.5-2 GB/s on one core (tens of ms for a 65 MB model). Files without a
                        * checksum load as before (detc_model_info.checksum says which). */
    int no_winograd;   /* float stride-1 3x3 convs, and quantized ones marked "winograd": "int16", as direct
                        * sums, not Winograd F(4x4, 3x3) (whose rounding differs: see ops/README.md; the int8
                        * direct sums are exact). Environment: DETC_WINOGRAD=0 does the same. */
} detc_options;

DETC_API void detc_options_init(detc_options *opts);

/* From a .detc file (mapped read-only). Concurrent loads are safe. */
DETC_API detc_model *detc_model_load(const char *path, const detc_options *opts, detc_errors *errs);
/* From bytes in memory (no file I/O): `data` must stay valid and unchanged until detc_model_free; it is
 * used in place when 64-byte aligned and copied otherwise. `name` prefixes messages (may be NULL). */
DETC_API detc_model *detc_model_load_memory(const void *data, size_t len, const char *name,
                                            const detc_options *opts, detc_errors *errs);
DETC_API void detc_model_free(detc_model *model);

/* Introspection (for `detc inspect`, tools and bindings). Strings live as long as the model. The model
 * forms describe the shapes of the default context (the declared ones until it changes them). */
typedef struct {
    const char *name;
    const char *dtype;      /* detc_dtype_name(type) */
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
    detc_dtype type;
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
    int folded;             /* evaluated once at load (inputs all constant); runs skip it */
} detc_node_info;

typedef struct {
    const char *name;
    const char *path;
    int n_tensors, n_nodes, n_inputs, n_outputs;
    size_t constant_bytes;  /* mapped weights */
    int n_folded;           /* nodes evaluated once at load (see detc_options.no_fold) */
    size_t folded_bytes;    /* heap bytes of the constants those nodes produced */
    size_t folded_source_bytes; /* mapped weights only folded nodes read (not needed after load) */
    size_t arena_bytes;     /* planned peak of activations + scratch: what each context allocates */
    size_t unplanned_bytes; /* sum of all activation + scratch sizes without reuse */
    int threads;            /* of the default context */
    const char *kernels;    /* name of the selected kernel table */
    const char *pipeline;   /* pipeline kind, or NULL */
    int n_labels;
    int checksum;           /* DETC_CHECKSUM_NONE (the file has none), _PRESENT (not checked), _VERIFIED */
} detc_model_info;

enum { DETC_CHECKSUM_NONE = 0, DETC_CHECKSUM_PRESENT = 1, DETC_CHECKSUM_VERIFIED = 2 };

DETC_API void detc_model_get_info(const detc_model *m, detc_model_info *info);
DETC_API int detc_tensor_get_info(const detc_model *m, int tensor, detc_tensor_info *info);
DETC_API int detc_node_get_info(const detc_model *m, int node, detc_node_info *info);
DETC_API int detc_find_tensor(const detc_model *m, const char *name); /* -1 if absent */
DETC_API int detc_input_tensor(const detc_model *m, int i);           /* i-th graph input's tensor index */
DETC_API int detc_output_tensor(const detc_model *m, int i);
/* Node index at position `step` (0 .. n_nodes-1) of the topological order; folded nodes keep their place
 * there (detc_node_info.folded) but runs skip them and never call the observer for them. */
DETC_API int detc_node_order(const detc_model *m, int step);
DETC_API const char *detc_label(const detc_model *m, int class_id); /* NULL if none */

/* ---- contexts: per-caller state ---- */
typedef struct detc_pool detc_pool; /* worker threads that several contexts may share */

/* threads >= 1 including the calling thread. A pool used by two contexts at once gives its workers to one
 * of them; the other computes on its calling thread alone (never waits for the first). */
DETC_API detc_pool *detc_pool_new(int threads);
DETC_API void detc_pool_free(detc_pool *pool);

typedef struct {
    size_t size;
    int threads;     /* own pool of this many threads (0 or 1: compute on the calling thread), unless pool */
    detc_pool *pool; /* borrowed; outlives the context */
    int profile;     /* record per-node timings (detc_context_node_info) */
} detc_context_options;

DETC_API void detc_context_options_init(detc_context_options *opts);
/* Allocates the activation arena (detc_model_info.arena_bytes) and the context's threads. */
DETC_API detc_context *detc_context_new(detc_model *m, const detc_context_options *opts, detc_errors *errs);
DETC_API void detc_context_free(detc_context *ctx);
DETC_API detc_model *detc_context_model(const detc_context *ctx);

/* Changes a graph input's shape (same rank) for this context: the graph is prepared and planned again for
 * the new shapes, once per distinct set of shapes (contexts with the same shapes share that work). A no-op
 * when the shape is unchanged. On failure the old shape is kept. */
DETC_API int detc_context_set_input_shape(detc_context *ctx, int tensor, int rank, const int64_t *dims,
                                          detc_errors *errs);
/* Copies data into a graph input. dtype and shape must equal the input's current ones exactly; the message
 * for a mismatch says how to convert (cast, normalise, add the batch axis, NCHW to NHWC, ...). */
DETC_API int detc_context_set_input(detc_context *ctx, int tensor, detc_dtype dtype, int rank, const int64_t *dims,
                                    const void *data, size_t nbytes, detc_errors *errs);
/* Called after each executed node; its outputs are readable with detc_context_tensor_data. Non-zero stops
 * the run. Folded nodes are not executed: their outputs are constants, readable at any time. */
typedef int (*detc_context_observer)(detc_context *ctx, int node, void *user);
DETC_API int detc_context_run(detc_context *ctx, detc_context_observer observer, void *user, detc_errors *errs);
/* Pointer into the context's memory (constants: the model's); valid until the next run or shape change. */
DETC_API const void *detc_context_tensor_data(const detc_context *ctx, int tensor);
/* As detc_tensor_get_info, with this context's current shapes. */
DETC_API int detc_context_tensor_info(const detc_context *ctx, int tensor, detc_tensor_info *info);
/* As detc_node_get_info, with this context's timings. */
DETC_API int detc_context_node_info(const detc_context *ctx, int node, detc_node_info *info);
DETC_API void detc_context_reset_profile(detc_context *ctx);
DETC_API size_t detc_context_arena_bytes(const detc_context *ctx);

/* ---- detection ---- */
typedef struct {
    float x0, y0, x1, y1; /* original-image pixels */
    float score;
    int class_id;         /* index into the model's labels */
    const char *label;    /* NULL if the model has no labels */
    /* Instance mask, box-local: NULL, or mask_width x mask_height bytes of 0/1 (row-major) covering image
     * pixels [mask_x, mask_x + mask_width) x [mask_y, mask_y + mask_height): the part of the image the
     * detection's mask can reach; every pixel outside it is 0. Paste it into a frame with detc_mask_paste. */
    uint8_t *mask;
    int mask_x, mask_y, mask_width, mask_height;
} detc_detection;

typedef struct {
    int image_width, image_height;
    int count;
    detc_detection *items;
} detc_detections;

typedef struct {
    size_t size;
    float threshold;     /* minimum score; 0: the pipeline's default (0.5; BlazeFace: its min_score_thresh);
                          * negative: every detection the model returns */
    const char *resize;  /* override the pipeline's resize mode ("nearest", "bilinear", "area_aa"), or NULL */
} detc_detect_options;

DETC_API void detc_detect_options_init(detc_detect_options *opts);
/* img: 8-bit RGB pixels (channels 3). */
DETC_API int detc_context_detect(detc_context *ctx, const detc_image *img, const detc_detect_options *opts,
                                 detc_detections *out, detc_errors *errs);
/* Fills the context's graph input from an image with the pipeline's preprocessing (no run). */
DETC_API int detc_context_preprocess(detc_context *ctx, const detc_image *img, const detc_detect_options *opts,
                                     detc_errors *errs);
DETC_API void detc_detections_free(detc_detections *d);

/* Writes `value` into frame (width x height bytes, row-major) wherever the detection's mask is 1; frame
 * pixels outside the mask are left as they are. Returns the number of pixels set, -1 for bad arguments. */
DETC_API long detc_mask_paste(const detc_detection *d, uint8_t *frame, int width, int height, uint8_t value);
/* The mask as a COCO run-length string over the whole width x height image (pycocotools' compressed
 * "counts"), computed from the box-local mask without a full-image buffer. malloc'ed; NULL when out of
 * memory or for bad arguments. */
DETC_API char *detc_mask_rle(const detc_detection *d, int width, int height);

/* libdetc-image: boxes, labels and masks drawn onto img (3 channels). */
DETC_API void detc_draw_detections(detc_image *img, const detc_detections *d);

/* ---- the default context (one-thread convenience) ---- */
DETC_API int detc_model_set_input_shape(detc_model *m, int tensor, int rank, const int64_t *dims,
                                        detc_errors *errs);
/* dtype by name ("f32", "u8", ...), as detc_dtype_name writes it. */
DETC_API int detc_set_input(detc_model *m, int tensor, const char *dtype, int rank, const int64_t *dims,
                            const void *data, size_t nbytes, detc_errors *errs);
typedef int (*detc_observer)(detc_model *m, int node, void *user);
DETC_API int detc_run(detc_model *m, detc_observer observer, void *user, detc_errors *errs);
DETC_API const void *detc_tensor_data(const detc_model *m, int tensor);
DETC_API void detc_reset_profile(detc_model *m);
DETC_API int detc_detect(detc_model *m, const detc_image *img, const detc_detect_options *opts,
                         detc_detections *out, detc_errors *errs);
DETC_API int detc_preprocess(detc_model *m, const detc_image *img, const detc_detect_options *opts,
                             detc_errors *errs);
/* The default context (created on first use; NULL when out of memory). */
DETC_API detc_context *detc_model_default_context(detc_model *m, detc_errors *errs);

#ifdef __cplusplus
}
#endif
#endif

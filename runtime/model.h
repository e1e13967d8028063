/* The loaded model and the per-caller context. Internal to runtime/ and models/.
 *
 *   detc_model     read-only after load, shared by threads: the file's bytes, the parsed header, labels,
 *                  the pipeline, and the graph prepared for the declared input shapes (the base instance)
 *   detc_instance  the graph prepared for one set of input shapes: op data (packed filters, ...), folded
 *                  constants, run order, memory plan. Immutable once built; contexts with those shapes
 *                  share it (the model keeps a list, guarded by its lock)
 *   detc_context   one caller's state: its own tensor table whose activations point into its own arena,
 *                  its threads, its profile counters, the pipeline's working memory
 */
#ifndef DETC_MODEL_H
#define DETC_MODEL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "detc.h"
#include "graph.h"
#include "kernels.h"
#include "threadpool.h"

struct cJSON;
struct detc_pipeline;

typedef struct detc_instance {
    detc_graph g;          /* tensors' data: constants (mapped or folded); activations have arena_offset only */
    size_t arena_bytes, unplanned_bytes;
    size_t dropped_bytes;  /* mapped weight bytes given back to the OS once this instance was ready */
    int refs;              /* contexts using it (under the model's lock) */
    struct detc_instance *next;
} detc_instance;

struct detc_model {
    char *path;            /* for messages and info: the file, or the name given to detc_model_load_memory */
    const uint8_t *map;    /* the whole file, read-only */
    size_t map_len;
    bool mapped;           /* map came from mmap (munmap on free) */
    uint8_t *owned;        /* an aligned copy of unaligned caller bytes (free on free) */
    const uint8_t *data;   /* data section */
    uint64_t data_len;
    struct cJSON *json;
    detc_options opts;
    const detc_kernels *kernels;
    size_t constant_bytes;
    const char **labels;   /* into the JSON tree */
    int n_labels;
    const struct cJSON *pipeline_json;
    struct detc_pipeline *pipeline;                 /* built by models/ at load; NULL when the file has none */
    void (*pipeline_free)(struct detc_pipeline *p); /* set with it (the engine does not call models/) */
    const char *pipeline_name;
    detc_instance *base;   /* declared input shapes */
    detc_instance *shapes; /* other input shapes in use by contexts */
    pthread_mutex_t lock;  /* guards `shapes` and every instance's refs */
    bool lock_ready;
    struct detc_context *default_ctx;
    int checksum;          /* DETC_CHECKSUM_*: the data section's CRC-32 (runtime/checksum.c) */
    /* Set by the loader of a mapped file: called when an instance is ready, it gives the pages of the constants
     * detc_unread_constants lists back to the OS (runtime/api/load.c). NULL: keep everything. */
    size_t (*drop_unread)(const struct detc_model *m, const detc_graph *g); /* returns the bytes given back */
};

struct detc_context {
    detc_model *model;
    detc_instance *inst;
    detc_graph g;          /* inst->g with this context's tensor table: activations point into arena */
    uint8_t *arena;
    size_t arena_cap;
    detc_threadpool *pool;
    bool own_pool;
    bool profile;
    double *node_us;       /* per node, when profiling */
    int *node_calls;
    void *pipeline_work;   /* the pipeline kind's per-context working memory, made on first detect */
    void (*pipeline_work_free)(void *work);
};

/* Internal pool type behind the public detc_pool. */
struct detc_pool {
    detc_threadpool *tp;
};

/* ---- model (runtime/model.c) ---- */
/* Parses and validates m->map (set by the caller), selects kernels and builds the base instance; reports
 * every problem. The pipeline is loaded afterwards by the API layer. */
int detc_model_build(detc_model *m, detc_errors *errs);
/* Folds constants and plans memory for the base instance (after the pipeline was checked). */
int detc_model_finish(detc_model *m, detc_errors *errs);
/* Frees everything the engine built (not the pipeline: m->pipeline_free does). */
void detc_model_release(detc_model *m);
/* The instance for these input dims (one per graph input, in graph-input order; ranks as declared): an
 * existing one with a reference added, or a new one built under the model's lock. */
detc_instance *detc_instance_acquire(detc_model *m, const int32_t (*input_dims)[DETC_MAX_RANK], detc_errors *errs);
void detc_instance_release(detc_model *m, detc_instance *inst);

/* Bytes a context may allocate beside the model (detc_options.max_memory, else physical memory). */
size_t detc_memory_limit(const detc_model *m);

/* Calls fn(data, bytes, ctx) for each constant of g that lies in m's data section and that no node run after
 * load reads (folded-only inputs, and inputs every reader copied at prepare: detc_prep_copied_input). */
typedef void (*detc_bytes_fn)(const void *data, size_t bytes, void *ctx);
void detc_unread_constants(const detc_model *m, const detc_graph *g, detc_bytes_fn fn, void *ctx);

/* Memory plan (runtime/planner.c): arena offsets for activations and scratch buffers of one instance. */
int detc_plan_memory(const detc_model *m, detc_instance *inst, detc_errors *errs);

/* ---- contexts (runtime/context.c) ---- */
/* Copies a caller's growing options struct (its first member is `size_t size`) over dst's defaults, as far
 * as the caller's struct goes; a zero size reads the first layout, which is dst_size (ABI 1). */
void detc_struct_read(void *dst, size_t dst_size, const void *src);
/* The default context of the one-thread calls, created on first use. */
detc_context *detc_default_context(detc_model *m, detc_errors *errs);
/* The graph as the caller sees it: the default context's when it exists, else the base instance's. */
const detc_graph *detc_model_view(const detc_model *m);

#endif

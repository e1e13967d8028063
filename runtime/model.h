/* The loaded model: mapped file, parsed header, graph, memory plan. Internal to runtime/ and models/. */
#ifndef DETC_MODEL_H
#define DETC_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "detc.h"
#include "graph.h"
#include "kernels.h"
#include "threadpool.h"

struct cJSON;
struct detc_pipeline;

struct detc_model {
    char *path;
    const uint8_t *map;   /* whole file, read-only */
    size_t map_len;
    const uint8_t *data;  /* data section */
    uint64_t data_len;
    struct cJSON *json;
    detc_graph g;
    detc_options opts;
    detc_threadpool *pool;
    const detc_kernels *kernels;
    uint8_t *arena;
    size_t arena_bytes, unplanned_bytes, constant_bytes;
    const char **labels;  /* into the JSON tree */
    int n_labels;
    const struct cJSON *pipeline_json;
    struct detc_pipeline *pipeline; /* built by models/ at load; NULL when the file has none */
    int checksum;         /* DETC_CHECKSUM_*: the data section's CRC-32 (runtime/checksum.c) */
};

/* Bytes the model may allocate beside its mapped file (detc_options.max_memory, else physical memory). */
size_t detc_memory_limit(const detc_model *m);

/* Memory plan (runtime/planner.c): assigns arena offsets to activations and scratch buffers. */
int detc_plan_memory(detc_model *m, detc_errors *errs);

/* Model pipelines (models/pipeline.c): validate the file's "pipeline" against the graph at load time. */
int detc_pipeline_load(detc_model *m, detc_errors *errs);
void detc_pipeline_free(struct detc_pipeline *p);
const char *detc_pipeline_name(const detc_model *m); /* NULL without a pipeline */

#endif

/* Runs one op in isolation: a one-node detc_graph built in memory (tensors with dtype, shape,
 * quantization and data; a node with attributes parsed from JSON), then prepare, output and scratch
 * allocation (64-byte aligned), and eval. Used by the op tests. */
#ifndef DETC_OP_HARNESS_H
#define DETC_OP_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "graph.h"

#define OH_MAX_TENSORS 16

typedef struct {
    detc_graph g;
    detc_node node;
    detc_tensor tensors[OH_MAX_TENSORS];
    char names[OH_MAX_TENSORS][32];
    int inputs[OH_MAX_TENSORS], outputs[OH_MAX_TENSORS];
    struct cJSON *attrs;
    detc_errors errs;
    bool prepared;
    const char *kernels; /* kernel table name for eval; NULL = the best this CPU runs */
    bool no_winograd;    /* detc_prep.no_winograd: conv2d without Winograd */
    void *scratch;
} oh_case;

/* attrs_json may be NULL. Returns false when the op is unknown or the JSON does not parse. */
bool oh_init(oh_case *c, const char *op_name, const char *attrs_json);
void oh_free(oh_case *c);

/* Adds an input tensor (data copied into 64-byte aligned memory; NULL data leaves it zeroed). */
int oh_input(oh_case *c, detc_dtype dtype, int rank, const int32_t *dims, const void *data, bool constant);
void oh_omit_input(oh_case *c);
/* Adds an output; dtype DETC_DTYPE_INVALID leaves it undeclared (inferred by prepare). */
int oh_output(oh_case *c, detc_dtype dtype);
/* Per-tensor (count 1, axis -1) or per-channel quantization of tensor t. */
void oh_quant(oh_case *c, int t, int count, int axis, const float *scales, const int32_t *zero_points);
void oh_quant1(oh_case *c, int t, float scale, int32_t zero_point);

/* Runs prepare; true when it reported no problem. */
bool oh_prepare(oh_case *c);
/* True if some reported problem has this code and its message contains every non-NULL needle. */
bool oh_has_error(const oh_case *c, detc_code code, const char *needle, const char *needle2);
void oh_print_errors(const oh_case *c);

/* Allocates outputs and scratch, then runs eval with `threads` workers (1 = inline). */
detc_code oh_eval(oh_case *c, int threads);
void *oh_data(oh_case *c, int t);
detc_tensor *oh_tensor(oh_case *c, int t);

/* ---- fixtures: a whole case as data (see tests/gen_op_refs.py) ---- */
typedef struct {
    const char *dtype;
    int rank;
    int32_t dims[DETC_MAX_RANK];
    const void *data;
    int qcount, qaxis;
    const float *scales;
    const int32_t *zero_points;
    bool constant, undeclared, omitted;
} oh_fixture_tensor;

typedef struct {
    const char *name, *op, *attrs;
    const char *ref; /* the independent reference and the tolerance the comparison uses */
    double tol_abs, tol_rel; /* f32 outputs: |got - want| <= tol_abs + tol_rel * |want|; others exact */
    int n_inputs, n_outputs;
    oh_fixture_tensor inputs[8], outputs[4];
} oh_fixture;

/* Builds, prepares and evaluates the fixture with `threads` workers and the named kernel table (NULL: best),
 * compares every output.
 * Returns the number of problems (printed). */
int oh_run_fixture(const oh_fixture *f, int threads, const char *kernels);

#endif

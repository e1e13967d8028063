/* Internal model representation: tensors, nodes, ops and the contexts ops see.
 * Ops include this header (and quant.h, threadpool.h, kernels.h as needed), nothing else of the runtime. */
#ifndef DETC_GRAPH_H
#define DETC_GRAPH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "detc.h"
#include "dtype.h"

struct cJSON;
struct detc_threadpool;
struct detc_kernels;

#define DETC_MAX_RANK 6

typedef struct {
    int count;          /* 0: none, 1: per tensor, >1: per channel */
    int axis;           /* -1 per tensor */
    float *scale;       /* count entries, owned */
    int32_t *zero_point;
} detc_quant;

typedef enum { DETC_TENSOR_CONSTANT, DETC_TENSOR_INPUT, DETC_TENSOR_ACTIVATION } detc_tensor_kind;

typedef struct detc_tensor {
    const char *name; /* owned by the JSON tree */
    detc_dtype dtype;
    int rank;
    int32_t dims[DETC_MAX_RANK];
    bool shape_known;    /* declared (constants, inputs) or inferred by prepare */
    bool shape_declared; /* the file gave a shape; inferred shapes must equal it */
    int declared_rank;
    int32_t declared_dims[DETC_MAX_RANK];
    detc_quant quant;
    detc_tensor_kind kind;
    bool folded;         /* computed at load time by a folded node: kind is CONSTANT, data is heap memory owned
                          * by the model (freed on unload); producer still names that node */
    bool is_output;
    bool poisoned;       /* its definition is broken: consumers skip their checks to avoid cascades */
    int producer;        /* node index, -1 for constants and inputs */
    void *data;          /* constants: into the mapped file (folded ones: the heap); others: into the arena */
    size_t nbytes;
    uint64_t file_offset;  /* constants */
    size_t arena_offset;
    bool in_arena;       /* the memory plan gave it arena_offset (unused activations get no memory) */
    int first_step, last_step; /* lifetime in execution steps, for the memory plan */
} detc_tensor;

typedef struct detc_node {
    int index;
    const char *name;
    const char *op_name;
    const struct detc_op *op;
    int n_inputs, n_outputs;
    int *inputs;  /* tensor indices; -1 = omitted optional operand */
    int *outputs;
    const struct cJSON *attrs; /* may be NULL */
    void *op_data;             /* whatever prepare computed for eval; freed by op->release or free() */
    size_t scratch_bytes;      /* asked for by prepare; lifetime = this node's eval */
    size_t scratch_offset;
    double total_us;
    int calls;
    bool invalid;              /* structurally broken (reported at load); never prepared or run */
    bool folded;               /* its inputs are constants: evaluated once at load, its outputs made constants;
                                * not in the run order, op_data released */
    uint32_t copied_inputs;    /* bit k: prepare copied constant input k into op_data (a packed filter) and
                                * eval, with the table prepare was given, reads only that copy */
} detc_node;

typedef struct detc_graph {
    const char *model_name;   /* file name used as the message prefix */
    int n_tensors, n_nodes;
    detc_tensor *tensors;
    detc_node *nodes;
    int *order;               /* topological order of node indices (every node, folded ones included) */
    int *run_order;           /* the nodes detc_run executes: `order` without the folded ones */
    int n_run;
    int n_folded;             /* nodes evaluated at load time */
    size_t folded_bytes;      /* heap bytes of the constants they produced */
    size_t folded_source_bytes; /* mapped constants read by folded nodes and by no executed node */
    int n_inputs, n_outputs;
    int *inputs, *outputs;    /* tensor indices */
} detc_graph;

/* What prepare sees: the node, the graph, and where to report. */
typedef struct detc_prep {
    detc_graph *g;
    detc_node *node;
    detc_errors *errs;
    bool failed;
    const struct detc_kernels *kernels; /* the table eval will run with: ops that lay out constants for a
                                         * kernel (conv2d packs its filter) read it; NULL = portable */
    bool no_winograd;                   /* conv2d: no Winograd transforms (detc_options.no_winograd) */
} detc_prep;

/* What eval sees. */
typedef struct detc_exec {
    detc_graph *g;
    struct detc_threadpool *pool;
    const struct detc_kernels *kernels;
    void *scratch; /* node->scratch_bytes bytes, 64-byte aligned */
} detc_exec;

typedef struct detc_op {
    const char *name;
    int min_inputs, max_inputs;
    int n_outputs;
    /* Validate operands and attributes, set every output's dtype/shape/quant (detc_prep_set_output),
     * fill node->op_data and node->scratch_bytes. Report every problem via detc_prep_error; return false if any. */
    bool (*prepare)(detc_prep *p);
    /* Compute. Returns DETC_OK or an error code (runtime failures only: everything checkable was checked). */
    detc_code (*eval)(const detc_exec *x, detc_node *node);
    void (*release)(void *op_data); /* optional; default free() */
    /* Bit k set: eval never reads input k's data, only its shape (fixed by prepare). When every other
     * input is a constant the node is folded at load time like a node whose inputs are all constants. */
    uint32_t shape_only_inputs;
} detc_op;

const detc_op *detc_op_find(const char *name);
void detc_op_names(char *out, size_t out_len); /* for "known ops are: ..." */

/* ---- tensor helpers ---- */
int64_t detc_tensor_count(const detc_tensor *t);      /* element count */
bool detc_tensor_is_quantized(const detc_tensor *t);  /* quantizable dtype with quant */
void detc_shape_str(int rank, const int32_t *dims, char *out, size_t out_len); /* "[1, 300, 300, 3]" */
static inline detc_tensor *detc_in(const detc_graph *g, const detc_node *n, int i)
{
    return (i < n->n_inputs && n->inputs[i] >= 0) ? &g->tensors[n->inputs[i]] : NULL;
}
static inline detc_tensor *detc_out(const detc_graph *g, const detc_node *n, int i)
{
    return &g->tensors[n->outputs[i]];
}

/* ---- prepare helpers: each reports a complete message and returns false on a problem ---- */
/* Message prefix is "MODEL: node N 'NAME' (OP): ". */
void detc_prep_error(detc_prep *p, detc_code code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
/* "input 1 'conv/weights' (constant)" / "input 0 'x' (from node 3 'relu' (conv2d))" */
void detc_prep_operand_desc(detc_prep *p, int slot, char *out, size_t out_len);
detc_tensor *detc_prep_in(detc_prep *p, int slot);   /* NULL if omitted */
bool detc_prep_require_input(detc_prep *p, int slot, const char *role);
bool detc_prep_dtype(detc_prep *p, int slot, uint32_t allowed, const char *fix);
bool detc_prep_rank(detc_prep *p, int slot, int rank_min, int rank_max);
bool detc_prep_constant(detc_prep *p, int slot, const char *why);
/* Prepare laid out constant input `slot` in op_data and eval reads only that copy (with p->kernels): the
 * loader may give the mapped pages back to the OS (a later read still sees the file's bytes). */
void detc_prep_copied_input(detc_prep *p, int slot);
/* Sets output `slot`: dtype and shape as inferred; quant copied from q, or (when q is NULL and dtype is
 * quantizable and the output needs quantization) taken from the file's declaration. Checks the inferred
 * values against what the file declared for that tensor. need_quant: the op's output must be quantized. */
bool detc_prep_set_output(detc_prep *p, int slot, detc_dtype dtype, int rank, const int32_t *dims,
                          const detc_quant *q, bool need_quant);

/* Attributes. A missing optional attribute yields the default; a present one must be well typed and in range. */
bool detc_attr_int(detc_prep *p, const char *name, bool required, int64_t def, int64_t min, int64_t max,
                   int64_t *out);
bool detc_attr_float(detc_prep *p, const char *name, bool required, double def, double min, double max,
                     double *out);
bool detc_attr_bool(detc_prep *p, const char *name, bool def, bool *out);
/* Integer list: exactly `n` entries (n >= 0) or 1..max_n entries (n < 0, count returned in *count). */
bool detc_attr_ints(detc_prep *p, const char *name, bool required, int n, int max_n, const int64_t *def,
                    int64_t min, int64_t max, int64_t *out, int *count);
/* One of the strings in `choices` (NULL-terminated); *out = its index. */
bool detc_attr_enum(detc_prep *p, const char *name, bool required, int def, const char *const *choices,
                    int *out);
const struct cJSON *detc_attr_get(detc_prep *p, const char *name);

/* Shared by conv-like ops: parsed "padding" attribute. */
typedef struct {
    int top, left, bottom, right;
} detc_pads;
typedef enum { DETC_ACT_NONE, DETC_ACT_RELU, DETC_ACT_RELU6, DETC_ACT_RELU_N1_TO_1 } detc_activation;
bool detc_attr_activation(detc_prep *p, detc_activation *out);
/* Parses padding ("same"/"valid"/[t,l,b,r]) and computes the output size of one spatial dim. The window
 * slides over the node's input 0 (named when it does not fit). */
bool detc_attr_padding(detc_prep *p, int in_h, int in_w, int k_h, int k_w, int s_h, int s_w, int d_h, int d_w,
                       detc_pads *pads, int *out_h, int *out_w);

#endif

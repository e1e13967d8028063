/* Running the graph: a context's nodes in run order, each op's eval on the context's planned memory. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "model.h"

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static void dims_str(int rank, const int64_t *dims, char *out, size_t out_len)
{
    size_t used = (size_t)snprintf(out, out_len, "[");
    for (int i = 0; i < rank && i < 8 && used < out_len; i++)
        used += (size_t)snprintf(out + used, out_len - used, "%s%lld", i ? ", " : "", (long long)dims[i]);
    if (rank > 8 && used < out_len)
        used += (size_t)snprintf(out + used, out_len - used, ", ...");
    if (used < out_len)
        snprintf(out + used, out_len - used, "]");
}

/* How to turn what the caller has into what the input takes: the usual mix-ups, each with its fix. */
static const char *input_hint(const detc_tensor *t, detc_dtype d, int rank, const int64_t *dims, char *buf,
                              size_t len)
{
    bool quantized = detc_tensor_is_quantized(t);
    if (rank == t->rank - 1 && t->rank >= 2 && t->dims[0] == 1) {
        bool rest = true;
        for (int i = 0; i < rank; i++)
            rest = rest && dims[i] == t->dims[i + 1];
        if (rest)
            return " The batch axis is missing: add it (numpy: x[None], or x.reshape(1, *x.shape)).";
    }
    if (rank == 4 && t->rank == 4 && dims[0] == t->dims[0] && dims[1] == t->dims[3] && dims[2] == t->dims[1] &&
        dims[3] == t->dims[2] && dims[1] != dims[3]) {
        snprintf(buf, len,
                 " The array is in NCHW order (channels first, as PyTorch writes it); detc inputs are NHWC: "
                 "transpose it (numpy: x.transpose(0, 2, 3, 1))%s.",
                 d != t->dtype ? ", and convert its dtype as well" : "");
        return buf;
    }
    if (d == t->dtype)
        return "";
    if (t->dtype == DETC_F32 && d == DETC_F64)
        return " Cast it to float32 (numpy: x.astype(np.float32)); detc computes in f32.";
    if (t->dtype == DETC_F32 && (d == DETC_U8 || d == DETC_I8))
        return " The model takes float input: convert the 8-bit pixels to float32 and normalise them as its "
               "pipeline says ((pixel - mean) / std; `detc inspect` shows them), or use `detc detect`, which does it.";
    if (t->dtype == DETC_F32 && (d == DETC_I32 || d == DETC_I64 || d == DETC_I16))
        return " Integer arrays are not converted implicitly: cast it to float32 (numpy: x.astype(np.float32)) "
               "after scaling it as the model expects.";
    if (quantized && (d == DETC_F32 || d == DETC_F64)) {
        snprintf(buf, len,
                 " The model is quantized: give raw %s values (q = round(real / %g) + %d, clamped), or use "
                 "`detc detect`, which applies the model's preprocessing.",
                 detc_dtype_name(t->dtype), (double)t->quant.scale[0], (int)t->quant.zero_point[0]);
        return buf;
    }
    if ((t->dtype == DETC_U8 || t->dtype == DETC_I8) && d != t->dtype) {
        snprintf(buf, len, " Give %s values (numpy: x.astype(np.%s)) in the range the model was quantized for.",
                 detc_dtype_name(t->dtype), t->dtype == DETC_U8 ? "uint8" : "int8");
        return buf;
    }
    return "";
}

int detc_context_set_input(detc_context *c, int tensor, detc_dtype d, int rank, const int64_t *dims,
                           const void *data, size_t nbytes, detc_errors *errs)
{
    if (!c) {
        detc_errors_add(errs, DETC_ERR_ARG, -1, "detc_context_set_input: no context given");
        return -1;
    }
    const detc_graph *g = &c->g;
    if (tensor < 0 || tensor >= g->n_tensors || g->tensors[tensor].kind != DETC_TENSOR_INPUT) {
        detc_errors_add(errs, DETC_ERR_ARG, -1, "%s: tensor %d is not a graph input", g->model_name, tensor);
        return -1;
    }
    if (rank < 0 || (rank > 0 && !dims) || (nbytes && !data)) {
        detc_errors_add(errs, DETC_ERR_ARG, -1, "%s: detc_context_set_input: no dims or no data given",
                        g->model_name);
        return -1;
    }
    detc_tensor *t = &g->tensors[tensor];
    bool same_shape = rank == t->rank;
    for (int i = 0; same_shape && i < rank; i++)
        same_shape = dims[i] == t->dims[i];
    if (d != t->dtype || !same_shape) {
        char want[128], got[128], hint[400];
        detc_shape_str(t->rank, t->dims, want, sizeof want);
        dims_str(rank, dims, got, sizeof got);
        detc_errors_add(errs, DETC_ERR_INPUT, -1, "%s: input '%s' expects %s %s%s, but was given %s %s.%s",
                        g->model_name, t->name, detc_dtype_name(t->dtype), want,
                        detc_tensor_is_quantized(t) ? " (quantized)" : "",
                        d == DETC_DTYPE_INVALID ? "(unknown dtype)" : detc_dtype_name(d), got,
                        input_hint(t, d, rank, dims, hint, sizeof hint));
        return -1;
    }
    if (nbytes != t->nbytes) {
        detc_errors_add(errs, DETC_ERR_INPUT, -1, "%s: input '%s' needs %zu bytes, was given %zu", g->model_name,
                        t->name, t->nbytes, nbytes);
        return -1;
    }
    if (!t->data) {
        detc_errors_add(errs, DETC_ERR_RUNTIME, -1, "%s: input '%s' has no memory", g->model_name, t->name);
        return -1;
    }
    detc_threadpool_wake(c->pool); /* a run follows: start waking the workers while the input is copied */
    memcpy(t->data, data, nbytes);
    return 0;
}

int detc_context_run(detc_context *c, detc_context_observer observer, void *user, detc_errors *errs)
{
    if (!c) {
        detc_errors_add(errs, DETC_ERR_ARG, -1, "detc_context_run: no context given");
        return -1;
    }
    detc_graph *g = &c->g;
    detc_exec x = {.g = g, .pool = c->pool, .kernels = c->model->kernels};
    detc_threadpool_wake(c->pool); /* the workers slept through the caller's pause since the last run */
    for (int s = 0; s < g->n_run; s++) { /* folded nodes ran once at load */
        detc_node *n = &g->nodes[g->run_order[s]];
        x.scratch = n->scratch_bytes ? c->arena + n->scratch_offset : NULL;
        double t0 = c->profile ? now_us() : 0.0;
        detc_code rc = n->op->eval(&x, n);
        if (c->profile) {
            c->node_us[n->index] += now_us() - t0;
            c->node_calls[n->index]++;
        }
        if (rc != DETC_OK) {
            detc_errors_add(errs, rc, n->index, "%s: node %d '%s' (%s) failed while computing (%s)", g->model_name,
                            n->index, n->name, n->op_name, detc_code_name(rc));
            return -1;
        }
        if (observer && observer(c, n->index, user) != 0) {
            detc_errors_add(errs, DETC_ERR_RUNTIME, n->index, "%s: stopped after node %d '%s' by the caller",
                            g->model_name, n->index, n->name);
            return -1;
        }
    }
    return 0;
}

const void *detc_context_tensor_data(const detc_context *c, int tensor)
{
    if (!c || tensor < 0 || tensor >= c->g.n_tensors)
        return NULL;
    return c->g.tensors[tensor].data;
}

void detc_context_reset_profile(detc_context *c)
{
    if (!c || !c->node_us)
        return;
    memset(c->node_us, 0, (size_t)c->g.n_nodes * sizeof *c->node_us);
    memset(c->node_calls, 0, (size_t)c->g.n_nodes * sizeof *c->node_calls);
}

/* ---- introspection ---- */

static int tensor_info(const detc_graph *g, int tensor, detc_tensor_info *info)
{
    if (!g || !info || tensor < 0 || tensor >= g->n_tensors)
        return -1;
    const detc_tensor *t = &g->tensors[tensor];
    *info = (detc_tensor_info){
        .name = t->name,
        .dtype = detc_dtype_name(t->dtype),
        .type = t->dtype,
        .rank = t->rank,
        .dims = t->dims,
        .is_constant = t->kind == DETC_TENSOR_CONSTANT,
        .is_input = t->kind == DETC_TENSOR_INPUT,
        .is_output = t->is_output,
        .is_folded = t->folded,
        .quant_count = t->quant.count,
        .quant_axis = t->quant.axis,
        .scale = t->quant.scale,
        .zero_point = t->quant.zero_point,
        .nbytes = t->nbytes,
        .producer = t->producer,
    };
    return 0;
}

static int node_info(const detc_graph *g, const detc_context *c, int node, detc_node_info *info)
{
    if (!g || !info || node < 0 || node >= g->n_nodes)
        return -1;
    const detc_node *n = &g->nodes[node];
    *info = (detc_node_info){
        .name = n->name,
        .op = n->op_name,
        .n_inputs = n->n_inputs,
        .n_outputs = n->n_outputs,
        .inputs = n->inputs,
        .outputs = n->outputs,
        .scratch_bytes = n->scratch_bytes,
        .total_us = c && c->node_us ? c->node_us[node] : 0.0,
        .calls = c && c->node_calls ? c->node_calls[node] : 0,
        .folded = n->folded,
    };
    return 0;
}

int detc_context_tensor_info(const detc_context *c, int tensor, detc_tensor_info *info)
{
    return tensor_info(c ? &c->g : NULL, tensor, info);
}

int detc_context_node_info(const detc_context *c, int node, detc_node_info *info)
{
    return node_info(c ? &c->g : NULL, c, node, info);
}

void detc_model_get_info(const detc_model *m, detc_model_info *info)
{
    if (!info)
        return;
    memset(info, 0, sizeof *info);
    if (!m)
        return;
    const detc_graph *g = detc_model_view(m);
    const detc_context *c = m->default_ctx;
    const detc_instance *inst = c ? c->inst : m->base;
    info->name = g->model_name;
    info->path = m->path;
    info->n_tensors = g->n_tensors;
    info->n_nodes = g->n_nodes;
    info->n_inputs = g->n_inputs;
    info->n_outputs = g->n_outputs;
    info->constant_bytes = m->constant_bytes;
    info->n_folded = g->n_folded;
    info->folded_bytes = g->folded_bytes;
    info->folded_source_bytes = g->folded_source_bytes;
    info->arena_bytes = inst->arena_bytes;
    info->unplanned_bytes = inst->unplanned_bytes;
    info->threads = c ? detc_threadpool_size(c->pool) : (m->opts.threads > 1 ? m->opts.threads : 1);
    info->kernels = m->kernels ? m->kernels->name : "none";
    info->n_labels = m->n_labels;
    info->pipeline = m->pipeline_name;
    info->checksum = m->checksum;
}

int detc_tensor_get_info(const detc_model *m, int tensor, detc_tensor_info *info)
{
    return tensor_info(m ? detc_model_view(m) : NULL, tensor, info);
}

int detc_node_get_info(const detc_model *m, int node, detc_node_info *info)
{
    return node_info(m ? detc_model_view(m) : NULL, m ? m->default_ctx : NULL, node, info);
}

int detc_find_tensor(const detc_model *m, const char *name)
{
    const detc_graph *g = m ? detc_model_view(m) : NULL;
    for (int i = 0; g && name && i < g->n_tensors; i++)
        if (strcmp(g->tensors[i].name, name) == 0)
            return i;
    return -1;
}

int detc_input_tensor(const detc_model *m, int i)
{
    const detc_graph *g = m ? detc_model_view(m) : NULL;
    return g && i >= 0 && i < g->n_inputs ? g->inputs[i] : -1;
}

int detc_output_tensor(const detc_model *m, int i)
{
    const detc_graph *g = m ? detc_model_view(m) : NULL;
    return g && i >= 0 && i < g->n_outputs ? g->outputs[i] : -1;
}

int detc_node_order(const detc_model *m, int step)
{
    const detc_graph *g = m ? detc_model_view(m) : NULL;
    return g && step >= 0 && step < g->n_nodes ? g->order[step] : -1;
}

const char *detc_label(const detc_model *m, int class_id)
{
    return m && class_id >= 0 && class_id < m->n_labels ? m->labels[class_id] : NULL;
}

/* Running the graph: nodes in topological order, each op's eval on its planned memory. */
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

int detc_set_input(detc_model *m, int tensor, const char *dtype, int rank, const int64_t *dims, const void *data,
                   size_t nbytes, detc_errors *errs)
{
    const detc_graph *g = &m->g;
    if (tensor < 0 || tensor >= g->n_tensors || g->tensors[tensor].kind != DETC_TENSOR_INPUT) {
        detc_errors_add(errs, DETC_ERR_ARG, -1, "%s: tensor %d is not a graph input", g->model_name, tensor);
        return -1;
    }
    detc_tensor *t = &g->tensors[tensor];
    char want[128];
    detc_shape_str(t->rank, t->dims, want, sizeof want);
    detc_dtype d = detc_dtype_parse(dtype ? dtype : "");
    bool same_shape = rank == t->rank;
    for (int i = 0; same_shape && i < rank; i++)
        same_shape = dims[i] == t->dims[i];
    if (d != t->dtype || !same_shape) {
        char got[128] = "[";
        size_t used = 1;
        for (int i = 0; i < rank && i < 8 && used < sizeof got; i++) {
            int w = snprintf(got + used, sizeof got - used, "%s%lld", i ? ", " : "", (long long)dims[i]);
            if (w < 0)
                break;
            used += (size_t)w;
        }
        if (used < sizeof got - 1)
            strcat(got, "]");
        const char *hint = "";
        if (d == DETC_F32 && detc_tensor_is_quantized(t))
            hint = " The model is quantized: give raw quantized values (real = scale * (q - zero_point)), or use "
                   "`detc detect`, which applies the model's preprocessing.";
        else if ((d == DETC_U8 || d == DETC_I8) && t->dtype == DETC_F32)
            hint = " The model takes float input: normalise the pixels as its pipeline says, or use `detc detect`.";
        detc_errors_add(errs, DETC_ERR_INPUT, -1,
                        "%s: input '%s' expects %s %s%s, but was given %s %s.%s", g->model_name, t->name,
                        detc_dtype_name(t->dtype), want, detc_tensor_is_quantized(t) ? " (quantized)" : "",
                        dtype ? dtype : "(none)", got, hint);
        return -1;
    }
    if (nbytes != t->nbytes) {
        detc_errors_add(errs, DETC_ERR_INPUT, -1, "%s: input '%s' needs %zu bytes, was given %zu", g->model_name,
                        t->name, t->nbytes, nbytes);
        return -1;
    }
    memcpy(t->data, data, nbytes);
    return 0;
}

int detc_run(detc_model *m, detc_observer observer, void *user, detc_errors *errs)
{
    detc_graph *g = &m->g;
    detc_exec x = {.g = g, .pool = m->pool, .kernels = m->kernels};
    for (int s = 0; s < g->n_run; s++) { /* folded nodes ran once at load */
        detc_node *n = &g->nodes[g->run_order[s]];
        x.scratch = n->scratch_bytes ? m->arena + n->scratch_offset : NULL;
        double t0 = m->opts.profile ? now_us() : 0.0;
        detc_code rc = n->op->eval(&x, n);
        if (m->opts.profile) {
            n->total_us += now_us() - t0;
            n->calls++;
        }
        if (rc != DETC_OK) {
            detc_errors_add(errs, rc, n->index, "%s: node %d '%s' (%s) failed while computing (%s)", g->model_name,
                            n->index, n->name, n->op_name, detc_code_name(rc));
            return -1;
        }
        if (observer && observer(m, n->index, user) != 0) {
            detc_errors_add(errs, DETC_ERR_RUNTIME, n->index, "%s: stopped after node %d '%s' by the caller",
                            g->model_name, n->index, n->name);
            return -1;
        }
    }
    return 0;
}

const void *detc_tensor_data(const detc_model *m, int tensor)
{
    if (tensor < 0 || tensor >= m->g.n_tensors)
        return NULL;
    return m->g.tensors[tensor].data;
}

void detc_reset_profile(detc_model *m)
{
    for (int i = 0; i < m->g.n_nodes; i++) {
        m->g.nodes[i].total_us = 0;
        m->g.nodes[i].calls = 0;
    }
}

/* ---- introspection ---- */

void detc_model_get_info(const detc_model *m, detc_model_info *info)
{
    memset(info, 0, sizeof *info);
    info->name = m->g.model_name;
    info->path = m->path;
    info->n_tensors = m->g.n_tensors;
    info->n_nodes = m->g.n_nodes;
    info->n_inputs = m->g.n_inputs;
    info->n_outputs = m->g.n_outputs;
    info->constant_bytes = m->constant_bytes;
    info->n_folded = m->g.n_folded;
    info->folded_bytes = m->g.folded_bytes;
    info->folded_source_bytes = m->g.folded_source_bytes;
    info->arena_bytes = m->arena_bytes;
    info->unplanned_bytes = m->unplanned_bytes;
    info->threads = detc_threadpool_size(m->pool);
    info->kernels = m->kernels ? m->kernels->name : "none";
    info->n_labels = m->n_labels;
    info->pipeline = detc_pipeline_name(m);
    info->checksum = m->checksum;
}

int detc_tensor_get_info(const detc_model *m, int tensor, detc_tensor_info *info)
{
    if (tensor < 0 || tensor >= m->g.n_tensors)
        return -1;
    const detc_tensor *t = &m->g.tensors[tensor];
    *info = (detc_tensor_info){
        .name = t->name,
        .dtype = detc_dtype_name(t->dtype),
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

int detc_node_get_info(const detc_model *m, int node, detc_node_info *info)
{
    if (node < 0 || node >= m->g.n_nodes)
        return -1;
    const detc_node *n = &m->g.nodes[node];
    *info = (detc_node_info){
        .name = n->name,
        .op = n->op_name,
        .n_inputs = n->n_inputs,
        .n_outputs = n->n_outputs,
        .inputs = n->inputs,
        .outputs = n->outputs,
        .scratch_bytes = n->scratch_bytes,
        .total_us = n->total_us,
        .calls = n->calls,
        .folded = n->folded,
    };
    return 0;
}

int detc_find_tensor(const detc_model *m, const char *name)
{
    for (int i = 0; i < m->g.n_tensors; i++)
        if (strcmp(m->g.tensors[i].name, name) == 0)
            return i;
    return -1;
}

int detc_input_tensor(const detc_model *m, int i)
{
    return i >= 0 && i < m->g.n_inputs ? m->g.inputs[i] : -1;
}

int detc_output_tensor(const detc_model *m, int i)
{
    return i >= 0 && i < m->g.n_outputs ? m->g.outputs[i] : -1;
}

int detc_node_order(const detc_model *m, int step)
{
    return step >= 0 && step < m->g.n_nodes ? m->g.order[step] : -1;
}

const char *detc_label(const detc_model *m, int class_id)
{
    return class_id >= 0 && class_id < m->n_labels ? m->labels[class_id] : NULL;
}

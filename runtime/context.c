/* Contexts: one caller's state on a shared model (its tensor table, arena, threads, profile), the
 * default context behind the one-thread calls, and shared worker pools. */
#define _POSIX_C_SOURCE 200809L
#include <stdlib.h>
#include <string.h>

#include "model.h"

#define ARENA_ALIGN 64

/* ---- pools ---- */

detc_pool *detc_pool_new(int threads)
{
    detc_pool *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->tp = detc_threadpool_create(threads);
    if (!p->tp) {
        free(p);
        return NULL;
    }
    return p;
}

void detc_pool_free(detc_pool *p)
{
    if (!p)
        return;
    detc_threadpool_destroy(p->tp);
    free(p);
}

/* ---- options ---- */

void detc_struct_read(void *dst, size_t dst_size, const void *src)
{
    if (!src)
        return;
    size_t size;
    memcpy(&size, src, sizeof size);
    size_t n = size && size < dst_size ? size : dst_size;
    memcpy(dst, src, n);
    memcpy(dst, &dst_size, sizeof dst_size); /* the copy is of this library's layout */
}

void detc_context_options_init(detc_context_options *o)
{
    if (o)
        *o = (detc_context_options){.size = sizeof *o};
}

/* The caller's options, read as far as its struct goes (a zero size: the first layout, which is this one). */
static detc_context_options read_options(const detc_context_options *o)
{
    detc_context_options r;
    detc_context_options_init(&r);
    detc_struct_read(&r, sizeof r, o);
    return r;
}

/* ---- binding a context to an instance ---- */

/* Points the context at inst: copies its tensor table, places activations in the arena (grown if needed). */
static int bind(detc_context *c, detc_instance *inst, detc_errors *errs)
{
    const detc_graph *src = &inst->g;
    size_t need = inst->arena_bytes;
    detc_tensor *tensors = malloc(((size_t)src->n_tensors + 1) * sizeof *tensors);
    uint8_t *arena = c->arena;
    if (tensors && need > c->arena_cap) {
        size_t cap = (need + ARENA_ALIGN - 1) / ARENA_ALIGN * ARENA_ALIGN;
        arena = aligned_alloc(ARENA_ALIGN, cap);
        if (arena)
            memset(arena, 0, cap);
    }
    if (!tensors || (need > c->arena_cap && !arena)) {
        free(tensors);
        if (arena != c->arena)
            free(arena);
        detc_errors_add(errs, DETC_ERR_NOMEM, -1, "%s: cannot allocate the %zu-byte activation arena",
                        src->model_name, need);
        return -1;
    }
    if (arena != c->arena) {
        free(c->arena);
        c->arena = arena;
        c->arena_cap = (need + ARENA_ALIGN - 1) / ARENA_ALIGN * ARENA_ALIGN;
    }
    memcpy(tensors, src->tensors, (size_t)src->n_tensors * sizeof *tensors);
    for (int i = 0; i < src->n_tensors; i++) {
        detc_tensor *t = &tensors[i];
        if (t->kind != DETC_TENSOR_CONSTANT)
            t->data = t->in_arena ? c->arena + t->arena_offset : NULL;
    }
    free(c->g.tensors);
    c->g = *src;
    c->g.tensors = tensors;
    c->inst = inst;
    return 0;
}

/* ---- contexts ---- */

static detc_context *context_new(detc_model *m, const detc_context_options *opts, detc_errors *errs)
{
    if (!m || !m->base) {
        detc_errors_add(errs, DETC_ERR_ARG, -1, "detc_context_new: no model given");
        return NULL;
    }
    detc_context_options o = read_options(opts);
    detc_context *c = calloc(1, sizeof *c);
    if (!c) {
        detc_errors_add(errs, DETC_ERR_NOMEM, -1, "out of memory");
        return NULL;
    }
    c->model = m;
    c->profile = o.profile != 0;
    if (o.pool) {
        c->pool = o.pool->tp;
    } else {
        c->pool = detc_threadpool_create(o.threads);
        c->own_pool = true;
        if (!c->pool) {
            detc_errors_add(errs, DETC_ERR_NOMEM, -1, "cannot create the thread pool");
            free(c);
            return NULL;
        }
    }
    int nn = m->base->g.n_nodes;
    c->node_us = calloc((size_t)nn + 1, sizeof *c->node_us);
    c->node_calls = calloc((size_t)nn + 1, sizeof *c->node_calls);
    pthread_mutex_lock(&m->lock);
    m->base->refs++;
    pthread_mutex_unlock(&m->lock);
    if (!c->node_us || !c->node_calls || bind(c, m->base, errs) != 0) {
        if (!c->node_us || !c->node_calls)
            detc_errors_add(errs, DETC_ERR_NOMEM, -1, "out of memory");
        c->inst = m->base;
        detc_context_free(c);
        return NULL;
    }
    return c;
}

detc_context *detc_context_new(detc_model *m, const detc_context_options *opts, detc_errors *errs)
{
    return context_new(m, opts, errs);
}

void detc_context_free(detc_context *c)
{
    if (!c)
        return;
    if (c->pipeline_work && c->pipeline_work_free)
        c->pipeline_work_free(c->pipeline_work);
    if (c->inst)
        detc_instance_release(c->model, c->inst);
    if (c->own_pool)
        detc_threadpool_destroy(c->pool);
    free(c->g.tensors);
    free(c->arena);
    free(c->node_us);
    free(c->node_calls);
    free(c);
}

detc_model *detc_context_model(const detc_context *c)
{
    return c ? c->model : NULL;
}

size_t detc_context_arena_bytes(const detc_context *c)
{
    return c ? c->arena_cap : 0;
}

int detc_context_set_input_shape(detc_context *c, int tensor, int rank, const int64_t *dims, detc_errors *errs)
{
    if (!c) {
        detc_errors_add(errs, DETC_ERR_ARG, -1, "detc_context_set_input_shape: no context given");
        return -1;
    }
    const detc_graph *g = &c->g;
    if (tensor < 0 || tensor >= g->n_tensors || g->tensors[tensor].kind != DETC_TENSOR_INPUT) {
        detc_errors_add(errs, DETC_ERR_ARG, -1, "%s: tensor %d is not a graph input", g->model_name, tensor);
        return -1;
    }
    const detc_tensor *t = &g->tensors[tensor];
    if (rank != t->rank || (rank > 0 && !dims)) {
        detc_errors_add(errs, DETC_ERR_INPUT, -1, "%s: input '%s' has rank %d; a new shape must keep it (got %d)",
                        g->model_name, t->name, t->rank, rank);
        return -1;
    }
    bool same = true;
    for (int i = 0; i < rank; i++) {
        if (dims[i] < 1 || dims[i] > INT32_MAX) {
            detc_errors_add(errs, DETC_ERR_INPUT, -1, "%s: input '%s': dimension %d must be in 1..2147483647",
                            g->model_name, t->name, i);
            return -1;
        }
        same = same && dims[i] == t->dims[i];
    }
    if (same)
        return 0;
    int32_t(*want)[DETC_MAX_RANK] = calloc((size_t)g->n_inputs + 1, sizeof *want);
    if (!want) {
        detc_errors_add(errs, DETC_ERR_NOMEM, -1, "out of memory");
        return -1;
    }
    for (int k = 0; k < g->n_inputs; k++) {
        const detc_tensor *in = &g->tensors[g->inputs[k]];
        memcpy(want[k], in->dims, sizeof want[k]);
        if (g->inputs[k] == tensor)
            for (int i = 0; i < rank; i++)
                want[k][i] = (int32_t)dims[i];
    }
    detc_errors local; /* the build counts the problems it reports */
    detc_errors_init(&local);
    detc_instance *inst = detc_instance_acquire(c->model, (const int32_t(*)[DETC_MAX_RANK])want, errs ? errs : &local);
    detc_errors_free(&local);
    free(want);
    if (!inst)
        return -1; /* the context keeps the shapes it had */
    detc_instance *old = c->inst;
    if (bind(c, inst, errs) != 0) {
        detc_instance_release(c->model, inst);
        return -1;
    }
    detc_instance_release(c->model, old);
    return 0;
}

/* ---- the default context ---- */

detc_context *detc_default_context(detc_model *m, detc_errors *errs)
{
    if (!m)
        return NULL;
    if (!m->default_ctx) {
        detc_context_options o;
        detc_context_options_init(&o);
        o.threads = m->opts.threads;
        o.profile = m->opts.profile;
        m->default_ctx = context_new(m, &o, errs);
    }
    return m->default_ctx;
}

detc_context *detc_model_default_context(detc_model *m, detc_errors *errs)
{
    detc_errors local;
    detc_errors_init(&local);
    detc_context *c = detc_default_context(m, errs ? errs : &local);
    detc_errors_free(&local);
    return c;
}

const detc_graph *detc_model_view(const detc_model *m)
{
    return m->default_ctx ? &m->default_ctx->g : &m->base->g;
}

int detc_model_set_input_shape(detc_model *m, int tensor, int rank, const int64_t *dims, detc_errors *errs)
{
    detc_context *c = detc_default_context(m, errs);
    return c ? detc_context_set_input_shape(c, tensor, rank, dims, errs) : -1;
}

int detc_set_input(detc_model *m, int tensor, const char *dtype, int rank, const int64_t *dims, const void *data,
                   size_t nbytes, detc_errors *errs)
{
    detc_context *c = detc_default_context(m, errs);
    return c ? detc_context_set_input(c, tensor, detc_dtype_parse(dtype ? dtype : ""), rank, dims, data, nbytes,
                                      errs)
             : -1;
}

typedef struct {
    detc_model *m;
    detc_observer observer;
    void *user;
} observer_shim;

static int call_model_observer(detc_context *c, int node, void *user)
{
    (void)c;
    const observer_shim *s = user;
    return s->observer(s->m, node, s->user);
}

int detc_run(detc_model *m, detc_observer observer, void *user, detc_errors *errs)
{
    detc_context *c = detc_default_context(m, errs);
    if (!c)
        return -1;
    observer_shim shim = {m, observer, user};
    return detc_context_run(c, observer ? call_model_observer : NULL, observer ? &shim : NULL, errs);
}

const void *detc_tensor_data(const detc_model *m, int tensor)
{
    if (!m)
        return NULL;
    if (m->default_ctx)
        return detc_context_tensor_data(m->default_ctx, tensor);
    const detc_graph *g = &m->base->g; /* before any run: constants only */
    return tensor >= 0 && tensor < g->n_tensors && g->tensors[tensor].kind == DETC_TENSOR_CONSTANT
               ? g->tensors[tensor].data
               : NULL;
}

void detc_reset_profile(detc_model *m)
{
    if (m)
        detc_context_reset_profile(m->default_ctx);
}

#define _POSIX_C_SOURCE 200809L
#include "op_harness.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"
#include "quant.h"
#include "threadpool.h"

static void *alloc_aligned(size_t n)
{
    void *p = NULL;
    if (posix_memalign(&p, 64, n ? n : 64) != 0)
        return NULL;
    memset(p, 0, n ? n : 64);
    return p;
}

bool oh_init(oh_case *c, const char *op_name, const char *attrs_json)
{
    memset(c, 0, sizeof *c);
    detc_errors_init(&c->errs);
    c->g.model_name = "test.detc";
    c->g.tensors = c->tensors;
    c->g.nodes = &c->node;
    c->g.n_nodes = 1;
    c->node.name = "node";
    c->node.op_name = op_name;
    c->node.op = detc_op_find(op_name);
    c->node.inputs = c->inputs;
    c->node.outputs = c->outputs;
    if (attrs_json) {
        c->attrs = cJSON_Parse(attrs_json);
        if (!c->attrs)
            return false;
    }
    c->node.attrs = c->attrs;
    return c->node.op != NULL;
}

void oh_free(oh_case *c)
{
    if (c->node.op_data) {
        if (c->node.op && c->node.op->release)
            c->node.op->release(c->node.op_data);
        else
            free(c->node.op_data);
    }
    for (int i = 0; i < c->g.n_tensors; i++) {
        free(c->tensors[i].data);
        detc_quant_free(&c->tensors[i].quant);
    }
    free(c->scratch);
    cJSON_Delete(c->attrs);
    detc_errors_free(&c->errs);
    memset(c, 0, sizeof *c);
}

static int new_tensor(oh_case *c, detc_dtype dtype)
{
    int t = c->g.n_tensors++;
    detc_tensor *x = &c->tensors[t];
    memset(x, 0, sizeof *x);
    snprintf(c->names[t], sizeof c->names[t], "t%d", t);
    x->name = c->names[t];
    x->dtype = dtype;
    x->quant.axis = -1;
    x->producer = -1;
    return t;
}

int oh_input(oh_case *c, detc_dtype dtype, int rank, const int32_t *dims, const void *data, bool constant)
{
    int t = new_tensor(c, dtype);
    detc_tensor *x = &c->tensors[t];
    x->rank = rank;
    memcpy(x->dims, dims, (size_t)rank * sizeof *dims);
    x->shape_known = x->shape_declared = true;
    x->declared_rank = rank;
    memcpy(x->declared_dims, dims, (size_t)rank * sizeof *dims);
    x->kind = constant ? DETC_TENSOR_CONSTANT : DETC_TENSOR_INPUT;
    x->nbytes = (size_t)detc_tensor_count(x) * detc_dtype_size(dtype);
    x->data = alloc_aligned(x->nbytes);
    if (data && x->data)
        memcpy(x->data, data, x->nbytes);
    c->inputs[c->node.n_inputs++] = t;
    return t;
}

void oh_omit_input(oh_case *c)
{
    c->inputs[c->node.n_inputs++] = -1;
}

int oh_output(oh_case *c, detc_dtype dtype)
{
    int t = new_tensor(c, dtype);
    c->tensors[t].kind = DETC_TENSOR_ACTIVATION;
    c->tensors[t].producer = 0;
    c->outputs[c->node.n_outputs++] = t;
    return t;
}

void oh_quant(oh_case *c, int t, int count, int axis, const float *scales, const int32_t *zero_points)
{
    detc_quant q = {.count = count, .axis = axis, .scale = (float *)scales, .zero_point = (int32_t *)zero_points};
    detc_quant_free(&c->tensors[t].quant);
    detc_quant_copy(&c->tensors[t].quant, &q);
}

void oh_quant1(oh_case *c, int t, float scale, int32_t zero_point)
{
    oh_quant(c, t, 1, -1, &scale, &zero_point);
}

bool oh_prepare(oh_case *c)
{
    detc_prep p = {.g = &c->g, .node = &c->node, .errs = &c->errs, .kernels = detc_kernels_select(c->kernels),
                   .no_winograd = c->no_winograd};
    bool ok = c->node.op->prepare(&p);
    c->prepared = ok && !p.failed;
    if (ok != !p.failed)
        printf("note: prepare returned %d but reported %s\n", ok, p.failed ? "problems" : "none");
    return c->prepared;
}

bool oh_has_error(const oh_case *c, detc_code code, const char *needle, const char *needle2)
{
    for (int i = 0; i < c->errs.count; i++) {
        const detc_error *e = &c->errs.items[i];
        if (e->code == code && (!needle || strstr(e->message, needle)) && (!needle2 || strstr(e->message, needle2)))
            return true;
    }
    return false;
}

void oh_print_errors(const oh_case *c)
{
    for (int i = 0; i < c->errs.count; i++)
        printf("  [%s] %s\n", detc_code_name(c->errs.items[i].code), c->errs.items[i].message);
}

detc_code oh_eval(oh_case *c, int threads)
{
    if (!c->prepared)
        return DETC_ERR_RUNTIME;
    for (int k = 0; k < c->node.n_outputs; k++) {
        detc_tensor *t = &c->tensors[c->outputs[k]];
        free(t->data);
        t->nbytes = (size_t)detc_tensor_count(t) * detc_dtype_size(t->dtype);
        t->data = alloc_aligned(t->nbytes);
        if (!t->data)
            return DETC_ERR_NOMEM;
        memset(t->data, 0xA5, t->nbytes); /* garbage, so unwritten outputs show */
    }
    free(c->scratch);
    c->scratch = c->node.scratch_bytes ? alloc_aligned(c->node.scratch_bytes) : NULL;
    if (c->node.scratch_bytes && !c->scratch)
        return DETC_ERR_NOMEM;
    if (!detc_kernels_select(c->kernels))
        return DETC_ERR_ARG;
    detc_threadpool *pool = detc_threadpool_create(threads);
    detc_exec x = {.g = &c->g, .pool = pool, .kernels = detc_kernels_select(c->kernels), .scratch = c->scratch};
    detc_code rc = c->node.op->eval(&x, &c->node);
    detc_threadpool_destroy(pool);
    return rc;
}

void *oh_data(oh_case *c, int t)
{
    return c->tensors[t].data;
}

detc_tensor *oh_tensor(oh_case *c, int t)
{
    return &c->tensors[t];
}

/* ---- fixtures ---- */

static void apply_quant(oh_case *c, int t, const oh_fixture_tensor *ft)
{
    if (ft->qcount)
        oh_quant(c, t, ft->qcount, ft->qaxis, ft->scales, ft->zero_points);
}

static int build_fixture(oh_case *c, const oh_fixture *f)
{
    if (!oh_init(c, f->op, f->attrs)) {
        printf("FAIL %s: cannot set up op '%s' with attributes %s\n", f->name, f->op, f->attrs);
        return 1;
    }
    for (int i = 0; i < f->n_inputs; i++) {
        const oh_fixture_tensor *ft = &f->inputs[i];
        if (ft->omitted) {
            oh_omit_input(c);
            continue;
        }
        int t = oh_input(c, detc_dtype_parse(ft->dtype), ft->rank, ft->dims, ft->data, ft->constant);
        apply_quant(c, t, ft);
    }
    for (int k = 0; k < f->n_outputs; k++) {
        const oh_fixture_tensor *ft = &f->outputs[k];
        int t = oh_output(c, ft->undeclared ? DETC_DTYPE_INVALID : detc_dtype_parse(ft->dtype));
        if (ft->undeclared)
            continue;
        detc_tensor *x = oh_tensor(c, t);
        x->shape_declared = true;
        x->declared_rank = ft->rank;
        memcpy(x->declared_dims, ft->dims, sizeof x->declared_dims);
        apply_quant(c, t, ft);
    }
    return 0;
}

static bool close_enough(float got, float want, double tol_abs, double tol_rel)
{
    if (got == want || (got != got && want != want))
        return true;
    double d = (double)got - (double)want;
    return (d < 0 ? -d : d) <= tol_abs + tol_rel * (want < 0 ? -(double)want : (double)want);
}

static int compare_output(const oh_fixture *f, int k, const detc_tensor *t, int threads, const char *kernels)
{
    const oh_fixture_tensor *ft = &f->outputs[k];
    int64_t n = detc_tensor_count(t);
    int bad = 0;
    size_t esize = detc_dtype_size(t->dtype);
    for (int64_t i = 0; i < n; i++) {
        bool ok;
        double got, want;
        if (t->dtype == DETC_F32) {
            float g = ((const float *)t->data)[i], w = ((const float *)ft->data)[i];
            ok = close_enough(g, w, f->tol_abs, f->tol_rel);
            got = g;
            want = w;
        } else {
            ok = memcmp((const char *)t->data + i * (int64_t)esize, (const char *)ft->data + i * (int64_t)esize,
                        esize) == 0;
            got = t->dtype == DETC_U8 ? ((const uint8_t *)t->data)[i]
                  : t->dtype == DETC_I8 ? ((const int8_t *)t->data)[i]
                                        : ((const int32_t *)t->data)[i];
            want = t->dtype == DETC_U8 ? ((const uint8_t *)ft->data)[i]
                   : t->dtype == DETC_I8 ? ((const int8_t *)ft->data)[i]
                                         : ((const int32_t *)ft->data)[i];
        }
        if (!ok && bad++ < 5)
            printf("FAIL %s (threads %d, %s kernels): output %d element %lld is %.9g, expected %.9g (%s)\n", f->name,
                   threads, kernels ? kernels : "best", k,
                   (long long)i, got, want, f->ref);
    }
    return bad;
}

int oh_run_fixture(const oh_fixture *f, int threads, const char *kernels)
{
    oh_case c;
    int bad = build_fixture(&c, f);
    c.kernels = kernels;
    if (!bad && !oh_prepare(&c)) {
        printf("FAIL %s: prepare reported problems:\n", f->name);
        oh_print_errors(&c);
        bad = 1;
    }
    if (!bad) {
        detc_code rc = oh_eval(&c, threads);
        if (rc != DETC_OK) {
            printf("FAIL %s: eval returned %s\n", f->name, detc_code_name(rc));
            bad = 1;
        }
    }
    for (int k = 0; !bad && k < f->n_outputs; k++) {
        const detc_tensor *t = oh_tensor(&c, c.outputs[k]);
        if (detc_tensor_count(t) * (int64_t)detc_dtype_size(t->dtype) == 0 && f->outputs[k].rank) {
            printf("FAIL %s: output %d is empty\n", f->name, k);
            bad++;
            continue;
        }
        bad += compare_output(f, k, t, threads, kernels);
    }
    oh_free(&c);
    return bad;
}

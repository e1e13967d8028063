/* Memory plan: every activation and every executed node's scratch buffer gets an offset in one arena
 * (constants, folded ones included, live outside it). Buffers
 * whose lifetimes (in execution steps) do not overlap may share bytes. Greedy by size, largest first,
 * each at the lowest offset that fits beside the already placed buffers it overlaps in time - the same
 * strategy as TFLite's arena planner, good to within a few percent of optimal on CNNs. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model.h"

#define ALIGN 64

typedef struct {
    size_t size, offset;
    int first, last; /* steps, inclusive */
    int tensor;      /* >= 0: tensor index; < 0: scratch of node -1-tensor */
} buffer;

static size_t align_up(size_t x)
{
    return (x + ALIGN - 1) / ALIGN * ALIGN;
}

static int by_size_desc(const void *a, const void *b)
{
    const buffer *x = a, *y = b;
    if (x->size != y->size)
        return x->size < y->size ? 1 : -1;
    return x->first - y->first;
}

static int by_offset(const void *a, const void *b)
{
    const buffer *x = *(const buffer *const *)a, *y = *(const buffer *const *)b;
    return x->offset < y->offset ? -1 : x->offset > y->offset;
}

size_t detc_memory_limit(const detc_model *m)
{
    if (m->opts.max_memory)
        return m->opts.max_memory;
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    if (pages <= 0 || page <= 0)
        return SIZE_MAX;
    return (uint64_t)pages > SIZE_MAX / (uint64_t)page ? SIZE_MAX : (size_t)pages * (size_t)page;
}

int detc_plan_memory(const detc_model *m, detc_instance *inst, detc_errors *errs)
{
    detc_graph *g = &inst->g;
    /* Steps are the executed nodes only: folded nodes' outputs are constants now (skipped below) and
     * they need no scratch. */
    int steps = g->n_run;
    for (int i = 0; i < g->n_tensors; i++) {
        bool input = g->tensors[i].kind == DETC_TENSOR_INPUT;
        g->tensors[i].first_step = input ? 0 : steps;
        /* A graph input lives through the whole run, like an output: it is written once by detc_set_input
         * and a second run on the same inputs (detc bench, a caller re-running with other options) must find
         * it unchanged, not overwritten by a later activation that shared its bytes. It always gets memory,
         * even when no executed node reads it (only folded ones, or none). */
        g->tensors[i].last_step = g->tensors[i].is_output || input ? steps : -1;
    }
    for (int s = 0; s < steps; s++) {
        const detc_node *n = &g->nodes[g->run_order[s]];
        for (int k = 0; k < n->n_outputs; k++) {
            detc_tensor *t = &g->tensors[n->outputs[k]];
            if (s < t->first_step)
                t->first_step = s;
            if (s > t->last_step)
                t->last_step = s; /* an unused output still lives during its producer */
        }
        for (int k = 0; k < n->n_inputs; k++)
            if (n->inputs[k] >= 0 && s > g->tensors[n->inputs[k]].last_step)
                g->tensors[n->inputs[k]].last_step = s;
    }
    buffer *bufs = calloc((size_t)g->n_tensors + (size_t)g->n_nodes + 1, sizeof *bufs);
    buffer **placed = calloc((size_t)g->n_tensors + (size_t)g->n_nodes + 1, sizeof *placed);
    if (!bufs || !placed) {
        free(bufs);
        free(placed);
        detc_errors_add(errs, DETC_ERR_NOMEM, -1, "%s: out of memory while planning", g->model_name);
        return -1;
    }
    int nb = 0;
    for (int i = 0; i < g->n_tensors; i++) {
        const detc_tensor *t = &g->tensors[i];
        if (t->kind == DETC_TENSOR_CONSTANT || t->last_step < 0)
            continue;
        bufs[nb++] = (buffer){.size = align_up(t->nbytes ? t->nbytes : 1), .first = t->first_step,
                              .last = t->last_step, .tensor = i};
    }
    for (int s = 0; s < steps; s++) {
        const detc_node *n = &g->nodes[g->run_order[s]];
        if (n->scratch_bytes)
            bufs[nb++] = (buffer){.size = align_up(n->scratch_bytes), .first = s, .last = s, .tensor = -1 - n->index};
    }
    qsort(bufs, (size_t)nb, sizeof *bufs, by_size_desc);
    size_t peak = 0, total = 0;
    int np = 0;
    for (int i = 0; i < nb; i++) {
        buffer *b = &bufs[i];
        total += b->size;
        size_t offset = 0;
        if (m->opts.no_reuse) {
            offset = peak;
        } else {
            /* placed[] is kept sorted by offset: walk the gaps between the buffers live at the same time */
            for (int k = 0; k < np; k++) {
                const buffer *o = placed[k];
                if (o->last < b->first || o->first > b->last)
                    continue;
                if (o->offset >= offset + b->size)
                    break;
                if (o->offset + o->size > offset)
                    offset = o->offset + o->size;
            }
        }
        b->offset = offset;
        if (offset + b->size > peak)
            peak = offset + b->size;
        placed[np++] = b;
        qsort(placed, (size_t)np, sizeof *placed, by_offset);
    }
    inst->arena_bytes = peak;
    inst->unplanned_bytes = total;
    size_t limit = detc_memory_limit(m), folded = g->folded_bytes;
    if (peak > limit || folded > limit - peak) {
        free(bufs);
        free(placed);
        detc_errors_add(errs, DETC_ERR_NOMEM, -1,
                        "%s: the graph needs %.1f MB of activation memory (planned peak)%s, more than the %.1f MB "
                        "allowed (%s); check the tensor shapes in the file, or raise detc_options.max_memory",
                        g->model_name, (double)peak / 1e6, folded ? " besides its folded constants" : "",
                        (double)limit / 1e6, m->opts.max_memory ? "detc_options.max_memory" : "physical memory");
        return -1;
    }
    for (int i = 0; i < nb; i++) {
        if (bufs[i].tensor >= 0) {
            g->tensors[bufs[i].tensor].arena_offset = bufs[i].offset;
            g->tensors[bufs[i].tensor].in_arena = true;
        } else {
            g->nodes[-1 - bufs[i].tensor].scratch_offset = bufs[i].offset;
        }
    }
    free(bufs);
    free(placed);
    return 0;
}

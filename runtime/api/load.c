/* The API layer's model entry points: a model from a file (mapped) or from bytes, its graph built by the
 * engine (runtime/) and its pipeline checked by models/. Nothing below this layer calls back into it. */
#define _POSIX_C_SOURCE 200809L
#define _DEFAULT_SOURCE /* madvise */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "model.h"
#include "pipeline.h"

const char *detc_version(void)
{
    return DETC_VERSION_STRING;
}

int detc_abi_version(void)
{
    return DETC_ABI_VERSION;
}

void detc_options_init(detc_options *o)
{
    if (o)
        *o = (detc_options){.size = sizeof *o};
}

/* The caller's options as far as its struct goes (a zero size: the first layout, which is this one). */
static detc_options read_options(const detc_options *o)
{
    detc_options r;
    detc_options_init(&r);
    detc_struct_read(&r, sizeof r, o);
    return r;
}

/* ---- giving back the pages of weights only packed copies are read from ----
 * Convolutions and fully connected layers pack their filters at prepare (and Winograd transforms them);
 * eval reads only the copy, so the mapped bytes would sit in the process's memory twice. Their pages are
 * given back (MADV_DONTNEED on a read-only private file mapping: a later read maps the file's bytes again,
 * so nothing can change under a reader). Only whole pages inside merged runs of such tensors. */
typedef struct {
    uintptr_t begin, end;
} byte_run;

typedef struct {
    byte_run *runs;
    int n, cap;
} run_list;

static void add_run(const void *data, size_t bytes, void *ctx)
{
    run_list *l = ctx;
    if (l->n == l->cap) {
        int cap = l->cap ? 2 * l->cap : 64;
        byte_run *r = realloc(l->runs, (size_t)cap * sizeof *r);
        if (!r)
            return; /* fewer pages given back: only memory is at stake */
        l->runs = r;
        l->cap = cap;
    }
    l->runs[l->n++] = (byte_run){(uintptr_t)data, (uintptr_t)data + bytes};
}

static int cmp_run(const void *a, const void *b)
{
    uintptr_t x = ((const byte_run *)a)->begin, y = ((const byte_run *)b)->begin;
    return x < y ? -1 : x > y;
}

static size_t drop_mapped_pages(const detc_model *m, const detc_graph *g)
{
    run_list l = {0};
    detc_unread_constants(m, g, add_run, &l);
    if (l.n > 1)
        qsort(l.runs, (size_t)l.n, sizeof *l.runs, cmp_run);
    long ps = sysconf(_SC_PAGESIZE);
    uintptr_t page = ps > 0 ? (uintptr_t)ps : 4096;
    size_t dropped = 0;
    for (int i = 0; i < l.n;) {
        uintptr_t begin = l.runs[i].begin, end = l.runs[i].end;
        /* tensors are 64-byte aligned: a gap below that is padding between two droppable tensors */
        for (i++; i < l.n && l.runs[i].begin <= end + 64; i++)
            end = l.runs[i].end > end ? l.runs[i].end : end;
        uintptr_t a = (begin + page - 1) / page * page, b = end / page * page;
        if (b > a && madvise((void *)a, b - a, MADV_DONTNEED) == 0)
            dropped += b - a;
    }
    free(l.runs);
    return dropped;
}

/* Builds the graph, checks the pipeline (even when the graph has problems, so that all are reported at once;
 * without graph inputs it would only repeat them), then folds and plans. */
static detc_model *build(detc_model *m, detc_errors *errs)
{
    int graph_rc = detc_model_build(m, errs);
    if (!m->base) {
        detc_model_free(m);
        return NULL;
    }
    int pipeline_rc = graph_rc == 0 || m->base->g.n_inputs > 0 ? detc_pipeline_load(m, errs) : 0;
    m->pipeline_free = detc_pipeline_free;
    if (m->pipeline)
        m->pipeline_name = m->pipeline->kind->name;
    if (graph_rc != 0 || pipeline_rc != 0 || detc_model_finish(m, errs) != 0) {
        detc_model_free(m);
        return NULL;
    }
    return m;
}

static detc_model *model_new(const char *path, const detc_options *opts, detc_errors *errs)
{
    detc_model *m = calloc(1, sizeof *m);
    if (m)
        m->path = strdup(path ? path : "<memory>");
    if (!m || !m->path) {
        free(m);
        detc_errors_add(errs, DETC_ERR_NOMEM, -1, "out of memory");
        return NULL;
    }
    m->opts = read_options(opts);
    return m;
}

detc_model *detc_model_load(const char *path, const detc_options *opts, detc_errors *errs)
{
    if (!path) {
        detc_errors_add(errs, DETC_ERR_ARG, -1, "detc_model_load: no path given");
        return NULL;
    }
    detc_errors local; /* the loader counts what it reports: it always gets a list */
    detc_errors_init(&local);
    detc_errors *e = errs ? errs : &local;
    detc_model *m = model_new(path, opts, e);
    if (!m)
        goto done;
    /* O_NONBLOCK: a FIFO or a device is refused below instead of blocking the open */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    struct stat st;
    if (fd < 0) {
        detc_errors_add(e, DETC_ERR_IO, -1, "%s: cannot open: %s", path, strerror(errno));
    } else if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        detc_errors_add(e, DETC_ERR_IO, -1, "%s: not a regular file", path);
    } else if (st.st_size == 0 || (uint64_t)st.st_size > SIZE_MAX) {
        m->map_len = (size_t)st.st_size; /* 0: the header check reports it */
    } else {
        void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED) {
            detc_errors_add(e, DETC_ERR_IO, -1, "%s: cannot map: %s", path, strerror(errno));
        } else {
            m->map = p;
            m->map_len = (size_t)st.st_size;
            m->mapped = true;
            m->drop_unread = drop_mapped_pages;
        }
    }
    if (fd >= 0)
        close(fd);
    if (!m->map && (fd < 0 || e->count > 0 || m->map_len != 0)) {
        detc_model_free(m);
        m = NULL;
        goto done;
    }
    if (!m->map)
        m->map = (const uint8_t *)""; /* an empty file: refused by the header check with its size */
    m = build(m, e);
done:
    detc_errors_free(&local);
    return m;
}

detc_model *detc_model_load_memory(const void *data, size_t len, const char *name, const detc_options *opts,
                                   detc_errors *errs)
{
    detc_errors local;
    detc_errors_init(&local);
    detc_errors *e = errs ? errs : &local;
    detc_model *m = NULL;
    if (!data && len) {
        detc_errors_add(e, DETC_ERR_ARG, -1, "detc_model_load_memory: no data given");
        goto done;
    }
    m = model_new(name, opts, e);
    if (!m)
        goto done;
    if ((uintptr_t)data % 64 != 0) { /* constants are read in place: they need the file's 64-byte alignment */
        m->owned = aligned_alloc(64, (len + 63) / 64 * 64 + 64);
        if (!m->owned) {
            detc_errors_add(e, DETC_ERR_NOMEM, -1, "%s: out of memory copying %zu bytes", m->path, len);
            detc_model_free(m);
            m = NULL;
            goto done;
        }
        memcpy(m->owned, data, len);
        data = m->owned;
    }
    m->map = data ? data : (const uint8_t *)"";
    m->map_len = len;
    m = build(m, e);
done:
    detc_errors_free(&local);
    return m;
}

void detc_model_free(detc_model *m)
{
    if (!m)
        return;
    detc_context_free(m->default_ctx);
    m->default_ctx = NULL;
    if (m->pipeline_free)
        m->pipeline_free(m->pipeline);
    detc_model_release(m);
    if (m->lock_ready)
        pthread_mutex_destroy(&m->lock);
    if (m->mapped)
        munmap((void *)(uintptr_t)m->map, m->map_len);
    free(m->owned);
    free(m->path);
    free(m);
}

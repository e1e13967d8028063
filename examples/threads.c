/* threads: one model shared by N threads, each with its own context; every result must equal a one-thread
 * run of the same images, bit for bit (boxes, scores, classes, masks). Exits 1 on any difference.
 *
 *   threads MODEL.detc IMAGE... [--threads N] [--iterations K] [--threshold T] [--separate]
 *           [--context-threads M]
 *
 * The model (weights, graph, plans) is loaded once and is read-only; a context holds one caller's
 * activations and scratch. --separate loads one model per thread instead, to compare the memory the two
 * ways take: the peak resident size (VmHWM) is printed at the end. --context-threads gives every context a
 * pool of M threads of its own (the calling thread included).
 *
 * Build: cc threads.c $(pkg-config --cflags --libs detc) -pthread -o threads
 */
#define _POSIX_C_SOURCE 200809L
#include <detc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *model_path;
    detc_model *model; /* shared; NULL with --separate */
    const detc_image *images;
    const detc_detections *expected; /* one per image, from the one-thread run */
    int n_images, iterations;
    detc_context_options ctx_opts;
    detc_detect_options opts;
    pthread_barrier_t *all_ready, *all_done, *measured;
    long rss_anon_kb, rss_file_kb; /* while every thread still holds its context (and model) */
} job;

typedef struct {
    job *job;
    int index;
    long compared, different;
    size_t arena_bytes;
    int failed;
} worker;

static void print_errors(const char *who, detc_errors *errs)
{
    for (int i = 0; i < errs->count; i++)
        fprintf(stderr, "threads: %s: %s\n", who, errs->items[i].message);
    detc_errors_free(errs);
}

static int same_detection(const detc_detection *a, const detc_detection *b)
{
    if (memcmp(&a->x0, &b->x0, sizeof a->x0) || memcmp(&a->y0, &b->y0, sizeof a->y0) ||
        memcmp(&a->x1, &b->x1, sizeof a->x1) || memcmp(&a->y1, &b->y1, sizeof a->y1) ||
        memcmp(&a->score, &b->score, sizeof a->score) || a->class_id != b->class_id)
        return 0;
    if ((a->label == NULL) != (b->label == NULL) || (a->label && strcmp(a->label, b->label) != 0))
        return 0;
    if ((a->mask == NULL) != (b->mask == NULL))
        return 0;
    if (!a->mask)
        return 1;
    return a->mask_x == b->mask_x && a->mask_y == b->mask_y && a->mask_width == b->mask_width &&
           a->mask_height == b->mask_height &&
           memcmp(a->mask, b->mask, (size_t)a->mask_width * (size_t)a->mask_height) == 0;
}

static int same_detections(const detc_detections *a, const detc_detections *b)
{
    if (a->count != b->count || a->image_width != b->image_width || a->image_height != b->image_height)
        return 0;
    for (int i = 0; i < a->count; i++)
        if (!same_detection(&a->items[i], &b->items[i]))
            return 0;
    return 1;
}

/* A "Key:   N kB" line of /proc/self/status (Linux), -1 where unknown. */
static long status_kb(const char *key)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;
    size_t n = strlen(key);
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, key, n) == 0 && line[n] == ':')
            kb = strtol(line + n + 1, NULL, 10);
    if (f)
        fclose(f);
    return kb;
}

static void *work(void *arg)
{
    worker *w = arg;
    job *j = w->job;
    char who[32];
    snprintf(who, sizeof who, "thread %d", w->index);
    detc_errors errs;
    detc_errors_init(&errs);
    detc_model *own = j->model ? NULL : detc_model_load(j->model_path, NULL, &errs);
    detc_model *model = j->model ? j->model : own;
    detc_context *ctx = model ? detc_context_new(model, &j->ctx_opts, &errs) : NULL;
    if (!ctx) {
        print_errors(who, &errs);
        w->failed = 1;
    } else {
        w->arena_bytes = detc_context_arena_bytes(ctx);
    }
    /* every thread holds its context (and, with --separate, its model) before any starts detecting */
    pthread_barrier_wait(j->all_ready);
    for (int it = 0; it < j->iterations && ctx; it++)
        for (int i = 0; i < j->n_images; i++) {
            detc_detections got = {0};
            if (detc_context_detect(ctx, &j->images[i], &j->opts, &got, &errs) != 0) {
                print_errors(who, &errs);
                w->failed = 1;
            } else {
                w->compared++;
                if (!same_detections(&got, &j->expected[i])) {
                    fprintf(stderr, "threads: %s, iteration %d, image %d: detections differ from the one-thread run\n",
                            who, it, i);
                    w->different++;
                }
            }
            detc_detections_free(&got);
        }
    /* one thread measures while every context (and model) is still alive */
    if (pthread_barrier_wait(j->all_done) == PTHREAD_BARRIER_SERIAL_THREAD) {
        j->rss_anon_kb = status_kb("RssAnon");
        j->rss_file_kb = status_kb("RssFile");
    }
    pthread_barrier_wait(j->measured);
    detc_context_free(ctx);
    detc_model_free(own);
    detc_errors_free(&errs);
    return NULL;
}

int main(int argc, char **argv)
{
    job j = {.iterations = 1};
    int n_threads = 4, separate = 0, context_threads = 1;
    float threshold = 0.0f;
    const char **paths = calloc((size_t)argc, sizeof *paths);
    if (!paths)
        return 1;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc)
            n_threads = atoi(argv[++i]);
        else if (strcmp(argv[i], "--iterations") == 0 && i + 1 < argc)
            j.iterations = atoi(argv[++i]);
        else if (strcmp(argv[i], "--threshold") == 0 && i + 1 < argc)
            threshold = strtof(argv[++i], NULL);
        else if (strcmp(argv[i], "--separate") == 0)
            separate = 1;
        else if (strcmp(argv[i], "--context-threads") == 0 && i + 1 < argc)
            context_threads = atoi(argv[++i]);
        else if (!j.model_path)
            j.model_path = argv[i];
        else
            paths[j.n_images++] = argv[i];
    }
    if (!j.model_path || j.n_images == 0 || n_threads < 1 || n_threads > 256 || j.iterations < 1 ||
        context_threads < 1 || context_threads > 256) {
        fprintf(stderr,
                "usage: %s MODEL.detc IMAGE... [--threads N] [--iterations K] [--threshold T] [--separate]\n"
                "       [--context-threads M]\n",
                argv[0]);
        free(paths);
        return 2;
    }
    detc_detect_options_init(&j.opts);
    j.opts.threshold = threshold;
    detc_context_options_init(&j.ctx_opts);
    j.ctx_opts.threads = context_threads;

    detc_errors errs;
    detc_errors_init(&errs);
    detc_image *images = calloc((size_t)j.n_images, sizeof *images);
    detc_detections *expected = calloc((size_t)j.n_images, sizeof *expected);
    worker *workers = calloc((size_t)n_threads, sizeof *workers);
    pthread_t *tids = calloc((size_t)n_threads, sizeof *tids);
    int rc = 1;
    detc_model *model = detc_model_load(j.model_path, NULL, &errs);
    detc_context *ctx = model ? detc_context_new(model, NULL, &errs) : NULL;
    if (!images || !expected || !workers || !tids || !ctx)
        goto done;
    /* the reference: one thread, one context, every image once */
    for (int i = 0; i < j.n_images; i++)
        if (detc_image_read(paths[i], &images[i], &errs) != 0 ||
            detc_context_detect(ctx, &images[i], &j.opts, &expected[i], &errs) != 0)
            goto done;
    detc_context_free(ctx);
    ctx = NULL;
    if (separate) {
        /* labels point into the model: the reference keeps copies of its own */
        for (int i = 0; i < j.n_images; i++)
            for (int k = 0; k < expected[i].count; k++)
                if (expected[i].items[k].label && !(expected[i].items[k].label = strdup(expected[i].items[k].label)))
                    goto done;
        detc_model_free(model);
        model = NULL;
    }
    j.model = model;
    j.images = images;
    j.expected = expected;

    pthread_barrier_t ready, finished, measured;
    pthread_barrier_init(&ready, NULL, (unsigned)n_threads);
    pthread_barrier_init(&finished, NULL, (unsigned)n_threads);
    pthread_barrier_init(&measured, NULL, (unsigned)n_threads);
    j.all_ready = &ready;
    j.all_done = &finished;
    j.measured = &measured;
    int started = 0;
    for (; started < n_threads; started++) {
        workers[started] = (worker){.job = &j, .index = started};
        if (pthread_create(&tids[started], NULL, work, &workers[started]) != 0)
            break;
    }
    if (started < n_threads) {
        /* the barriers wait for n_threads: nothing sensible is left to do */
        fprintf(stderr, "threads: cannot start thread %d\n", started);
        exit(1);
    }
    long compared = 0, different = 0;
    int failed = 0;
    for (int t = 0; t < n_threads; t++) {
        pthread_join(tids[t], NULL);
        compared += workers[t].compared;
        different += workers[t].different;
        failed |= workers[t].failed;
    }
    pthread_barrier_destroy(&ready);
    pthread_barrier_destroy(&finished);
    pthread_barrier_destroy(&measured);
    printf("%d threads, %s, %d iteration%s x %d image%s: %ld results compared, %ld different from the one-thread run\n",
           n_threads, separate ? "one model each" : "one model, one context each", j.iterations,
           j.iterations == 1 ? "" : "s", j.n_images, j.n_images == 1 ? "" : "s", compared, different);
    /* RssFile counts the mapped weights once per mapping: models loaded separately share those pages */
    printf("arena per context: %zu kB; resident with all threads running: %ld kB anonymous + %ld kB file-backed; "
           "peak resident size (VmHWM): %ld kB\n",
           workers[0].arena_bytes / 1024, j.rss_anon_kb, j.rss_file_kb, status_kb("VmHWM"));
    rc = failed || different || compared != (long)n_threads * j.iterations * j.n_images;

done:
    print_errors("main", &errs);
    for (int i = 0; images && expected && i < j.n_images; i++) {
        for (int k = 0; separate && !model && k < expected[i].count; k++)
            free((char *)expected[i].items[k].label);
        detc_image_release(&images[i]);
        detc_detections_free(&expected[i]);
    }
    detc_context_free(ctx);
    detc_model_free(model);
    free(images);
    free(expected);
    free(workers);
    free(tids);
    free(paths);
    return rc;
}

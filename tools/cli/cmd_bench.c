/* detc bench MODEL [IMAGE] : latency statistics and a per-op profile. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"

static const char *USAGE =
    "usage: detc bench MODEL [IMAGE] [--runs N] [--warmup N] [--threads N] [--top K] [--verify]\n"
    "\n"
    "Times the graph (from the preprocessed input to the last output; image decoding and\n"
    "preprocessing, redone before every run, excluded) over --runs runs (default 20) after --warmup runs (default 3), and\n"
    "prints median, min and max in milliseconds, then the time per op type and the --top K (default\n"
    "10) slowest nodes. The image is turned upright as its EXIF orientation says (as detect does);\n"
    "without one the inputs are filled with fixed pseudo-random values (made once, copied in before\n"
    "every run).\n"
    "--verify checks the model's data checksum at load (see detc validate).\n";

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Deterministic filler (xorshift) so that runs are comparable across machines: every input's bytes, made once
 * (bench_inputs) and copied in before every run (set_inputs), as a caller feeding frames does. Making them
 * took longer than the run-to-run pause the thread pool's workers stay awake through. */
typedef struct {
    int n;
    uint8_t **bytes; /* n inputs' bytes */
} bench_inputs;

static void free_inputs(bench_inputs *in)
{
    for (int i = 0; i < in->n; i++)
        free(in->bytes[i]);
    free(in->bytes);
    *in = (bench_inputs){0};
}

static int make_inputs(detc_model *m, bench_inputs *in)
{
    detc_model_info info;
    detc_model_get_info(m, &info);
    uint32_t s = 2463534242u;
    in->bytes = calloc((size_t)info.n_inputs + 1, sizeof *in->bytes);
    if (!in->bytes)
        return -1;
    for (int i = 0; i < info.n_inputs; i++) {
        detc_tensor_info t;
        detc_tensor_get_info(m, detc_input_tensor(m, i), &t);
        uint8_t *buf = malloc(t.nbytes + 1);
        if (!buf)
            return -1;
        in->bytes[in->n++] = buf;
        bool is_f32 = strcmp(t.dtype, "f32") == 0;
        for (size_t k = 0; k < t.nbytes; k += is_f32 ? 4 : 1) {
            s ^= s << 13;
            s ^= s >> 17;
            s ^= s << 5;
            if (is_f32) {
                float v = (float)(s % 2001) / 1000.0f - 1.0f;
                memcpy(buf + k, &v, 4);
            } else {
                buf[k] = (uint8_t)s;
            }
        }
    }
    return 0;
}

static int set_inputs(detc_model *m, const bench_inputs *in, detc_errors *errs)
{
    for (int i = 0; i < in->n; i++) {
        detc_tensor_info t;
        int idx = detc_input_tensor(m, i);
        detc_tensor_get_info(m, idx, &t);
        int64_t dims[8]; /* ranks are at most 6 */
        for (int d = 0; d < t.rank; d++)
            dims[d] = t.dims[d];
        int rc = detc_set_input(m, idx, t.dtype, t.rank, dims, in->bytes[i], t.nbytes, errs);
        if (rc)
            return rc;
    }
    return 0;
}

typedef struct {
    const char *op;
    double us;
    int nodes;
} op_total;

static int cmp_op_total(const void *a, const void *b)
{
    const op_total *x = a, *y = b;
    return (x->us < y->us) - (x->us > y->us);
}

typedef struct {
    int node;
    double us;
} node_time;

static int cmp_node_time(const void *a, const void *b)
{
    const node_time *x = a, *y = b;
    return (x->us < y->us) - (x->us > y->us);
}

static void print_profile(detc_model *m, int runs, int top)
{
    detc_model_info info;
    detc_model_get_info(m, &info);
    op_total *ops = calloc((size_t)info.n_nodes + 1, sizeof *ops);
    node_time *nodes = calloc((size_t)info.n_nodes + 1, sizeof *nodes);
    if (!ops || !nodes) {
        free(ops);
        free(nodes);
        return;
    }
    int n_ops = 0;
    double total = 0;
    for (int i = 0; i < info.n_nodes; i++) {
        detc_node_info n;
        detc_node_get_info(m, i, &n);
        double us = n.calls ? n.total_us / runs : 0.0;
        total += us;
        nodes[i] = (node_time){i, us};
        int k = 0;
        while (k < n_ops && strcmp(ops[k].op, n.op) != 0)
            k++;
        if (k == n_ops)
            ops[n_ops++] = (op_total){n.op, 0, 0};
        ops[k].us += us;
        ops[k].nodes++;
    }
    qsort(ops, (size_t)n_ops, sizeof *ops, cmp_op_total);
    qsort(nodes, (size_t)info.n_nodes, sizeof *nodes, cmp_node_time);
    printf("\nper op type (mean per run):\n");
    for (int k = 0; k < n_ops; k++)
        printf("  %-24s %4d nodes %9.3f ms %5.1f%%\n", ops[k].op, ops[k].nodes, ops[k].us / 1e3,
               total > 0 ? 100.0 * ops[k].us / total : 0.0);
    printf("\nslowest nodes:\n");
    for (int k = 0; k < top && k < info.n_nodes; k++) {
        detc_node_info n;
        detc_node_get_info(m, nodes[k].node, &n);
        printf("  %4d %-22s %9.3f ms  %s\n", nodes[k].node, n.op, nodes[k].us / 1e3, n.name);
    }
    free(ops);
    free(nodes);
}

int cmd_bench(int argc, char **argv)
{
    const char *model_path = NULL, *image = NULL;
    int runs = 20, warmup = 3, threads = 1, top = 10;
    bool verify = false;
    for (int i = 1; i < argc; i++) {
        const char *v;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(USAGE, stdout);
            return EXIT_OK;
        } else if (strcmp(argv[i], "--verify") == 0) {
            verify = true;
        } else if (cli_option_value(argc, argv, &i, "--runs", &v)) {
            if (!v || !cli_parse_int("bench", "--runs", v, 1, 100000, &runs))
                return EXIT_USAGE;
        } else if (cli_option_value(argc, argv, &i, "--warmup", &v)) {
            if (!v || !cli_parse_int("bench", "--warmup", v, 0, 10000, &warmup))
                return EXIT_USAGE;
        } else if (cli_option_value(argc, argv, &i, "--threads", &v)) {
            if (!v || !cli_parse_int("bench", "--threads", v, 1, 256, &threads))
                return EXIT_USAGE;
        } else if (cli_option_value(argc, argv, &i, "--top", &v)) {
            if (!v || !cli_parse_int("bench", "--top", v, 0, 100000, &top))
                return EXIT_USAGE;
        } else if (argv[i][0] == '-') {
            return cli_usage_error("bench", "unknown option '%s'", argv[i]);
        } else if (!model_path) {
            model_path = argv[i];
        } else if (!image) {
            image = argv[i];
        } else {
            return cli_usage_error("bench", "unexpected argument '%s'", argv[i]);
        }
    }
    if (!model_path)
        return cli_usage_error("bench", "needs a model");
    detc_model *m = cli_load_model(model_path, threads, true, verify);
    if (!m)
        return EXIT_FAILED;
    detc_errors errs;
    detc_errors_init(&errs);
    int rc = EXIT_OK;
    /* The inputs are set before every run, outside the timed span, as a caller feeding frames does. (Graph
     * inputs are never overwritten by a run: runtime/planner.c keeps them live to the end.) */
    detc_image img = {0};
    bench_inputs inputs = {0};
    if (image && detc_image_read_upright(image, &img, NULL, &errs) != 0)
        rc = EXIT_FAILED;
    if (!image && make_inputs(m, &inputs) != 0) {
        fprintf(stderr, "bench: out of memory for the model's inputs\n");
        rc = EXIT_FAILED;
    }
    double *times = calloc((size_t)runs, sizeof *times);
    if (!times)
        rc = EXIT_FAILED;
    for (int i = 0; rc == EXIT_OK && i < warmup + runs; i++) {
        if (i == warmup)
            detc_reset_profile(m);
        if ((image ? detc_preprocess(m, &img, NULL, &errs) : set_inputs(m, &inputs, &errs)) != 0) {
            rc = EXIT_FAILED;
            break;
        }
        double t0 = now_ms();
        if (detc_run(m, NULL, NULL, &errs) != 0)
            rc = EXIT_FAILED;
        if (i >= warmup)
            times[i - warmup] = now_ms() - t0;
    }
    detc_image_release(&img);
    free_inputs(&inputs);
    if (rc == EXIT_OK) {
        qsort(times, (size_t)runs, sizeof *times, cmp_double);
        double median = runs % 2 ? times[runs / 2] : (times[runs / 2 - 1] + times[runs / 2]) / 2;
        detc_model_info info;
        detc_model_get_info(m, &info);
        printf("%s: %d runs, %d thread%s, kernels %s\n", info.name, runs, info.threads, info.threads == 1 ? "" : "s",
               info.kernels);
        printf("latency ms: median %.3f  min %.3f  max %.3f\n", median, times[0], times[runs - 1]);
        print_profile(m, runs, top);
    }
    cli_print_errors(&errs);
    detc_errors_free(&errs);
    free(times);
    detc_model_free(m);
    return rc;
}

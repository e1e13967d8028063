/* detc inspect / detc validate */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static void print_shape(const detc_tensor_info *t)
{
    char buf[128];
    int used = snprintf(buf, sizeof buf, "[");
    for (int d = 0; d < t->rank && used > 0 && (size_t)used < sizeof buf; d++)
        used += snprintf(buf + used, sizeof buf - (size_t)used, "%s%d", d ? "," : "", (int)t->dims[d]);
    if (used > 0 && (size_t)used < sizeof buf)
        snprintf(buf + used, sizeof buf - (size_t)used, "]");
    printf("%-20s", buf);
}

static void print_quant(const detc_tensor_info *t)
{
    if (t->quant_count == 1)
        printf("  q(scale=%.6g, zp=%d)", t->scale[0], (int)t->zero_point[0]);
    else if (t->quant_count > 1)
        printf("  q(per-channel axis %d, %d scales)", t->quant_axis, t->quant_count);
}

static const char *kind_of(const detc_tensor_info *t)
{
    return t->is_folded ? "folded" : t->is_constant ? "const" : t->is_input ? "input" : t->is_output ? "output" : "act";
}

/* "; 52 nodes folded at load: 10.84 MB of constants computed from 2.71 MB of the weights (DETC_FOLD=0: ...)" */
static void print_folding(const detc_model_info *info)
{
    const char *env = getenv("DETC_FOLD");
    if (info->n_folded)
        printf("; %d node%s folded at load: %.2f MB of constants computed from %.2f MB of the weights "
               "(DETC_FOLD=0 runs them on every inference instead)",
               info->n_folded, info->n_folded == 1 ? "" : "s", info->folded_bytes / 1e6,
               info->folded_source_bytes / 1e6);
    else if (env && strcmp(env, "0") == 0)
        printf("; constant folding off (DETC_FOLD=0)");
}

static int load_and_report(const char *cmd, int argc, char **argv, detc_model **out)
{
    const char *path = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return -1;
        if (argv[i][0] == '-')
            return cli_usage_error(cmd, "unknown option '%s'", argv[i]);
        if (path)
            return cli_usage_error(cmd, "takes one model");
        path = argv[i];
    }
    if (!path)
        return cli_usage_error(cmd, "needs a model file");
    *out = cli_load_model(path, 1, false, true);
    return *out ? EXIT_OK : EXIT_FAILED;
}

int cmd_validate(int argc, char **argv)
{
    detc_model *m = NULL;
    int rc = load_and_report("validate", argc, argv, &m);
    if (rc < 0) {
        puts("usage: detc validate MODEL\n\nLoads the model and runs every check (file structure, graph, dtypes, "
             "shapes,\nquantization, attributes, pipeline). Exit 0 when valid; otherwise prints every\nproblem "
             "found and exits 1. The summary line counts the nodes whose inputs are all constant, evaluated\nonce at load "
             "(DETC_FOLD=0: on every run instead), and the memory their outputs take. The weights are checked\nagainst the file's CRC-32 when it has one (detc-convert writes it).");
        return EXIT_OK;
    }
    if (m) {
        detc_model_info info;
        detc_model_get_info(m, &info);
        printf("%s: valid: %d nodes, %d tensors, %.2f MB weights, %.2f MB planned activations", info.name,
               info.n_nodes, info.n_tensors, info.constant_bytes / 1e6, info.arena_bytes / 1e6);
        print_folding(&info);
        printf("\n%s\n", info.checksum == DETC_CHECKSUM_VERIFIED
                             ? "data section: CRC-32 verified"
                             : "data section: no checksum in the file (converted by an older detc-convert; convert it "
                               "again to add one)");
        detc_model_free(m);
    }
    return rc;
}

int cmd_inspect(int argc, char **argv)
{
    detc_model *m = NULL;
    int rc = load_and_report("inspect", argc, argv, &m);
    if (rc < 0) {
        puts("usage: detc inspect MODEL\n\nPrints the model's tensors (dtype, shape, quantization), its nodes in "
             "execution\norder (nodes folded at load marked), and the memory plan. An invalid model's problems are\nprinted "
             "instead (exit 1). DETC_FOLD=0 keeps constant-only nodes unfolded.");
        return EXIT_OK;
    }
    if (!m)
        return rc;
    detc_model_info info;
    detc_model_get_info(m, &info);
    printf("model      %s\n", info.path);
    printf("validation ok\n");
    printf("checksum   %s\n", info.checksum == DETC_CHECKSUM_VERIFIED ? "CRC-32 of the data section verified"
                                                                      : "none in the file");
    printf("pipeline   %s\n", info.pipeline ? info.pipeline : "(none: use detc run)");
    printf("labels     %d\n", info.n_labels);
    printf("kernels    %s\n", info.kernels);
    printf("\ninputs:\n");
    for (int i = 0; i < info.n_inputs; i++) {
        detc_tensor_info t;
        detc_tensor_get_info(m, detc_input_tensor(m, i), &t);
        printf("  %-40s %-4s ", t.name, t.dtype);
        print_shape(&t);
        print_quant(&t);
        printf("\n");
    }
    printf("outputs:\n");
    for (int i = 0; i < info.n_outputs; i++) {
        detc_tensor_info t;
        detc_tensor_get_info(m, detc_output_tensor(m, i), &t);
        printf("  %-40s %-4s ", t.name, t.dtype);
        print_shape(&t);
        print_quant(&t);
        printf("\n");
    }
    printf("\nnodes (execution order):\n");
    for (int s = 0; s < info.n_nodes; s++) {
        detc_node_info n;
        detc_node_get_info(m, detc_node_order(m, s), &n);
        detc_tensor_info out;
        detc_tensor_get_info(m, n.outputs[0], &out);
        printf("  %4d %-22s %-50s -> %-4s ", detc_node_order(m, s), n.op, n.name, out.dtype);
        print_shape(&out);
        if (n.folded)
            printf(" folded (evaluated at load)");
        else if (n.scratch_bytes)
            printf(" scratch %zu", n.scratch_bytes);
        printf("\n");
    }
    printf("\ntensors:\n");
    for (int i = 0; i < info.n_tensors; i++) {
        detc_tensor_info t;
        detc_tensor_get_info(m, i, &t);
        printf("  %4d %-6s %-4s ", i, kind_of(&t), t.dtype);
        print_shape(&t);
        printf(" %10zu B  %s", t.nbytes, t.name);
        print_quant(&t);
        printf("\n");
    }
    printf("\nmemory:\n");
    printf("  weights (mapped)          %12zu bytes\n", info.constant_bytes);
    printf("  folded constants (heap)   %12zu bytes (%d nodes evaluated at load; %zu bytes of the weights only "
           "they read)\n",
           info.folded_bytes, info.n_folded, info.folded_source_bytes);
    printf("  activations+scratch plan  %12zu bytes (peak, with reuse)\n", info.arena_bytes);
    printf("  without reuse             %12zu bytes\n", info.unplanned_bytes);
    detc_model_free(m);
    return EXIT_OK;
}

/* detc run MODEL --input NAME=FILE.npy ... --dump DIR : raw graph execution for regression comparison. */
#define _POSIX_C_SOURCE 200809L
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "dtype.h"
#include "file_io.h"
#include "npy.h"

static const char *USAGE =
    "usage: detc run MODEL [--input NAME=FILE.npy ...] [--image IMAGE [--resize MODE]] [--dump DIR]\n"
    "                [--tensors NAME,NAME...] [--threads N] [--verify]\n"
    "\n"
    "Runs the graph on the given input tensors (by tensor name or input index; dtype and shape must\n"
    "match the model's input exactly) or on an image preprocessed by the model's pipeline (turned\n"
    "upright by its EXIF orientation first, as detc detect does).\n"
    "  --dump DIR      write tensors as DIR/NAME.npy (bytes outside [A-Za-z0-9._-] become '_') and\n"
    "                  DIR/manifest.json; every input and computed tensor unless --tensors is given\n"
    "  --tensors LIST  comma-separated tensor names to dump\n"
    "  --verify        check the model's data checksum first (see detc validate)\n"
    "An array that does not fit gets a fix as numpy code (cast, normalization, batch axis, NHWC).\n"
    "Dumped files are written whole or not at all (temporary file renamed into place).\n"
    "Without --dump, prints each graph output's dtype, shape and first values.\n";

/* npy dtype descriptors <-> detc dtype names */
/* npy descriptors <-> detc dtype names, from the one dtype table (runtime/dtype.c) */
static const char *detc_dtype_of_npy(const char *descr)
{
    detc_dtype d = detc_dtype_from_npy(descr, strlen(descr));
    return d == DETC_DTYPE_INVALID ? NULL : detc_dtype_name(d);
}

static const char *npy_of_detc_dtype(const char *dtype)
{
    const detc_dtype_info *info = detc_dtype_get(detc_dtype_parse(dtype));
    return info ? info->npy : NULL;
}

typedef struct {
    const char *dir;
    char **only; /* NULL: all */
    int n_only;
    cJSON *manifest;
    int failed;
} dumper;

static bool wanted(const dumper *d, const char *name)
{
    if (!d->only)
        return true;
    for (int i = 0; i < d->n_only; i++)
        if (strcmp(d->only[i], name) == 0)
            return true;
    return false;
}

static void dump_tensor(detc_model *m, dumper *d, int t)
{
    detc_tensor_info info;
    detc_tensor_get_info(m, t, &info);
    if (!wanted(d, info.name))
        return;
    const char *descr = npy_of_detc_dtype(info.dtype);
    if (!descr)
        return;
    char file[600], path[4096], err[512];
    detc_npy_filename(info.name, file, sizeof file);
    snprintf(path, sizeof path, "%s/%s", d->dir, file);
    int64_t shape[8];
    for (int i = 0; i < info.rank; i++)
        shape[i] = info.dims[i];
    if (detc_npy_write(path, descr, info.rank, shape, detc_tensor_data(m, t), err, sizeof err) != 0) {
        fprintf(stderr, "detc run: %s\n", err);
        d->failed = 1;
        return;
    }
    cJSON *e = cJSON_CreateObject();
    cJSON_AddStringToObject(e, "name", info.name);
    cJSON_AddStringToObject(e, "file", file);
    cJSON_AddStringToObject(e, "dtype", info.dtype);
    cJSON *s = cJSON_AddArrayToObject(e, "shape");
    for (int i = 0; i < info.rank; i++)
        cJSON_AddItemToArray(s, cJSON_CreateNumber(info.dims[i]));
    if (info.quant_count == 1) {
        cJSON_AddNumberToObject(e, "scale", info.scale[0]);
        cJSON_AddNumberToObject(e, "zero_point", info.zero_point[0]);
    }
    cJSON_AddItemToArray(cJSON_GetObjectItem(d->manifest, "tensors"), e);
}

static int observe(detc_model *m, int node, void *user)
{
    dumper *d = user;
    detc_node_info n;
    detc_node_get_info(m, node, &n);
    for (int k = 0; k < n.n_outputs; k++)
        dump_tensor(m, d, n.outputs[k]);
    return 0;
}

/* The model's image normalization, read from its pipeline (for a fix hint): "x = (p - M) / S" text. */
static void pipeline_normalization(const char *model_path, char *out, size_t out_len)
{
    out[0] = '\0';
    uint8_t *buf;
    size_t len;
    char err[256];
    /* only the fixed header and the JSON: the file is mapped by the loader, this reads its start again */
    if (detc_read_regular_file(model_path, (size_t)1 << 30, &buf, &len, err, sizeof err) != 0)
        return;
    uint32_t jl = len >= 32 ? (uint32_t)buf[12] | (uint32_t)buf[13] << 8 | (uint32_t)buf[14] << 16 |
                                  (uint32_t)buf[15] << 24
                            : 0;
    cJSON *j = jl && jl <= len - 32 ? cJSON_ParseWithLength((const char *)buf + 32, jl) : NULL;
    free(buf);
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(j, "pipeline");
    const cJSON *kind = cJSON_GetObjectItemCaseSensitive(p, "kind");
    const cJSON *in = cJSON_GetObjectItemCaseSensitive(p, "input");
    if (cJSON_IsString(kind)) {
        bool rcnn = strcmp(kind->valuestring, "maskrcnn") == 0;
        char *mean = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(in, "mean"));
        char *std = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(in, "std"));
        snprintf(out, out_len, "x = (%s - %s) / %s", rcnn ? "pixel / 255" : "pixel",
                 mean ? mean : rcnn ? "[0.485,0.456,0.406]" : "0", std ? std : rcnn ? "[0.229,0.224,0.225]" : "1");
        free(mean);
        free(std);
    }
    cJSON_Delete(j);
}

/* After detc_set_input refused an array: how to turn it into what the model takes, one line per
 * mismatch (dtype, batch axis, channel order), as numpy code. */
static void print_input_fix(detc_model *m, const char *model_path, int t, const detc_npy *a, const char *file)
{
    detc_tensor_info ti;
    if (detc_tensor_get_info(m, t, &ti) != 0)
        return;
    const char *have = detc_dtype_of_npy(a->descr);
    bool want_f32 = strcmp(ti.dtype, "f32") == 0 && ti.quant_count == 0;
    if (want_f32 && have && strcmp(have, "u8") == 0) {
        char norm[256];
        pipeline_normalization(model_path, norm, sizeof norm);
        fprintf(stderr, "detc run: fix: %s holds uint8 pixels but '%s' takes normalized float32: %s%s, then "
                        "np.save('%s', x.astype(np.float32)); or give the photo with --image FILE, which resizes and "
                        "normalizes it as the model's pipeline does\n",
                file, ti.name, norm[0] ? "normalize as the model's pipeline does, " : "normalize it as the model expects",
                norm, file);
    } else if (want_f32 && have && strcmp(have, "f32") != 0) {
        fprintf(stderr, "detc run: fix: %s is %s; '%s' takes float32: np.save('%s', a.astype(np.float32))\n", file,
                strcmp(have, "f64") == 0 ? "float64 (numpy's default)" : have, ti.name, file);
    } else if (have && strcmp(have, ti.dtype) != 0 && ti.quant_count == 1) {
        bool u8 = strcmp(ti.dtype, "u8") == 0;
        fprintf(stderr, "detc run: fix: %s is %s; '%s' takes quantized %s (real = %g * (q - %d)): "
                        "np.save('%s', np.clip(np.round(x / %g) + %d, %d, %d).astype(np.%s)); or give the photo with "
                        "--image FILE\n",
                file, have, ti.name, ti.dtype, ti.scale[0], (int)ti.zero_point[0], file, ti.scale[0],
                (int)ti.zero_point[0], u8 ? 0 : -128, u8 ? 255 : 127, u8 ? "uint8" : "int8");
    } else if (have && strcmp(have, ti.dtype) != 0 && ti.quant_count == 0) {
        fprintf(stderr, "detc run: fix: %s is %s; '%s' takes %s: cast it (a.astype(...)) before np.save\n", file, have,
                ti.name, ti.dtype);
    }
    bool same = a->rank == ti.rank;
    for (int i = 0; same && i < ti.rank; i++)
        same = a->shape[i] == ti.dims[i];
    if (same)
        return;
    bool batch = a->rank + 1 == ti.rank && ti.dims[0] == 1;
    for (int i = 0; batch && i < a->rank; i++)
        batch = a->shape[i] == ti.dims[i + 1];
    if (batch) {
        fprintf(stderr, "detc run: fix: %s lacks the batch axis: np.save('%s', a[np.newaxis])\n", file, file);
        return;
    }
    if (ti.rank == 4 && a->rank == 4 && a->shape[0] == ti.dims[0] && a->shape[1] == ti.dims[3] &&
        a->shape[2] == ti.dims[1] && a->shape[3] == ti.dims[2]) {
        fprintf(stderr, "detc run: fix: %s is NCHW (channels first) but '%s' is NHWC (channels last): "
                        "np.save('%s', a.transpose(0, 2, 3, 1))\n", file, ti.name, file);
        return;
    }
    if (ti.rank == 4 && a->rank == 3 && ti.dims[0] == 1 && a->shape[0] == ti.dims[3] && a->shape[1] == ti.dims[1] &&
        a->shape[2] == ti.dims[2])
        fprintf(stderr, "detc run: fix: %s is CHW without the batch axis but '%s' is NHWC: "
                        "np.save('%s', a.transpose(1, 2, 0)[np.newaxis])\n", file, ti.name, file);
}

static int set_npy_input(detc_model *m, const char *model_path, const char *spec)
{
    const char *eq = strchr(spec, '=');
    if (!eq || eq == spec || !eq[1]) {
        fprintf(stderr, "detc run: --input needs NAME=FILE.npy, got '%s'\n", spec);
        return -1;
    }
    char name[512];
    snprintf(name, sizeof name, "%.*s", (int)(eq - spec), spec);
    int t = detc_find_tensor(m, name);
    if (t < 0) {
        char *end;
        long idx = strtol(name, &end, 10);
        if (*end == '\0')
            t = detc_input_tensor(m, (int)idx);
    }
    if (t < 0) {
        fprintf(stderr, "detc run: '%s' is neither a tensor name nor an input index of the model\n", name);
        return -1;
    }
    detc_npy npy;
    char err[512];
    if (detc_npy_read(eq + 1, &npy, err, sizeof err) != 0) {
        fprintf(stderr, "detc run: %s\n", err);
        return -1;
    }
    const char *dtype = detc_dtype_of_npy(npy.descr);
    detc_errors errs;
    detc_errors_init(&errs);
    int rc = detc_set_input(m, t, dtype ? dtype : npy.descr, npy.rank, npy.shape, npy.data, npy.nbytes, &errs);
    cli_print_errors(&errs);
    if (rc != 0)
        print_input_fix(m, model_path, t, &npy, eq + 1);
    detc_errors_free(&errs);
    detc_npy_free(&npy);
    return rc;
}

static void print_output(detc_model *m, int t)
{
    detc_tensor_info info;
    detc_tensor_get_info(m, t, &info);
    printf("%s %s [", info.name, info.dtype);
    for (int i = 0; i < info.rank; i++)
        printf("%s%d", i ? ", " : "", (int)info.dims[i]);
    printf("]:");
    const void *data = detc_tensor_data(m, t);
    size_t n = info.nbytes, shown = 0;
    for (size_t i = 0; shown < 8; i++, shown++) {
        if (strcmp(info.dtype, "f32") == 0 && (i + 1) * 4 <= n)
            printf(" %g", ((const float *)data)[i]);
        else if (strcmp(info.dtype, "u8") == 0 && i < n)
            printf(" %u", ((const uint8_t *)data)[i]);
        else if (strcmp(info.dtype, "i8") == 0 && i < n)
            printf(" %d", ((const int8_t *)data)[i]);
        else if (strcmp(info.dtype, "i32") == 0 && (i + 1) * 4 <= n)
            printf(" %d", ((const int32_t *)data)[i]);
        else
            break;
    }
    printf("%s\n", n > shown * 4 ? " ..." : "");
}

int cmd_run(int argc, char **argv)
{
    const char *model_path = NULL, *dump_dir = NULL, *tensors = NULL, *image = NULL, *resize = NULL;
    const char **inputs = calloc((size_t)argc, sizeof *inputs);
    int n_inputs = 0, threads = 1, rc = EXIT_OK;
    bool verify = false;
    if (!inputs)
        return EXIT_FAILED;
    for (int i = 1; i < argc; i++) {
        const char *v;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(USAGE, stdout);
            free(inputs);
            return EXIT_OK;
        } else if (strcmp(argv[i], "--verify") == 0) {
            verify = true;
        } else if (cli_option_value(argc, argv, &i, "--input", &v)) {
            if (!v)
                rc = cli_usage_error("run", "--input needs NAME=FILE.npy");
            inputs[n_inputs++] = v;
        } else if (cli_option_value(argc, argv, &i, "--dump", &v)) {
            if (!(dump_dir = v))
                rc = cli_usage_error("run", "--dump needs a directory");
        } else if (cli_option_value(argc, argv, &i, "--tensors", &v)) {
            if (!(tensors = v))
                rc = cli_usage_error("run", "--tensors needs a list of names");
        } else if (cli_option_value(argc, argv, &i, "--image", &v)) {
            if (!(image = v))
                rc = cli_usage_error("run", "--image needs a file");
        } else if (cli_option_value(argc, argv, &i, "--resize", &v)) {
            if (!(resize = v))
                rc = cli_usage_error("run", "--resize needs a mode");
        } else if (cli_option_value(argc, argv, &i, "--threads", &v)) {
            if (!v || !cli_parse_int("run", "--threads", v, 1, 256, &threads))
                rc = EXIT_USAGE;
        } else if (argv[i][0] == '-') {
            rc = cli_usage_error("run", "unknown option '%s'", argv[i]);
        } else if (!model_path) {
            model_path = argv[i];
        } else {
            rc = cli_usage_error("run", "unexpected argument '%s'", argv[i]);
        }
        if (rc != EXIT_OK) {
            free(inputs);
            return rc;
        }
    }
    if (!model_path || (n_inputs == 0 && !image)) {
        free(inputs);
        return cli_usage_error("run", "needs a model and --input NAME=FILE.npy or --image IMAGE");
    }
    detc_model *m = cli_load_model(model_path, threads, false, verify);
    if (!m) {
        free(inputs);
        return EXIT_FAILED;
    }
    detc_errors errs;
    detc_errors_init(&errs);
    for (int i = 0; i < n_inputs && rc == EXIT_OK; i++)
        if (set_npy_input(m, model_path, inputs[i]) != 0)
            rc = EXIT_FAILED;
    if (rc == EXIT_OK && image) {
        detc_image img = {0};
        detc_detect_options opts = {.resize = resize};
        if (detc_image_read_upright(image, &img, NULL, &errs) != 0) /* upright, as detect sees it */
            rc = EXIT_FAILED;
        else if (detc_preprocess(m, &img, &opts, &errs) != 0)
            rc = EXIT_FAILED;
        detc_image_release(&img);
    }
    dumper d = {.dir = dump_dir};
    char *list = NULL;
    if (rc == EXIT_OK && dump_dir) {
        mkdir(dump_dir, 0777);
        d.manifest = cJSON_CreateObject();
        cJSON_AddStringToObject(d.manifest, "model", model_path);
        cJSON_AddArrayToObject(d.manifest, "tensors");
        if (tensors) {
            list = strdup(tensors);
            d.only = calloc(strlen(tensors) + 1, sizeof *d.only);
            for (char *tok = list ? strtok(list, ",") : NULL; tok && d.only; tok = strtok(NULL, ","))
                d.only[d.n_only++] = tok;
        }
        detc_model_info info;
        detc_model_get_info(m, &info);
        for (int i = 0; i < info.n_inputs; i++)
            dump_tensor(m, &d, detc_input_tensor(m, i));
        /* outputs of nodes folded at load: constants now, never passed to the observer */
        for (int i = 0; i < info.n_tensors; i++) {
            detc_tensor_info t;
            if (detc_tensor_get_info(m, i, &t) == 0 && t.is_folded)
                dump_tensor(m, &d, i);
        }
    }
    if (rc == EXIT_OK && detc_run(m, dump_dir ? observe : NULL, &d, &errs) != 0)
        rc = EXIT_FAILED;
    if (rc == EXIT_OK && dump_dir) {
        char path[4096];
        snprintf(path, sizeof path, "%s/manifest.json", dump_dir);
        char *text = cJSON_Print(d.manifest);
        char err[1024];
        if (!text || detc_write_file_atomic(path, text, strlen(text), err, sizeof err) != 0) {
            fprintf(stderr, "detc run: %s\n", text ? err : "out of memory");
            rc = EXIT_FAILED;
        }
        free(text);
        if (d.failed)
            rc = EXIT_FAILED;
    } else if (rc == EXIT_OK) {
        detc_model_info info;
        detc_model_get_info(m, &info);
        for (int i = 0; i < info.n_outputs; i++)
            print_output(m, detc_output_tensor(m, i));
    }
    cli_print_errors(&errs);
    detc_errors_free(&errs);
    cJSON_Delete(d.manifest);
    free(d.only);
    free(list);
    free(inputs);
    detc_model_free(m);
    return rc;
}

/* detc detect MODEL IMAGE... : detections as text or JSON, and annotated images. */
#define _POSIX_C_SOURCE 200809L
#include <cjson/cJSON.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "rle.h"

static const char *USAGE =
    "usage: detc detect MODEL IMAGE|DIR... [--json FILE|-] [--draw OUT] [--threshold T] [--threads N]\n"
    "                   [--resize nearest|bilinear|area_aa]\n"
    "\n"
    "Runs the model on JPEG or PNG images (directories: every .jpg/.jpeg/.png inside, sorted).\n"
    "Prints one line per detection: label, score, box [x0, y0, x1, y1] in original-image pixels.\n"
    "  --json FILE   write detections as JSON (- for stdout): per image its size and, per detection,\n"
    "                label, class_id, score, box and, for models with masks, the mask as COCO RLE\n"
    "  --draw OUT    write the image with boxes, labels and masks drawn (.jpg or .png); with several\n"
    "                images OUT is a directory that receives NAME.jpg per image\n"
    "  --threshold T minimum score, 0 to 1 (default: the model's, 0.5 for SSD and Mask R-CNN;\n"
    "                0 keeps every detection the model returns)\n"
    "  --threads N   worker threads (default 1)\n"
    "  --resize MODE override the model's resize mode for the input image\n";

typedef struct {
    char **items;
    int count, cap;
} path_list;

static int push_path(path_list *l, const char *p)
{
    if (l->count == l->cap) {
        int cap = l->cap ? l->cap * 2 : 16;
        char **items = realloc(l->items, (size_t)cap * sizeof *items);
        if (!items)
            return -1;
        l->items = items;
        l->cap = cap;
    }
    l->items[l->count] = strdup(p);
    return l->items[l->count++] ? 0 : -1;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool is_image_name(const char *name)
{
    const char *dot = strrchr(name, '.');
    if (!dot)
        return false;
    return strcasecmp(dot, ".jpg") == 0 || strcasecmp(dot, ".jpeg") == 0 || strcasecmp(dot, ".png") == 0;
}

/* Expands directories into their image files (sorted); plain paths are kept as given. */
static int collect_images(const char *arg, path_list *out)
{
    struct stat st;
    if (stat(arg, &st) != 0 || !S_ISDIR(st.st_mode))
        return push_path(out, arg);
    DIR *d = opendir(arg);
    if (!d) {
        fprintf(stderr, "detc detect: cannot open directory %s\n", arg);
        return -1;
    }
    int first = out->count;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.' || !is_image_name(e->d_name))
            continue;
        size_t n = strlen(arg) + strlen(e->d_name) + 2;
        char *p = malloc(n);
        if (!p)
            break;
        snprintf(p, n, "%s/%s", arg, e->d_name);
        int rc = push_path(out, p);
        free(p);
        if (rc)
            break;
    }
    closedir(d);
    qsort(out->items + first, (size_t)(out->count - first), sizeof *out->items, cmp_str);
    return 0;
}

/* What to print for a class the model has no label for. */
static const char *class_name(int class_id)
{
    static char buf[32];
    snprintf(buf, sizeof buf, "class %d", class_id);
    return buf;
}

static const char *base_of(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

static cJSON *detections_json(const char *path, const detc_detections *d)
{
    cJSON *img = cJSON_CreateObject();
    cJSON_AddStringToObject(img, "file", path);
    cJSON_AddNumberToObject(img, "width", d->image_width);
    cJSON_AddNumberToObject(img, "height", d->image_height);
    cJSON *list = cJSON_AddArrayToObject(img, "detections");
    for (int i = 0; i < d->count; i++) {
        const detc_detection *det = &d->items[i];
        cJSON *o = cJSON_CreateObject();
        if (det->label)
            cJSON_AddStringToObject(o, "label", det->label);
        else
            cJSON_AddNullToObject(o, "label");
        cJSON_AddNumberToObject(o, "class_id", det->class_id);
        cJSON_AddNumberToObject(o, "score", det->score);
        const float box[4] = {det->x0, det->y0, det->x1, det->y1};
        cJSON *b = cJSON_AddArrayToObject(o, "box");
        for (int k = 0; k < 4; k++)
            cJSON_AddItemToArray(b, cJSON_CreateNumber(box[k]));
        if (det->mask) {
            char *s = detc_mask_rle(det, d->image_width, d->image_height);
            cJSON *mask = cJSON_AddObjectToObject(o, "mask");
            cJSON *size = cJSON_AddArrayToObject(mask, "size");
            cJSON_AddItemToArray(size, cJSON_CreateNumber(d->image_height));
            cJSON_AddItemToArray(size, cJSON_CreateNumber(d->image_width));
            cJSON_AddStringToObject(mask, "counts", s ? s : "");
            free(s);
        }
        cJSON_AddItemToArray(list, o);
    }
    return img;
}

static void print_text(const char *path, const detc_detections *d)
{
    printf("%s: %dx%d, %d detection%s\n", path, d->image_width, d->image_height, d->count, d->count == 1 ? "" : "s");
    for (int i = 0; i < d->count; i++) {
        const detc_detection *det = &d->items[i];
        printf("  %-16s %.3f  [%.1f, %.1f, %.1f, %.1f]%s\n", det->label ? det->label : class_name(det->class_id), det->score, det->x0,
               det->y0, det->x1, det->y1, det->mask ? "  +mask" : "");
    }
}

static int draw_to(const char *draw, bool many, const char *path, detc_image *img, const detc_detections *d)
{
    char out[4096];
    if (many) {
        char stem[1024];
        snprintf(stem, sizeof stem, "%s", base_of(path));
        char *dot = strrchr(stem, '.');
        if (dot)
            *dot = '\0';
        snprintf(out, sizeof out, "%s/%s.jpg", draw, stem);
    } else {
        snprintf(out, sizeof out, "%s", draw);
    }
    detc_draw_detections(img, d);
    detc_errors errs;
    detc_errors_init(&errs);
    int rc = detc_image_write(out, img, &errs);
    cli_print_errors(&errs);
    detc_errors_free(&errs);
    return rc;
}

int cmd_detect(int argc, char **argv)
{
    const char *json_path = NULL, *draw = NULL, *model_path = NULL, *resize = NULL;
    float threshold = 0.0f; /* 0 here: the model's default (detc_detect_options) */
    int threads = 1;
    bool threshold_given = false;
    path_list images = {0};
    int rc = EXIT_OK;
    for (int i = 1; i < argc; i++) {
        const char *v;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(USAGE, stdout);
            return EXIT_OK;
        } else if (cli_option_value(argc, argv, &i, "--json", &v)) {
            if (!(json_path = v))
                return cli_usage_error("detect", "--json needs a file name or -");
        } else if (cli_option_value(argc, argv, &i, "--draw", &v)) {
            if (!(draw = v))
                return cli_usage_error("detect", "--draw needs an output file name");
        } else if (cli_option_value(argc, argv, &i, "--resize", &v)) {
            if (!(resize = v))
                return cli_usage_error("detect", "--resize needs a mode");
        } else if (cli_option_value(argc, argv, &i, "--threshold", &v)) {
            if (!v || !cli_parse_float("detect", "--threshold", v, 0.0f, 1.0f, &threshold))
                return v ? EXIT_USAGE : cli_usage_error("detect", "--threshold needs a value");
            threshold_given = true;
        } else if (cli_option_value(argc, argv, &i, "--threads", &v)) {
            if (!v || !cli_parse_int("detect", "--threads", v, 1, 256, &threads))
                return v ? EXIT_USAGE : cli_usage_error("detect", "--threads needs a value");
        } else if (argv[i][0] == '-' && argv[i][1] != '\0') {
            return cli_usage_error("detect", "unknown option '%s'", argv[i]);
        } else if (!model_path) {
            model_path = argv[i];
        } else if (collect_images(argv[i], &images) != 0) {
            rc = EXIT_FAILED;
        }
    }
    if (!model_path || images.count == 0) {
        for (int i = 0; i < images.count; i++)
            free(images.items[i]);
        free(images.items);
        if (rc == EXIT_OK)
            return cli_usage_error("detect", "needs a model and at least one image");
        return rc;
    }
    bool many = images.count > 1;
    if (draw && many && mkdir(draw, 0777) != 0) {
        struct stat st;
        if (stat(draw, &st) != 0 || !S_ISDIR(st.st_mode)) {
            fprintf(stderr, "detc detect: --draw %s: with several images this must be a directory\n", draw);
            return EXIT_USAGE;
        }
    }
    detc_model *m = cli_load_model(model_path, threads, false);
    if (!m) {
        rc = EXIT_FAILED;
        goto done;
    }
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "model", model_path);
    cJSON *jimages = cJSON_AddArrayToObject(root, "images");
    bool progress = many && isatty(STDERR_FILENO);
    /* an explicit --threshold 0 keeps everything, which the C API spells as a negative threshold */
    detc_detect_options opts = {.threshold = threshold_given && threshold == 0.0f ? -1.0f : threshold,
                                .resize = resize};
    for (int i = 0; i < images.count; i++) {
        const char *path = images.items[i];
        if (progress)
            fprintf(stderr, "\r[%d/%d] %s\033[K", i + 1, images.count, base_of(path));
        detc_errors errs;
        detc_errors_init(&errs);
        detc_image img = {0};
        detc_detections d = {0};
        if (detc_image_read(path, &img, &errs) != 0 || detc_detect(m, &img, &opts, &d, &errs) != 0) {
            if (progress)
                fputc('\n', stderr);
            cli_print_errors(&errs);
            rc = EXIT_FAILED;
        } else {
            if (!json_path || strcmp(json_path, "-") != 0)
                print_text(path, &d);
            cJSON_AddItemToArray(jimages, detections_json(path, &d));
            if (draw && draw_to(draw, many, path, &img, &d) != 0)
                rc = EXIT_FAILED;
        }
        detc_detections_free(&d);
        detc_image_release(&img);
        detc_errors_free(&errs);
    }
    if (progress)
        fputc('\n', stderr);
    if (json_path) {
        char *text = cJSON_Print(root);
        FILE *f = strcmp(json_path, "-") == 0 ? stdout : fopen(json_path, "w");
        if (!f || !text || fputs(text, f) < 0 || fputc('\n', f) == EOF) {
            fprintf(stderr, "detc detect: cannot write %s\n", json_path);
            rc = EXIT_FAILED;
        }
        if (f && f != stdout && fclose(f) != 0)
            rc = EXIT_FAILED;
        free(text);
    }
    cJSON_Delete(root);
    detc_model_free(m);
done:
    for (int i = 0; i < images.count; i++)
        free(images.items[i]);
    free(images.items);
    return rc;
}

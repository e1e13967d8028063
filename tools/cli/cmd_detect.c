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
#include "exif.h"
#include "file_io.h"
#include "jsonl.h"
#include "progress.h"
#include "rle.h"

static const char *USAGE =
    "usage: detc detect MODEL IMAGE|DIR... [--json FILE|-] [--jsonl FILE [--resume]] [--draw OUT]\n"
    "                   [--threshold T] [--threads N] [--resize nearest|bilinear|area_aa] [--no-exif]\n"
    "                   [--verify]\n"
    "\n"
    "Runs the model on JPEG or PNG images (directories: every .jpg/.jpeg/.png inside, sorted).\n"
    "Prints one line per detection: label, score, box [x0, y0, x1, y1] in displayed-image pixels\n"
    "(the EXIF orientation applied). Output files are written whole or not at all: a failed write\n"
    "leaves an existing file as it was. Output paths are checked before the first image runs.\n"
    "  --json FILE   write detections as one JSON document at the end (- for stdout): per image its\n"
    "                size, EXIF orientation and, per detection, label, class_id, score, box and, for\n"
    "                models with masks, the mask as COCO RLE\n"
    "  --jsonl FILE  append one JSON object per image (as in --json) to FILE as soon as the image is\n"
    "                done: a killed run keeps every finished image; several runs may share FILE\n"
    "  --resume      with --jsonl: skip the images FILE already has a record for (by path as given;\n"
    "                images that failed have none, so they run again)\n"
    "  --draw OUT    write the image with boxes, labels and masks drawn (.jpg, .jpeg or .png); with\n"
    "                several images OUT is a directory that receives each image under its own file\n"
    "                name (other extensions get .jpg added); clashing names are refused\n"
    "  --no-exif     ignore the EXIF orientation: detect on the pixels as stored\n"
    "  --verify      check the model's data checksum before running (see detc validate)\n"
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

static cJSON *detections_json(const char *path, const detc_detections *d, int orientation)
{
    cJSON *img = cJSON_CreateObject();
    cJSON_AddStringToObject(img, "file", path);
    cJSON_AddNumberToObject(img, "width", d->image_width);
    cJSON_AddNumberToObject(img, "height", d->image_height);
    cJSON_AddNumberToObject(img, "orientation", orientation); /* EXIF orientation applied, 1: none */
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

/* The extensions --draw can write (JPEG or PNG, chosen by the name). */
static bool drawable_name(const char *path)
{
    const char *dot = strrchr(base_of(path), '.');
    return dot && (strcasecmp(dot, ".jpg") == 0 || strcasecmp(dot, ".jpeg") == 0 || strcasecmp(dot, ".png") == 0);
}

/* DIR/NAME for one image of a batch: the image's own file name, so a.jpg and a.png stay apart (and
 * keep their formats); a name without a writable extension gets ".jpg" added. */
static char *draw_name(const char *dir, const char *image)
{
    const char *base = base_of(image);
    size_t n = strlen(dir) + strlen(base) + 8;
    char *out = malloc(n);
    if (out)
        snprintf(out, n, "%s/%s%s", dir, base, drawable_name(base) ? "" : ".jpg");
    return out;
}

static bool same_file(const char *a, const char *b)
{
    struct stat sa, sb;
    return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

static int cmp_index_name(const void *a, const void *b, void *names)
{
    char **n = names;
    return strcmp(n[*(const int *)a], n[*(const int *)b]);
}

/* The --draw file of every image, checked before any work: writable formats, no two images onto one file,
 * no image drawn over itself, every target writable. NULL entries where none. */
static int plan_draw(const char *draw, const path_list *images, char ***out)
{
    bool many = images->count > 1;
    char **names = calloc((size_t)images->count, sizeof *names);
    if (!names)
        return EXIT_FAILED;
    *out = names;
    if (!many) {
        if (!drawable_name(draw)) {
            fprintf(stderr, "detc detect: --draw %s: detc writes .jpg, .jpeg or .png images; give one of those "
                            "extensions\n", draw);
            return EXIT_USAGE;
        }
        names[0] = strdup(draw);
    } else {
        if (mkdir(draw, 0777) != 0) {
            struct stat st;
            if (stat(draw, &st) != 0 || !S_ISDIR(st.st_mode)) {
                fprintf(stderr, "detc detect: --draw %s: with several images this must be a directory\n", draw);
                return EXIT_USAGE;
            }
        }
        for (int i = 0; i < images->count; i++)
            if (!(names[i] = draw_name(draw, images->items[i])))
                return EXIT_FAILED;
        /* two images with one file name (from different directories) would overwrite each other */
        int *order = malloc((size_t)images->count * sizeof *order);
        if (!order)
            return EXIT_FAILED;
        for (int i = 0; i < images->count; i++)
            order[i] = i;
        /* insertion sort keeps this free of qsort_r (not C11); batches are at most thousands */
        for (int i = 1; i < images->count; i++)
            for (int k = i; k > 0 && cmp_index_name(&order[k - 1], &order[k], names) > 0; k--) {
                int t = order[k];
                order[k] = order[k - 1];
                order[k - 1] = t;
            }
        int clash = -1;
        for (int i = 1; i < images->count && clash < 0; i++)
            if (strcmp(names[order[i - 1]], names[order[i]]) == 0)
                clash = i;
        if (clash >= 0) {
            fprintf(stderr, "detc detect: --draw %s: %s and %s would both be drawn to %s; rename one, or draw them "
                            "in separate runs\n", draw, images->items[order[clash - 1]], images->items[order[clash]],
                    names[order[clash]]);
            free(order);
            return EXIT_USAGE;
        }
        free(order);
    }
    for (int i = 0; i < images->count; i++) {
        if (same_file(names[i], images->items[i])) {
            fprintf(stderr, "detc detect: --draw would overwrite the input image %s; draw into another file or "
                            "directory\n", images->items[i]);
            return EXIT_USAGE;
        }
        char err[512];
        if (detc_output_check(names[i], err, sizeof err) != 0) {
            fprintf(stderr, "detc: %s\n", err);
            return EXIT_FAILED;
        }
    }
    return EXIT_OK;
}

static int draw_to(const char *out, detc_image *img, const detc_detections *d, cli_progress *prog)
{
    detc_draw_detections(img, d);
    detc_errors errs;
    detc_errors_init(&errs);
    int rc = detc_image_write(out, img, &errs);
    if (rc)
        cli_progress_clear(prog);
    cli_print_errors(&errs);
    detc_errors_free(&errs);
    return rc;
}

/* Reads an image and turns it upright as its EXIF orientation says (unless no_exif). */
static int read_image(const char *path, bool no_exif, detc_image *img, int *orientation, detc_errors *errs)
{
    *orientation = 1;
    if (no_exif)
        return detc_image_read(path, img, errs);
    return detc_image_read_upright(path, img, orientation, errs);
}

static void free_list(char **items, int n)
{
    for (int i = 0; items && i < n; i++)
        free(items[i]);
    free(items);
}

int cmd_detect(int argc, char **argv)
{
    const char *json_path = NULL, *jsonl_path = NULL, *draw = NULL, *model_path = NULL, *resize = NULL;
    float threshold = 0.0f; /* 0 here: the model's default (detc_detect_options) */
    int threads = 1;
    bool threshold_given = false, resume = false, no_exif = false, verify = false;
    path_list images = {0};
    char **draw_paths = NULL;
    cli_jsonl jl = {.fd = -1};
    int rc = EXIT_OK;
    for (int i = 1; i < argc; i++) {
        const char *v;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(USAGE, stdout);
            return EXIT_OK;
        } else if (strcmp(argv[i], "--resume") == 0) {
            resume = true;
        } else if (strcmp(argv[i], "--no-exif") == 0) {
            no_exif = true;
        } else if (strcmp(argv[i], "--verify") == 0) {
            verify = true;
        } else if (cli_option_value(argc, argv, &i, "--jsonl", &v)) {
            if (!(jsonl_path = v) || strcmp(v, "-") == 0)
                return cli_usage_error("detect", "--jsonl needs a file name");
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
        free_list(images.items, images.count);
        if (rc == EXIT_OK)
            return cli_usage_error("detect", "needs a model and at least one image");
        return rc;
    }
    if (resume && !jsonl_path) {
        free_list(images.items, images.count);
        return cli_usage_error("detect", "--resume needs --jsonl FILE (the records to resume from)");
    }
    /* every output is checked before the model loads and the first image runs */
    char err[1024];
    if (json_path && strcmp(json_path, "-") != 0 && detc_output_check(json_path, err, sizeof err) != 0) {
        fprintf(stderr, "detc: %s\n", err);
        rc = EXIT_FAILED;
        goto done;
    }
    int plan_rc = draw ? plan_draw(draw, &images, &draw_paths) : EXIT_OK;
    if (plan_rc != EXIT_OK) {
        rc = plan_rc;
        goto done;
    }
    if (jsonl_path && cli_jsonl_open(&jl, jsonl_path, resume, err, sizeof err) != 0) {
        fprintf(stderr, "detc: %s\n", err);
        rc = EXIT_FAILED;
        goto done;
    }
    if (jl.n_bad)
        fprintf(stderr, "detc detect: %s: %d line%s that %s not a record (cut off?) ignored\n", jsonl_path, jl.n_bad,
                jl.n_bad == 1 ? "" : "s", jl.n_bad == 1 ? "is" : "are");
    detc_model *m = cli_load_model(model_path, threads, false, verify);
    if (!m) {
        rc = EXIT_FAILED;
        goto done;
    }
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "model", model_path);
    cJSON *jimages = cJSON_AddArrayToObject(root, "images");
    int skipped = 0;
    for (int i = 0; resume && i < images.count; i++)
        skipped += cli_jsonl_has(&jl, images.items[i]);
    if (skipped)
        fprintf(stderr, "detc detect: --resume: %d of %d images already in %s\n", skipped, images.count, jsonl_path);
    cli_progress prog;
    cli_progress_start(&prog, images.count, skipped);
    /* an explicit --threshold 0 keeps everything, which the C API spells as a negative threshold */
    detc_detect_options opts = {.threshold = threshold_given && threshold == 0.0f ? -1.0f : threshold,
                                .resize = resize};
    for (int i = 0, done = 0; i < images.count; i++) {
        const char *path = images.items[i];
        if (resume && cli_jsonl_has(&jl, path))
            continue;
        detc_errors errs;
        detc_errors_init(&errs);
        detc_image img = {0};
        detc_detections d = {0};
        int orientation = 1;
        bool stop = false;
        if (read_image(path, no_exif, &img, &orientation, &errs) != 0 || detc_detect(m, &img, &opts, &d, &errs) != 0) {
            cli_progress_clear(&prog);
            cli_print_errors(&errs);
            rc = EXIT_FAILED;
        } else {
            cli_progress_clear(&prog);
            if (!json_path || strcmp(json_path, "-") != 0)
                print_text(path, &d);
            cJSON *rec = detections_json(path, &d, orientation);
            if (jsonl_path) {
                fflush(stdout);
                char *text = cJSON_PrintUnformatted(rec);
                if (!text || cli_jsonl_append(&jl, text, err, sizeof err) != 0) {
                    fprintf(stderr, "detc: %s\n", text ? err : "out of memory");
                    fprintf(stderr, "detc detect: stopped after %d images: results can no longer be saved\n",
                            done + skipped);
                    rc = EXIT_FAILED;
                    stop = true;
                }
                free(text);
            }
            if (json_path)
                cJSON_AddItemToArray(jimages, rec);
            else
                cJSON_Delete(rec);
            if (!stop && draw && draw_to(draw_paths[i], &img, &d, &prog) != 0)
                rc = EXIT_FAILED;
        }
        detc_detections_free(&d);
        detc_image_release(&img);
        detc_errors_free(&errs);
        if (stop)
            break;
        cli_progress_update(&prog, ++done + skipped, base_of(path));
    }
    cli_progress_clear(&prog);
    if (json_path) {
        char *text = cJSON_Print(root);
        size_t n = text ? strlen(text) : 0;
        if (text)
            text[n] = '\n'; /* replaces the terminator: written with its length */
        if (!text) {
            fprintf(stderr, "detc detect: out of memory writing %s\n", json_path);
            rc = EXIT_FAILED;
        } else if (strcmp(json_path, "-") == 0) {
            if (fwrite(text, 1, n + 1, stdout) != n + 1 || fflush(stdout) != 0) {
                fprintf(stderr, "detc detect: cannot write the JSON to stdout\n");
                rc = EXIT_FAILED;
            }
        } else if (detc_write_file_atomic(json_path, text, n + 1, err, sizeof err) != 0) {
            fprintf(stderr, "detc: %s\n", err);
            rc = EXIT_FAILED;
        }
        free(text);
    }
    cJSON_Delete(root);
    detc_model_free(m);
done:
    cli_jsonl_close(&jl);
    free_list(draw_paths, images.count);
    free_list(images.items, images.count);
    return rc;
}

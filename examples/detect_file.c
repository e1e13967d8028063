/* detect_file: the smallest complete detc program. An image file in, its detections printed.
 *
 *   detect_file MODEL.detc IMAGE.jpg|png [THRESHOLD]
 *
 * Build: cc detect_file.c $(pkg-config --cflags --libs detc) -o detect_file
 * Prints the lines `detc detect` prints for the same model and image.
 */
#include <detc.h>
#include <stdio.h>
#include <stdlib.h>

/* Every detc function that can fail fills a detc_errors list; this prints and clears it. */
static void print_errors(detc_errors *errs)
{
    for (int i = 0; i < errs->count; i++)
        fprintf(stderr, "detect_file: %s\n", errs->items[i].message);
    detc_errors_free(errs);
}

int main(int argc, char **argv)
{
    if (argc < 3 || argc > 4) {
        fprintf(stderr, "usage: %s MODEL.detc IMAGE [THRESHOLD]\n", argv[0]);
        return 2;
    }
    detc_errors errs;
    detc_errors_init(&errs);
    detc_model *model = detc_model_load(argv[1], NULL, &errs); /* NULL options: the defaults */
    detc_image img = {0};
    if (!model || detc_image_read(argv[2], &img, &errs) != 0) {
        print_errors(&errs);
        detc_model_free(model);
        return 1;
    }
    detc_detect_options opts;
    detc_detect_options_init(&opts);
    if (argc == 4)
        opts.threshold = strtof(argv[3], NULL);

    /* A context holds one caller's working memory; a one-thread program needs just one. */
    detc_context *ctx = detc_context_new(model, NULL, &errs);
    detc_detections dets = {0};
    int rc = 0;
    if (!ctx || detc_context_detect(ctx, &img, &opts, &dets, &errs) != 0) {
        print_errors(&errs);
        rc = 1;
    } else {
        printf("%s: %dx%d, %d detection%s\n", argv[2], dets.image_width, dets.image_height, dets.count,
               dets.count == 1 ? "" : "s");
        for (int i = 0; i < dets.count; i++) {
            const detc_detection *d = &dets.items[i];
            char unlabeled[32];
            snprintf(unlabeled, sizeof unlabeled, "class %d", d->class_id);
            printf("  %-16s %.3f  [%.1f, %.1f, %.1f, %.1f]%s\n", d->label ? d->label : unlabeled, d->score, d->x0,
                   d->y0, d->x1, d->y1, d->mask ? "  +mask" : "");
        }
    }
    detc_errors_free(&errs);
    detc_detections_free(&dets);
    detc_context_free(ctx);
    detc_image_release(&img);
    detc_model_free(model);
    return rc;
}

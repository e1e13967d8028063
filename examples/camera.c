/* camera: frames that are already pixels (a camera, a video decoder, a shared-memory ring) through the core
 * library alone: no image files, so no libjpeg or libpng in the program.
 *
 *   camera MODEL.detc [FRAME.ppm] [--frames N] [--threshold T]
 *
 * FRAME.ppm is a binary PPM (P6, 8-bit RGB) standing in for a frame grabber's buffer: this program reads it
 * itself. Without it, a synthetic frame is generated. Every frame goes through the same context, the way a
 * capture loop would reuse it; instance masks are pasted into one label image per frame.
 *
 * Build: cc camera.c $(pkg-config --cflags --libs detc-core) -o camera
 */
#include <detc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Reads a binary PPM (P6, maxval 255) into a newly allocated RGB buffer. */
static uint8_t *read_ppm(const char *path, int *width, int *height)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    int w = 0, h = 0, maxval = 0;
    uint8_t *rgb = NULL;
    /* header: "P6", width, height, maxval, separated by whitespace; no comments in these dumps */
    if (fscanf(f, "P6 %d %d %d", &w, &h, &maxval) == 3 && maxval == 255 && w > 0 && h > 0 && w <= 32768 &&
        h <= 32768 && fgetc(f) != EOF) {
        size_t n = (size_t)w * (size_t)h * 3;
        rgb = malloc(n);
        if (rgb && fread(rgb, 1, n, f) != n) {
            free(rgb);
            rgb = NULL;
        }
    }
    fclose(f);
    *width = w;
    *height = h;
    return rgb;
}

/* A frame with some structure (gradients and a bright block), different for every frame index. */
static uint8_t *synthetic_frame(int width, int height, int index)
{
    uint8_t *rgb = malloc((size_t)width * (size_t)height * 3);
    if (!rgb)
        return NULL;
    for (int y = 0; y < height; y++)
        for (int x = 0; x < width; x++) {
            uint8_t *p = rgb + ((size_t)y * (size_t)width + (size_t)x) * 3;
            int block = x > width / 3 && x < width / 2 && y > height / 4 + index && y < height * 3 / 4;
            p[0] = block ? 230 : (uint8_t)(x * 255 / width);
            p[1] = block ? 40 : (uint8_t)(y * 255 / height);
            p[2] = (uint8_t)((x + y + 16 * index) & 0xff);
        }
    return rgb;
}

static void print_errors(detc_errors *errs)
{
    for (int i = 0; i < errs->count; i++)
        fprintf(stderr, "camera: %s\n", errs->items[i].message);
    detc_errors_free(errs);
}

int main(int argc, char **argv)
{
    const char *model_path = NULL, *frame_path = NULL;
    int frames = 1;
    float threshold = 0.0f;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--frames") == 0 && i + 1 < argc)
            frames = atoi(argv[++i]);
        else if (strcmp(argv[i], "--threshold") == 0 && i + 1 < argc)
            threshold = strtof(argv[++i], NULL);
        else if (!model_path)
            model_path = argv[i];
        else if (!frame_path)
            frame_path = argv[i];
        else
            frames = -1;
    }
    if (!model_path || frames < 1) {
        fprintf(stderr, "usage: %s MODEL.detc [FRAME.ppm] [--frames N] [--threshold T]\n", argv[0]);
        return 2;
    }
    int width = 640, height = 480;
    uint8_t *loaded = NULL;
    if (frame_path && !(loaded = read_ppm(frame_path, &width, &height))) {
        fprintf(stderr, "camera: %s: not a readable binary PPM (P6, maxval 255)\n", frame_path);
        return 1;
    }

    detc_errors errs;
    detc_errors_init(&errs);
    detc_model *model = detc_model_load(model_path, NULL, &errs);
    detc_context *ctx = model ? detc_context_new(model, NULL, &errs) : NULL;
    uint8_t *labels = malloc((size_t)width * (size_t)height); /* per-pixel instance index, 0: background */
    if (!ctx || !labels) {
        print_errors(&errs);
        detc_model_free(model);
        free(loaded);
        free(labels);
        return 1;
    }
    detc_detect_options opts;
    detc_detect_options_init(&opts);
    opts.threshold = threshold;

    int rc = 0;
    for (int f = 0; f < frames && rc == 0; f++) {
        uint8_t *pixels = loaded ? loaded : synthetic_frame(width, height, f);
        /* the caller's buffer, used as it is: detc reads it and keeps no pointer to it */
        detc_image frame = {.width = width, .height = height, .channels = 3, .pixels = pixels};
        detc_detections dets = {0};
        if (!pixels || detc_context_detect(ctx, &frame, &opts, &dets, &errs) != 0) {
            print_errors(&errs);
            rc = 1;
        } else {
            memset(labels, 0, (size_t)width * (size_t)height);
            long masked = 0;
            for (int i = 0; i < dets.count && i < 255; i++)
                if (dets.items[i].mask)
                    masked += detc_mask_paste(&dets.items[i], labels, width, height, (uint8_t)(i + 1));
            printf("frame %d: %dx%d, %d detection%s, %ld mask pixels\n", f, width, height, dets.count,
                   dets.count == 1 ? "" : "s", masked);
            for (int i = 0; i < dets.count; i++) {
                const detc_detection *d = &dets.items[i];
                printf("  %-16s %.3f  [%.1f, %.1f, %.1f, %.1f]\n", d->label ? d->label : "?", d->score, d->x0, d->y0,
                       d->x1, d->y1);
            }
        }
        detc_detections_free(&dets);
        if (pixels != loaded)
            free(pixels);
    }
    free(labels);
    free(loaded);
    detc_context_free(ctx);
    detc_model_free(model);
    return rc;
}

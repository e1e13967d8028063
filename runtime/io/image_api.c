/* The public image functions of detc.h: thin wrappers that turn image.c's messages into detc_errors,
 * and drawing of detections (draw.c). */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "detc.h"
#include "draw.h"
#include "exif.h"
#include "image_file.h"

int detc_image_read(const char *path, detc_image *out, detc_errors *errs)
{
    char err[512];
    if (detc_image_load(path, out, err, sizeof err) != 0) {
        detc_errors_add(errs, DETC_ERR_IMAGE, -1, "%s", err);
        return -1;
    }
    return 0;
}

int detc_image_write(const char *path, const detc_image *img, detc_errors *errs)
{
    char err[512];
    const char *dot = strrchr(path, '.');
    int rc = dot && strcasecmp(dot, ".png") == 0 ? detc_image_save_png(path, img, err, sizeof err)
                                                 : detc_image_save_jpeg(path, img, 92, err, sizeof err);
    if (rc != 0)
        detc_errors_add(errs, DETC_ERR_IMAGE, -1, "%s", err);
    return rc ? -1 : 0;
}

int detc_image_read_upright(const char *path, detc_image *out, int *orientation, detc_errors *errs)
{
    if (orientation)
        *orientation = 1;
    if (detc_image_read(path, out, errs) != 0)
        return -1;
    int o = detc_exif_orientation_file(path);
    char err[256];
    if (detc_image_orient(out, o, err, sizeof err) != 0) {
        detc_errors_add(errs, DETC_ERR_IMAGE, -1, "%s: %s", path, err);
        detc_image_free(out);
        return -1;
    }
    if (orientation)
        *orientation = o;
    return 0;
}

void detc_image_release(detc_image *img)
{
    detc_image_free(img);
}

void detc_draw_detections(detc_image *img, const detc_detections *d)
{
    /* scale line width and text with the image so labels stay readable on large photos */
    int side = img->width > img->height ? img->width : img->height;
    int thickness = side >= 1200 ? 3 : 2;
    int text_scale = side >= 1200 ? 3 : 2;
    for (int i = 0; i < d->count; i++) {
        const detc_detection *det = &d->items[i];
        uint8_t rgb[3];
        detc_palette_color(det->class_id, rgb);
        if (det->mask)
            detc_draw_mask_window(img, det->mask, det->mask_x, det->mask_y, det->mask_width, det->mask_height, rgb[0],
                                  rgb[1], rgb[2], 0.45f);
    }
    for (int i = 0; i < d->count; i++) {
        const detc_detection *det = &d->items[i];
        uint8_t rgb[3];
        detc_palette_color(det->class_id, rgb);
        detc_draw_box(img, det->x0, det->y0, det->x1, det->y1, rgb[0], rgb[1], rgb[2], thickness);
        if (!isfinite(det->x0) || !isfinite(det->y0))
            continue; /* detc_draw_box drew nothing either */
        char text[160];
        if (det->label)
            snprintf(text, sizeof text, "%s %.2f", det->label, det->score);
        else
            snprintf(text, sizeof text, "class %d %.2f", det->class_id, det->score);
        static const uint8_t white[3] = {255, 255, 255};
        /* clamped before the conversion: a float outside int's range converts to anything (undefined) */
        const float lim = 1 << 24;
        float lx = det->x0 < -lim ? -lim : det->x0 > lim ? lim : det->x0;
        float ly = det->y0 < -lim ? -lim : det->y0 > lim ? lim : det->y0;
        detc_draw_label(img, (int)lx, (int)ly, text, white, rgb, text_scale);
    }
}

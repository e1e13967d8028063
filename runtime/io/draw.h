/* Drawing detections onto an image: boxes, text labels, mask overlays, class colours.
 *
 * Everything clips to the image: any coordinates (negative, huge, NaN, inf) are safe; shapes
 * with non-finite coordinates are skipped. Images with 3 or more channels get RGB written to
 * their first three channels; 1- and 2-channel images get the colour's luma in channel 0.
 */
#ifndef DETC_DRAW_H
#define DETC_DRAW_H

#include <stdint.h>

#include "pixels.h"

/* Rectangle outline of the given thickness (1..256 px), drawn inside the box whose corners are
 * (x0, y0) and (x1, y1) in pixel coordinates (x1, y1 exclusive, as detection boxes are). */
void detc_draw_box(detc_image *img, float x0, float y0, float x1, float y1, uint8_t r, uint8_t g, uint8_t b,
                   int thickness);

/* Size in pixels of a label at scale (1..64): 6*scale per character plus padding, 10*scale high. */
void detc_label_size(const char *text, int scale, int *width, int *height);

/* Text in the built-in 5x8 font (printable ASCII; other bytes show as '?') on a filled
 * background (bg NULL: none). (x, y) is the top-left corner of the box being labelled: the label
 * sits just above it, or inside its top edge when there is no room above, and moves left to stay
 * inside the image when it can. */
void detc_draw_label(detc_image *img, int x, int y, const char *text, const uint8_t fg[3], const uint8_t bg[3],
                     int scale);

/* Tints the pixels where mask (width*height bytes, nonzero = inside, row-major) is set:
 * pixel = pixel*(1-alpha) + colour*alpha, alpha clamped to 0..1; the mask's boundary (inside
 * pixels with a 4-neighbour outside) is drawn in the solid colour as a 1-px outline. */
void detc_draw_mask(detc_image *img, const uint8_t *mask, uint8_t r, uint8_t g, uint8_t b, float alpha);
/* The same for a box-local mask: mw x mh bytes covering image pixels [mx, mx+mw) x [my, my+mh). */
void detc_draw_mask_window(detc_image *img, const uint8_t *mask, int mx, int my, int mw, int mh, uint8_t r,
                           uint8_t g, uint8_t b, float alpha);

/* A colour per class id; neighbouring ids get clearly different hues. Any int is accepted. */
void detc_palette_color(int class_id, uint8_t rgb[3]);
/* Black or white, whichever reads better on bg. */
void detc_text_color_for(const uint8_t bg[3], uint8_t fg[3]);

#endif

/* Pixel buffers (8-bit, interleaved) and their resizing to a model's input size. Part of the core:
 * no image file formats here (runtime/io/image_file.h decodes and encodes JPEG and PNG).
 *
 * Every function that can fail returns 0 on success and non-zero on failure, with a message in err.
 */
#ifndef DETC_PIXELS_H
#define DETC_PIXELS_H

#include <stddef.h>
#include <stdint.h>

#include "detc.h"

/* Decoding and resizing refuse images larger than this before allocating anything. */
#define DETC_IMAGE_MAX_SIDE 32768
#define DETC_IMAGE_MAX_PIXELS (1 << 28)

/* Allocates width*height*channels bytes, zeroed (sides within the decoder limits, 1..16 channels). */
int detc_image_alloc(detc_image *img, int width, int height, int channels, char *err, size_t err_len);
void detc_image_free(detc_image *img);
/* Width, height and pixel count within the limits above. */
int detc_image_dims_ok(long long w, long long h);
/* An image with pixels, valid sides and 1..max_channels channels. */
int detc_image_valid(const detc_image *img, int max_channels);
/* snprintf into err (nothing when err is NULL or err_len 0). */
void detc_set_err(char *err, size_t err_len, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

typedef enum {
    /* TensorFlow resize_nearest_neighbor (align_corners=False, half_pixel_centers=False):
     * src = min(floor(dst * (float)in/out), in-1), in float32 as TensorFlow computes it, which
     * sometimes picks one row lower than exact math (56 -> 46 rows: row 23 reads 27, not 28). */
    DETC_RESIZE_NEAREST = 0,
    /* 2-tap bilinear, half-pixel centres, src = (dst+0.5)*in/out-0.5 clamped at the edges (the
     * geometry of OpenCV INTER_LINEAR and Android's filtered Bitmap scaling). Uses OpenCV's 11-bit fixed-point
     * weights, so 8-bit results equal cv2.resize(INTER_LINEAR) exactly; they differ from
     * real-number bilinear rounded to nearest by at most 1. */
    DETC_RESIZE_BILINEAR,
    /* PIL Image.resize(size, Image.BILINEAR): triangle filter widened by the downscale factor
     * (so it averages like an area filter when shrinking), bit-exact with Pillow. */
    DETC_RESIZE_AREA_AA,
} detc_resize_mode;

/* "nearest", "bilinear", "area_aa"; "unknown" for anything else. */
const char *detc_resize_mode_name(detc_resize_mode mode);
/* Returns 0 and sets *out for a known name, non-zero otherwise. */
int detc_resize_mode_parse(const char *name, detc_resize_mode *out);

/* Any channel count 1..16; dst is allocated (free with detc_image_free). */
int detc_image_resize(const detc_image *src, int out_w, int out_h, detc_resize_mode mode, detc_image *dst,
                      char *err, size_t err_len);

/* Float bilinear resize of an interleaved h x w x c array (c = 1 for a single mask), half-pixel
 * centres, align_corners=False, like torch.nn.functional.interpolate(mode='bilinear',
 * align_corners=False): src = max((dst+0.5)*in/out-0.5, 0), the upper tap clamped to the last
 * row/column. Returns non-zero for bad arguments. */
int detc_resize_bilinear_f32(const float *src, int w, int h, int c, float *dst, int ow, int oh);

#endif

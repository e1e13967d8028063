/* Image files: decode JPEG/PNG to 8-bit RGB, encode JPEG/PNG. The I/O layer (libdetc-image): the core
 * works on pixel buffers (pixels.h) and never includes this header.
 *
 * Every function that can fail returns 0 on success and non-zero on failure, with a message in
 * err (starting with the file name when there is one).
 */
#ifndef DETC_IMAGE_FILE_H
#define DETC_IMAGE_FILE_H

#include <stddef.h>
#include <stdint.h>

#include "pixels.h"

/* JPEG or PNG, recognised by content. Result is 8-bit RGB: grayscale, CMYK, palette, 16-bit and
 * alpha sources are converted (alpha dropped, 16-bit samples keep their high byte). Corrupt or
 * truncated data is an error, not a partially grey picture. */
int detc_image_load(const char *path, detc_image *out, char *err, size_t err_len);
/* The same from a buffer; name is used in messages only (may be NULL). */
int detc_image_load_memory(const uint8_t *data, size_t len, const char *name, detc_image *out, char *err,
                           size_t err_len);

/* channels 1 (gray) or 3 (RGB); quality 1..100. */
int detc_image_save_jpeg(const char *path, const detc_image *img, int quality, char *err, size_t err_len);
/* channels 1, 2 (gray+alpha), 3 or 4 (RGBA). */
int detc_image_save_png(const char *path, const detc_image *img, char *err, size_t err_len);

#endif

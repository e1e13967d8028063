/* EXIF orientation: phones store photos as the sensor saw them and record in the EXIF "Orientation"
 * tag (0x0112) how to turn them for display. detc detects on the displayed picture, so boxes and masks
 * are in the coordinates a viewer shows. */
#ifndef DETC_EXIF_H
#define DETC_EXIF_H

#include <stddef.h>
#include <stdint.h>

#include "pixels.h"

/* The orientation 1..8 recorded in a JPEG's APP1 "Exif" segment or a PNG's eXIf chunk; 1 (as stored)
 * when there is none or it is malformed. Every read is bounds-checked; data may be any bytes. */
int detc_exif_orientation(const uint8_t *data, size_t len);

/* The orientation of an image file (1 when it cannot be read: the decoder reports that). */
int detc_exif_orientation_file(const char *path);

/* Turns img, stored with `orientation` (1..8), into its displayed form: 2 mirror, 3 rotate 180,
 * 4 flip, 5 transpose, 6 rotate 90 clockwise, 7 transverse, 8 rotate 90 counter-clockwise (5..8 swap
 * width and height). 1 leaves it as it is. Returns non-zero (message in err) for a bad orientation or
 * out of memory; img is unchanged then. */
int detc_image_orient(detc_image *img, int orientation, char *err, size_t err_len);

#endif

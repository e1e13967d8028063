/* EXIF orientation: parsing (JPEG APP1, PNG eXIf) and the pixel transform. See exif.h. */
#include "exif.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "file_io.h"

#define TAG_ORIENTATION 0x0112
#define TIFF_SHORT 3
/* An orientation tag sits in the first IFD, near the start of the file; the whole file is read only
 * for PNG, whose eXIf chunk may follow the image data. */
#define MAX_EXIF_FILE_BYTES ((size_t)1 << 30)

static unsigned rd16(const uint8_t *p, int big)
{
    return big ? (unsigned)p[0] << 8 | p[1] : (unsigned)p[1] << 8 | p[0];
}

static uint32_t rd32(const uint8_t *p, int big)
{
    return big ? (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]
               : (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
}

/* The orientation in a TIFF structure (EXIF payload): IFD0's tag 0x0112, a SHORT. */
static int tiff_orientation(const uint8_t *t, size_t len)
{
    if (len < 8)
        return 1;
    int big;
    if (t[0] == 'I' && t[1] == 'I')
        big = 0;
    else if (t[0] == 'M' && t[1] == 'M')
        big = 1;
    else
        return 1;
    if (rd16(t + 2, big) != 42)
        return 1;
    uint32_t ifd = rd32(t + 4, big);
    if (ifd > len - 2 || ifd < 8)
        return 1;
    unsigned n = rd16(t + ifd, big);
    size_t room = (len - ifd - 2) / 12; /* entries that fit in the buffer */
    if (n > room)
        n = (unsigned)room;
    for (unsigned i = 0; i < n; i++) {
        const uint8_t *e = t + ifd + 2 + (size_t)i * 12;
        if (rd16(e, big) != TAG_ORIENTATION)
            continue;
        if (rd16(e + 2, big) != TIFF_SHORT || rd32(e + 4, big) != 1)
            return 1;
        unsigned v = rd16(e + 8, big); /* a single SHORT sits left-justified in the value field */
        return v >= 1 && v <= 8 ? (int)v : 1;
    }
    return 1;
}

static int jpeg_orientation(const uint8_t *d, size_t len)
{
    size_t pos = 2; /* after SOI */
    while (pos + 4 <= len) {
        if (d[pos] != 0xff)
            return 1;
        uint8_t m = d[pos + 1];
        if (m == 0xff) { /* fill byte */
            pos++;
            continue;
        }
        if (m == 0xd8 || m == 0x01 || (m >= 0xd0 && m <= 0xd7)) { /* no length */
            pos += 2;
            continue;
        }
        if (m == 0xda || m == 0xd9) /* image data starts: metadata comes before it */
            return 1;
        size_t seg = (size_t)d[pos + 2] << 8 | d[pos + 3];
        if (seg < 2 || seg > len - pos - 2)
            return 1;
        const uint8_t *body = d + pos + 4;
        size_t body_len = seg - 2;
        if (m == 0xe1 && body_len >= 6 && memcmp(body, "Exif\0\0", 6) == 0)
            return tiff_orientation(body + 6, body_len - 6);
        pos += 2 + seg;
    }
    return 1;
}

static int png_orientation(const uint8_t *d, size_t len)
{
    size_t pos = 8; /* after the signature */
    while (pos + 12 <= len) {
        uint32_t n = rd32(d + pos, 1);
        const uint8_t *type = d + pos + 4;
        if (n > len - pos - 12)
            return 1;
        if (memcmp(type, "eXIf", 4) == 0)
            return tiff_orientation(d + pos + 8, n);
        if (memcmp(type, "IEND", 4) == 0)
            return 1;
        pos += 12 + (size_t)n;
    }
    return 1;
}

int detc_exif_orientation(const uint8_t *data, size_t len)
{
    static const uint8_t png_magic[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    if (!data)
        return 1;
    if (len >= 4 && data[0] == 0xff && data[1] == 0xd8)
        return jpeg_orientation(data, len);
    if (len >= 8 && memcmp(data, png_magic, 8) == 0)
        return png_orientation(data, len);
    return 1;
}

int detc_exif_orientation_file(const char *path)
{
    uint8_t *buf;
    size_t len;
    char err[16];
    if (detc_read_regular_file(path, MAX_EXIF_FILE_BYTES, &buf, &len, err, sizeof err) != 0)
        return 1;
    int o = detc_exif_orientation(buf, len);
    free(buf);
    return o;
}

int detc_image_orient(detc_image *img, int orientation, char *err, size_t err_len)
{
    if (orientation == 1)
        return 0;
    if (!img || !img->pixels || img->width < 1 || img->height < 1 || img->channels < 1 || orientation < 1 ||
        orientation > 8) {
        if (err && err_len)
            snprintf(err, err_len, "image: cannot apply EXIF orientation %d", orientation);
        return 1;
    }
    size_t w = (size_t)img->width, h = (size_t)img->height, c = (size_t)img->channels;
    bool swap = orientation >= 5;
    size_t ow = swap ? h : w, oh = swap ? w : h;
    uint8_t *out = malloc(w * h * c);
    if (!out) {
        if (err && err_len)
            snprintf(err, err_len, "image: out of memory applying the EXIF orientation");
        return 1;
    }
    for (size_t y = 0; y < oh; y++) {
        for (size_t x = 0; x < ow; x++) {
            size_t sx, sy; /* the stored pixel shown at (x, y) */
            switch (orientation) {
            case 2: sx = w - 1 - x; sy = y; break;
            case 3: sx = w - 1 - x; sy = h - 1 - y; break;
            case 4: sx = x; sy = h - 1 - y; break;
            case 5: sx = y; sy = x; break;
            case 6: sx = y; sy = h - 1 - x; break;
            case 7: sx = w - 1 - y; sy = h - 1 - x; break;
            default: sx = w - 1 - y; sy = x; break; /* 8 */
            }
            memcpy(out + (y * ow + x) * c, img->pixels + (sy * w + sx) * c, c);
        }
    }
    free(img->pixels);
    img->pixels = out;
    img->width = (int)ow;
    img->height = (int)oh;
    return 0;
}

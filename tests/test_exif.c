/* EXIF orientation (runtime/exif.c): the tag found in JPEG APP1 and PNG eXIf in both byte orders, malformed
 * metadata read as "as stored" without reading past the buffer (run under ASan by make test-asan), and
 * the eight transforms on a 3x2 image against hand-written results. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "exif.h"

/* A TIFF block: IFD0 with `n` entries declared, one Orientation entry (type, count, value). */
static size_t tiff(uint8_t *t, int big, unsigned n, unsigned type, unsigned count, unsigned value)
{
    size_t i = 0;
#define P16(v) (big ? (t[i] = (uint8_t)((v) >> 8), t[i + 1] = (uint8_t)(v)) : (t[i] = (uint8_t)(v), t[i + 1] = (uint8_t)((v) >> 8)), i += 2)
#define P32(v) (big ? (P16((v) >> 16), P16((v) & 0xffff)) : (P16((v) & 0xffff), P16((v) >> 16)))
    t[i++] = big ? 'M' : 'I';
    t[i++] = big ? 'M' : 'I';
    P16(42u);
    P32(8u);
    P16(n);
    P16(0x0112u);
    P16(type);
    P32(count);
    P16(value);
    P16(0u);
    P32(0u);
    return i;
#undef P16
#undef P32
}

static size_t jpeg(uint8_t *out, const uint8_t *t, size_t tlen)
{
    size_t i = 0, seg = tlen + 8;
    memcpy(out, "\xff\xd8\xff\xe1", 4);
    i = 4;
    out[i++] = (uint8_t)(seg >> 8);
    out[i++] = (uint8_t)seg;
    memcpy(out + i, "Exif\0\0", 6);
    i += 6;
    memcpy(out + i, t, tlen);
    i += tlen;
    memcpy(out + i, "\xff\xda\x00\x02\xff\xd9", 6);
    return i + 6;
}

static size_t png(uint8_t *out, const uint8_t *t, size_t tlen, uint32_t declared)
{
    static const uint8_t head[] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    size_t i = sizeof head;
    memcpy(out, head, i);
    out[i++] = (uint8_t)(declared >> 24);
    out[i++] = (uint8_t)(declared >> 16);
    out[i++] = (uint8_t)(declared >> 8);
    out[i++] = (uint8_t)declared;
    memcpy(out + i, "eXIf", 4);
    i += 4;
    memcpy(out + i, t, tlen);
    i += tlen;
    memset(out + i, 0, 4); /* CRC: not checked here (the decoder does) */
    return i + 4;
}

static void test_parse(void)
{
    uint8_t t[64], f[128];
    for (int big = 0; big <= 1; big++) {
        for (unsigned o = 1; o <= 8; o++) {
            size_t n = tiff(t, big, 1, 3, 1, o);
            size_t len = jpeg(f, t, n);
            CHECK(detc_exif_orientation(f, len) == (int)o, "JPEG %s orientation %u", big ? "MM" : "II", o);
            len = png(f, t, n, (uint32_t)n);
            CHECK(detc_exif_orientation(f, len) == (int)o, "PNG %s orientation %u", big ? "MM" : "II", o);
        }
    }
    size_t n = tiff(t, 0, 1, 3, 1, 9);
    CHECK(detc_exif_orientation(f, jpeg(f, t, n)) == 1, "orientation 9 is not one: as stored");
    n = tiff(t, 0, 1, 4, 1, 6);
    CHECK(detc_exif_orientation(f, jpeg(f, t, n)) == 1, "a LONG orientation is malformed: as stored");
    n = tiff(t, 1, 0xffff, 3, 1, 6);
    CHECK(detc_exif_orientation(f, jpeg(f, t, n)) == 6, "an entry count past the buffer: only entries present read");
    n = tiff(t, 0, 1, 3, 1, 6);
    size_t len = jpeg(f, t, n);
    for (size_t cut = 0; cut < len; cut++) { /* every truncation: no read past the end (ASan) */
        uint8_t *copy = malloc(cut ? cut : 1);
        memcpy(copy, f, cut);
        int o = detc_exif_orientation(copy, cut);
        CHECK(o == 1 || (o == 6 && cut >= 30), "JPEG cut at %zu: %d", cut, o);
        free(copy);
    }
    f[5] = 0xff; /* segment length past the end */
    CHECK(detc_exif_orientation(f, len) == 1, "APP1 longer than the file: as stored");
    n = tiff(t, 0, 1, 3, 1, 6);
    len = png(f, t, n, 0xfffffff0u);
    CHECK(detc_exif_orientation(f, len) == 1, "eXIf chunk longer than the file: as stored");
    t[4] = 0xf0; /* IFD offset past the end */
    CHECK(detc_exif_orientation(f, jpeg(f, t, n)) == 1, "IFD offset past the end: as stored");
    static const uint8_t sos_first[] = {0xff, 0xd8, 0xff, 0xda, 0x00, 0x02, 0xff, 0xe1};
    CHECK(detc_exif_orientation(sos_first, sizeof sos_first) == 1, "image data before any APP1: as stored");
    CHECK(detc_exif_orientation(NULL, 0) == 1 && detc_exif_orientation((const uint8_t *)"GIF89a", 6) == 1,
          "no data, other formats: as stored");
}

static void test_transforms(void)
{
    /* stored 3 wide, 2 high:  1 2 3 / 4 5 6 */
    static const uint8_t want[9][6] = {
        {0}, {1, 2, 3, 4, 5, 6}, {3, 2, 1, 6, 5, 4}, {6, 5, 4, 3, 2, 1}, {4, 5, 6, 1, 2, 3},
        {1, 4, 2, 5, 3, 6}, /* 5 transpose: 2 wide, 3 high */
        {4, 1, 5, 2, 6, 3}, /* 6 rotate 90 clockwise */
        {6, 3, 5, 2, 4, 1}, /* 7 transverse */
        {3, 6, 2, 5, 1, 4}, /* 8 rotate 90 counter-clockwise */
    };
    for (int o = 1; o <= 8; o++) {
        detc_image img;
        char err[128];
        CHECK(detc_image_alloc(&img, 3, 2, 1, err, sizeof err) == 0, "alloc");
        for (int i = 0; i < 6; i++)
            img.pixels[i] = (uint8_t)(i + 1);
        CHECK(detc_image_orient(&img, o, err, sizeof err) == 0, "orientation %d: %s", o, err);
        int w = o >= 5 ? 2 : 3, h = o >= 5 ? 3 : 2;
        CHECK(img.width == w && img.height == h && memcmp(img.pixels, want[o], 6) == 0,
              "orientation %d: %dx%d %u %u %u %u %u %u", o, img.width, img.height, img.pixels[0], img.pixels[1],
              img.pixels[2], img.pixels[3], img.pixels[4], img.pixels[5]);
        detc_image_free(&img);
    }
    detc_image img;
    char err[128] = "";
    detc_image_alloc(&img, 2, 2, 3, err, sizeof err);
    CHECK(detc_image_orient(&img, 9, err, sizeof err) != 0 && err[0] && img.width == 2, "orientation 9 refused");
    detc_image_free(&img);
}

int main(void)
{
    test_parse();
    test_transforms();
    return check_summary("test_exif");
}

/* Tests for runtime/image.c and runtime/draw.c.
 *
 * Resize and decode references come from tests/gen_image_refs.py (numpy/TensorFlow formula, cv2,
 * PIL) via tests/data/image/cases.txt; every comparison is bit-exact (tolerance 0), float resizes
 * included. Data directory: $DETC_TEST_DATA (default: tests/data, found from the repository root or
 * tests/); photos: $DETC_IMAGES_DIR (default /work/shared/images; the check that needs dog.jpg is
 * skipped when it is absent).
 */
#define _POSIX_C_SOURCE 200809L /* mkdtemp */

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "draw.h"
#include "image_file.h"
#include "npy.h"
#include "test_files.h"

static int passed, failed;

static void check(int ok, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    printf("%s - ", ok ? "ok" : "FAIL");
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
    if (ok)
        passed++;
    else
        failed++;
}

/* $DETC_TEST_DATA, else tests/data seen from the tests folder (run_tests.sh) or the repo root. */
static const char *data_dir(void)
{
    const char *d = getenv("DETC_TEST_DATA");
    if (d && *d)
        return d;
    static const char *candidates[] = {"data", "tests/data", "../tests/data"};
    for (size_t i = 0; i < sizeof candidates / sizeof candidates[0]; i++) {
        char probe[256];
        snprintf(probe, sizeof probe, "%s/image/cases.txt", candidates[i]);
        FILE *f = fopen(probe, "rb");
        if (f) {
            fclose(f);
            return candidates[i];
        }
    }
    return "tests/data";
}

static const char *images_dir(void)
{
    const char *d = getenv("DETC_IMAGES_DIR");
    return d && *d ? d : "/work/shared/images";
}

static char tmp_dir[256];

static void tmp_path(char *out, size_t len, const char *name)
{
    snprintf(out, len, "%s/%s", tmp_dir, name);
}

/* A u1 H x W x C .npy as an image (no copy of ownership rules: pixels belong to the npy). */
static int npy_as_image(const detc_npy *a, detc_image *img)
{
    if (strcmp(a->descr, "|u1") != 0 || a->rank != 3)
        return 1;
    img->height = (int)a->shape[0];
    img->width = (int)a->shape[1];
    img->channels = (int)a->shape[2];
    img->pixels = a->data;
    return 0;
}

static int load_fixture(const char *name, detc_npy *a)
{
    char path[512], err[512];
    snprintf(path, sizeof path, "%s/image/%s", data_dir(), name);
    if (detc_npy_read(path, a, err, sizeof err)) {
        printf("# %s\n", err);
        return 1;
    }
    return 0;
}

/* Number of differing bytes and the largest difference. */
static size_t count_diff(const uint8_t *a, const uint8_t *b, size_t n, int *maxd)
{
    size_t bad = 0;
    *maxd = 0;
    for (size_t i = 0; i < n; i++) {
        int d = abs((int)a[i] - (int)b[i]);
        if (d) {
            bad++;
            if (d > *maxd)
                *maxd = d;
        }
    }
    return bad;
}

static void run_resize_case(const char *in, const char *mode_name, int ow, int oh, const char *expected)
{
    detc_npy src = {0}, exp = {0};
    detc_image simg, eimg, out = {0};
    char err[512] = "";
    detc_resize_mode mode;
    int ok = !load_fixture(in, &src) && !load_fixture(expected, &exp) && !npy_as_image(&src, &simg) &&
             !npy_as_image(&exp, &eimg) && !detc_resize_mode_parse(mode_name, &mode) &&
             !detc_image_resize(&simg, ow, oh, mode, &out, err, sizeof err);
    size_t bad = 0;
    int maxd = 0;
    if (ok) {
        ok = out.width == eimg.width && out.height == eimg.height && out.channels == eimg.channels;
        if (ok) {
            bad = count_diff(out.pixels, eimg.pixels, (size_t)ow * oh * out.channels, &maxd);
            ok = bad == 0;
        }
    }
    check(ok, "resize %s %s -> %dx%d equals reference %s bit-exactly (%zu bytes differ, max %d) %s", in, mode_name,
          ow, oh, expected, bad, maxd, err);
    detc_image_free(&out);
    detc_npy_free(&src);
    detc_npy_free(&exp);
}

static void run_resize_f32_case(const char *in, int ow, int oh, const char *expected)
{
    detc_npy src = {0}, exp = {0};
    int ok = !load_fixture(in, &src) && !load_fixture(expected, &exp) && strcmp(src.descr, "<f4") == 0 &&
             src.rank == 3 && exp.rank == 3 && exp.shape[0] == oh && exp.shape[1] == ow &&
             exp.shape[2] == src.shape[2];
    size_t bad = 0;
    if (ok) {
        int h = (int)src.shape[0], w = (int)src.shape[1], c = (int)src.shape[2];
        float *out = calloc((size_t)ow * oh * c, sizeof(float));
        ok = out && detc_resize_bilinear_f32(src.data, w, h, c, out, ow, oh) == 0;
        if (ok) {
            const float *e = exp.data;
            for (size_t i = 0; i < (size_t)ow * oh * c; i++)
                bad += memcmp(&out[i], &e[i], sizeof(float)) != 0;
            ok = bad == 0;
        }
        free(out);
    }
    check(ok, "resize_f32 %s -> %dx%d equals torch-order float32 reference %s bit-exactly (%zu differ)", in, ow, oh,
          expected, bad);
    detc_npy_free(&src);
    detc_npy_free(&exp);
}

static void run_decode_case(const char *file, const char *expected)
{
    char path[512], err[512] = "";
    snprintf(path, sizeof path, "%s/image/%s", data_dir(), file);
    detc_npy exp = {0};
    detc_image eimg, img = {0};
    int ok = !load_fixture(expected, &exp) && !npy_as_image(&exp, &eimg) &&
             !detc_image_load(path, &img, err, sizeof err);
    size_t bad = 0;
    int maxd = 0;
    if (ok) {
        ok = img.width == eimg.width && img.height == eimg.height && img.channels == 3 && eimg.channels == 3;
        if (ok) {
            bad = count_diff(img.pixels, eimg.pixels, (size_t)img.width * img.height * 3, &maxd);
            ok = bad == 0;
        }
    }
    check(ok, "decode %s equals reference %s (%zu bytes differ, max %d) %s", file, expected, bad, maxd, err);
    detc_image_free(&img);
    detc_npy_free(&exp);
}

static void test_cases_file(void)
{
    char path[512];
    snprintf(path, sizeof path, "%s/image/cases.txt", data_dir());
    FILE *f = fopen(path, "r");
    check(f != NULL, "open %s", path);
    if (!f)
        return;
    char line[512];
    int n = 0;
    while (fgets(line, sizeof line, f)) {
        char kind[32], a[128], b[128], c[128];
        int ow, oh;
        if (line[0] == '#' || line[0] == '\n')
            continue;
        n++;
        if (sscanf(line, "resize_f32 %127s %d %d %127s", a, &ow, &oh, b) == 4)
            run_resize_f32_case(a, ow, oh, b);
        else if (sscanf(line, "resize %127s %31s %d %d %127s", a, kind, &ow, &oh, b) == 5)
            run_resize_case(a, kind, ow, oh, b);
        else if (sscanf(line, "decode %127s %127s", a, c) == 2)
            run_decode_case(a, c);
        else
            check(0, "understand cases.txt line: %s", line);
    }
    fclose(f);
    check(n >= 30, "cases.txt lists %d cases", n);
}

/* The JPEG decoder gives the same pixels as PIL (both libjpeg-turbo, ISLOW DCT, fancy upsampling):
 * the fixture dog_crop.npy is PIL's decode of a crop of dog.jpg. */
static void test_photo_decode_matches_pil(void)
{
    char path[512], err[512] = "";
    snprintf(path, sizeof path, "%s/dog.jpg", images_dir());
    FILE *probe = fopen(path, "rb");
    if (!probe) {
        printf("SKIP - %s not present; decoder-vs-PIL photo check skipped\n", path);
        return;
    }
    fclose(probe);
    detc_image img = {0};
    detc_npy crop = {0};
    int ok = !detc_image_load(path, &img, err, sizeof err) && !load_fixture("dog_crop.npy", &crop);
    size_t bad = 0;
    if (ok) {
        check(img.width == 768 && img.height == 576 && img.channels == 3, "dog.jpg decodes to 768x576 RGB (%dx%dx%d)",
              img.width, img.height, img.channels);
        const uint8_t *e = crop.data;
        for (int y = 0; y < 48; y++)
            for (int x = 0; x < 64 * 3; x++)
                bad += img.pixels[((size_t)(150 + y) * img.width + 200) * 3 + x] != e[(size_t)y * 64 * 3 + x];
        ok = bad == 0;
    }
    check(ok, "dog.jpg crop equals PIL's decode bit-exactly (%zu bytes differ) %s", bad, err);
    detc_image_free(&img);
    detc_npy_free(&crop);
}

static void fill_pattern(detc_image *img)
{
    for (int y = 0; y < img->height; y++)
        for (int x = 0; x < img->width; x++)
            for (int c = 0; c < img->channels; c++)
                img->pixels[((size_t)y * img->width + x) * img->channels + c] =
                    (uint8_t)(x * 9 + y * 5 + c * 80 + ((x * y) & 7));
}

static void test_save_load_roundtrip(void)
{
    char path[512], err[512] = "";
    detc_image img = {0}, back = {0};
    detc_image_alloc(&img, 37, 23, 3, err, sizeof err);
    fill_pattern(&img);
    tmp_path(path, sizeof path, "rt.png");
    int ok = !detc_image_save_png(path, &img, err, sizeof err) && !detc_image_load(path, &back, err, sizeof err);
    check(ok && back.width == 37 && back.height == 23 && back.channels == 3 &&
              memcmp(back.pixels, img.pixels, (size_t)37 * 23 * 3) == 0,
          "PNG save/load round trip is lossless %s", err);
    detc_image_free(&back);

    /* JPEG is lossy: a photo crop must come back close */
    detc_npy crop = {0};
    detc_image photo;
    tmp_path(path, sizeof path, "rt.jpg");
    ok = !load_fixture("dog_crop.npy", &crop) && !npy_as_image(&crop, &photo) &&
         !detc_image_save_jpeg(path, &photo, 95, err, sizeof err) && !detc_image_load(path, &back, err, sizeof err) &&
         back.width == photo.width && back.height == photo.height;
    double sum = 0;
    size_t nbytes = ok ? (size_t)photo.width * photo.height * 3 : 1;
    for (size_t i = 0; ok && i < nbytes; i++)
        sum += fabs((double)back.pixels[i] - photo.pixels[i]);
    check(ok && sum / (double)nbytes < 3.0, "JPEG q95 save/load round trip of a photo is close (mean abs diff %.2f) %s",
          sum / (double)nbytes, err);
    detc_image_free(&back);
    detc_npy_free(&crop);

    detc_image gray = {0};
    detc_image_alloc(&gray, 8, 6, 1, err, sizeof err);
    fill_pattern(&gray);
    tmp_path(path, sizeof path, "gray.png");
    ok = !detc_image_save_png(path, &gray, err, sizeof err) && !detc_image_load(path, &back, err, sizeof err);
    int same = ok && back.channels == 3;
    for (int i = 0; same && i < 48; i++)
        same = back.pixels[i * 3] == gray.pixels[i] && back.pixels[i * 3 + 1] == gray.pixels[i] &&
               back.pixels[i * 3 + 2] == gray.pixels[i];
    check(same, "1-channel PNG loads as RGB with the gray value in all channels %s", err);
    detc_image_free(&back);
    tmp_path(path, sizeof path, "gray.jpg");
    check(!detc_image_save_jpeg(path, &gray, 90, err, sizeof err), "1-channel JPEG saves %s", err);
    detc_image_free(&gray);

    tmp_path(path, sizeof path, "bad.jpg");
    check(detc_image_save_jpeg(path, &img, 0, err, sizeof err) != 0 && strstr(err, "quality"),
          "JPEG quality 0 is refused: %s", err);
    check(detc_image_save_png("/nonexistent-dir/x.png", &img, err, sizeof err) != 0 &&
              strstr(err, "/nonexistent-dir/x.png"),
          "PNG save to an unwritable path fails with the path in the message: %s", err);
    detc_image empty = {0};
    check(detc_image_save_png(path, &empty, err, sizeof err) != 0, "saving an image without pixels fails: %s", err);
    detc_image_free(&img);
}

/* Standard CRC-32 (PNG chunks), written out so the test needs no zlib. */
static uint32_t crc32_bytes(const uint8_t *p, size_t n)
{
    uint32_t c = 0xffffffffu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1u)));
    }
    return c ^ 0xffffffffu;
}

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* Offset of the first chunk of the given type, or 0. */
static size_t find_chunk(const uint8_t *png, size_t len, const char *type)
{
    size_t p = 8;
    while (p + 12 <= len) {
        size_t clen = (size_t)png[p] << 24 | (size_t)png[p + 1] << 16 | (size_t)png[p + 2] << 8 | png[p + 3];
        if (memcmp(png + p + 4, type, 4) == 0)
            return p;
        if (clen > len - p - 12)
            return 0;
        p += 12 + clen;
    }
    return 0;
}

static void test_malformed(void)
{
    char path[512], err[512] = "";
    detc_image img = {0};

    static const uint8_t gif[] = {'G', 'I', 'F', '8', '9', 'a', 0, 0};
    int rc = detc_image_load_memory(gif, sizeof gif, "photo.jpg", &img, err, sizeof err);
    check(rc != 0 && strcmp(err, "photo.jpg: not a JPEG or PNG file (starts with bytes 47 49 46 38)") == 0,
          "GIF bytes named .jpg are refused by content: %s", err);
    rc = detc_image_load_memory(gif, 0, "empty.png", &img, err, sizeof err);
    check(rc != 0 && strstr(err, "empty.png: empty file"), "empty file: %s", err);
    rc = detc_image_load_memory(gif, 2, NULL, &img, err, sizeof err);
    check(rc != 0 && strstr(err, "starts with bytes 47 49") && img.pixels == NULL, "2-byte file: %s", err);
    rc = detc_image_load("/nonexistent/file.jpg", &img, err, sizeof err);
    check(rc != 0 && strstr(err, "/nonexistent/file.jpg: cannot open"), "missing file: %s", err);

    /* a real JPEG, truncated at several points */
    snprintf(path, sizeof path, "%s/image/progressive.jpg", data_dir());
    size_t len = 0;
    uint8_t *jpg = test_read_file(path, &len);
    check(jpg && len > 200, "read progressive.jpg (%zu bytes)", len);
    if (jpg) {
        err[0] = '\0';
        check(detc_image_load_memory(jpg, len, "p.jpg", &img, err, sizeof err) == 0, "whole JPEG decodes %s", err);
        detc_image_free(&img);
        size_t cuts[] = {3, 20, len / 2, len - 2};
        for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
            rc = detc_image_load_memory(jpg, cuts[i], "cut.jpg", &img, err, sizeof err);
            check(rc != 0 && img.pixels == NULL && strncmp(err, "cut.jpg: JPEG: ", 15) == 0,
                  "JPEG truncated to %zu of %zu bytes is an error: %s", cuts[i], len, err);
        }
    }
    free(jpg);

    /* a baseline JPEG with a huge declared size: refused before allocating */
    snprintf(path, sizeof path, "%s/image/gray.jpg", data_dir());
    jpg = test_read_file(path, &len);
    int patched = 0;
    for (size_t i = 0; jpg && i + 9 < len; i++) {
        if (jpg[i] == 0xff && (jpg[i + 1] == 0xc0 || jpg[i + 1] == 0xc2)) { /* SOF0/SOF2 */
            jpg[i + 5] = 0x9c; /* height 40000 */
            jpg[i + 6] = 0x40;
            jpg[i + 7] = 0x9c; /* width 40000 */
            jpg[i + 8] = 0x40;
            patched = 1;
            break;
        }
    }
    rc = patched ? detc_image_load_memory(jpg, len, "huge.jpg", &img, err, sizeof err) : 0;
    check(patched && rc != 0 && strstr(err, "40000x40000"), "JPEG declaring 40000x40000 is refused: %s", err);
    /* corrupt entropy-coded data: libjpeg only warns; detc must fail */
    if (jpg && len > 400) {
        for (size_t i = 0; jpg && i + 9 < len; i++)
            if (jpg[i] == 0xff && jpg[i + 1] == 0xc0) {
                jpg[i + 5] = 0;
                jpg[i + 6] = 12;
                jpg[i + 7] = 0;
                jpg[i + 8] = 16;
            }
        for (size_t i = len - 60; i < len - 40; i++)
            jpg[i] = 0xff; /* 0xff runs followed by non-zero are markers inside scan data */
        jpg[len - 39] = 0xd0;
        rc = detc_image_load_memory(jpg, len, "garbled.jpg", &img, err, sizeof err);
        check(rc != 0 && img.pixels == NULL, "JPEG with garbled scan data is an error: %s", err);
        detc_image_free(&img);
    }
    free(jpg);

    /* PNG: bad CRC, truncation, huge size */
    detc_image small = {0};
    detc_image_alloc(&small, 9, 7, 3, err, sizeof err);
    fill_pattern(&small);
    tmp_path(path, sizeof path, "small.png");
    detc_image_save_png(path, &small, err, sizeof err);
    detc_image_free(&small);
    uint8_t *png = test_read_file(path, &len);
    size_t idat = png ? find_chunk(png, len, "IDAT") : 0;
    check(idat > 0, "small PNG written and its IDAT found");
    if (idat) {
        uint8_t *bad = malloc(len);
        memcpy(bad, png, len);
        size_t idat_len = (size_t)png[idat] << 24 | (size_t)png[idat + 1] << 16 | (size_t)png[idat + 2] << 8 |
                          png[idat + 3];
        bad[idat + 8 + idat_len] ^= 0x01; /* stored CRC changed, data intact */
        rc = detc_image_load_memory(bad, len, "crc.png", &img, err, sizeof err);
        check(rc != 0 && img.pixels == NULL && strstr(err, "crc.png: PNG: ") && strstr(err, "CRC"),
              "PNG with a bad IDAT CRC is an error: %s", err);
        memcpy(bad, png, len);
        bad[idat + 10] ^= 0x55; /* data changed, CRC kept: zlib or the CRC check stops it */
        rc = detc_image_load_memory(bad, len, "data.png", &img, err, sizeof err);
        check(rc != 0 && img.pixels == NULL, "PNG with corrupted IDAT data is an error: %s", err);
        memcpy(bad, png, len);
        bad[16 + 3] ^= 1; /* IHDR width changed, CRC kept */
        rc = detc_image_load_memory(bad, len, "crc2.png", &img, err, sizeof err);
        check(rc != 0 && strstr(err, "CRC"), "PNG with a bad IHDR CRC is an error: %s", err);
        size_t cuts[] = {8, 30, idat + 12, len - 12, len - 1};
        for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
            rc = detc_image_load_memory(png, cuts[i], "cut.png", &img, err, sizeof err);
            check(rc != 0 && img.pixels == NULL && strncmp(err, "cut.png: PNG: ", 14) == 0,
                  "PNG truncated to %zu of %zu bytes is an error: %s", cuts[i], len, err);
        }
        memcpy(bad, png, len);
        put_be32(bad + 16, 40000);
        put_be32(bad + 20, 40000);
        put_be32(bad + 29, crc32_bytes(bad + 12, 17)); /* valid CRC: the limit itself must refuse it */
        rc = detc_image_load_memory(bad, len, "huge.png", &img, err, sizeof err);
        check(rc != 0 && img.pixels == NULL, "PNG declaring 40000x40000 is refused: %s", err);
        put_be32(bad + 16, 20000);
        put_be32(bad + 20, 20000);
        put_be32(bad + 29, crc32_bytes(bad + 12, 17));
        rc = detc_image_load_memory(bad, len, "many.png", &img, err, sizeof err);
        check(rc != 0 && strstr(err, "20000x20000"), "PNG with 4e8 pixels (> 2^28) is refused: %s", err);
        free(bad);
    }
    free(png);
}

/* Random byte changes to valid files: every result must be a clean success or a clean error
 * (run under ASan/UBSan to make this meaningful). */
static void test_mutations(void)
{
    const char *files[] = {"progressive.jpg", "subsampled.jpg", "cmyk.jpg", "palette_trns.png", "interlaced.png"};
    uint32_t seed = 12345;
    int runs = 0, decoded = 0, clean = 1;
    for (size_t f = 0; f < sizeof files / sizeof files[0]; f++) {
        char path[512], err[512];
        snprintf(path, sizeof path, "%s/image/%s", data_dir(), files[f]);
        size_t len = 0;
        uint8_t *orig = test_read_file(path, &len);
        if (!orig || len < 16) {
            clean = 0;
            free(orig);
            continue;
        }
        uint8_t *buf = malloc(len);
        for (int iter = 0; iter < 150; iter++) {
            memcpy(buf, orig, len);
            int edits = 1 + iter % 4;
            for (int e = 0; e < edits; e++) {
                seed = seed * 1103515245u + 12345u;
                size_t pos = 2 + (seed >> 8) % (len - 2);
                seed = seed * 1103515245u + 12345u;
                buf[pos] = (uint8_t)(seed >> 16);
            }
            seed = seed * 1103515245u + 12345u;
            size_t use = iter % 5 == 4 ? (seed >> 8) % len : len;
            detc_image img = {0};
            err[0] = '\0';
            int rc = detc_image_load_memory(buf, use, files[f], &img, err, sizeof err);
            runs++;
            if (rc == 0) {
                decoded++;
                clean &= img.pixels != NULL && img.width > 0 && img.height > 0 && img.channels == 3;
            } else {
                clean &= img.pixels == NULL && strncmp(err, files[f], strlen(files[f])) == 0;
            }
            detc_image_free(&img);
        }
        free(buf);
        free(orig);
    }
    check(clean && runs == 750, "%d mutated JPEG/PNG files: each a clean decode (%d) or a clean error", runs, decoded);
}

static void test_resize_api(void)
{
    char err[512] = "";
    detc_image src = {0}, dst = {0};
    detc_image_alloc(&src, 4, 4, 3, err, sizeof err);
    check(detc_image_resize(&src, 0, 5, DETC_RESIZE_BILINEAR, &dst, err, sizeof err) != 0 && dst.pixels == NULL &&
              strstr(err, "0x5"),
          "resize to 0x5 is refused: %s", err);
    check(detc_image_resize(&src, 5, 40000, DETC_RESIZE_NEAREST, &dst, err, sizeof err) != 0,
          "resize to 5x40000 is refused: %s", err);
    check(detc_image_resize(&src, 5, 5, (detc_resize_mode)7, &dst, err, sizeof err) != 0 && strstr(err, "mode"),
          "unknown resize mode is refused: %s", err);
    detc_image nopix = {4, 4, 3, NULL};
    check(detc_image_resize(&nopix, 5, 5, DETC_RESIZE_NEAREST, &dst, err, sizeof err) != 0,
          "resize of an image without pixels is refused: %s", err);
    fill_pattern(&src);
    int same = 1;
    for (int m = 0; m < 3; m++) {
        same &= detc_image_resize(&src, 4, 4, (detc_resize_mode)m, &dst, err, sizeof err) == 0 &&
                memcmp(dst.pixels, src.pixels, 48) == 0;
        detc_image_free(&dst);
    }
    check(same, "resizing to the same size is the identity in every mode");
    detc_image_free(&src);

    const char *names[] = {"nearest", "bilinear", "area_aa"};
    int names_ok = 1;
    for (int m = 0; m < 3; m++) {
        detc_resize_mode parsed;
        names_ok &= strcmp(detc_resize_mode_name((detc_resize_mode)m), names[m]) == 0 &&
                    detc_resize_mode_parse(names[m], &parsed) == 0 && parsed == (detc_resize_mode)m;
    }
    detc_resize_mode parsed;
    check(names_ok && detc_resize_mode_parse("lanczos", &parsed) != 0 && detc_resize_mode_parse(NULL, &parsed) != 0 &&
              strcmp(detc_resize_mode_name((detc_resize_mode)9), "unknown") == 0,
          "resize mode names and parsing");

    float f[4] = {1, 2, 3, 4}, o[4];
    check(detc_resize_bilinear_f32(f, 2, 2, 1, o, 2, 2) == 0 && memcmp(f, o, sizeof f) == 0 &&
              detc_resize_bilinear_f32(f, 0, 2, 1, o, 2, 2) != 0 &&
              detc_resize_bilinear_f32(NULL, 2, 2, 1, o, 2, 2) != 0,
          "resize_f32: identity at the same size, bad arguments refused");
}

/* ---------------------------------------------------------------- drawing */

static int px_is(const detc_image *img, int x, int y, uint8_t r, uint8_t g, uint8_t b)
{
    const uint8_t *p = img->pixels + ((size_t)y * img->width + x) * 3;
    return p[0] == r && p[1] == g && p[2] == b;
}

static size_t count_color(const detc_image *img, uint8_t r, uint8_t g, uint8_t b)
{
    size_t n = 0;
    for (int y = 0; y < img->height; y++)
        for (int x = 0; x < img->width; x++)
            n += px_is(img, x, y, r, g, b);
    return n;
}

static void test_draw_box(void)
{
    char err[256];
    detc_image img = {0};
    detc_image_alloc(&img, 20, 16, 3, err, sizeof err);
    detc_draw_box(&img, 2.0f, 3.0f, 10.0f, 9.0f, 255, 0, 0, 1);
    /* x1, y1 exclusive: columns 2..9, rows 3..8; outline = 2*8 + 2*6 - 4 = 24 pixels */
    check(count_color(&img, 255, 0, 0) == 24 && px_is(&img, 2, 3, 255, 0, 0) && px_is(&img, 9, 8, 255, 0, 0) &&
              px_is(&img, 9, 3, 255, 0, 0) && !px_is(&img, 10, 3, 255, 0, 0) && !px_is(&img, 5, 5, 255, 0, 0),
          "1-px box covers exactly its outline (%zu px)", count_color(&img, 255, 0, 0));
    memset(img.pixels, 0, 20 * 16 * 3);
    detc_draw_box(&img, 10.0f, 9.0f, 2.0f, 3.0f, 0, 255, 0, 2); /* swapped corners, thickness 2 */
    check(count_color(&img, 0, 255, 0) == 8 * 6 - 4 * 2 && px_is(&img, 3, 4, 0, 255, 0) &&
              !px_is(&img, 4, 5, 0, 255, 0),
          "2-px box with swapped corners (%zu px)", count_color(&img, 0, 255, 0));
    memset(img.pixels, 0, 20 * 16 * 3);
    const float bad[] = {NAN, INFINITY, -INFINITY};
    for (int i = 0; i < 3; i++) {
        detc_draw_box(&img, bad[i], 1, 5, 5, 9, 9, 9, 1);
        detc_draw_box(&img, 1, bad[i], 5, 5, 9, 9, 9, 1);
        detc_draw_box(&img, 1, 1, bad[i], 5, 9, 9, 9, 1);
        detc_draw_box(&img, 1, 1, 5, bad[i], 9, 9, 9, 1);
    }
    check(count_color(&img, 9, 9, 9) == 0, "boxes with NaN/inf coordinates are skipped");
    detc_draw_box(&img, -1e30f, -1e30f, 1e30f, 1e30f, 7, 7, 7, 3);
    check(count_color(&img, 7, 7, 7) == 0, "a box enclosing the image far outside leaves it untouched");
    detc_draw_box(&img, -5.0f, -5.0f, 5.0f, 1e38f, 7, 7, 7, 1);
    /* right edge at column 4 over all rows; left/top/bottom edges are outside */
    check(count_color(&img, 7, 7, 7) == 16 && px_is(&img, 4, 0, 7, 7, 7) && px_is(&img, 4, 15, 7, 7, 7),
          "partly visible box is clipped (%zu px)", count_color(&img, 7, 7, 7));
    memset(img.pixels, 0, 20 * 16 * 3);
    detc_draw_box(&img, 0, 0, 20, 16, 1, 2, 3, 100000);
    check(count_color(&img, 1, 2, 3) == 20 * 16, "huge thickness fills the image without overflow");
    detc_image_free(&img);
    detc_image gray = {0};
    detc_image_alloc(&gray, 5, 5, 1, err, sizeof err);
    detc_draw_box(&gray, 0, 0, 5, 5, 255, 255, 255, 1);
    check(gray.pixels[0] == 255 && gray.pixels[12] == 0, "box on a 1-channel image writes luma");
    detc_image_free(&gray);
}

/* Bounding box of pixels with the given colour; returns the count. */
static size_t color_bounds(const detc_image *img, uint8_t r, uint8_t g, uint8_t b, int *x0, int *y0, int *x1,
                           int *y1)
{
    size_t n = 0;
    *x0 = *y0 = 1 << 30;
    *x1 = *y1 = -1;
    for (int y = 0; y < img->height; y++)
        for (int x = 0; x < img->width; x++)
            if (px_is(img, x, y, r, g, b)) {
                n++;
                *x0 = x < *x0 ? x : *x0;
                *y0 = y < *y0 ? y : *y0;
                *x1 = x > *x1 ? x : *x1;
                *y1 = y > *y1 ? y : *y1;
            }
    return n;
}

static void test_draw_label(void)
{
    char err[256];
    const uint8_t fg[3] = {255, 255, 255}, bg[3] = {200, 0, 0};
    detc_image img = {0};
    detc_image_alloc(&img, 120, 60, 3, err, sizeof err);
    int w, h;
    detc_label_size("dog 0.87", 2, &w, &h);
    check(w == (8 * 6 - 1 + 2) * 2 && h == 20, "label size for 8 chars at scale 2 is %dx%d", w, h);
    detc_draw_label(&img, 10, 30, "dog 0.87", fg, bg, 2);
    int x0, y0, x1, y1;
    size_t nbg = color_bounds(&img, 200, 0, 0, &x0, &y0, &x1, &y1);
    int fx0, fy0, fx1, fy1;
    size_t nfg = color_bounds(&img, 255, 255, 255, &fx0, &fy0, &fx1, &fy1);
    check(x0 == 10 && y0 == 10 && x1 == 10 + w - 1 && y1 == 29 && nfg > 50 && fx0 >= x0 && fx1 <= x1 && fy0 >= y0 &&
              fy1 <= y1 && nbg + nfg == (size_t)w * h,
          "label sits above the box at (10,30): bg %d,%d..%d,%d, %zu text px", x0, y0, x1, y1, nfg);
    memset(img.pixels, 0, 120 * 60 * 3);
    detc_draw_label(&img, 110, 5, "person", fg, bg, 2);
    color_bounds(&img, 200, 0, 0, &x0, &y0, &x1, &y1);
    detc_label_size("person", 2, &w, &h);
    check(y0 == 5 && x1 == 119 && x0 == 120 - w, "no room above: label goes inside the box, moved left to fit");
    memset(img.pixels, 0, 120 * 60 * 3);
    detc_draw_label(&img, -50, 2000000000, "a very long label that does not fit anywhere", fg, bg, 64);
    detc_draw_label(&img, -2000000000, -2000000000, "x", fg, bg, 1000);
    detc_draw_label(&img, 3, 3, "\x01\xff\t", fg, NULL, 1);
    detc_draw_label(&img, 3, 3, "", fg, bg, 1);
    detc_draw_label(&img, 3, 3, NULL, fg, bg, 1);
    check(1, "labels with extreme positions, scales and bytes do not write out of bounds");
    detc_image_free(&img);

    /* the font: every printable character except space has ink, and no two glyphs look the same */
    detc_image a = {0}, b = {0};
    detc_image_alloc(&a, 8, 12, 3, err, sizeof err);
    detc_image_alloc(&b, 8, 12, 3, err, sizeof err);
    int inked = 1, distinct = 1;
    const uint8_t black[3] = {0, 0, 0};
    for (int c = 33; c < 127 && (inked || distinct); c++) {
        char s[2] = {(char)c, 0};
        memset(a.pixels, 0, 8 * 12 * 3);
        detc_draw_label(&a, 0, 0, s, fg, black, 1);
        inked &= count_color(&a, 255, 255, 255) > 0;
        for (int d = c + 1; d < 127; d++) {
            char t[2] = {(char)d, 0};
            memset(b.pixels, 0, 8 * 12 * 3);
            detc_draw_label(&b, 0, 0, t, fg, black, 1);
            if (memcmp(a.pixels, b.pixels, 8 * 12 * 3) == 0) {
                printf("# glyphs '%c' and '%c' are identical\n", c, d);
                distinct = 0;
            }
        }
    }
    check(inked && distinct, "font: all 94 visible glyphs have ink and are pairwise distinct");
    detc_image_free(&a);
    detc_image_free(&b);
}

static void test_draw_mask(void)
{
    char err[256];
    detc_image img = {0};
    detc_image_alloc(&img, 6, 5, 3, err, sizeof err);
    memset(img.pixels, 100, 6 * 5 * 3);
    uint8_t mask[30] = {0};
    for (int y = 1; y <= 3; y++)
        for (int x = 1; x <= 4; x++)
            mask[y * 6 + x] = 1;
    detc_draw_mask(&img, mask, 200, 0, 50, 0.5f);
    /* interior (2..3, 2): 100*0.5 + c*0.5 exactly -> (150, 50, 75); outline: solid colour */
    check(px_is(&img, 2, 2, 150, 50, 75) && px_is(&img, 3, 2, 150, 50, 75) && px_is(&img, 1, 1, 200, 0, 50) &&
              px_is(&img, 4, 3, 200, 0, 50) && px_is(&img, 2, 1, 200, 0, 50) && px_is(&img, 0, 0, 100, 100, 100) &&
              px_is(&img, 5, 2, 100, 100, 100) && count_color(&img, 200, 0, 50) == 10,
          "mask: interior blended 50%%, 1-px outline solid, outside untouched");
    memset(img.pixels, 100, 6 * 5 * 3);
    detc_draw_mask(&img, mask, 200, 0, 50, NAN);
    check(count_color(&img, 100, 100, 100) == 30, "mask with NaN alpha is skipped");
    detc_draw_mask(&img, mask, 200, 0, 50, 7.0f);
    check(px_is(&img, 2, 2, 200, 0, 50), "alpha above 1 is clamped to 1");
    memset(mask, 1, sizeof mask);
    memset(img.pixels, 100, 6 * 5 * 3);
    detc_draw_mask(&img, mask, 0, 0, 0, 0.0f);
    check(count_color(&img, 100, 100, 100) == 30, "full-image mask has no outline at the image border");
    detc_draw_mask(&img, NULL, 0, 0, 0, 0.5f);
    detc_image_free(&img);
}

static void test_palette(void)
{
    uint8_t c[40][3];
    for (int i = 0; i < 40; i++)
        detc_palette_color(i, c[i]);
    int distinct = 1;
    for (int i = 0; i < 36; i++)
        for (int j = i + 1; j < 36; j++)
            distinct &= memcmp(c[i], c[j], 3) != 0;
    int near = 1; /* neighbours differ clearly: sum of channel differences */
    for (int i = 0; i < 11; i++)
        near &= abs(c[i][0] - c[i + 1][0]) + abs(c[i][1] - c[i + 1][1]) + abs(c[i][2] - c[i + 1][2]) > 120;
    uint8_t neg[3], fg[3];
    detc_palette_color(-1, neg);
    detc_palette_color(-2147483647 - 1, neg);
    const uint8_t yellow[3] = {250, 200, 20}, navy[3] = {20, 20, 90};
    detc_text_color_for(yellow, fg);
    int dark_on_light = fg[0] == 0;
    detc_text_color_for(navy, fg);
    check(distinct && near && dark_on_light && fg[0] == 255,
          "palette: 36 distinct colours, neighbours clearly apart, negative ids fine, text colour by luma");
}

/* With DETC_KEEP_TEST_FILES set, the temp dir is kept and gets a preview of the font and drawing
 * (for eyes, not asserted). */
static void write_preview(void)
{
    char err[256], path[512];
    detc_image img = {0};
    detc_image_alloc(&img, 640, 200, 3, err, sizeof err);
    memset(img.pixels, 60, 640 * 200 * 3);
    const uint8_t white[3] = {255, 255, 255};
    uint8_t col[3];
    detc_palette_color(0, col);
    detc_draw_box(&img, 20, 40, 300, 190, col[0], col[1], col[2], 3);
    detc_draw_label(&img, 20, 40, "person 0.93 ABCXYZ gjpqy", white, col, 2);
    detc_draw_label(&img, 320, 60, " !\"#$%&'()*+,-./0123456789:;<=>?@", white, NULL, 1);
    detc_draw_label(&img, 320, 80, "ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`", white, NULL, 1);
    detc_draw_label(&img, 320, 100, "abcdefghijklmnopqrstuvwxyz{|}~", white, NULL, 1);
    tmp_path(path, sizeof path, "preview.png");
    detc_image_save_png(path, &img, err, sizeof err);
    printf("# preview: %s\n", path);
    detc_image_free(&img);
}

int main(void)
{
    const char *base = getenv("TMPDIR");
    snprintf(tmp_dir, sizeof tmp_dir, "%s/detc_test_image_XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(tmp_dir)) {
        printf("FAIL - cannot create a temporary directory\n0 passed, 1 failed\n");
        return 1;
    }
    test_cases_file();
    test_photo_decode_matches_pil();
    test_save_load_roundtrip();
    test_malformed();
    test_mutations();
    test_resize_api();
    test_draw_box();
    test_draw_label();
    test_draw_mask();
    test_palette();
    const char *keep = getenv("DETC_KEEP_TEST_FILES");
    if (keep && *keep) {
        write_preview();
    } else {
        const char *made[] = {"rt.png", "rt.jpg", "gray.png", "gray.jpg", "bad.jpg", "small.png"};
        char path[512];
        for (size_t i = 0; i < sizeof made / sizeof made[0]; i++) {
            tmp_path(path, sizeof path, made[i]);
            remove(path);
        }
        rmdir(tmp_dir);
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}

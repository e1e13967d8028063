/* Pixel buffers: allocation and resizing to a model's input size. No file formats here (runtime/io/ reads
 * and writes image files), so a program that brings its own pixels links neither libjpeg nor libpng. */
#include "pixels.h"

#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The resizers reproduce other libraries' float arithmetic bit for bit, so a*b+c must not become
 * a fused multiply-add. gcc does not fuse in ISO C mode (-std=c11); clang needs telling. */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif

#define MAX_RESIZE_CHANNELS 16

void detc_set_err(char *err, size_t err_len, const char *fmt, ...)
{
    if (!err || err_len == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, err_len, fmt, ap);
    va_end(ap);
}

/* Width, height and pixel count within the decoder limits. */
int detc_image_dims_ok(long long w, long long h)
{
    return w >= 1 && h >= 1 && w <= DETC_IMAGE_MAX_SIDE && h <= DETC_IMAGE_MAX_SIDE &&
           w * h <= (long long)DETC_IMAGE_MAX_PIXELS;
}

int detc_image_alloc(detc_image *img, int width, int height, int channels, char *err, size_t err_len)
{
    if (!img) {
        detc_set_err(err, err_len, "image: no output image given");
        return 1;
    }
    memset(img, 0, sizeof *img);
    if (!detc_image_dims_ok(width, height) || channels < 1 || channels > MAX_RESIZE_CHANNELS) {
        detc_set_err(err, err_len,
                "image: size %dx%dx%d is invalid (sides 1..%d, at most %d pixels, 1..%d channels)", width,
                height, channels, DETC_IMAGE_MAX_SIDE, DETC_IMAGE_MAX_PIXELS, MAX_RESIZE_CHANNELS);
        return 1;
    }
    size_t n = (size_t)width * (size_t)height * (size_t)channels;
    img->pixels = calloc(n, 1);
    if (!img->pixels) {
        detc_set_err(err, err_len, "image: out of memory allocating %dx%dx%d pixels", width, height, channels);
        return 1;
    }
    img->width = width;
    img->height = height;
    img->channels = channels;
    return 0;
}

void detc_image_free(detc_image *img)
{
    if (!img)
        return;
    free(img->pixels);
    memset(img, 0, sizeof *img);
}

/* Checks an image handed to an encoder or resizer. */
int detc_image_valid(const detc_image *img, int max_channels)
{
    return img && img->pixels && detc_image_dims_ok(img->width, img->height) && img->channels >= 1 &&
           img->channels <= max_channels;
}

/* ---------------------------------------------------------------- resizing */

const char *detc_resize_mode_name(detc_resize_mode mode)
{
    switch (mode) {
    case DETC_RESIZE_NEAREST:
        return "nearest";
    case DETC_RESIZE_BILINEAR:
        return "bilinear";
    case DETC_RESIZE_AREA_AA:
        return "area_aa";
    }
    return "unknown";
}

int detc_resize_mode_parse(const char *name, detc_resize_mode *out)
{
    static const detc_resize_mode modes[] = {DETC_RESIZE_NEAREST, DETC_RESIZE_BILINEAR, DETC_RESIZE_AREA_AA};
    if (!name || !out)
        return 1;
    for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
        if (strcmp(name, detc_resize_mode_name(modes[i])) == 0) {
            *out = modes[i];
            return 0;
        }
    }
    return 1;
}

/* TensorFlow computes the scale and the source coordinate in float32; doing the same keeps the
 * rare cases where float rounding crosses an integer identical. */
static void resize_nearest(const detc_image *src, detc_image *dst)
{
    int c = src->channels;
    float sx = (float)src->width / (float)dst->width;
    float sy = (float)src->height / (float)dst->height;
    for (int y = 0; y < dst->height; y++) {
        int ys = (int)floorf((float)y * sy);
        if (ys > src->height - 1)
            ys = src->height - 1;
        const uint8_t *srow = src->pixels + (size_t)ys * src->width * c;
        uint8_t *drow = dst->pixels + (size_t)y * dst->width * c;
        for (int x = 0; x < dst->width; x++) {
            int xs = (int)floorf((float)x * sx);
            if (xs > src->width - 1)
                xs = src->width - 1;
            memcpy(drow + (size_t)x * c, srow + (size_t)xs * c, (size_t)c);
        }
    }
}

/* OpenCV's weights: 11 fractional bits (INTER_RESIZE_COEF_BITS). */
#define CV_COEF_ONE 2048

static int16_t cv_weight(float w)
{
    return (int16_t)lrintf(w * (float)CV_COEF_ONE); /* cvRound: nearest, ties to even */
}

/* Source index and weights for one output coordinate, computed as OpenCV does: scale is
 * 1/(out/in) in double, the position is rounded to float, the index is clamped only for columns
 * (rows are clamped when read, with their weights kept). */
static void cv_tap(int d, double scale, int in_size, int clamp, int *index, int16_t w[2])
{
    float f = (float)((d + 0.5) * scale - 0.5);
    int s = (int)floorf(f);
    f -= (float)s;
    if (clamp && s < 0) {
        f = 0.0f;
        s = 0;
    }
    if (clamp && s >= in_size - 1) {
        f = 0.0f;
        s = in_size - 1;
    }
    *index = s;
    w[0] = cv_weight(1.0f - f);
    w[1] = cv_weight(f);
}

/* One source row resized horizontally; values are pixel * 2048 (before the vertical pass). */
static void cv_hresize_row(const uint8_t *s, int iw, int c, int ow, const int *xofs, const int16_t *xw,
                           int32_t *out)
{
    for (int x = 0; x < ow; x++) {
        int sx = xofs[x], w0 = xw[2 * x], w1 = xw[2 * x + 1];
        const uint8_t *p = s + (size_t)sx * c;
        for (int ch = 0; ch < c; ch++)
            out[(size_t)x * c + ch] = p[ch] * w0 + (sx + 1 < iw ? p[c + ch] * w1 : 0);
    }
}

static int resize_bilinear(const detc_image *src, detc_image *dst)
{
    int c = src->channels, iw = src->width, ih = src->height, ow = dst->width, oh = dst->height;
    size_t row_len = (size_t)ow * c;
    int *xofs = malloc(sizeof(int) * (size_t)ow);
    int16_t *xw = malloc(sizeof(int16_t) * 2 * (size_t)ow);
    int32_t *slots = malloc(sizeof(int32_t) * 2 * row_len); /* two cached horizontally resized rows */
    int rc = !xofs || !xw || !slots;
    if (rc)
        goto done;
    double scale_x = 1.0 / ((double)ow / iw), scale_y = 1.0 / ((double)oh / ih);
    for (int x = 0; x < ow; x++)
        cv_tap(x, scale_x, iw, 1, &xofs[x], &xw[2 * x]);
    int slot_row[2] = {-1, -1};
    for (int y = 0; y < oh; y++) {
        int sy;
        int16_t yw[2];
        cv_tap(y, scale_y, ih, 0, &sy, yw);
        int want[2], use[2];
        for (int k = 0; k < 2; k++)
            want[k] = sy + k < 0 ? 0 : sy + k > ih - 1 ? ih - 1 : sy + k;
        for (int k = 0; k < 2; k++) {
            use[k] = slot_row[0] == want[k] ? 0 : slot_row[1] == want[k] ? 1 : -1;
            if (use[k] >= 0)
                continue;
            /* evict the slot the other row of this pair does not need */
            int other = want[1 - k];
            use[k] = k == 1 ? 1 - use[0] : (slot_row[0] == other ? 1 : 0);
            slot_row[use[k]] = want[k];
            cv_hresize_row(src->pixels + (size_t)want[k] * iw * c, iw, c, ow, xofs, xw,
                           slots + (size_t)use[k] * row_len);
        }
        const int32_t *r0 = slots + (size_t)use[0] * row_len, *r1 = slots + (size_t)use[1] * row_len;
        uint8_t *d = dst->pixels + (size_t)y * row_len;
        int32_t b0 = yw[0], b1 = yw[1];
        for (size_t i = 0; i < row_len; i++) {
            /* OpenCV's integer steps for 8-bit output (VResizeLinear) */
            int32_t v = (((b0 * (r0[i] >> 4)) >> 16) + ((b1 * (r1[i] >> 4)) >> 16) + 2) >> 2;
            d[i] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
        }
    }
done:
    free(xofs);
    free(xw);
    free(slots);
    return rc;
}

/* Pillow's fixed point: 22 fractional bits for 8-bit images (32 - 8 - 2). */
#define PIL_PRECISION_BITS 22

static double pil_triangle(double x)
{
    if (x < 0.0)
        x = -x;
    return x < 1.0 ? 1.0 - x : 0.0;
}

/* Per output index: first source index, tap count, and ksize fixed-point weights. Follows
 * Pillow's precompute_coeffs + normalize_coeffs_8bpc step by step (same double expressions in
 * the same order), since the rounding of each weight decides the last bit. */
struct pil_coeffs {
    int ksize;
    int *first, *count;
    int32_t *weights;
};

static void pil_coeffs_free(struct pil_coeffs *pc)
{
    free(pc->first);
    free(pc->count);
    free(pc->weights);
}

static int pil_coeffs_make(int in_size, int out_size, struct pil_coeffs *pc)
{
    memset(pc, 0, sizeof *pc);
    double scale = (double)((float)in_size - 0.0f) / out_size; /* Pillow: (in1 - in0) in float */
    double filterscale = scale < 1.0 ? 1.0 : scale;
    double support = 1.0 * filterscale; /* the triangle's support is 1 */
    int ksize = (int)ceil(support) * 2 + 1;
    double *k = malloc(sizeof(double) * (size_t)ksize);
    pc->first = malloc(sizeof(int) * (size_t)out_size);
    pc->count = malloc(sizeof(int) * (size_t)out_size);
    pc->weights = calloc((size_t)out_size * (size_t)ksize, sizeof(int32_t));
    pc->ksize = ksize;
    if (!k || !pc->first || !pc->count || !pc->weights) {
        free(k);
        pil_coeffs_free(pc);
        return 1;
    }
    for (int xx = 0; xx < out_size; xx++) {
        double center = 0.0 + (xx + 0.5) * scale;
        double ww = 0.0, ss = 1.0 / filterscale;
        int xmin = (int)(center - support + 0.5);
        if (xmin < 0)
            xmin = 0;
        int xmax = (int)(center + support + 0.5);
        if (xmax > in_size)
            xmax = in_size;
        xmax -= xmin;
        if (xmax > ksize) /* cannot happen (support bounds it); keeps writes inside k */
            xmax = ksize;
        for (int x = 0; x < xmax; x++) {
            double w = pil_triangle((x + xmin - center + 0.5) * ss);
            k[x] = w;
            ww += w;
        }
        int32_t *out = pc->weights + (size_t)xx * ksize;
        for (int x = 0; x < xmax; x++) {
            double v = ww != 0.0 ? k[x] / ww : k[x];
            double scaled = v * (1 << PIL_PRECISION_BITS);
            out[x] = (int32_t)(v < 0 ? -0.5 + scaled : 0.5 + scaled);
        }
        pc->first[xx] = xmin;
        pc->count[xx] = xmax < 0 ? 0 : xmax;
    }
    free(k);
    return 0;
}

/* Pillow's clip8: round (the 0.5 was added up front), shift out the fraction, clamp. */
static uint8_t pil_clip8(int64_t acc)
{
    if (acc < 0)
        return 0;
    acc >>= PIL_PRECISION_BITS;
    return (uint8_t)(acc > 255 ? 255 : acc);
}

/* Horizontal pass into an 8-bit intermediate image, then vertical pass, as Pillow does; each
 * pass is skipped when that side keeps its size. Only the rows the vertical pass reads are
 * resized horizontally. */
static int resize_area_aa(const detc_image *src, detc_image *dst)
{
    int c = src->channels, iw = src->width, ih = src->height, ow = dst->width, oh = dst->height;
    int need_h = ow != iw, need_v = oh != ih;
    struct pil_coeffs hc = {0}, vc = {0};
    uint8_t *tmp = NULL;
    int rc = 1;
    if (need_h && pil_coeffs_make(iw, ow, &hc))
        goto done;
    if (need_v && pil_coeffs_make(ih, oh, &vc))
        goto done;
    int row_first = need_v ? vc.first[0] : 0;
    int row_end = need_v ? vc.first[oh - 1] + vc.count[oh - 1] : ih;
    const uint8_t *mid = src->pixels; /* rows row_first..row_end-1 of the width-resized image */
    size_t mid_stride = (size_t)iw * c;
    if (need_h) {
        mid_stride = (size_t)ow * c;
        uint8_t *out = need_v ? NULL : dst->pixels;
        if (need_v) {
            tmp = malloc(mid_stride * (size_t)(row_end - row_first > 0 ? row_end - row_first : 1));
            if (!tmp)
                goto done;
            out = tmp;
        }
        for (int y = row_first; y < row_end; y++) {
            const uint8_t *s = src->pixels + (size_t)y * iw * c;
            uint8_t *d = out + (size_t)(y - row_first) * mid_stride;
            for (int x = 0; x < ow; x++) {
                const int32_t *k = hc.weights + (size_t)x * hc.ksize;
                const uint8_t *p = s + (size_t)hc.first[x] * c;
                for (int ch = 0; ch < c; ch++) {
                    int64_t acc = 1 << (PIL_PRECISION_BITS - 1);
                    for (int t = 0; t < hc.count[x]; t++)
                        acc += (int64_t)p[(size_t)t * c + ch] * k[t];
                    d[(size_t)x * c + ch] = pil_clip8(acc);
                }
            }
        }
        mid = tmp;
    } else {
        mid = src->pixels + (size_t)row_first * mid_stride;
    }
    if (need_v) {
        for (int y = 0; y < oh; y++) {
            const int32_t *k = vc.weights + (size_t)y * vc.ksize;
            const uint8_t *base = mid + (size_t)(vc.first[y] - row_first) * mid_stride;
            uint8_t *d = dst->pixels + (size_t)y * ow * c;
            for (size_t i = 0; i < (size_t)ow * c; i++) {
                int64_t acc = 1 << (PIL_PRECISION_BITS - 1);
                for (int t = 0; t < vc.count[y]; t++)
                    acc += (int64_t)base[(size_t)t * mid_stride + i] * k[t];
                d[i] = pil_clip8(acc);
            }
        }
    } else if (!need_h) {
        memcpy(dst->pixels, src->pixels, (size_t)iw * ih * c);
    }
    rc = 0;
done:
    pil_coeffs_free(&hc);
    pil_coeffs_free(&vc);
    free(tmp);
    return rc;
}

int detc_image_resize(const detc_image *src, int out_w, int out_h, detc_resize_mode mode, detc_image *dst,
                      char *err, size_t err_len)
{
    if (!dst) {
        detc_set_err(err, err_len, "resize: no output image given");
        return 1;
    }
    memset(dst, 0, sizeof *dst);
    if (!detc_image_valid(src, MAX_RESIZE_CHANNELS)) {
        detc_set_err(err, err_len, "resize: invalid source image (sides 1..%d, 1..%d channels, pixels required)",
                DETC_IMAGE_MAX_SIDE, MAX_RESIZE_CHANNELS);
        return 1;
    }
    if (!detc_image_dims_ok(out_w, out_h)) {
        detc_set_err(err, err_len, "resize: output size %dx%d is invalid (sides 1..%d, at most %d pixels)", out_w,
                out_h, DETC_IMAGE_MAX_SIDE, DETC_IMAGE_MAX_PIXELS);
        return 1;
    }
    if (mode != DETC_RESIZE_NEAREST && mode != DETC_RESIZE_BILINEAR && mode != DETC_RESIZE_AREA_AA) {
        detc_set_err(err, err_len, "resize: unknown mode %d (expected nearest, bilinear or area_aa)", (int)mode);
        return 1;
    }
    if (detc_image_alloc(dst, out_w, out_h, src->channels, err, err_len))
        return 1;
    int rc = 0;
    if (mode == DETC_RESIZE_NEAREST)
        resize_nearest(src, dst);
    else if (mode == DETC_RESIZE_BILINEAR)
        rc = resize_bilinear(src, dst);
    else
        rc = resize_area_aa(src, dst);
    if (rc) {
        detc_image_free(dst);
        detc_set_err(err, err_len, "resize: out of memory (%dx%d -> %dx%d, %s)", src->width, src->height, out_w, out_h,
                detc_resize_mode_name(mode));
    }
    return rc;
}

/* One axis of torch's linear interpolation (area_pixel_compute_source_index and
 * compute_source_index_and_lambda), in float as torch computes it for float tensors. */
static void torch_tap(int d, int in_size, int out_size, int *i0, int *i1, float *l0, float *l1)
{
    if (in_size == out_size) {
        *i0 = *i1 = d;
        *l0 = 1.0f;
        *l1 = 0.0f;
        return;
    }
    float scale = (float)in_size / (float)out_size;
    float real = scale * ((float)d + 0.5f) - 0.5f;
    if (real < 0.0f)
        real = 0.0f;
    int idx = (int)real;
    if (idx > in_size - 1)
        idx = in_size - 1;
    *i0 = idx;
    *i1 = idx + (idx < in_size - 1 ? 1 : 0);
    float lam = real - (float)idx;
    *l1 = lam < 0.0f ? 0.0f : lam > 1.0f ? 1.0f : lam;
    *l0 = 1.0f - *l1;
}

int detc_resize_bilinear_f32(const float *src, int w, int h, int c, float *dst, int ow, int oh)
{
    if (!src || !dst || w < 1 || h < 1 || c < 1 || ow < 1 || oh < 1 || w > INT_MAX / c || ow > INT_MAX / c)
        return 1;
    for (int y = 0; y < oh; y++) {
        int y0, y1;
        float hl0, hl1;
        torch_tap(y, h, oh, &y0, &y1, &hl0, &hl1);
        const float *r0 = src + (size_t)y0 * w * c, *r1 = src + (size_t)y1 * w * c;
        float *d = dst + (size_t)y * ow * c;
        for (int x = 0; x < ow; x++) {
            int x0, x1;
            float wl0, wl1;
            torch_tap(x, w, ow, &x0, &x1, &wl0, &wl1);
            for (int ch = 0; ch < c; ch++) {
                size_t a = (size_t)x0 * c + ch, b = (size_t)x1 * c + ch;
                /* torch's order: rows interpolated along x, then blended along y */
                float top = r0[a] * wl0 + r0[b] * wl1;
                float bottom = r1[a] * wl0 + r1[b] * wl1;
                d[(size_t)x * c + ch] = top * hl0 + bottom * hl1;
            }
        }
    }
    return 0;
}

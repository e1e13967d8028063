/* Image decoding (libjpeg-turbo, libpng), encoding, and resizing. */
#include "image.h"

#include <limits.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "file_io.h"

/* jpeglib.h needs stdio.h (FILE) and size_t first. */
#include <jerror.h>
#include <jpeglib.h>
#include <png.h>

/* The resizers reproduce other libraries' float arithmetic bit for bit, so a*b+c must not become
 * a fused multiply-add. gcc does not fuse in ISO C mode (-std=c11); clang needs telling. */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif

/* Reading more than this from one image file is refused (a 2^28-pixel PNG fits well inside). */
#define MAX_FILE_BYTES ((size_t)1 << 30)
/* A corrupt progressive JPEG can declare thousands of scans and keep the decoder busy for
 * minutes; real encoders use about ten. */
#define MAX_JPEG_SCANS 500
#define MAX_RESIZE_CHANNELS 16

#if defined(__GNUC__)
#define DETC_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define DETC_PRINTF(a, b)
#endif

static void set_err(char *err, size_t err_len, const char *fmt, ...) DETC_PRINTF(3, 4);
static void set_err(char *err, size_t err_len, const char *fmt, ...)
{
    if (!err || err_len == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, err_len, fmt, ap);
    va_end(ap);
}

static const char *display_name(const char *name)
{
    return name ? name : "<memory>";
}

/* Width, height and pixel count within the decoder limits. */
static int dims_ok(long long w, long long h)
{
    return w >= 1 && h >= 1 && w <= DETC_IMAGE_MAX_SIDE && h <= DETC_IMAGE_MAX_SIDE &&
           w * h <= (long long)DETC_IMAGE_MAX_PIXELS;
}

int detc_image_alloc(detc_image *img, int width, int height, int channels, char *err, size_t err_len)
{
    if (!img) {
        set_err(err, err_len, "image: no output image given");
        return 1;
    }
    memset(img, 0, sizeof *img);
    if (!dims_ok(width, height) || channels < 1 || channels > MAX_RESIZE_CHANNELS) {
        set_err(err, err_len,
                "image: size %dx%dx%d is invalid (sides 1..%d, at most %d pixels, 1..%d channels)", width,
                height, channels, DETC_IMAGE_MAX_SIDE, DETC_IMAGE_MAX_PIXELS, MAX_RESIZE_CHANNELS);
        return 1;
    }
    size_t n = (size_t)width * (size_t)height * (size_t)channels;
    img->pixels = calloc(n, 1);
    if (!img->pixels) {
        set_err(err, err_len, "image: out of memory allocating %dx%dx%d pixels", width, height, channels);
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
static int image_valid(const detc_image *img, int max_channels)
{
    return img && img->pixels && dims_ok(img->width, img->height) && img->channels >= 1 &&
           img->channels <= max_channels;
}

/* ---------------------------------------------------------------- JPEG decoding */

struct jpeg_error_ctx {
    struct jpeg_error_mgr pub; /* first: libjpeg sees only this part */
    jmp_buf jump;
    char message[JMSG_LENGTH_MAX + 64];
};

static void jpeg_fail(j_common_ptr cinfo)
{
    struct jpeg_error_ctx *ctx = (struct jpeg_error_ctx *)cinfo->err;
    cinfo->err->format_message(cinfo, ctx->message);
    longjmp(ctx->jump, 1);
}

/* libjpeg reports corrupt or truncated data as warnings and fills in grey; a detector must not
 * silently run on half a picture, so warnings are errors (except a metadata-only one). */
static void jpeg_on_message(j_common_ptr cinfo, int level)
{
    if (level >= 0 || cinfo->err->msg_code == JWRN_JFIF_MAJOR)
        return;
    jpeg_fail(cinfo);
}

static void jpeg_on_progress(j_common_ptr cinfo)
{
    if (!cinfo->is_decompressor)
        return;
    j_decompress_ptr d = (j_decompress_ptr)cinfo;
    if (d->input_scan_number > MAX_JPEG_SCANS) {
        struct jpeg_error_ctx *ctx = (struct jpeg_error_ctx *)cinfo->err;
        snprintf(ctx->message, sizeof ctx->message, "more than %d progressive scans (corrupt file?)",
                 MAX_JPEG_SCANS);
        longjmp(ctx->jump, 1);
    }
}

/* Everything the decoder changes after setjmp lives here, outside the frame that calls setjmp,
 * so its values are well defined after a longjmp. */
struct jpeg_job {
    const uint8_t *data;
    size_t len;
    struct jpeg_decompress_struct cinfo;
    struct jpeg_error_ctx jerr;
    struct jpeg_progress_mgr progress;
    int created;
    uint8_t *pixels;
    uint8_t *row; /* CMYK scanline */
    int width, height;
    char message[JMSG_LENGTH_MAX + 128];
};

static uint8_t mul_div255(unsigned a, unsigned b)
{
    return (uint8_t)((a * b + 127) / 255);
}

static int jpeg_decode(struct jpeg_job *job)
{
    j_decompress_ptr cinfo = &job->cinfo;
    cinfo->err = jpeg_std_error(&job->jerr.pub);
    job->jerr.pub.error_exit = jpeg_fail;
    job->jerr.pub.emit_message = jpeg_on_message;
    if (setjmp(job->jerr.jump)) {
        snprintf(job->message, sizeof job->message, "%s", job->jerr.message);
        return 1;
    }
    job->created = 1; /* destroying a half-created struct is safe: job was zeroed */
    jpeg_create_decompress(cinfo);
    job->progress.progress_monitor = jpeg_on_progress;
    cinfo->progress = &job->progress;
    jpeg_mem_src(cinfo, job->data, (unsigned long)job->len);
    jpeg_read_header(cinfo, TRUE);
    if (!dims_ok(cinfo->image_width, cinfo->image_height)) {
        snprintf(job->message, sizeof job->message,
                 "image is %ux%u; at most %dx%d and %d pixels are accepted", cinfo->image_width,
                 cinfo->image_height, DETC_IMAGE_MAX_SIDE, DETC_IMAGE_MAX_SIDE, DETC_IMAGE_MAX_PIXELS);
        return 1;
    }
    int cmyk = cinfo->jpeg_color_space == JCS_CMYK || cinfo->jpeg_color_space == JCS_YCCK;
    cinfo->out_color_space = cmyk ? JCS_CMYK : JCS_RGB;
    jpeg_start_decompress(cinfo);
    int comps = cinfo->output_components;
    if (comps != (cmyk ? 4 : 3) || !dims_ok(cinfo->output_width, cinfo->output_height)) {
        snprintf(job->message, sizeof job->message, "unexpected decoder output (%d components, %ux%u)",
                 comps, cinfo->output_width, cinfo->output_height);
        return 1;
    }
    job->width = (int)cinfo->output_width;
    job->height = (int)cinfo->output_height;
    size_t w = (size_t)job->width;
    job->pixels = malloc(w * (size_t)job->height * 3);
    if (cmyk)
        job->row = malloc(w * 4);
    if (!job->pixels || (cmyk && !job->row)) {
        snprintf(job->message, sizeof job->message, "out of memory for %dx%d pixels", job->width, job->height);
        return 1;
    }
    /* Adobe writes CMYK inverted (0 = full ink); that is what the APP14 marker tells us. */
    int inverted = cinfo->saw_Adobe_marker;
    while (cinfo->output_scanline < cinfo->output_height) {
        uint8_t *dst = job->pixels + (size_t)cinfo->output_scanline * w * 3;
        JSAMPROW rowp = cmyk ? job->row : dst;
        if (jpeg_read_scanlines(cinfo, &rowp, 1) != 1) {
            snprintf(job->message, sizeof job->message, "decoder returned no scanline");
            return 1;
        }
        if (!cmyk)
            continue;
        for (size_t x = 0; x < w; x++) {
            const uint8_t *s = job->row + x * 4;
            unsigned c = s[0], m = s[1], y = s[2], k = s[3];
            if (!inverted) {
                c = 255 - c;
                m = 255 - m;
                y = 255 - y;
                k = 255 - k;
            }
            dst[x * 3 + 0] = mul_div255(c, k);
            dst[x * 3 + 1] = mul_div255(m, k);
            dst[x * 3 + 2] = mul_div255(y, k);
        }
    }
    jpeg_finish_decompress(cinfo);
    return 0;
}

static int load_jpeg(const uint8_t *data, size_t len, const char *name, detc_image *out, char *err,
                     size_t err_len)
{
    struct jpeg_job *job = calloc(1, sizeof *job);
    if (!job) {
        set_err(err, err_len, "%s: out of memory", display_name(name));
        return 1;
    }
    job->data = data;
    job->len = len;
    int rc = len > ULONG_MAX;
    if (rc)
        snprintf(job->message, sizeof job->message, "file too large");
    else
        rc = jpeg_decode(job);
    if (job->created)
        jpeg_destroy_decompress(&job->cinfo);
    free(job->row);
    if (rc) {
        set_err(err, err_len, "%s: JPEG: %s", display_name(name), job->message);
        free(job->pixels);
    } else {
        out->width = job->width;
        out->height = job->height;
        out->channels = 3;
        out->pixels = job->pixels;
    }
    free(job);
    return rc;
}

/* ---------------------------------------------------------------- PNG decoding */

/* libpng's error pointer, for both reading and writing. */
struct png_message {
    char text[384];
};

/* Only the error itself: libpng's warnings are about other, ancillary chunks (colour profiles, text)
 * and would send the reader after the wrong problem. */
static void png_on_error(png_structp png, png_const_charp msg)
{
    struct png_message *m = png_get_error_ptr(png);
    snprintf(m->text, sizeof m->text, "%s", msg);
    png_longjmp(png, 1);
}

struct png_job {
    const uint8_t *data;
    size_t len, pos;
    png_structp png;
    png_infop info;
    uint8_t *pixels;
    png_bytep *rows;
    int width, height;
    struct png_message msg;
};

/* Warnings are about ancillary data (colour profiles, text) and leave the pixels intact: ignored. */
static void png_on_warning(png_structp png, png_const_charp msg)
{
    (void)png;
    (void)msg;
}

static void png_read_memory(png_structp png, png_bytep dst, size_t n)
{
    struct png_job *job = png_get_io_ptr(png);
    if (n > job->len - job->pos)
        png_error(png, "file is truncated");
    memcpy(dst, job->data + job->pos, n);
    job->pos += n;
}

static int png_decode(struct png_job *job)
{
    png_structp png = job->png;
    png_infop info = job->info;
    if (setjmp(png_jmpbuf(png)))
        return 1;
    png_set_read_fn(png, job, png_read_memory);
    png_set_user_limits(png, DETC_IMAGE_MAX_SIDE, DETC_IMAGE_MAX_SIDE);
    png_read_info(png, info);
    png_uint_32 w = 0, h = 0;
    int depth = 0, color = 0, interlace = 0;
    png_get_IHDR(png, info, &w, &h, &depth, &color, &interlace, NULL, NULL);
    if (!dims_ok(w, h)) {
        snprintf(job->msg.text, sizeof job->msg.text, "image is %ux%u; at most %dx%d and %d pixels are accepted",
                 (unsigned)w, (unsigned)h, DETC_IMAGE_MAX_SIDE, DETC_IMAGE_MAX_SIDE, DETC_IMAGE_MAX_PIXELS);
        return 1;
    }
    png_set_expand(png);      /* palette -> RGB, gray < 8 bits -> 8, tRNS -> alpha */
    png_set_strip_16(png);    /* keep the high byte, as PIL and OpenCV do */
    png_set_strip_alpha(png); /* dropped, not composited */
    if (!(color & PNG_COLOR_MASK_COLOR))
        png_set_gray_to_rgb(png);
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
    if (png_get_channels(png, info) != 3 || png_get_bit_depth(png, info) != 8 ||
        png_get_rowbytes(png, info) != (size_t)w * 3) {
        snprintf(job->msg.text, sizeof job->msg.text, "cannot convert colour type %d, depth %d to RGB", color, depth);
        return 1;
    }
    job->width = (int)w;
    job->height = (int)h;
    job->pixels = malloc((size_t)w * h * 3);
    job->rows = malloc(sizeof(png_bytep) * h);
    if (!job->pixels || !job->rows) {
        snprintf(job->msg.text, sizeof job->msg.text, "out of memory for %ux%u pixels", (unsigned)w, (unsigned)h);
        return 1;
    }
    for (png_uint_32 y = 0; y < h; y++)
        job->rows[y] = job->pixels + (size_t)y * w * 3;
    png_read_image(png, job->rows);
    png_read_end(png, NULL); /* checks the remaining chunks' CRCs and that IEND is there */
    return 0;
}

static int load_png(const uint8_t *data, size_t len, const char *name, detc_image *out, char *err, size_t err_len)
{
    struct png_job *job = calloc(1, sizeof *job);
    if (!job) {
        set_err(err, err_len, "%s: out of memory", display_name(name));
        return 1;
    }
    job->data = data;
    job->len = len;
    int rc = 1;
    job->png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &job->msg, png_on_error, png_on_warning);
    if (job->png)
        job->info = png_create_info_struct(job->png);
    if (!job->png || !job->info)
        snprintf(job->msg.text, sizeof job->msg.text, "out of memory");
    else
        rc = png_decode(job);
    if (job->png)
        png_destroy_read_struct(&job->png, job->info ? &job->info : NULL, NULL);
    free(job->rows);
    if (rc) {
        set_err(err, err_len, "%s: PNG: %s", display_name(name), job->msg.text);
        free(job->pixels);
    } else {
        out->width = job->width;
        out->height = job->height;
        out->channels = 3;
        out->pixels = job->pixels;
    }
    free(job);
    return rc;
}

/* ---------------------------------------------------------------- loading */

int detc_image_load_memory(const uint8_t *data, size_t len, const char *name, detc_image *out, char *err,
                           size_t err_len)
{
    static const uint8_t png_magic[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    if (!out) {
        set_err(err, err_len, "%s: no output image given", display_name(name));
        return 1;
    }
    memset(out, 0, sizeof *out);
    if (!data && len > 0) {
        set_err(err, err_len, "%s: no data given", display_name(name));
        return 1;
    }
    if (len >= 3 && data[0] == 0xff && data[1] == 0xd8 && data[2] == 0xff)
        return load_jpeg(data, len, name, out, err, err_len);
    if (len >= sizeof png_magic && memcmp(data, png_magic, sizeof png_magic) == 0)
        return load_png(data, len, name, out, err, err_len);
    if (len == 0) {
        set_err(err, err_len, "%s: empty file, not a JPEG or PNG image", display_name(name));
        return 1;
    }
    char hex[16] = "";
    size_t shown = len < 4 ? len : 4;
    for (size_t i = 0, used = 0; i < shown; i++)
        used += (size_t)snprintf(hex + used, sizeof hex - used, i ? " %02x" : "%02x", data[i]);
    set_err(err, err_len, "%s: not a JPEG or PNG file (starts with bytes %s)", display_name(name), hex);
    return 1;
}

int detc_image_load(const char *path, detc_image *out, char *err, size_t err_len)
{
    if (out)
        memset(out, 0, sizeof *out);
    if (!path) {
        set_err(err, err_len, "image: no path given");
        return 1;
    }
    /* regular files only, size checked first: a FIFO or /dev/zero is refused before any read */
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc = detc_read_regular_file(path, MAX_FILE_BYTES, &buf, &len, err, err_len);
    if (rc == 0)
        rc = detc_image_load_memory(buf, len, path, out, err, err_len);
    free(buf);
    return rc;
}

/* ---------------------------------------------------------------- encoding */

/* Encoded JPEG bytes collected in memory. Not jpeg_mem_dest: after an error in the middle of encoding it
 * leaves the caller's pointer on a buffer it already freed. This one owns its buffer throughout. */
struct jpeg_memory_out {
    struct jpeg_destination_mgr pub; /* first: libjpeg sees only this part */
    uint8_t *buf;
    size_t len, cap;
};

static void jpeg_out_init(j_compress_ptr cinfo)
{
    struct jpeg_memory_out *d = (struct jpeg_memory_out *)cinfo->dest;
    d->cap = 1 << 16;
    if (!(d->buf = malloc(d->cap)))
        ERREXIT1(cinfo, JERR_OUT_OF_MEMORY, 0);
    d->pub.next_output_byte = d->buf;
    d->pub.free_in_buffer = d->cap;
}

static boolean jpeg_out_grow(j_compress_ptr cinfo)
{
    struct jpeg_memory_out *d = (struct jpeg_memory_out *)cinfo->dest;
    uint8_t *bigger = d->cap <= SIZE_MAX / 2 ? realloc(d->buf, d->cap * 2) : NULL;
    if (!bigger)
        ERREXIT1(cinfo, JERR_OUT_OF_MEMORY, 1); /* d->buf stays valid and is freed by the caller */
    d->buf = bigger;
    d->pub.next_output_byte = d->buf + d->cap; /* libjpeg hands the buffer over full */
    d->pub.free_in_buffer = d->cap;
    d->cap *= 2;
    return TRUE;
}

static void jpeg_out_term(j_compress_ptr cinfo)
{
    struct jpeg_memory_out *d = (struct jpeg_memory_out *)cinfo->dest;
    d->len = d->cap - d->pub.free_in_buffer;
}

struct jpeg_save_job {
    struct jpeg_compress_struct cinfo;
    struct jpeg_error_ctx jerr;
    int created;
    struct jpeg_memory_out out; /* the encoded bytes */
    const detc_image *img;
    int quality;
};

static int jpeg_encode(struct jpeg_save_job *job)
{
    j_compress_ptr cinfo = &job->cinfo;
    cinfo->err = jpeg_std_error(&job->jerr.pub);
    job->jerr.pub.error_exit = jpeg_fail;
    job->jerr.pub.emit_message = jpeg_on_message;
    if (setjmp(job->jerr.jump))
        return 1;
    jpeg_create_compress(cinfo);
    job->created = 1;
    job->out.pub.init_destination = jpeg_out_init;
    job->out.pub.empty_output_buffer = jpeg_out_grow;
    job->out.pub.term_destination = jpeg_out_term;
    cinfo->dest = &job->out.pub;
    const detc_image *img = job->img;
    cinfo->image_width = (JDIMENSION)img->width;
    cinfo->image_height = (JDIMENSION)img->height;
    cinfo->input_components = img->channels;
    cinfo->in_color_space = img->channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_set_defaults(cinfo);
    jpeg_set_quality(cinfo, job->quality, TRUE);
    jpeg_start_compress(cinfo, TRUE);
    size_t stride = (size_t)img->width * (size_t)img->channels;
    while (cinfo->next_scanline < cinfo->image_height) {
        /* libjpeg's row type is not const, but it only reads the rows it is given. */
        JSAMPROW row = (JSAMPROW)(uintptr_t)(img->pixels + (size_t)cinfo->next_scanline * stride);
        jpeg_write_scanlines(cinfo, &row, 1);
    }
    jpeg_finish_compress(cinfo);
    return 0;
}

int detc_image_save_jpeg(const char *path, const detc_image *img, int quality, char *err, size_t err_len)
{
    if (!path) {
        set_err(err, err_len, "image: no path given");
        return 1;
    }
    if (!image_valid(img, 3) || img->channels == 2) {
        set_err(err, err_len, "%s: cannot save as JPEG: need a 1- or 3-channel image of at most %dx%d", path,
                DETC_IMAGE_MAX_SIDE, DETC_IMAGE_MAX_SIDE);
        return 1;
    }
    if (quality < 1 || quality > 100) {
        set_err(err, err_len, "%s: JPEG quality %d is out of range 1..100", path, quality);
        return 1;
    }
    struct jpeg_save_job *job = calloc(1, sizeof *job);
    if (!job) {
        set_err(err, err_len, "%s: out of memory", path);
        return 1;
    }
    job->img = img;
    job->quality = quality;
    /* encoded in memory, then written whole: a failed write leaves the old file in place */
    int rc = jpeg_encode(job);
    if (rc)
        set_err(err, err_len, "%s: JPEG: %s", path, job->jerr.message);
    if (job->created)
        jpeg_destroy_compress(&job->cinfo);
    if (rc == 0)
        rc = detc_write_file_atomic(path, job->out.buf, job->out.len, err, err_len);
    free(job->out.buf);
    free(job);
    return rc;
}

struct png_save_job {
    png_structp png;
    png_infop info;
    uint8_t *out; /* encoded bytes */
    size_t out_len, out_cap;
    const detc_image *img;
    png_bytep *rows;
    struct png_message msg;
};

static void png_write_memory(png_structp png, png_bytep src, size_t n)
{
    struct png_save_job *job = png_get_io_ptr(png);
    if (n > job->out_cap - job->out_len) {
        size_t cap = job->out_cap ? job->out_cap : 1 << 16;
        while (cap - job->out_len < n) {
            if (cap > SIZE_MAX / 2)
                png_error(png, "out of memory");
            cap *= 2;
        }
        uint8_t *bigger = realloc(job->out, cap);
        if (!bigger)
            png_error(png, "out of memory");
        job->out = bigger;
        job->out_cap = cap;
    }
    memcpy(job->out + job->out_len, src, n);
    job->out_len += n;
}

static void png_flush_memory(png_structp png)
{
    (void)png;
}

static int png_encode(struct png_save_job *job)
{
    if (setjmp(png_jmpbuf(job->png)))
        return 1;
    static const int color_types[5] = {0, PNG_COLOR_TYPE_GRAY, PNG_COLOR_TYPE_GRAY_ALPHA, PNG_COLOR_TYPE_RGB,
                                       PNG_COLOR_TYPE_RGB_ALPHA};
    const detc_image *img = job->img;
    png_set_write_fn(job->png, job, png_write_memory, png_flush_memory);
    png_set_IHDR(job->png, job->info, (png_uint_32)img->width, (png_uint_32)img->height, 8,
                 color_types[img->channels], PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
                 PNG_FILTER_TYPE_DEFAULT);
    png_write_info(job->png, job->info);
    png_write_image(job->png, job->rows);
    png_write_end(job->png, NULL);
    return 0;
}

int detc_image_save_png(const char *path, const detc_image *img, char *err, size_t err_len)
{
    if (!path) {
        set_err(err, err_len, "image: no path given");
        return 1;
    }
    if (!image_valid(img, 4)) {
        set_err(err, err_len, "%s: cannot save as PNG: need a 1..4-channel image of at most %dx%d", path,
                DETC_IMAGE_MAX_SIDE, DETC_IMAGE_MAX_SIDE);
        return 1;
    }
    struct png_save_job *job = calloc(1, sizeof *job);
    if (!job) {
        set_err(err, err_len, "%s: out of memory", path);
        return 1;
    }
    job->img = img;
    int rc = 1;
    job->rows = malloc(sizeof(png_bytep) * (size_t)img->height);
    job->png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &job->msg, png_on_error, png_on_warning);
    if (job->png)
        job->info = png_create_info_struct(job->png);
    if (!job->rows || !job->png || !job->info) {
        set_err(err, err_len, "%s: out of memory", path);
    } else {
        size_t stride = (size_t)img->width * (size_t)img->channels;
        for (int y = 0; y < img->height; y++) /* libpng only reads the rows it writes */
            job->rows[y] = (png_bytep)(uintptr_t)(img->pixels + (size_t)y * stride);
        rc = png_encode(job);
        if (rc)
            set_err(err, err_len, "%s: PNG: %s", path, job->msg.text);
        else /* written whole: a failed write leaves the old file in place */
            rc = detc_write_file_atomic(path, job->out, job->out_len, err, err_len);
    }
    if (job->png)
        png_destroy_write_struct(&job->png, job->info ? &job->info : NULL);
    free(job->rows);
    free(job->out);
    free(job);
    return rc;
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
        set_err(err, err_len, "resize: no output image given");
        return 1;
    }
    memset(dst, 0, sizeof *dst);
    if (!image_valid(src, MAX_RESIZE_CHANNELS)) {
        set_err(err, err_len, "resize: invalid source image (sides 1..%d, 1..%d channels, pixels required)",
                DETC_IMAGE_MAX_SIDE, MAX_RESIZE_CHANNELS);
        return 1;
    }
    if (!dims_ok(out_w, out_h)) {
        set_err(err, err_len, "resize: output size %dx%d is invalid (sides 1..%d, at most %d pixels)", out_w,
                out_h, DETC_IMAGE_MAX_SIDE, DETC_IMAGE_MAX_PIXELS);
        return 1;
    }
    if (mode != DETC_RESIZE_NEAREST && mode != DETC_RESIZE_BILINEAR && mode != DETC_RESIZE_AREA_AA) {
        set_err(err, err_len, "resize: unknown mode %d (expected nearest, bilinear or area_aa)", (int)mode);
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
        set_err(err, err_len, "resize: out of memory (%dx%d -> %dx%d, %s)", src->width, src->height, out_w, out_h,
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

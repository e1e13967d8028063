/* Image files: decoding (libjpeg-turbo, libpng) and encoding. Pixels live in runtime/pixels.c. */
#include "image_file.h"

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

/* Reading more than this from one image file is refused (a 2^28-pixel PNG fits well inside). */
#define MAX_FILE_BYTES ((size_t)1 << 30)
/* A corrupt progressive JPEG can declare thousands of scans and keep the decoder busy for
 * minutes; real encoders use about ten. */
#define MAX_JPEG_SCANS 500

static const char *display_name(const char *name)
{
    return name ? name : "<memory>";
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
    if (!detc_image_dims_ok(cinfo->image_width, cinfo->image_height)) {
        snprintf(job->message, sizeof job->message,
                 "image is %ux%u; at most %dx%d and %d pixels are accepted", cinfo->image_width,
                 cinfo->image_height, DETC_IMAGE_MAX_SIDE, DETC_IMAGE_MAX_SIDE, DETC_IMAGE_MAX_PIXELS);
        return 1;
    }
    int cmyk = cinfo->jpeg_color_space == JCS_CMYK || cinfo->jpeg_color_space == JCS_YCCK;
    cinfo->out_color_space = cmyk ? JCS_CMYK : JCS_RGB;
    jpeg_start_decompress(cinfo);
    int comps = cinfo->output_components;
    if (comps != (cmyk ? 4 : 3) || !detc_image_dims_ok(cinfo->output_width, cinfo->output_height)) {
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
        detc_set_err(err, err_len, "%s: out of memory", display_name(name));
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
        detc_set_err(err, err_len, "%s: JPEG: %s", display_name(name), job->message);
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
    if (!detc_image_dims_ok(w, h)) {
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
        detc_set_err(err, err_len, "%s: out of memory", display_name(name));
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
        detc_set_err(err, err_len, "%s: PNG: %s", display_name(name), job->msg.text);
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
        detc_set_err(err, err_len, "%s: no output image given", display_name(name));
        return 1;
    }
    memset(out, 0, sizeof *out);
    if (!data && len > 0) {
        detc_set_err(err, err_len, "%s: no data given", display_name(name));
        return 1;
    }
    if (len >= 3 && data[0] == 0xff && data[1] == 0xd8 && data[2] == 0xff)
        return load_jpeg(data, len, name, out, err, err_len);
    if (len >= sizeof png_magic && memcmp(data, png_magic, sizeof png_magic) == 0)
        return load_png(data, len, name, out, err, err_len);
    if (len == 0) {
        detc_set_err(err, err_len, "%s: empty file, not a JPEG or PNG image", display_name(name));
        return 1;
    }
    char hex[16] = "";
    size_t shown = len < 4 ? len : 4;
    for (size_t i = 0, used = 0; i < shown; i++)
        used += (size_t)snprintf(hex + used, sizeof hex - used, i ? " %02x" : "%02x", data[i]);
    detc_set_err(err, err_len, "%s: not a JPEG or PNG file (starts with bytes %s)", display_name(name), hex);
    return 1;
}

int detc_image_load(const char *path, detc_image *out, char *err, size_t err_len)
{
    if (out)
        memset(out, 0, sizeof *out);
    if (!path) {
        detc_set_err(err, err_len, "image: no path given");
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
        detc_set_err(err, err_len, "image: no path given");
        return 1;
    }
    if (!detc_image_valid(img, 3) || img->channels == 2) {
        detc_set_err(err, err_len, "%s: cannot save as JPEG: need a 1- or 3-channel image of at most %dx%d", path,
                DETC_IMAGE_MAX_SIDE, DETC_IMAGE_MAX_SIDE);
        return 1;
    }
    if (quality < 1 || quality > 100) {
        detc_set_err(err, err_len, "%s: JPEG quality %d is out of range 1..100", path, quality);
        return 1;
    }
    struct jpeg_save_job *job = calloc(1, sizeof *job);
    if (!job) {
        detc_set_err(err, err_len, "%s: out of memory", path);
        return 1;
    }
    job->img = img;
    job->quality = quality;
    /* encoded in memory, then written whole: a failed write leaves the old file in place */
    int rc = jpeg_encode(job);
    if (rc)
        detc_set_err(err, err_len, "%s: JPEG: %s", path, job->jerr.message);
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
        detc_set_err(err, err_len, "image: no path given");
        return 1;
    }
    if (!detc_image_valid(img, 4)) {
        detc_set_err(err, err_len, "%s: cannot save as PNG: need a 1..4-channel image of at most %dx%d", path,
                DETC_IMAGE_MAX_SIDE, DETC_IMAGE_MAX_SIDE);
        return 1;
    }
    struct png_save_job *job = calloc(1, sizeof *job);
    if (!job) {
        detc_set_err(err, err_len, "%s: out of memory", path);
        return 1;
    }
    job->img = img;
    int rc = 1;
    job->rows = malloc(sizeof(png_bytep) * (size_t)img->height);
    job->png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &job->msg, png_on_error, png_on_warning);
    if (job->png)
        job->info = png_create_info_struct(job->png);
    if (!job->rows || !job->png || !job->info) {
        detc_set_err(err, err_len, "%s: out of memory", path);
    } else {
        size_t stride = (size_t)img->width * (size_t)img->channels;
        for (int y = 0; y < img->height; y++) /* libpng only reads the rows it writes */
            job->rows[y] = (png_bytep)(uintptr_t)(img->pixels + (size_t)y * stride);
        rc = png_encode(job);
        if (rc)
            detc_set_err(err, err_len, "%s: PNG: %s", path, job->msg.text);
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

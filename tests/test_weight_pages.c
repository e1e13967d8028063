/* Mapped weights that only packed copies are read from are given back to the OS after load
 * (runtime/api/load.c drop_mapped_pages): a model file whose data is one 3x3 conv filter (64 -> 64
 * channels, 144 KiB) is loaded, and the resident size of its mapping (/proc/self/smaps "Rss") must lose
 * the filter's pages; with the portable table and Winograd off (the conv reads the mapped filter on every
 * run) they must stay. Either way the outputs equal a float64 convolution computed here (1e-4 relative
 * of the sum of magnitudes), before and after a shape change that prepares the graph again from the
 * dropped pages. Where /proc/self/smaps is missing or does not list the file (qemu-user), the resident
 * sizes are skipped with a message; the outputs are still checked. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "detc.h"
#include "test_files.h"

#define CH 64
#define FILTER_FLOATS (CH * 3 * 3 * CH)

static float filter_value(size_t i)
{
    return (float)((int)((i * 37 + 11) % 29) - 14) / 64.0f;
}

static float input_value(size_t i)
{
    return (float)((int)((i * 13 + 5) % 17) - 8) / 8.0f;
}

/* A .detc file: x [1,8,8,64] -> conv2d 3x3 same (filter [64,3,3,64] OHWI, bias [64]) -> y. */
static bool write_model(const char *path, size_t *file_bytes, size_t *data_off)
{
    static const char json[] =
        "{\"format\":\"detc\",\"version\":1,\"name\":\"pages\",\"inputs\":[\"x\"],\"outputs\":[\"y\"],\"tensors\":["
        "{\"name\":\"x\",\"dtype\":\"f32\",\"shape\":[1,8,8,64]},"
        "{\"name\":\"w\",\"dtype\":\"f32\",\"shape\":[64,3,3,64],\"offset\":0,\"length\":147456},"
        "{\"name\":\"b\",\"dtype\":\"f32\",\"shape\":[64],\"offset\":147456,\"length\":256},"
        "{\"name\":\"y\",\"dtype\":\"f32\"}],"
        "\"nodes\":[{\"name\":\"conv\",\"op\":\"conv2d\",\"inputs\":[\"x\",\"w\",\"b\"],\"outputs\":[\"y\"],"
        "\"attrs\":{\"padding\":\"same\"}}]}";
    float *data = malloc((FILTER_FLOATS + CH) * sizeof *data);
    if (!data)
        return false;
    for (size_t i = 0; i < FILTER_FLOATS; i++)
        data[i] = filter_value(i);
    for (int c = 0; c < CH; c++)
        data[FILTER_FLOATS + c] = (float)(c % 7 - 3) * 0.25f;
    size_t len = 0;
    uint8_t *b = test_detc_bytes(json, data, (FILTER_FLOATS + CH) * sizeof *data, &len);
    free(data);
    if (!b)
        return false;
    FILE *f = fopen(path, "wb");
    bool ok = f && fwrite(b, 1, len, f) == len;
    ok = f && fclose(f) == 0 && ok;
    free(b);
    *file_bytes = len;
    *data_off = len - (FILTER_FLOATS + CH) * sizeof(float);
    return ok;
}

/* The "Rss:" of the mapping of `path` in /proc/self/smaps, in bytes; -1 when not found. */
static long mapping_rss(const char *path)
{
    FILE *f = fopen("/proc/self/smaps", "r");
    if (!f)
        return -1;
    char line[4096];
    long rss = -1;
    bool in_file = false;
    size_t pl = strlen(path);
    while (fgets(line, sizeof line, f)) {
        size_t n = strlen(line);
        while (n && (line[n - 1] == '\n' || line[n - 1] == ' '))
            line[--n] = '\0';
        long kb;
        if (n >= pl && strcmp(line + n - pl, path) == 0 && strchr(line, '-'))
            in_file = true;
        else if (in_file && sscanf(line, "Rss: %ld kB", &kb) == 1) {
            rss = (rss < 0 ? 0 : rss) + kb * 1024;
            in_file = false;
        }
    }
    fclose(f);
    return rss;
}

/* Runs the model on an [1,h,w,64] input and compares with a float64 conv (SAME padding, stride 1). */
static bool run_and_check(detc_context *ctx, int h, int w)
{
    detc_model *m = detc_context_model(ctx);
    int xi = detc_find_tensor(m, "x"), yi = detc_find_tensor(m, "y");
    int64_t dims[4] = {1, h, w, CH};
    size_t count = (size_t)h * w * CH;
    float *x = malloc(count * sizeof *x);
    if (!x)
        return false;
    for (size_t i = 0; i < count; i++)
        x[i] = input_value(i);
    bool ok = detc_context_set_input_shape(ctx, xi, 4, dims, NULL) == 0 &&
              detc_context_set_input(ctx, xi, DETC_F32, 4, dims, x, count * sizeof *x, NULL) == 0 &&
              detc_context_run(ctx, NULL, NULL, NULL) == 0;
    const float *y = ok ? detc_context_tensor_data(ctx, yi) : NULL;
    int bad = 0;
    for (int oy = 0; y && oy < h; oy++)
        for (int ox = 0; ox < w; ox++)
            for (int co = 0; co < CH; co++) {
                double s = (double)((co % 7 - 3) * 0.25), mag = fabs(s);
                for (int ky = 0; ky < 3; ky++)
                    for (int kx = 0; kx < 3; kx++) {
                        int iy = oy + ky - 1, ix = ox + kx - 1;
                        if (iy < 0 || iy >= h || ix < 0 || ix >= w)
                            continue;
                        for (int ci = 0; ci < CH; ci++) {
                            double p = (double)input_value(((size_t)iy * w + ix) * CH + ci) *
                                       (double)filter_value((((size_t)co * 3 + ky) * 3 + kx) * CH + ci);
                            s += p;
                            mag += fabs(p);
                        }
                    }
                double got = y[((size_t)oy * w + ox) * CH + co];
                bad += !(fabs(got - s) <= 1e-4 * mag + 1e-6);
            }
    free(x);
    return ok && y && bad == 0;
}

/* Loads the file with the environment given, checks outputs, returns the mapping's Rss after load and
 * after the runs (-1: not measurable). */
static void load_and_measure(const char *path, const char *kernels, const char *winograd, long *rss_load,
                             long *rss_runs)
{
    setenv("DETC_KERNELS", kernels, 1);
    setenv("DETC_WINOGRAD", winograd, 1);
    detc_model *m = detc_model_load(path, NULL, NULL);
    CHECK(m != NULL, "the model loads (DETC_KERNELS=%s DETC_WINOGRAD=%s)", kernels, winograd);
    *rss_load = *rss_runs = -1;
    if (!m)
        return;
    *rss_load = mapping_rss(path);
    detc_context *ctx = detc_context_new(m, NULL, NULL);
    CHECK(ctx && run_and_check(ctx, 8, 8), "8x8 output equals float64 (DETC_KERNELS=%s DETC_WINOGRAD=%s)", kernels,
          winograd);
    *rss_runs = mapping_rss(path);
    CHECK(ctx && run_and_check(ctx, 5, 11), "5x11 (prepared again from the file) equals float64 (%s, %s)", kernels,
          winograd);
    detc_context_free(ctx);
    detc_model_free(m);
}

int main(void)
{
    char path[] = "/tmp/detc_test_pages_XXXXXX";
    int fd = mkstemp(path);
    size_t file_bytes = 0, data_off = 0;
    CHECK(fd >= 0 && write_model(path, &file_bytes, &data_off), "wrote the test model");
    if (fd >= 0)
        close(fd);
    long page = sysconf(_SC_PAGESIZE);
    size_t filter_bytes = FILTER_FLOATS * sizeof(float);
    /* pages wholly inside the filter */
    size_t inner = ((data_off + filter_bytes) / (size_t)page - (data_off + (size_t)page - 1) / (size_t)page) * (size_t)page;

    long packed_load, packed_runs, raw_load, raw_runs;
    load_and_measure(path, "auto", "1", &packed_load, &packed_runs);
    load_and_measure(path, "portable", "0", &raw_load, &raw_runs);
    unsetenv("DETC_KERNELS");
    unsetenv("DETC_WINOGRAD");
    if (packed_load < 0 || raw_runs < 0) {
        printf("SKIP resident sizes: /proc/self/smaps does not list the model file here (qemu-user?)\n");
    } else {
        printf("  mapping resident: packed filter %ld / %ld bytes (load / after runs), raw filter %ld / %ld; "
               "file %zu, filter pages %zu\n",
               packed_load, packed_runs, raw_load, raw_runs, file_bytes, inner);
        CHECK((size_t)packed_load + inner <= file_bytes + (size_t)page,
              "packed: the filter's %zu bytes of pages are given back at load (resident %ld of %zu)", inner,
              packed_load, file_bytes);
        CHECK((size_t)packed_runs + inner <= file_bytes + (size_t)page,
              "packed: running does not read them back (resident %ld)", packed_runs);
        CHECK((size_t)raw_runs >= inner, "raw (portable, no Winograd): the filter stays mapped, read by every run "
              "(resident %ld, filter pages %zu)", raw_runs, inner);
    }
    unlink(path);
    return check_summary("test_weight_pages");
}

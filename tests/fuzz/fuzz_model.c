/* libFuzzer harness: bytes -> a .detc model file -> detc_model_load (header, JSON, tensor table, graph,
 * every op's prepare, pipeline, constant folding, memory plan), then every introspection call `detc inspect`
 * makes, and, for models whose inputs and arena are small, one detc_run on inputs derived from the bytes
 * and one detc_detect on a small synthetic image when the model has a pipeline. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memfd_create */
#endif
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "detc.h"
#include "fuzz_common.h"

#ifdef FUZZ_REPLAY
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_model_one
#endif

#define FUZZ_MAX_INPUT_BYTES (1u << 20) /* run only models whose inputs total at most 1 MB ... */
#define FUZZ_MAX_ARENA_BYTES (64u << 20) /* ... and whose arena is at most 64 MB */

/* detc_model_load maps a path: the bytes go to an in-memory file, loaded as /proc/self/fd/N. */
static int write_model(const uint8_t *data, size_t size, char *path, size_t path_len)
{
    static int fd = -1;
    if (fd < 0) {
        fd = memfd_create("fuzz.detc", 0);
        if (fd < 0) {
            perror("memfd_create");
            abort();
        }
    }
    if (ftruncate(fd, 0) != 0)
        abort();
    size_t done = 0;
    while (done < size) {
        ssize_t w = pwrite(fd, data + done, size - done, (off_t)done);
        if (w <= 0)
            abort();
        done += (size_t)w;
    }
    snprintf(path, path_len, "/proc/self/fd/%d", fd);
    return 0;
}

static void check_errors(const detc_errors *errs)
{
    for (int i = 0; i < errs->count; i++)
        if (!errs->items[i].message || !errs->items[i].message[0])
            abort(); /* every problem must come with a message */
}

static void fill(void *buf, size_t n, const char *dtype, uint64_t *st)
{
    if (strcmp(dtype, "f32") == 0) {
        float *f = buf;
        for (size_t i = 0; i < n / 4; i++)
            f[i] = (float)((int)(fuzz_next(st) % 4001) - 2000) / 500.0f; /* -4 .. 4 */
    } else {
        uint8_t *b = buf;
        for (size_t i = 0; i < n; i++)
            b[i] = (uint8_t)fuzz_next(st);
    }
}

static void run_model(detc_model *m, const detc_model_info *info, uint64_t *st)
{
    size_t total = 0;
    for (int i = 0; i < info->n_inputs; i++) {
        detc_tensor_info ti;
        if (detc_tensor_get_info(m, detc_input_tensor(m, i), &ti) != 0)
            abort();
        total += ti.nbytes;
    }
    if (total > FUZZ_MAX_INPUT_BYTES || info->arena_bytes > FUZZ_MAX_ARENA_BYTES)
        return;
    detc_errors errs;
    detc_errors_init(&errs);
    for (int i = 0; i < info->n_inputs; i++) {
        int t = detc_input_tensor(m, i);
        detc_tensor_info ti;
        detc_tensor_get_info(m, t, &ti);
        void *buf = malloc(ti.nbytes ? ti.nbytes : 1);
        if (!buf)
            abort();
        fill(buf, ti.nbytes, ti.dtype, st);
        int64_t dims[8];
        for (int d = 0; d < ti.rank && d < 8; d++)
            dims[d] = ti.dims[d];
        if (detc_set_input(m, t, ti.dtype, ti.rank, dims, buf, ti.nbytes, &errs) != 0)
            abort(); /* the declared dtype and shape must be accepted */
        free(buf);
    }
    if (detc_run(m, NULL, NULL, &errs) == 0) {
        /* Read every output whole, so that ASan sees a tensor shorter than its size. */
        for (int i = 0; i < info->n_outputs; i++) {
            int t = detc_output_tensor(m, i);
            detc_tensor_info ti;
            const uint8_t *p = detc_tensor_data(m, t);
            if (detc_tensor_get_info(m, t, &ti) != 0 || (ti.nbytes && !p))
                abort();
            volatile uint8_t sum = 0;
            for (size_t k = 0; k < ti.nbytes; k++)
                sum ^= p[k];
            (void)sum;
        }
    } else if (errs.count == 0) {
        abort();
    }
    check_errors(&errs);
    detc_errors_free(&errs);

    if (!info->pipeline)
        return;
    /* A small synthetic photo through the pipeline: preprocessing, the graph, decoding the outputs. */
    detc_image img = {.width = 1 + (int)(fuzz_next(st) % 40), .height = 1 + (int)(fuzz_next(st) % 40), .channels = 3};
    img.pixels = malloc((size_t)img.width * (size_t)img.height * 3);
    if (!img.pixels)
        abort();
    fill(img.pixels, (size_t)img.width * (size_t)img.height * 3, "u8", st);
    /* the model's own threshold, then every detection the graph returns */
    static const float thresholds[2] = {0.0f, -1.0f};
    for (int k = 0; k < 2; k++) {
        detc_detections dets;
        memset(&dets, 0, sizeof dets);
        detc_errors_init(&errs);
        detc_detect_options o = {.threshold = thresholds[k], .resize = NULL};
        if (detc_detect(m, &img, &o, &dets, &errs) == 0) {
            for (int i = 0; i < dets.count; i++) {
                const detc_detection *d = &dets.items[i];
                /* a detection has a real box: NaN or infinite ones are dropped by the pipelines */
                if (!isfinite(d->x0) || !isfinite(d->y0) || !isfinite(d->x1) || !isfinite(d->y1))
                    abort();
                (void)detc_label(m, d->class_id);
            }
            detc_draw_detections(&img, &dets);
            detc_detections_free(&dets);
        } else if (errs.count == 0) {
            abort();
        }
        check_errors(&errs);
        detc_errors_free(&errs);
    }
    free(img.pixels);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[64];
    write_model(data, size, path, sizeof path);
    detc_options opts;
    memset(&opts, 0, sizeof opts);
    opts.max_memory = (size_t)1 << 30; /* a file declaring huge tensors is refused, not allocated */
    detc_errors errs;
    detc_errors_init(&errs);
    detc_model *m = detc_model_load(path, &opts, &errs);
    if (!m) {
        if (errs.count == 0)
            abort(); /* a refused model must say why */
        check_errors(&errs);
        detc_errors_free(&errs);
        return 0;
    }
    check_errors(&errs);
    detc_errors_free(&errs);

    /* What `detc inspect` walks. */
    detc_model_info info;
    detc_model_get_info(m, &info);
    if (!info.name || !info.kernels)
        abort();
    for (int i = 0; i < info.n_tensors; i++) {
        detc_tensor_info ti;
        if (detc_tensor_get_info(m, i, &ti) != 0 || !ti.name || !ti.dtype || ti.rank < 0 || ti.rank > 8)
            abort();
        if (detc_find_tensor(m, ti.name) < 0)
            abort();
        volatile float s = 0;
        for (int q = 0; q < ti.quant_count; q++)
            s += ti.scale[q] + (float)ti.zero_point[q];
        for (int d = 0; d < ti.rank; d++)
            s += (float)ti.dims[d];
        (void)s;
    }
    for (int i = 0; i < info.n_nodes; i++) {
        detc_node_info ni;
        if (detc_node_get_info(m, i, &ni) != 0 || !ni.name || !ni.op)
            abort();
        for (int k = 0; k < ni.n_inputs; k++)
            if (ni.inputs[k] < -1 || ni.inputs[k] >= info.n_tensors)
                abort();
        for (int k = 0; k < ni.n_outputs; k++)
            if (ni.outputs[k] < 0 || ni.outputs[k] >= info.n_tensors)
                abort();
        int node = detc_node_order(m, i);
        if (node < 0 || node >= info.n_nodes)
            abort();
    }
    for (int i = 0; i < info.n_labels; i++)
        if (!detc_label(m, i))
            abort();

    uint64_t st = fuzz_hash(data, size);
    run_model(m, &info, &st);
    detc_model_free(m);
    return 0;
}

/* The library API around contexts: one model shared by contexts and threads, per-context input shapes
 * (instances shared by contexts with the same shapes), models from memory, optional error lists, growing
 * option structs, shared pools, box-local masks.
 * References: out = sigmoid(x + c) computed here in double; anchors counted from the shapes; COCO RLE of
 * the box-local mask checked against detc_rle_encode of the same mask pasted into a full frame. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "detc.h"
#include "model.h"
#include "rle.h"
#include "test_files.h"

#define C 4
static const float CONST_C[C] = {0.5f, -1.0f, 0.25f, 2.0f};

/* x [N,H,W,4] -> add c [4] -> logistic -> out; anchors(feat [1,4,4,1], img [1,S,S,1]) -> boxes (folded). */
static size_t model_bytes(uint8_t **out)
{
    static const char json[] =
        "{\"format\":\"detc\",\"version\":1,\"name\":\"ctx\",\"inputs\":[\"x\",\"feat\",\"img\"],"
        "\"outputs\":[\"out\",\"boxes\"],\"tensors\":["
        "{\"name\":\"x\",\"dtype\":\"f32\",\"shape\":[1,8,8,4]},"
        "{\"name\":\"feat\",\"dtype\":\"f32\",\"shape\":[1,4,4,1]},"
        "{\"name\":\"img\",\"dtype\":\"f32\",\"shape\":[1,16,16,1]},"
        "{\"name\":\"c\",\"dtype\":\"f32\",\"shape\":[4],\"offset\":0,\"length\":16},"
        "{\"name\":\"y\",\"dtype\":\"f32\"},{\"name\":\"out\",\"dtype\":\"f32\"},"
        "{\"name\":\"boxes\",\"dtype\":\"f32\"}],"
        "\"nodes\":["
        "{\"name\":\"addc\",\"op\":\"add\",\"inputs\":[\"x\",\"c\"],\"outputs\":[\"y\"]},"
        "{\"name\":\"sig\",\"op\":\"logistic\",\"inputs\":[\"y\"],\"outputs\":[\"out\"]},"
        "{\"name\":\"anc\",\"op\":\"anchors\",\"inputs\":[\"feat\",\"img\"],\"outputs\":[\"boxes\"],"
        "\"attrs\":{\"sizes\":[8],\"aspect_ratios\":[1]}}]}";
    size_t len = 0;
    *out = test_detc_bytes(json, CONST_C, sizeof CONST_C, &len);
    return *out ? len : 0;
}

static float input_value(int seed, size_t i)
{
    return (float)((int)((i * 7 + (size_t)seed * 13) % 23) - 11) * 0.125f;
}

/* Runs ctx on batch n with inputs from `seed`; true when out equals sigmoid(x + c) within 1e-6. */
static bool run_and_check(detc_context *ctx, int n, int seed)
{
    size_t count = (size_t)n * 8 * 8 * C;
    float *x = malloc(count * sizeof *x);
    if (!x)
        return false;
    for (size_t i = 0; i < count; i++)
        x[i] = input_value(seed, i);
    detc_model *m = detc_context_model(ctx);
    int64_t dims[4] = {n, 8, 8, C};
    bool ok = detc_context_set_input(ctx, detc_find_tensor(m, "x"), DETC_F32, 4, dims, x, count * sizeof *x, NULL) == 0 &&
              detc_context_run(ctx, NULL, NULL, NULL) == 0;
    const float *out = ok ? detc_context_tensor_data(ctx, detc_find_tensor(m, "out")) : NULL;
    for (size_t i = 0; ok && out && i < count; i++) {
        double want = 1.0 / (1.0 + exp(-((double)x[i] + (double)CONST_C[i % C])));
        ok = fabs(out[i] - want) <= 1e-6;
    }
    free(x);
    return ok && out;
}

static int anchors_of(const detc_context *ctx)
{
    detc_tensor_info info;
    if (detc_context_tensor_info(ctx, detc_find_tensor(detc_context_model(ctx), "boxes"), &info) != 0)
        return -1;
    return info.dims[0];
}

static void test_version_and_errors(void)
{
    CHECK(strcmp(detc_version(), DETC_VERSION_STRING) == 0 && detc_abi_version() == DETC_ABI_VERSION,
          "run-time version %s, ABI %d", detc_version(), detc_abi_version());
    CHECK(detc_model_load("/nonexistent/model.detc", NULL, NULL) == NULL, "a missing file with no error list");
    static const uint8_t junk[64] = "not a model";
    CHECK(detc_model_load_memory(junk, sizeof junk, "junk", NULL, NULL) == NULL, "junk bytes with no error list");
    CHECK(detc_model_load_memory(NULL, 10, NULL, NULL, NULL) == NULL, "NULL bytes refused");
    detc_errors e;
    detc_errors_init(&e);
    CHECK(detc_model_load_memory(junk, sizeof junk, "junk", NULL, &e) == NULL && e.count == 1 &&
              strstr(e.items[0].message, "junk: bad magic"),
          "junk bytes: %s", e.count ? e.items[0].message : "(no message)");
    detc_errors_free(&e);
    CHECK(detc_context_new(NULL, NULL, NULL) == NULL, "no context without a model");
    CHECK(detc_context_run(NULL, NULL, NULL, NULL) != 0 && detc_context_tensor_data(NULL, 0) == NULL,
          "NULL context refused");
}

static void test_memory_and_contexts(void)
{
    uint8_t *bytes;
    size_t len = model_bytes(&bytes);
    CHECK(len > 0, "model written");
    if (!len)
        return;
    /* in place (aligned) and copied (unaligned) */
    uint8_t *aligned = aligned_alloc(64, (len + 63) / 64 * 64), *shifted = malloc(len + 1);
    memcpy(aligned, bytes, len);
    memcpy(shifted + 1, bytes, len);
    detc_options opts = {.threads = 1}; /* size 0: the first layout */
    detc_model *m = detc_model_load_memory(aligned, len, "ctx.detc", &opts, NULL);
    detc_model *mu = detc_model_load_memory(shifted + 1, len, "ctx.detc", &opts, NULL);
    CHECK(m && mu, "loaded from memory (aligned and unaligned)");
    if (!m || !mu)
        goto done;
    detc_tensor_info ti;
    CHECK(detc_tensor_get_info(m, detc_find_tensor(m, "c"), &ti) == 0 &&
              detc_tensor_data(m, detc_find_tensor(m, "c")) == (const void *)(aligned + (len - sizeof CONST_C)),
          "aligned bytes are used in place");
    CHECK(ti.type == DETC_F32 && strcmp(ti.dtype, "f32") == 0, "dtype enum and name agree");

    detc_context *a = detc_context_new(m, NULL, NULL), *b = detc_context_new(m, NULL, NULL);
    detc_context *u = detc_context_new(mu, NULL, NULL);
    CHECK(a && b && u && a->inst == m->base && b->inst == m->base, "contexts share the base instance");
    CHECK(m->default_ctx == NULL, "no default context until a one-thread call needs it");
    if (!a || !b || !u)
        goto free_ctx;
    CHECK(run_and_check(a, 1, 1) && run_and_check(u, 1, 1), "context runs (in place and copied model)");
    /* b's run does not disturb a's results */
    const float *out_a = detc_context_tensor_data(a, detc_find_tensor(m, "out"));
    float first = out_a[5];
    CHECK(run_and_check(b, 1, 2) && out_a[5] == first && out_a != detc_context_tensor_data(b, detc_find_tensor(m, "out")),
          "contexts own their activations");
    CHECK(detc_context_arena_bytes(a) >= m->base->arena_bytes && m->base->arena_bytes > 0, "arena per context");

    /* shapes per context: a takes batch 3 and a larger image, b keeps the declared ones */
    int64_t x3[4] = {3, 8, 8, C}, img32[4] = {1, 32, 32, 1};
    CHECK(detc_context_set_input_shape(a, detc_find_tensor(m, "x"), 4, x3, NULL) == 0 &&
              detc_context_set_input_shape(a, detc_find_tensor(m, "img"), 4, img32, NULL) == 0,
          "context reshaped");
    CHECK(a->inst != m->base && m->shapes == a->inst && m->shapes->next == NULL, "a new instance for a's shapes");
    CHECK(run_and_check(a, 3, 4) && run_and_check(b, 1, 5), "both shapes run");
    /* anchors: stride 32/4 = 8 for a, 16/4 = 4 for b: same count of boxes (16 cells x 1), other coordinates */
    const float *ba = detc_context_tensor_data(a, detc_find_tensor(m, "boxes")),
                *bb = detc_context_tensor_data(b, detc_find_tensor(m, "boxes"));
    CHECK(anchors_of(a) == 16 && anchors_of(b) == 16 && ba && bb && ba[4 * 5 + 2] != bb[4 * 5 + 2],
          "folded anchors follow each context's image size");
    detc_context *c = detc_context_new(m, NULL, NULL);
    CHECK(c && detc_context_set_input_shape(c, detc_find_tensor(m, "img"), 4, img32, NULL) == 0 &&
              detc_context_set_input_shape(c, detc_find_tensor(m, "x"), 4, x3, NULL) == 0 && c->inst == a->inst &&
              a->inst->refs == 2,
          "a context with the same shapes shares the instance");
    CHECK(c && run_and_check(c, 3, 6), "shared instance runs");
    int64_t bad[4] = {0, 8, 8, C}, bad_rank[3] = {1, 8, 8};
    detc_errors e;
    detc_errors_init(&e);
    CHECK(detc_context_set_input_shape(b, detc_find_tensor(m, "x"), 4, bad, &e) != 0 &&
              detc_context_set_input_shape(b, detc_find_tensor(m, "x"), 3, bad_rank, &e) != 0 && e.count == 2 &&
              b->inst == m->base && run_and_check(b, 1, 7),
          "a refused shape keeps the old one");
    detc_errors_free(&e);
    /* the input mix-ups get their fix */
    detc_errors_init(&e);
    static double f64[64 * C];
    int64_t nchw[4] = {1, C, 8, 8}, nobatch[3] = {8, 8, C};
    detc_context_set_input(b, detc_find_tensor(m, "x"), DETC_F64, 4, (int64_t[]){1, 8, 8, C}, f64, sizeof f64, &e);
    detc_context_set_input(b, detc_find_tensor(m, "x"), DETC_F32, 4, nchw, f64, sizeof f64 / 2, &e);
    detc_context_set_input(b, detc_find_tensor(m, "x"), DETC_F32, 3, nobatch, f64, sizeof f64 / 2, &e);
    detc_context_set_input(b, detc_find_tensor(m, "x"), DETC_U8, 4, (int64_t[]){1, 8, 8, C}, f64, 64 * C, &e);
    CHECK(e.count == 4 && strstr(e.items[0].message, "astype(np.float32)") &&
              strstr(e.items[1].message, "transpose(0, 2, 3, 1)") && strstr(e.items[2].message, "batch axis") &&
              strstr(e.items[3].message, "normalise"),
          "input hints: %s | %s | %s | %s", e.count > 0 ? e.items[0].message : "", e.count > 1 ? e.items[1].message : "",
          e.count > 2 ? e.items[2].message : "", e.count > 3 ? e.items[3].message : "");
    detc_errors_free(&e);
    detc_context_free(a);
    CHECK(m->shapes && m->shapes->refs == 1, "instance kept while c uses it");
    detc_context_free(c);
    CHECK(m->shapes == NULL && m->base->refs == 1, "instance freed with its last context");
    /* the one-thread calls use a default context of their own */
    float x[64 * C] = {0};
    CHECK(detc_set_input(m, detc_find_tensor(m, "x"), "f32", 4, (int64_t[]){1, 8, 8, C}, x, sizeof x, NULL) == 0 &&
              detc_run(m, NULL, NULL, NULL) == 0 && m->default_ctx && m->default_ctx != b &&
              fabsf(((const float *)detc_tensor_data(m, detc_find_tensor(m, "out")))[3] -
                    (float)(1.0 / (1.0 + exp(-2.0)))) < 1e-6f,
          "default context");
free_ctx:
    detc_context_free(a == NULL ? NULL : NULL);
    detc_context_free(b);
    detc_context_free(u);
done:
    detc_model_free(m);
    detc_model_free(mu);
    free(aligned);
    free(shifted);
    free(bytes);
}

/* ---- threads ---- */

typedef struct {
    detc_model *m;
    detc_pool *pool;
    int id, ok;
} worker;

static void *work(void *arg)
{
    worker *w = arg;
    detc_context_options o;
    detc_context_options_init(&o);
    o.pool = w->pool;
    o.threads = w->pool ? 0 : 1;
    detc_context *ctx = detc_context_new(w->m, &o, NULL);
    w->ok = ctx != NULL;
    for (int it = 0; w->ok && it < 40; it++) {
        int n = 1 + (it + w->id) % 3; /* contexts switch between three shapes concurrently */
        int64_t dims[4] = {n, 8, 8, C};
        w->ok = detc_context_set_input_shape(ctx, detc_find_tensor(w->m, "x"), 4, dims, NULL) == 0 &&
                run_and_check(ctx, n, w->id * 100 + it);
    }
    detc_context_free(ctx);
    return NULL;
}

static void test_threads(void)
{
    uint8_t *bytes;
    size_t len = model_bytes(&bytes);
    detc_model *m = len ? detc_model_load_memory(bytes, len, "ctx.detc", NULL, NULL) : NULL;
    CHECK(m != NULL, "model for the threads");
    if (!m) {
        free(bytes);
        return;
    }
    for (int shared = 0; shared < 2; shared++) {
        detc_pool *pool = shared ? detc_pool_new(2) : NULL;
        worker w[4];
        pthread_t t[4];
        for (int i = 0; i < 4; i++) {
            w[i] = (worker){.m = m, .pool = pool, .id = i};
            pthread_create(&t[i], NULL, work, &w[i]);
        }
        int ok = 0;
        for (int i = 0; i < 4; i++) {
            pthread_join(t[i], NULL);
            ok += w[i].ok;
        }
        CHECK(ok == 4, "4 threads, one model, %s: %d of 4 correct", shared ? "one shared pool" : "own pools", ok);
        CHECK(m->shapes == NULL && m->base->refs == 0, "every instance released after the threads");
        detc_pool_free(pool);
    }
    detc_model_free(m);
    free(bytes);
}

/* ---- masks ---- */

static void test_masks(void)
{
    const int W = 37, H = 23;
    uint64_t seed = 12345;
    int bad = 0;
    for (int trial = 0; trial < 200; trial++) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        int mw = (int)((seed >> 33) % (W + 1)), mh = (int)((seed >> 40) % (H + 1));
        int mx = (int)((seed >> 20) % (uint64_t)(W - mw + 1)), my = (int)((seed >> 12) % (uint64_t)(H - mh + 1));
        uint8_t *mask = calloc((size_t)mw * mh + 1, 1);
        for (int i = 0; i < mw * mh; i++) {
            seed = seed * 6364136223846793005ull + 1442695040888963407ull;
            mask[i] = (seed >> 60) < (uint64_t)(trial % 16);
        }
        detc_detection d = {.mask = mask, .mask_x = mx, .mask_y = my, .mask_width = mw, .mask_height = mh};
        uint8_t frame[37 * 23];
        memset(frame, 0, sizeof frame);
        long set = detc_mask_paste(&d, frame, W, H, 1);
        long want = 0;
        for (int i = 0; i < mw * mh; i++)
            want += mask[i];
        uint32_t *counts;
        size_t n;
        char *full = NULL, *local = detc_mask_rle(&d, W, H);
        if (detc_rle_encode(frame, H, W, &counts, &n) == 0) {
            full = detc_rle_to_string(counts, n);
            free(counts);
        }
        if (set != want || !full || !local || strcmp(full, local) != 0) {
            if (!bad)
                printf("  trial %d: window %dx%d at %d,%d: pasted %ld of %ld, rle %s vs %s\n", trial, mw, mh, mx, my,
                       set, want, full ? full : "-", local ? local : "-");
            bad++;
        }
        free(full);
        free(local);
        free(mask);
    }
    CHECK(bad == 0, "box-local masks paste and encode as the full frame does (%d of 200 differ)", bad);
    uint8_t one = 1, frame[4] = {0};
    detc_detection off = {.mask = &one, .mask_x = 2, .mask_y = 0, .mask_width = 1, .mask_height = 1};
    CHECK(detc_mask_paste(&off, frame, 2, 2, 1) == -1 && detc_mask_rle(&off, 2, 2) == NULL,
          "a window outside the image is refused");
}

/* A graph input lives through the run: x -> logistic -> logistic -> logistic -> out, where the planner
 * could give the third activation the input's bytes. Run twice without setting the input again: the input
 * reads back as set and both runs give sigmoid(sigmoid(sigmoid(x))) (float64 reference, 1e-6). */
static void test_inputs_survive_runs(void)
{
    static const char json[] =
        "{\"format\":\"detc\",\"version\":1,\"name\":\"chain\",\"inputs\":[\"x\"],\"outputs\":[\"out\"],\"tensors\":["
        "{\"name\":\"x\",\"dtype\":\"f32\",\"shape\":[1,256]},{\"name\":\"a\",\"dtype\":\"f32\"},"
        "{\"name\":\"b\",\"dtype\":\"f32\"},{\"name\":\"out\",\"dtype\":\"f32\"}],\"nodes\":["
        "{\"name\":\"s1\",\"op\":\"logistic\",\"inputs\":[\"x\"],\"outputs\":[\"a\"]},"
        "{\"name\":\"s2\",\"op\":\"logistic\",\"inputs\":[\"a\"],\"outputs\":[\"b\"]},"
        "{\"name\":\"s3\",\"op\":\"logistic\",\"inputs\":[\"b\"],\"outputs\":[\"out\"]}]}";
    size_t len = 0;
    uint8_t *b = test_detc_bytes(json, NULL, 0, &len);
    if (!b)
        return;
    detc_model *m = detc_model_load_memory(b, len, "chain.detc", NULL, NULL);
    CHECK(m != NULL, "the chain model loads");
    detc_context *ctx = m ? detc_context_new(m, NULL, NULL) : NULL;
    float x[256];
    for (int i = 0; i < 256; i++)
        x[i] = (float)(i - 128) / 16.0f;
    int64_t dims[2] = {1, 256};
    int xi = m ? detc_find_tensor(m, "x") : -1, oi = m ? detc_find_tensor(m, "out") : -1;
    bool ok = ctx && detc_context_set_input(ctx, xi, DETC_F32, 2, dims, x, sizeof x, NULL) == 0;
    for (int run = 0; ok && run < 2; run++) {
        ok = detc_context_run(ctx, NULL, NULL, NULL) == 0;
        const float *in = ok ? detc_context_tensor_data(ctx, xi) : NULL, *out = ok ? detc_context_tensor_data(ctx, oi) : NULL;
        ok = in && out && memcmp(in, x, sizeof x) == 0;
        for (int i = 0; ok && i < 256; i++) {
            double v = x[i];
            for (int k = 0; k < 3; k++)
                v = 1.0 / (1.0 + exp(-v));
            ok = fabs(out[i] - v) <= 1e-6;
        }
        CHECK(ok, "run %d: the input reads back as set and the output equals the float64 chain", run + 1);
    }
    detc_context_free(ctx);
    detc_model_free(m);
    free(b);
}

int main(void)
{
    test_version_and_errors();
    test_memory_and_contexts();
    test_threads();
    test_masks();
    test_inputs_survive_runs();
    return check_summary("test_context");
}

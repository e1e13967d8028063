/* Runtime building blocks: dtype facts, f16 conversion, TFLite fixed-point arithmetic, thread pool,
 * load-time constant folding.
 * References: IEEE-754 bit patterns worked out by hand; TFLite's documented QuantizeMultiplier values;
 * exact integer arithmetic in 128-bit-free form (int64 with round-half-away) for requantization;
 * folding: the same graph loaded unfolded (detc_options.no_fold, DETC_FOLD=0) and values computed here. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "detc.h"
#include "dtype.h"
#include "pipeline.h"
#include "quant.h"
#include "threadpool.h"

static void test_dtype_table(void)
{
    CHECK(detc_dtype_parse("f32") == DETC_F32 && detc_dtype_size(DETC_F32) == 4, "f32 facts");
    CHECK(detc_dtype_parse("u8") == DETC_U8 && detc_dtype_get(DETC_U8)->qmax == 255, "u8 facts");
    CHECK(detc_dtype_parse("f64") == DETC_F64 && detc_dtype_size(DETC_F64) == 8, "f64 is recognised");
    CHECK(detc_dtype_parse("float32") == DETC_DTYPE_INVALID, "unknown names are refused");
    CHECK(detc_dtype_get(DETC_DTYPE_INVALID) == NULL, "invalid dtype has no facts");
    char names[64];
    detc_dtype_mask_names(DETC_MASK(DETC_F32) | DETC_MASK(DETC_U8), names, sizeof names);
    CHECK(strcmp(names, "f32, u8") == 0, "mask names: %s", names);
}

static void test_f16(void)
{
    static const struct {
        uint16_t h;
        float f;
    } known[] = {{0x3c00, 1.0f},        {0xc000, -2.0f},     {0x7bff, 65504.0f},      {0x0001, 5.9604645e-08f},
                 {0x0400, 6.1035156e-05f}, {0x3555, 0.33325195f}, {0x0000, 0.0f}, {0x03ff, 6.0975552e-05f}};
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
        CHECK(detc_f16_to_f32(known[i].h) == known[i].f, "f16 %04x -> %g", known[i].h, detc_f16_to_f32(known[i].h));
        CHECK(detc_f32_to_f16(known[i].f) == known[i].h, "f32 %g -> f16 %04x", known[i].f,
              detc_f32_to_f16(known[i].f));
    }
    CHECK(isinf(detc_f16_to_f32(0x7c00)) && isnan(detc_f16_to_f32(0x7e00)), "f16 inf and nan");
    int bad = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        if ((h & 0x7c00u) == 0x7c00u && (h & 0x3ffu))
            continue; /* NaN payloads need not round-trip */
        if (detc_f32_to_f16(detc_f16_to_f32((uint16_t)h)) != h)
            bad++;
    }
    CHECK(bad == 0, "every non-NaN f16 round-trips through f32 (%d failures)", bad);
    /* ties to even: 1 + 2^-11 is halfway between 1 and 1 + 2^-10 */
    CHECK(detc_f32_to_f16(1.0f + 0x1p-11f) == 0x3c00, "halfway rounds to even");
    CHECK(detc_f32_to_f16(1.0f + 0x1p-11f + 0x1p-20f) == 0x3c01, "above halfway rounds up");
    CHECK(detc_f32_to_f16(70000.0f) == 0x7c00, "overflow to inf");
}

#ifdef __SIZEOF_INT128__
/* round(x * real) with real = multiplier * 2^(shift-31), half away from zero, computed exactly. */
static int32_t exact_requant(int32_t x, detc_qmul m)
{
    __int128 prod = (__int128)x * m.multiplier; /* value = prod * 2^(shift-31) */
    int e = 31 - m.shift;
    __int128 half = (__int128)1 << (e - 1);
    __int128 mag = prod < 0 ? -prod : prod;
    __int128 q = (mag + half) >> e;
    return (int32_t)(prod < 0 ? -q : q);
}
#endif

static void test_quant(void)
{
    detc_qmul m;
    CHECK(detc_qmul_from_double(0.5, &m) && m.multiplier == (1 << 30) && m.shift == 0, "0.5 -> 2^30, 0");
    CHECK(detc_qmul_from_double(0.25, &m) && m.multiplier == (1 << 30) && m.shift == -1, "0.25 -> 2^30, -1");
    CHECK(detc_qmul_from_double(1.0, &m) && m.multiplier == (1 << 30) && m.shift == 1, "1.0 -> 2^30, 1");
    CHECK(detc_qmul_from_double(0.0, &m) && m.multiplier == 0, "0 -> 0");
    CHECK(!detc_qmul_from_double(-1.0, &m) && !detc_qmul_from_double(NAN, &m), "negative and NaN refused");
    /* 1 - 2^-40 rounds up to 2^31 in Q31 and must renormalise */
    CHECK(detc_qmul_from_double(1.0 - 0x1p-40, &m) && m.multiplier == (1 << 30) && m.shift == 1, "renormalise");

    CHECK(detc_rdbpot(5, 1) == 3 && detc_rdbpot(-5, 1) == -3 && detc_rdbpot(4, 1) == 2, "RoundingDivideByPOT ties");
    CHECK(detc_srdhm(INT32_MIN, INT32_MIN) == INT32_MAX, "SRDHM saturates");

    /* gemmlowp rounds twice (to Q31 with ties toward +inf, then by the power-of-two shift), so it may
     * differ from one exact round-half-away by 1 near ties; it must never differ by more. The exact
     * bit pattern is checked end to end against TFLite on real models. */
#ifdef __SIZEOF_INT128__
    uint32_t s = 12345;
    int off = 0, far = 0;
    for (int i = 0; i < 100000; i++) {
        s = s * 1664525u + 1013904223u;
        int32_t x = (int32_t)(s >> 8) - (1 << 23);
        s = s * 1664525u + 1013904223u;
        double real = (double)(s % 1000000 + 1) / 1.5e6;
        detc_qmul_from_double(real, &m);
        int32_t got = detc_qmul_apply(x, m), want = exact_requant(x, m);
        if (got != want)
            off++;
        if (abs(got - want) > 1)
            far++;
    }
    CHECK(far == 0 && off < 20000, "requantization vs exact rounding: %d off by one, %d further", off, far);
#endif
}

typedef struct {
    int *hits;
} pool_ctx;

static void mark(void *ctx, int begin, int end)
{
    pool_ctx *c = ctx;
    for (int i = begin; i < end; i++)
        c->hits[i]++;
}

static void test_threadpool(void)
{
    for (int threads = 1; threads <= 4; threads++) {
        detc_threadpool *pool = detc_threadpool_create(threads);
        CHECK(pool && detc_threadpool_size(pool) == threads, "pool of %d", threads);
        int hits[1000] = {0};
        pool_ctx c = {hits};
        for (int rep = 0; rep < 50; rep++)
            detc_parallel_for(pool, 1000, 7, mark, &c);
        int bad = 0;
        for (int i = 0; i < 1000; i++)
            bad += hits[i] != 50;
        CHECK(bad == 0, "every index visited exactly once per loop with %d threads", threads);
        detc_parallel_for(pool, 0, 1, mark, &c); /* empty range is a no-op */
        detc_threadpool_destroy(pool);
    }
    int hits[3] = {0};
    pool_ctx c = {hits};
    detc_parallel_for(NULL, 3, 1, mark, &c);
    CHECK(hits[0] == 1 && hits[2] == 1, "NULL pool runs inline");
    detc_threadpool_wake(NULL); /* no-op */
    /* wakes (a run's first call) with the workers asleep (a pause longer than their spin), awake, twice in a
     * row, and just before the pool is destroyed: the loops stay exact and nothing hangs */
    for (int threads = 1; threads <= 3; threads++) {
        detc_threadpool *pool = detc_threadpool_create(threads);
        int h[500] = {0};
        pool_ctx hc = {h};
        for (int rep = 0; rep < 12; rep++) {
            if (rep % 3 == 0)
                nanosleep(&(struct timespec){0, 2000000}, NULL);
            detc_threadpool_wake(pool);
            if (rep % 2)
                detc_threadpool_wake(pool);
            detc_parallel_for(pool, 500, 3, mark, &hc);
        }
        int bad = 0;
        for (int i = 0; i < 500; i++)
            bad += h[i] != 12;
        CHECK(bad == 0, "loops after wakes visit every index once (%d threads)", threads);
        detc_threadpool_wake(pool);
        detc_threadpool_destroy(pool);
    }
}

/* ---- load-time constant folding ----
 * Graph (x f32 [B,8,8,4] graph input, wq u8 [1,8,8,4] the only constant, scale 0.5 zero point 10):
 *   0 deq   cast  wq -> wf (f32)          \
 *   1 req   cast  wf -> wi (i8, 0.25, 0)   | constant-only: folded
 *   2 deq2  cast  wi -> w2 (f32)           |
 *   3 sum   add   wf, w2 -> c              /
 *   4 addx  add   x, c -> y                  executed
 *   5 sig   logistic y -> out                executed
 *   6 anc   anchors feat, img -> boxes       shape-only inputs (two graph inputs): folded
 * so out = sigmoid(x + 2 wf) with wf = 0.5 (q - 10) (wi = 2 wf exactly, no clamping), and boxes are
 * torchvision anchors for size 8, ratio 1 on a [1,4,4,1] map of a [1,16,16,1] image (stride 4). */
#define FOLD_ELEMS 256

static bool write_fold_model(const char *path)
{
    static const char json[] =
        "{\"format\":\"detc\",\"version\":1,\"name\":\"fold\",\"inputs\":[\"x\",\"feat\",\"img\"],"
        "\"outputs\":[\"out\",\"boxes\"],\"tensors\":["
        "{\"name\":\"x\",\"dtype\":\"f32\",\"shape\":[1,8,8,4]},"
        "{\"name\":\"feat\",\"dtype\":\"f32\",\"shape\":[1,4,4,1]},"
        "{\"name\":\"img\",\"dtype\":\"f32\",\"shape\":[1,16,16,1]},"
        "{\"name\":\"wq\",\"dtype\":\"u8\",\"shape\":[1,8,8,4],\"offset\":0,\"length\":256,"
        "\"quant\":{\"scale\":[0.5],\"zero_point\":[10],\"axis\":-1}},"
        "{\"name\":\"wf\",\"dtype\":\"f32\"},"
        "{\"name\":\"wi\",\"dtype\":\"i8\",\"quant\":{\"scale\":[0.25],\"zero_point\":[0],\"axis\":-1}},"
        "{\"name\":\"w2\",\"dtype\":\"f32\"},{\"name\":\"c\",\"dtype\":\"f32\"},"
        "{\"name\":\"y\",\"dtype\":\"f32\"},{\"name\":\"out\",\"dtype\":\"f32\"},"
        "{\"name\":\"boxes\",\"dtype\":\"f32\"}],"
        "\"nodes\":["
        "{\"name\":\"deq\",\"op\":\"cast\",\"inputs\":[\"wq\"],\"outputs\":[\"wf\"],\"attrs\":{\"to\":\"f32\"}},"
        "{\"name\":\"req\",\"op\":\"cast\",\"inputs\":[\"wf\"],\"outputs\":[\"wi\"],\"attrs\":{\"to\":\"i8\"}},"
        "{\"name\":\"deq2\",\"op\":\"cast\",\"inputs\":[\"wi\"],\"outputs\":[\"w2\"],\"attrs\":{\"to\":\"f32\"}},"
        "{\"name\":\"sum\",\"op\":\"add\",\"inputs\":[\"wf\",\"w2\"],\"outputs\":[\"c\"]},"
        "{\"name\":\"addx\",\"op\":\"add\",\"inputs\":[\"x\",\"c\"],\"outputs\":[\"y\"]},"
        "{\"name\":\"sig\",\"op\":\"logistic\",\"inputs\":[\"y\"],\"outputs\":[\"out\"]},"
        "{\"name\":\"anc\",\"op\":\"anchors\",\"inputs\":[\"feat\",\"img\"],\"outputs\":[\"boxes\"],"
        "\"attrs\":{\"sizes\":[8],\"aspect_ratios\":[1]}}]}";
    uint8_t data[FOLD_ELEMS];
    for (int i = 0; i < FOLD_ELEMS; i++)
        data[i] = (uint8_t)(i % 40);
    uint32_t jl = (uint32_t)strlen(json);
    uint64_t data_off = (32u + jl + 63u) / 64u * 64u, data_len = sizeof data;
    uint8_t header[32] = {'D', 'E', 'T', 'C', 'M', 'O', 'D', 'L', 1, 0, 0, 0};
    for (int i = 0; i < 4; i++)
        header[12 + i] = (uint8_t)(jl >> (8 * i));
    for (int i = 0; i < 8; i++) {
        header[16 + i] = (uint8_t)(data_off >> (8 * i));
        header[24 + i] = (uint8_t)(data_len >> (8 * i));
    }
    FILE *f = fopen(path, "wb");
    if (!f)
        return false;
    bool ok = fwrite(header, 1, 32, f) == 32 && fwrite(json, 1, jl, f) == jl;
    for (uint64_t p = 32u + jl; ok && p < data_off; p++)
        ok = fputc(0, f) != EOF;
    ok = ok && fwrite(data, 1, sizeof data, f) == sizeof data;
    return fclose(f) == 0 && ok;
}

typedef struct {
    int calls;
    int seen[8];
} fold_observer;

static int count_nodes(detc_model *m, int node, void *user)
{
    (void)m;
    fold_observer *o = user;
    o->calls++;
    if (node >= 0 && node < 8)
        o->seen[node]++;
    return 0;
}

static detc_model *load_fold(const char *path, int no_fold, detc_errors *errs)
{
    detc_options opts = {.threads = 2, .no_fold = no_fold};
    detc_errors_init(errs);
    detc_model *m = detc_model_load(path, &opts, errs);
    for (int i = 0; i < errs->count; i++)
        printf("  load: %s\n", errs->items[i].message);
    return m;
}

/* Runs with x[i] = (i % 7) * 0.25 - 1 on `batch` images; out copied to `out`, observer counts kept. */
static bool run_fold(detc_model *m, int batch, float *out, fold_observer *obs)
{
    static float x[2 * FOLD_ELEMS];
    for (int i = 0; i < batch * FOLD_ELEMS; i++)
        x[i] = (float)(i % 7) * 0.25f - 1.0f;
    detc_errors errs;
    detc_errors_init(&errs);
    int64_t dims[4] = {batch, 8, 8, 4};
    int rc = detc_set_input(m, detc_find_tensor(m, "x"), "f32", 4, dims, x, sizeof(float) * batch * FOLD_ELEMS,
                            &errs);
    if (rc == 0)
        rc = detc_run(m, count_nodes, obs, &errs);
    for (int i = 0; i < errs.count; i++)
        printf("  run: %s\n", errs.items[i].message);
    detc_errors_free(&errs);
    if (rc != 0)
        return false;
    memcpy(out, detc_tensor_data(m, detc_find_tensor(m, "out")), sizeof(float) * batch * FOLD_ELEMS);
    return true;
}

static void test_constant_folding(void)
{
    char path[] = "/tmp/detc_test_fold_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0 && write_fold_model(path), "write the folding test model");
    if (fd < 0)
        return;
    close(fd);
    detc_errors e1, e0;
    detc_model *mf = load_fold(path, 0, &e1), *mu = load_fold(path, 1, &e0);
    CHECK(mf && mu, "the folding model loads folded and unfolded");
    if (!mf || !mu)
        goto done;
    detc_model_info fi, ui;
    detc_model_get_info(mf, &fi);
    detc_model_get_info(mu, &ui);
    CHECK(fi.n_folded == 5 && ui.n_folded == 0, "5 nodes folded (4 constant + anchors), none with no_fold: %d, %d",
          fi.n_folded, ui.n_folded);
    /* wf, w2, c f32 (1 KiB each), wi i8 (256 B), boxes 16 x 4 f32 (256 B); the only source: wq (256 B) */
    CHECK(fi.folded_bytes == 3 * 1024 + 256 + 256 && ui.folded_bytes == 0, "folded bytes %zu",
          fi.folded_bytes);
    CHECK(fi.folded_source_bytes == 256 && fi.constant_bytes == 256, "folded source bytes %zu of %zu",
          fi.folded_source_bytes, fi.constant_bytes);
    CHECK(fi.arena_bytes < ui.arena_bytes, "the arena shrinks when folding: %zu < %zu", fi.arena_bytes,
          ui.arena_bytes);
    /* folded: x, y, out and the two shape-only inputs (each rounded to 64 B) at most, nothing of wf..c */
    CHECK(fi.arena_bytes <= 3 * 1024 + 64 + 1024, "folded arena %zu holds only x, y, out, feat, img",
          fi.arena_bytes);
    for (int n = 0; n < 7; n++) {
        detc_node_info a, b;
        detc_node_get_info(mf, n, &a);
        detc_node_get_info(mu, n, &b);
        bool want = n <= 3 || n == 6;
        CHECK(a.folded == want && !b.folded, "node %d '%s' folded=%d (expected %d), unfolded model %d", n, a.name,
              a.folded, want, b.folded);
    }
    const char *folded_names[] = {"wf", "wi", "w2", "c", "boxes"};
    for (int k = 0; k < 5; k++) {
        detc_tensor_info t;
        int idx = detc_find_tensor(mf, folded_names[k]);
        CHECK(detc_tensor_get_info(mf, idx, &t) == 0 && t.is_folded && t.is_constant && t.producer >= 0 &&
                  detc_tensor_data(mf, idx) != NULL,
              "'%s' is a folded constant with data before any run", folded_names[k]);
        CHECK(detc_tensor_get_info(mu, detc_find_tensor(mu, folded_names[k]), &t) == 0 && !t.is_folded &&
                  !t.is_constant,
              "'%s' stays an activation unfolded", folded_names[k]);
    }
    const float *wf = detc_tensor_data(mf, detc_find_tensor(mf, "wf"));
    const float *c = detc_tensor_data(mf, detc_find_tensor(mf, "c"));
    int bad = 0;
    for (int i = 0; i < FOLD_ELEMS; i++)
        bad += wf[i] != 0.5f * (float)(i % 40 - 10) || c[i] != 2.0f * wf[i];
    CHECK(bad == 0, "folded constants hold the dequantized values (%d wrong)", bad);

    /* detc_options.max_memory covers the arena and the folded constants: just enough loads, a byte less is
     * refused with the reason, folded or not */
    for (int no_fold = 0; no_fold <= 1; no_fold++) {
        size_t need = no_fold ? ui.arena_bytes : fi.arena_bytes + fi.folded_bytes;
        detc_options tight = {.max_memory = need, .no_fold = no_fold}, over = {.max_memory = need - 1, .no_fold = no_fold};
        detc_errors lim;
        detc_errors_init(&lim);
        detc_model *mm = detc_model_load(path, &tight, &lim);
        CHECK(mm != NULL, "max_memory = %zu bytes (no_fold %d): the model loads", need, no_fold);
        detc_model_free(mm);
        detc_errors_free(&lim);
        detc_errors_init(&lim);
        mm = detc_model_load(path, &over, &lim);
        CHECK(!mm && lim.count == 1 && lim.items[0].code == DETC_ERR_NOMEM &&
                  strstr(lim.items[0].message, "allowed (detc_options.max_memory)"),
              "max_memory one byte less (no_fold %d): refused: %s", no_fold,
              lim.count ? lim.items[0].message : "(no message)");
        detc_model_free(mm);
        detc_errors_free(&lim);
    }

    static float of[FOLD_ELEMS], ou[FOLD_ELEMS];
    fold_observer obf = {0}, obu = {0};
    CHECK(run_fold(mf, 1, of, &obf) && run_fold(mu, 1, ou, &obu), "both run");
    CHECK(obf.calls == 2 && obf.seen[4] == 1 && obf.seen[5] == 1, "folded model executes only addx and sig (%d calls)",
          obf.calls);
    CHECK(obu.calls == 7, "unfolded model executes all 7 nodes (%d calls)", obu.calls);
    int diff = 0, far = 0;
    for (int i = 0; i < FOLD_ELEMS; i++) {
        float x = (float)(i % 7) * 0.25f - 1.0f, wv = 0.5f * (float)(i % 40 - 10);
        double ref = 1.0 / (1.0 + exp(-((double)x + 2.0 * wv)));
        diff += memcmp(&of[i], &ou[i], sizeof of[i]) != 0;
        far += !(fabs(of[i] - ref) <= 1e-6);
    }
    CHECK(diff == 0, "folded and unfolded outputs are bit-identical (%d differ)", diff);
    CHECK(far == 0, "outputs equal sigmoid(x + 2 wf) within 1e-6 (%d off)", far);
    const float *bf = detc_tensor_data(mf, detc_find_tensor(mf, "boxes"));
    const float *bu = detc_tensor_data(mu, detc_find_tensor(mu, "boxes"));
    CHECK(memcmp(bf, bu, 16 * 4 * sizeof(float)) == 0, "folded anchors equal the executed ones");
    CHECK(bf[5 * 4 + 0] == 4.0f - 4.0f && bf[5 * 4 + 1] == 4.0f - 4.0f && bf[15 * 4 + 3] == 12.0f + 4.0f,
          "anchor 5 at (4, 4) and anchor 15 at (12, 12), stride 4");

    /* a shape-only graph input read by no executed node still takes input */
    static float img[16 * 16];
    int64_t idims[4] = {1, 16, 16, 1};
    detc_errors ie;
    detc_errors_init(&ie);
    CHECK(detc_set_input(mf, detc_find_tensor(mf, "img"), "f32", 4, idims, img, sizeof img, &ie) == 0,
          "set_input on an input only folded nodes read");
    detc_errors_free(&ie);

    /* new input shapes: prepare runs again and the folded nodes are evaluated again for them */
    detc_errors se;
    detc_errors_init(&se);
    int64_t x2[4] = {2, 8, 8, 4}, f2[4] = {1, 2, 2, 1};
    CHECK(detc_model_set_input_shape(mf, detc_find_tensor(mf, "x"), 4, x2, &se) == 0 &&
              detc_model_set_input_shape(mf, detc_find_tensor(mf, "feat"), 4, f2, &se) == 0,
          "new input shapes accepted");
    detc_errors_free(&se);
    detc_model_get_info(mf, &fi);
    CHECK(fi.n_folded == 5, "still 5 folded nodes after a new shape (%d)", fi.n_folded);
    static float o2[2 * FOLD_ELEMS];
    obf = (fold_observer){0};
    CHECK(run_fold(mf, 2, o2, &obf) && obf.calls == 2, "runs with batch 2, 2 nodes executed");
    CHECK(memcmp(o2, of, sizeof of) == 0 && memcmp(o2 + FOLD_ELEMS, of, sizeof of) != 0,
          "batch 2: image 0 as before (image 1 has other x values)");
    detc_tensor_info bt;
    detc_tensor_get_info(mf, detc_find_tensor(mf, "boxes"), &bt);
    bf = detc_tensor_data(mf, detc_find_tensor(mf, "boxes"));
    CHECK(bt.is_folded && bt.rank == 2 && bt.dims[0] == 4 && bf[3 * 4 + 0] == 8.0f - 4.0f &&
              bf[3 * 4 + 3] == 8.0f + 4.0f,
          "anchors folded again for the 2x2 map: stride 8");

    /* DETC_FOLD=0 turns folding off for every load; other values are refused */
    detc_errors ee;
    setenv("DETC_FOLD", "0", 1);
    detc_model *me = load_fold(path, 0, &ee);
    detc_model_info ei;
    if (me)
        detc_model_get_info(me, &ei);
    CHECK(me && ei.n_folded == 0 && ei.arena_bytes == ui.arena_bytes, "DETC_FOLD=0 loads unfolded");
    detc_model_free(me);
    detc_errors_free(&ee);
    setenv("DETC_FOLD", "yes", 1);
    detc_errors_init(&ee);
    detc_options opts = {0};
    me = detc_model_load(path, &opts, &ee);
    CHECK(!me && ee.count == 1 && ee.items[0].code == DETC_ERR_ARG && strstr(ee.items[0].message, "DETC_FOLD='yes'"),
          "DETC_FOLD=yes is refused");
    detc_model_free(me);
    detc_errors_free(&ee);
    unsetenv("DETC_FOLD");
done:
    detc_model_free(mf);
    detc_model_free(mu);
    detc_errors_free(&e1);
    detc_errors_free(&e0);
    unlink(path);
}

/* detect's threshold: 0 or absent = the model's default, negative = everything, NaN = default. */
static void test_score_threshold(void)
{
    detc_detect_options o = {0};
    CHECK(detc_score_threshold(NULL, 0.5f) == 0.5f, "no options: the default");
    CHECK(detc_score_threshold(&o, 0.25f) == 0.25f, "threshold 0: the default");
    o.threshold = 0.7f;
    CHECK(detc_score_threshold(&o, 0.5f) == 0.7f, "a positive threshold is used as given");
    o.threshold = -1.0f;
    CHECK(isinf(detc_score_threshold(&o, 0.5f)) && detc_score_threshold(&o, 0.5f) < 0, "negative: keep all");
    o.threshold = NAN;
    CHECK(detc_score_threshold(&o, 0.5f) == 0.5f, "NaN: the default");
}

int main(void)
{
    test_score_threshold();
    test_dtype_table();
    test_f16();
    test_quant();
    test_threadpool();
    test_constant_folding();
    return check_summary("test_runtime");
}

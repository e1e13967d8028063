/* Tests for runtime/npy.c.
 *
 * tests/data/npy/ holds files written by numpy (tests/gen_image_refs.py) whose values follow
 * value[i] = i*7 - 20 in the element type (bool: i % 3 == 0). The C reader must decode them, and
 * the C writer must reproduce numpy.save's bytes exactly for the same arrays (so numpy reads what
 * detc writes). Data directory: $DETC_TEST_DATA (default: tests/data, found from the repository root
 * or tests/).
 */
#define _POSIX_C_SOURCE 200809L /* mkdtemp */

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <unistd.h>

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
        snprintf(probe, sizeof probe, "%s/npy/np_f4.npy", candidates[i]);
        FILE *f = fopen(probe, "rb");
        if (f) {
            fclose(f);
            return candidates[i];
        }
    }
    return "tests/data";
}

static char tmp_dir[256];

/* IEEE half to float, for checking <f2 values. */
static float half_to_float(uint16_t h)
{
    int sign = h >> 15, exp = (h >> 10) & 0x1f, man = h & 0x3ff;
    float v;
    if (exp == 0)
        v = ldexpf((float)man, -24);
    else if (exp == 31)
        v = man ? NAN : INFINITY;
    else
        v = ldexpf((float)(man | 0x400), exp - 25);
    return sign ? -v : v;
}

/* Element i of the numpy pattern, as the stored bytes (little-endian). */
static void pattern_bytes(const char *descr, size_t i, uint8_t *out)
{
    long long v = (long long)i * 7 - 20;
    if (strcmp(descr, "|b1") == 0) {
        out[0] = i % 3 == 0;
    } else if (descr[1] == 'u' || descr[1] == 'i') {
        size_t n = (size_t)(descr[2] - '0');
        unsigned long long u = (unsigned long long)v; /* two's complement bytes, wrapped */
        for (size_t k = 0; k < n; k++)
            out[k] = (uint8_t)(u >> (8 * k));
    } else if (strcmp(descr, "<f4") == 0) {
        float f = (float)v;
        memcpy(out, &f, 4);
    } else if (strcmp(descr, "<f8") == 0) {
        double d = (double)v;
        memcpy(out, &d, 8);
    }
}

static int matches_pattern(const detc_npy *a)
{
    size_t item = detc_npy_itemsize(a->descr);
    if (item == 0 || a->nbytes % item)
        return 0;
    const uint8_t *p = a->data;
    for (size_t i = 0; i < a->nbytes / item; i++) {
        if (strcmp(a->descr, "<f2") == 0) {
            uint16_t h = (uint16_t)(p[i * 2] | p[i * 2 + 1] << 8);
            if (half_to_float(h) != (float)((long long)i * 7 - 20))
                return 0;
            continue;
        }
        uint8_t want[8];
        pattern_bytes(a->descr, i, want);
        if (memcmp(p + i * item, want, item) != 0)
            return 0;
    }
    return 1;
}

static void *make_pattern(const char *descr, size_t count)
{
    size_t item = detc_npy_itemsize(descr);
    uint8_t *p = malloc(count * item + 1);
    for (size_t i = 0; p && i < count; i++) {
        if (strcmp(descr, "<f2") == 0) {
            /* exact halves of small integers: |v| < 2048 */
            long long v = (long long)i * 7 - 20;
            uint16_t h = 0;
            if (v != 0) {
                unsigned long long m = (unsigned long long)(v < 0 ? -v : v);
                int e = 0;
                while ((m >> e) > 1)
                    e++;
                h = (uint16_t)((v < 0 ? 0x8000 : 0) | (e + 15) << 10 | ((m << (10 - e)) & 0x3ff));
            }
            p[i * 2] = (uint8_t)h;
            p[i * 2 + 1] = (uint8_t)(h >> 8);
        } else {
            pattern_bytes(descr, i, p + i * item);
        }
    }
    return p;
}

struct fixture {
    const char *file;
    const char *descr;
    int rank;
    int64_t shape[8];
};

static const struct fixture fixtures[] = {
    {"np_u1.npy", "|u1", 3, {2, 3, 4}},
    {"np_i1.npy", "|i1", 3, {2, 3, 4}},
    {"np_i2.npy", "<i2", 3, {2, 3, 4}},
    {"np_i4.npy", "<i4", 3, {2, 3, 4}},
    {"np_i8.npy", "<i8", 3, {2, 3, 4}},
    {"np_f2.npy", "<f2", 3, {2, 3, 4}},
    {"np_f4.npy", "<f4", 3, {2, 3, 4}},
    {"np_f8.npy", "<f8", 3, {2, 3, 4}},
    {"np_b1.npy", "|b1", 3, {2, 3, 4}},
    {"np_scalar_f8.npy", "<f8", 0, {0}},
    {"np_rank1_i4.npy", "<i4", 1, {5}},
    {"np_empty_f4.npy", "<f4", 2, {0, 3}},
    {"np_rank8_u1.npy", "|u1", 8, {1, 2, 1, 2, 1, 2, 1, 3}},
    {"np_long_dim_f4.npy", "<f4", 2, {123456, 0}},
    {"np_v2_f4.npy", "<f4", 3, {2, 3, 4}},
    {"np_v3_f4.npy", "<f4", 3, {2, 3, 4}},
};

static void test_read_numpy_files(void)
{
    for (size_t f = 0; f < sizeof fixtures / sizeof fixtures[0]; f++) {
        const struct fixture *fx = &fixtures[f];
        char path[512], err[512] = "";
        snprintf(path, sizeof path, "%s/npy/%s", data_dir(), fx->file);
        detc_npy a;
        int ok = detc_npy_read(path, &a, err, sizeof err) == 0;
        int shape_ok = ok && strcmp(a.descr, fx->descr) == 0 && a.rank == fx->rank && a.data != NULL;
        for (int i = 0; shape_ok && i < fx->rank; i++)
            shape_ok = a.shape[i] == fx->shape[i];
        check(shape_ok && matches_pattern(&a), "read numpy file %s: %s, rank %d, values %s", fx->file,
              ok ? a.descr : err, ok ? a.rank : -1, shape_ok && matches_pattern(&a) ? "match" : "differ");
        detc_npy_free(&a);
    }
}

static void test_write_matches_numpy(void)
{
    /* v2/v3 fixtures are numpy writing other versions; the C writer always writes 1.0 */
    for (size_t f = 0; f < sizeof fixtures / sizeof fixtures[0] - 2; f++) {
        const struct fixture *fx = &fixtures[f];
        size_t count = 1;
        for (int i = 0; i < fx->rank; i++)
            count *= (size_t)fx->shape[i];
        void *data = make_pattern(fx->descr, count);
        char path[512], ref_path[512], err[512] = "";
        snprintf(path, sizeof path, "%s/%s", tmp_dir, fx->file);
        snprintf(ref_path, sizeof ref_path, "%s/npy/%s", data_dir(), fx->file);
        int ok = detc_npy_write(path, fx->descr, fx->rank, fx->shape, data, err, sizeof err) == 0;
        size_t len = 0, ref_len = 0;
        uint8_t *mine = ok ? test_read_file(path, &len) : NULL, *ref = test_read_file(ref_path, &ref_len);
        int same = mine && ref && len == ref_len && memcmp(mine, ref, len) == 0;
        int aligned = mine && len >= 10 && (10 + (mine[8] | mine[9] << 8)) % 64 == 0 &&
                      mine[9 + (mine[8] | mine[9] << 8)] == '\n';
        detc_npy back;
        int reread = ok && detc_npy_read(path, &back, err, sizeof err) == 0 && matches_pattern(&back);
        if (reread)
            detc_npy_free(&back);
        check(same && aligned && reread, "C writer output for %s is byte-identical to numpy.save (%zu bytes), "
              "64-byte aligned, reads back %s", fx->file, len, err);
        free(mine);
        free(ref);
        free(data);
    }
}

static void test_refused_numpy_files(void)
{
    const struct {
        const char *file, *needle;
    } cases[] = {
        {"np_fortran_f4.npy", "Fortran order"},
        {"np_bigendian_f4.npy", "big-endian"},
        {"np_structured.npy", "structured"},
        {"np_complex.npy", "'<c8' is not supported"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char path[512], err[512] = "";
        snprintf(path, sizeof path, "%s/npy/%s", data_dir(), cases[i].file);
        detc_npy a;
        int rc = detc_npy_read(path, &a, err, sizeof err);
        check(rc != 0 && a.data == NULL && strstr(err, cases[i].needle) && strncmp(err, path, strlen(path)) == 0,
              "%s is refused: %s", cases[i].file, err);
    }
}

/* A .npy in memory: version, header text (padded by numpy's rule unless raw), data bytes. */
static size_t build(uint8_t *out, size_t cap, int major, const char *header, int pad, size_t data_len)
{
    size_t hl = strlen(header), len_size = major == 1 ? 2 : 4, prefix = 8 + len_size;
    size_t total_h = hl;
    if (pad)
        total_h = hl + 1 + (64 - (prefix + hl + 1) % 64) % 64;
    if (prefix + total_h + data_len > cap)
        return 0;
    memcpy(out, "\x93NUMPY", 6);
    out[6] = (uint8_t)major;
    out[7] = 0;
    for (size_t k = 0; k < len_size; k++)
        out[8 + k] = (uint8_t)(total_h >> (8 * k));
    memcpy(out + prefix, header, hl);
    if (pad) {
        memset(out + prefix + hl, ' ', total_h - hl - 1);
        out[prefix + total_h - 1] = '\n';
    }
    memset(out + prefix + total_h, 0x11, data_len);
    return prefix + total_h + data_len;
}

static void expect_error(const uint8_t *buf, size_t len, const char *needle, const char *what)
{
    char err[512] = "";
    detc_npy a;
    int rc = detc_npy_read_memory(buf, len, "bad.npy", &a, err, sizeof err);
    check(rc != 0 && a.data == NULL && strncmp(err, "bad.npy: ", 9) == 0 && (!needle || strstr(err, needle)),
          "%s is refused: %s", what, err);
}

static void test_malformed(void)
{
    static uint8_t buf[200000];
    const char *good = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
    size_t n = build(buf, sizeof buf, 1, good, 1, 24);
    detc_npy a;
    char err[512] = "";
    check(detc_npy_read_memory(buf, n, "ok.npy", &a, err, sizeof err) == 0 && a.rank == 2 && a.nbytes == 24,
          "well-formed in-memory file reads %s", err);
    detc_npy_free(&a);
    /* accepted variants: double quotes, no trailing comma, other key order, no padding, 1-tuple */
    n = build(buf, sizeof buf, 1, "{\"shape\":(6,),\"fortran_order\":False,\"descr\":\"<f4\"}", 0, 24);
    check(detc_npy_read_memory(buf, n, "ok.npy", &a, err, sizeof err) == 0 && a.rank == 1 && a.shape[0] == 6,
          "header with double quotes, other key order, no padding reads %s", err);
    detc_npy_free(&a);
    n = build(buf, sizeof buf, 1, "{'descr': '<u1', 'fortran_order': False, 'shape': (3,), }", 1, 3);
    check(detc_npy_read_memory(buf, n, "ok.npy", &a, err, sizeof err) == 0 && strcmp(a.descr, "|u1") == 0,
          "'<u1' is read as |u1 %s", err);
    detc_npy_free(&a);

    n = build(buf, sizeof buf, 1, good, 1, 24);
    buf[0] = 'X';
    expect_error(buf, n, "magic", "wrong magic");
    expect_error(buf, 0, NULL, "empty buffer");
    n = build(buf, sizeof buf, 1, good, 1, 24);
    expect_error(buf, 7, NULL, "7-byte file");
    expect_error(buf, 40, "truncated", "header cut short");
    expect_error(buf, n - 1, "24", "data one byte short");
    n = build(buf, sizeof buf, 1, good, 1, 25);
    expect_error(buf, n, "25 bytes", "one extra data byte");
    n = build(buf, sizeof buf, 4, good, 1, 24);
    expect_error(buf, n, "version 4.0", "version 4.0");
    n = build(buf, sizeof buf, 1, good, 1, 24);
    buf[7] = 1;
    expect_error(buf, n, "version 1.1", "version 1.1");
    /* header length field larger than the limit (v2 has 4 bytes for it) */
    n = build(buf, sizeof buf, 2, good, 1, 24);
    buf[8] = 0x01;
    buf[9] = 0x00;
    buf[10] = 0x01;
    buf[11] = 0x00; /* 65537 */
    expect_error(buf, n, "65537", "header length 65537");
    buf[10] = 0xff;
    buf[11] = 0xff;
    expect_error(buf, n, "at most", "header length near 4 GiB");

    struct {
        const char *header, *needle, *what;
    } headers[] = {
        {"{'descr': '<f4', 'fortran_order': False}", "missing key 'shape'", "missing shape"},
        {"{'descr': '<f4', 'shape': (6,)}", "fortran_order", "missing fortran_order"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (6,), 'extra': 1}", "'extra'", "extra key"},
        {"{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (6,)}", "repeated", "repeated key"},
        {"{'descr': '<f4', 'fortran_order': True, 'shape': (6,)}", "Fortran", "fortran_order True"},
        {"{'descr': '<f4', 'fortran_order': 0, 'shape': (6,)}", "True or False", "fortran_order 0"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (6)}", "tuple", "shape (6) without a comma"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (-6,)}", "non-negative", "negative dimension"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (1,1,1,1,1,1,1,1,1)}", "more than 8", "rank 9"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,)}", "too large", "20-digit dim"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296)}", "overflows",
         "element count overflow"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (1099511627776,)}", "need", "4 TiB array, no data"},
        {"{'descr': '>f4', 'fortran_order': False, 'shape': (6,)}", "big-endian", "big-endian"},
        {"{'descr': '<f16', 'fortran_order': False, 'shape': (6,)}", "not supported", "<f16"},
        {"{'descr': 'f4', 'fortran_order': False, 'shape': (6,)}", "not supported", "descr without byte order"},
        {"{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (6,)}", "structured", "structured dtype"},
        {"{'descr': '<f4, 'fortran_order': False, 'shape': (6,)}", NULL, "unbalanced quote"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (6,)", NULL, "missing closing brace"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (6,)} x", "after", "text after the dict"},
        {"{'descr': '<\\x66', 'fortran_order': False, 'shape': (6,)}", "escape", "escaped string"},
        {"['descr', '<f4']", "expected '{'", "a list instead of a dict"},
        {"", NULL, "empty header"},
        {"{'descr': '<f4' 'fortran_order': False, 'shape': (6,)}", "expected ','", "missing comma"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (6,,)}", NULL, "double comma in shape"},
    };
    for (size_t i = 0; i < sizeof headers / sizeof headers[0]; i++) {
        n = build(buf, sizeof buf, 1, headers[i].header, 1, 24);
        expect_error(buf, n, headers[i].needle, headers[i].what);
    }
    /* a NUL inside the header */
    n = build(buf, sizeof buf, 1, good, 1, 24);
    buf[20] = '\0';
    expect_error(buf, n, "NUL", "NUL byte in header");
    /* the biggest header accepted: 64 KiB of padding after the dict */
    static char big[DETC_NPY_MAX_HEADER + 2];
    memset(big, ' ', sizeof big - 1);
    memcpy(big, good, strlen(good));
    big[DETC_NPY_MAX_HEADER - 1] = '\n';
    big[DETC_NPY_MAX_HEADER] = '\0';
    n = build(buf, sizeof buf, 2, big, 0, 24);
    check(detc_npy_read_memory(buf, n, "big.npy", &a, err, sizeof err) == 0, "64 KiB header is accepted %s", err);
    detc_npy_free(&a);
    big[DETC_NPY_MAX_HEADER] = ' ';
    n = build(buf, sizeof buf, 2, big, 0, 24);
    expect_error(buf, n, "65537", "header one byte over 64 KiB");

    /* file-based: truncated data and a huge declared shape must fail before allocating */
    char path[512];
    snprintf(path, sizeof path, "%s/huge.npy", tmp_dir);
    n = build(buf, sizeof buf, 1, "{'descr': '<f8', 'fortran_order': False, 'shape': (1000000, 1000000), }", 1, 16);
    FILE *f = fopen(path, "wb");
    fwrite(buf, 1, n, f);
    fclose(f);
    check(detc_npy_read(path, &a, err, sizeof err) != 0 && strstr(err, "need 8000000000000"),
          "file declaring 8 TB with 16 bytes of data is refused: %s", err);
    n = build(buf, sizeof buf, 1, good, 1, 24);
    f = fopen(path, "wb");
    fwrite(buf, 1, n - 5, f);
    fclose(f);
    check(detc_npy_read(path, &a, err, sizeof err) != 0 && strstr(err, "19 bytes"), "truncated data file: %s", err);
    f = fopen(path, "wb");
    fwrite(buf, 1, 30, f);
    fclose(f);
    check(detc_npy_read(path, &a, err, sizeof err) != 0 && strstr(err, "truncated"), "truncated header file: %s", err);
    check(detc_npy_read("/nonexistent/x.npy", &a, err, sizeof err) != 0 && strstr(err, "/nonexistent/x.npy"),
          "missing file: %s", err);
}

/* Random byte changes to a valid file: every result is a clean success or a clean error. */
static void test_mutations(void)
{
    static uint8_t orig[512], buf[512];
    size_t n = build(orig, sizeof orig, 1, "{'descr': '<i2', 'fortran_order': False, 'shape': (3, 4), }", 1, 24);
    uint32_t seed = 777;
    int clean = 1, decoded = 0;
    for (int iter = 0; iter < 3000; iter++) {
        memcpy(buf, orig, n);
        for (int e = 0; e < 1 + iter % 3; e++) {
            seed = seed * 1103515245u + 12345u;
            size_t pos = (seed >> 8) % 80; /* the preamble and header */
            seed = seed * 1103515245u + 12345u;
            buf[pos] = (uint8_t)(seed >> 16);
        }
        seed = seed * 1103515245u + 12345u;
        size_t use = iter % 7 == 6 ? (seed >> 8) % n : n;
        detc_npy a;
        char err[256] = "";
        int rc = detc_npy_read_memory(buf, use, "m.npy", &a, err, sizeof err);
        if (rc == 0) {
            decoded++;
            clean &= a.data != NULL && a.nbytes == use - 128 && a.rank <= DETC_NPY_MAX_RANK;
            detc_npy_free(&a);
        } else {
            clean &= a.data == NULL && strncmp(err, "m.npy: ", 7) == 0;
        }
    }
    check(clean, "3000 mutated headers: each a clean read (%d) or a clean error", decoded);
}

static void test_writer_errors(void)
{
    char path[512], err[512] = "";
    snprintf(path, sizeof path, "%s/w.npy", tmp_dir);
    int64_t shape[9] = {2, 3};
    float data[6] = {0};
    check(detc_npy_write(path, "<c8", 2, shape, data, err, sizeof err) != 0 && strstr(err, "'<c8'"),
          "writer refuses dtype <c8: %s", err);
    check(detc_npy_write(path, NULL, 2, shape, data, err, sizeof err) != 0, "writer refuses a NULL dtype: %s", err);
    check(detc_npy_write(path, "<f4", 9, shape, data, err, sizeof err) != 0 && strstr(err, "rank 9"),
          "writer refuses rank 9: %s", err);
    int64_t neg[2] = {2, -3};
    check(detc_npy_write(path, "<f4", 2, neg, data, err, sizeof err) != 0, "writer refuses a negative dim: %s", err);
    check(detc_npy_write(path, "<f4", 2, shape, NULL, err, sizeof err) != 0, "writer refuses NULL data: %s", err);
    check(detc_npy_write("/nonexistent/w.npy", "<f4", 2, shape, data, err, sizeof err) != 0 &&
              strstr(err, "/nonexistent/w.npy"),
          "writer reports an unwritable path: %s", err);
    detc_npy a;
    err[0] = '\0';
    check(detc_npy_write(path, "<u1", 2, shape, "abcdef", err, sizeof err) == 0 &&
              detc_npy_read(path, &a, err, sizeof err) == 0 && strcmp(a.descr, "|u1") == 0 &&
              memcmp(a.data, "abcdef", 6) == 0,
          "writer normalises '<u1' to '|u1' %s", err);
    detc_npy_free(&a);
    check(detc_npy_itemsize("<f4") == 4 && detc_npy_itemsize("|b1") == 1 && detc_npy_itemsize("<i8") == 8 &&
              detc_npy_itemsize(">f4") == 0 && detc_npy_itemsize("<f4 ") == 0 && detc_npy_itemsize(NULL) == 0,
          "itemsize table");
}

static void test_filenames(void)
{
    struct {
        const char *name, *want;
    } cases[] = {
        {"conv2d/Relu:0", "conv2d_Relu_0.npy"},
        {"a b.c-d_e", "a_b.c-d_e.npy"},
        {"model/\xc3\xa9t\xc3\xa9", "model___t__.npy"},
        {"../../etc/passwd", ".._.._etc_passwd.npy"},
        {"", ".npy"},
        {"StatefulPartitionedCall:1", "StatefulPartitionedCall_1.npy"},
    };
    int ok = 1;
    char out[64];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        detc_npy_filename(cases[i].name, out, sizeof out);
        if (strcmp(out, cases[i].want) != 0) {
            printf("# filename(\"%s\") = \"%s\", want \"%s\"\n", cases[i].name, out, cases[i].want);
            ok = 0;
        }
    }
    check(ok, "dump file names: bytes outside [A-Za-z0-9._-] become '_', then .npy");
    char small[9];
    detc_npy_filename("abcdefghij", small, sizeof small);
    char tiny[3];
    detc_npy_filename("abcdefghij", tiny, sizeof tiny);
    detc_npy_filename("abc", tiny, 0);
    check(strcmp(small, "abcd.npy") == 0 && strlen(tiny) == 2, "long names are cut before .npy (\"%s\", \"%s\")",
          small, tiny);
}

int main(void)
{
    const char *base = getenv("TMPDIR");
    snprintf(tmp_dir, sizeof tmp_dir, "%s/detc_test_npy_XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(tmp_dir)) {
        printf("FAIL - cannot create a temporary directory\n0 passed, 1 failed\n");
        return 1;
    }
    test_read_numpy_files();
    test_write_matches_numpy();
    test_refused_numpy_files();
    test_malformed();
    test_mutations();
    test_writer_errors();
    test_filenames();
    char path[512];
    for (size_t f = 0; f < sizeof fixtures / sizeof fixtures[0]; f++) {
        snprintf(path, sizeof path, "%s/%s", tmp_dir, fixtures[f].file);
        remove(path);
    }
    snprintf(path, sizeof path, "%s/huge.npy", tmp_dir);
    remove(path);
    snprintf(path, sizeof path, "%s/w.npy", tmp_dir);
    remove(path);
    rmdir(tmp_dir);
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}

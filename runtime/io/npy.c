/* .npy reader and writer. The header is a Python dict literal; it is parsed with a small bounded
 * scanner that accepts exactly what numpy writes (keys in any order, either quote style, optional
 * trailing commas, padding) and nothing that would need Python to evaluate. */
/* fseeko/ftello: file sizes past 2 GiB on 32-bit targets (with -D_FILE_OFFSET_BITS=64) */
#define _POSIX_C_SOURCE 200809L
#include "npy.h"
#include "pixels.h" /* detc_set_err */
#include "detc.h"

#include <inttypes.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "file_io.h"

#define MAGIC "\x93NUMPY"
#define MAGIC_LEN 6
/* numpy aligns the data to 64 bytes and leaves room for the first dimension to grow to 21 digits
 * (numpy/lib/format.py: ARRAY_ALIGN, GROWTH_AXIS_MAX_DIGITS). */
#define ARRAY_ALIGN 64
#define GROWTH_AXIS_MAX_DIGITS 21

size_t detc_npy_itemsize(const char *descr)
{
    if (!descr)
        return 0;
    return detc_dtype_size(detc_dtype_from_npy(descr, strlen(descr)));
}

/* product(shape) * itemsize in 64 bits on every target (so that 32- and 64-bit builds accept, refuse and
 * word their messages alike), or non-zero when it does not fit in 64 bits. */
static int count_bytes64(int rank, const int64_t *shape, size_t itemsize, uint64_t *out)
{
    int empty = 0;
    for (int i = 0; i < rank; i++) {
        if (shape[i] < 0)
            return 1;
        empty |= shape[i] == 0;
    }
    uint64_t n = empty ? 0 : itemsize; /* numpy accepts (huge, 0): zero elements */
    for (int i = 0; i < rank && n; i++) {
        if ((uint64_t)shape[i] > UINT64_MAX / n)
            return 1;
        n *= (uint64_t)shape[i];
    }
    *out = n;
    return 0;
}

/* The same as a size_t: non-zero also when it does not fit in memory's sizes (32-bit targets). */
static int count_bytes(int rank, const int64_t *shape, size_t itemsize, size_t *out)
{
    uint64_t n;
    if (count_bytes64(rank, shape, itemsize, &n) || n > SIZE_MAX)
        return 1;
    *out = (size_t)n;
    return 0;
}

/* A parsed header's declared data size (count_bytes64 succeeded on it in parse_header). */
static uint64_t declared_bytes(const detc_npy *a)
{
    uint64_t n = 0;
    count_bytes64(a->rank, a->shape, detc_npy_itemsize(a->descr), &n);
    return n;
}

/* ---------------------------------------------------------------- header parsing */

struct scanner {
    const char *start, *p, *end;
    char *err;
    size_t err_len;
    const char *name;
};

static void skip_ws(struct scanner *s)
{
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
        s->p++;
}

static int expect(struct scanner *s, char c)
{
    skip_ws(s);
    if (s->p < s->end && *s->p == c) {
        s->p++;
        return 0;
    }
    if (s->p < s->end)
        detc_set_err(s->err, s->err_len, "%s: bad .npy header: expected '%c' at offset %ld, found '%c'", s->name, c,
                (long)(s->p - s->start), *s->p);
    else
        detc_set_err(s->err, s->err_len, "%s: bad .npy header: expected '%c', found the end of the header", s->name, c);
    return 1;
}

/* A quoted string without escapes; *out points into the header. */
static int scan_string(struct scanner *s, const char **out, size_t *len)
{
    skip_ws(s);
    if (s->p >= s->end || (*s->p != '\'' && *s->p != '"')) {
        detc_set_err(s->err, s->err_len, "%s: bad .npy header: expected a quoted string", s->name);
        return 1;
    }
    char quote = *s->p++;
    const char *start = s->p;
    while (s->p < s->end && *s->p != quote) {
        if (*s->p == '\\') {
            detc_set_err(s->err, s->err_len, "%s: bad .npy header: escape sequences in strings are not supported",
                    s->name);
            return 1;
        }
        s->p++;
    }
    if (s->p >= s->end) {
        detc_set_err(s->err, s->err_len, "%s: bad .npy header: unterminated string", s->name);
        return 1;
    }
    *out = start;
    *len = (size_t)(s->p - start);
    s->p++;
    return 0;
}

static int scan_word(struct scanner *s, const char *word)
{
    size_t n = strlen(word);
    skip_ws(s);
    if ((size_t)(s->end - s->p) >= n && memcmp(s->p, word, n) == 0) {
        s->p += n;
        return 0;
    }
    return 1;
}

static int scan_shape(struct scanner *s, int *rank, int64_t *shape)
{
    if (expect(s, '('))
        return 1;
    int n = 0, trailing_comma = 0;
    for (;;) {
        skip_ws(s);
        if (s->p < s->end && *s->p == ')') {
            s->p++;
            break;
        }
        if (s->p >= s->end || *s->p < '0' || *s->p > '9') {
            detc_set_err(s->err, s->err_len, "%s: bad .npy header: shape must be a tuple of non-negative integers",
                    s->name);
            return 1;
        }
        if (n == DETC_NPY_MAX_RANK) {
            detc_set_err(s->err, s->err_len, "%s: .npy shape has more than %d dimensions", s->name, DETC_NPY_MAX_RANK);
            return 1;
        }
        int64_t v = 0;
        while (s->p < s->end && *s->p >= '0' && *s->p <= '9') {
            int digit = *s->p - '0';
            if (v > (INT64_MAX - digit) / 10) {
                detc_set_err(s->err, s->err_len, "%s: .npy shape dimension %d is too large", s->name, n);
                return 1;
            }
            v = v * 10 + digit;
            s->p++;
        }
        shape[n++] = v;
        skip_ws(s);
        trailing_comma = 0;
        if (s->p < s->end && *s->p == ',') {
            s->p++;
            trailing_comma = 1;
        } else if (s->p >= s->end || *s->p != ')') {
            detc_set_err(s->err, s->err_len, "%s: bad .npy header: expected ',' or ')' in shape", s->name);
            return 1;
        }
    }
    if (n == 1 && !trailing_comma) { /* "(3)" is the integer 3 in Python, not a shape */
        detc_set_err(s->err, s->err_len, "%s: bad .npy header: shape must be a tuple, like (3,)", s->name);
        return 1;
    }
    *rank = n;
    return 0;
}

static int parse_header(const char *text, size_t len, const char *name, detc_npy *out, char *err, size_t err_len)
{
    struct scanner s = {text, text, text + len, err, err_len, name};
    int have_descr = 0, have_order = 0, have_shape = 0;
    if (expect(&s, '{'))
        return 1;
    for (;;) {
        skip_ws(&s);
        if (s.p < s.end && *s.p == '}') {
            s.p++;
            break;
        }
        const char *key;
        size_t key_len;
        if (scan_string(&s, &key, &key_len) || expect(&s, ':'))
            return 1;
        if (key_len == 5 && memcmp(key, "descr", 5) == 0 && !have_descr) {
            const char *d;
            size_t d_len;
            skip_ws(&s);
            if (s.p < s.end && *s.p == '[') {
                detc_set_err(err, err_len, "%s: structured .npy dtypes are not supported", name);
                return 1;
            }
            if (scan_string(&s, &d, &d_len))
                return 1;
            detc_dtype i = detc_dtype_from_npy(d, d_len);
            if (i < 0) {
                detc_set_err(err, err_len,
                        "%s: .npy dtype '%.*s' is not supported (supported: |u1 |i1 <i2 <i4 <i8 <f2 <f4 <f8 |b1%s)",
                        name, d_len > 16 ? 16 : (int)d_len, d, d_len > 0 && d[0] == '>' ? "; big-endian is not" : "");
                return 1;
            }
            snprintf(out->descr, sizeof out->descr, "%s", detc_dtype_npy(i));
            have_descr = 1;
        } else if (key_len == 13 && memcmp(key, "fortran_order", 13) == 0 && !have_order) {
            if (scan_word(&s, "False") == 0) {
                have_order = 1;
            } else if (scan_word(&s, "True") == 0) {
                detc_set_err(err, err_len,
                        "%s: .npy array is in Fortran order; only C order is supported "
                        "(save it with numpy.ascontiguousarray)",
                        name);
                return 1;
            } else {
                detc_set_err(err, err_len, "%s: bad .npy header: fortran_order must be True or False", name);
                return 1;
            }
        } else if (key_len == 5 && memcmp(key, "shape", 5) == 0 && !have_shape) {
            if (scan_shape(&s, &out->rank, out->shape))
                return 1;
            have_shape = 1;
        } else {
            detc_set_err(err, err_len, "%s: bad .npy header: unexpected or repeated key '%.*s'", name,
                    key_len > 32 ? 32 : (int)key_len, key);
            return 1;
        }
        skip_ws(&s);
        if (s.p < s.end && *s.p == ',') {
            s.p++;
        } else if (s.p >= s.end || *s.p != '}') {
            detc_set_err(err, err_len, "%s: bad .npy header: expected ',' or '}' after a value", name);
            return 1;
        }
    }
    skip_ws(&s);
    if (s.p != s.end) {
        detc_set_err(err, err_len, "%s: bad .npy header: unexpected text after the dictionary", name);
        return 1;
    }
    if (!have_descr || !have_order || !have_shape) {
        detc_set_err(err, err_len, "%s: bad .npy header: missing key '%s'", name,
                !have_descr ? "descr" : !have_order ? "fortran_order" : "shape");
        return 1;
    }
    size_t itemsize = detc_npy_itemsize(out->descr);
    uint64_t total;
    if (count_bytes64(out->rank, out->shape, itemsize, &total)) {
        detc_set_err(err, err_len, "%s: .npy shape is too large (element count overflows)", name);
        return 1;
    }
    /* Past SIZE_MAX (32-bit targets) no data can match: the size checks refuse it with the 64-bit figure. */
    out->nbytes = total > SIZE_MAX ? SIZE_MAX : (size_t)total;
    return 0;
}

/* Reads the preamble and header from the first bytes of a file. *data_offset is where the array
 * starts. avail is how many bytes of buf are valid; *need says how many are required when more
 * must be read (the caller reads and calls again). */
static int parse_preamble(const uint8_t *buf, size_t avail, const char *name, detc_npy *out, size_t *data_offset,
                          size_t *need, char *err, size_t err_len)
{
    *need = 0;
    if (avail < MAGIC_LEN + 2) {
        if (avail < MAGIC_LEN || memcmp(buf, MAGIC, MAGIC_LEN) != 0) {
            detc_set_err(err, err_len, "%s: not a .npy file (too short or no \\x93NUMPY magic)", name);
            return 1;
        }
        detc_set_err(err, err_len, "%s: truncated .npy file (%zu bytes)", name, avail);
        return 1;
    }
    if (memcmp(buf, MAGIC, MAGIC_LEN) != 0) {
        detc_set_err(err, err_len, "%s: not a .npy file (no \\x93NUMPY magic)", name);
        return 1;
    }
    int major = buf[6], minor = buf[7];
    if ((major != 1 && major != 2 && major != 3) || minor != 0) {
        detc_set_err(err, err_len, "%s: .npy format version %d.%d is not supported (1.0, 2.0 or 3.0)", name, major, minor);
        return 1;
    }
    size_t len_size = major == 1 ? 2 : 4;
    size_t prefix = MAGIC_LEN + 2 + len_size;
    if (avail < prefix) {
        detc_set_err(err, err_len, "%s: truncated .npy file (%zu bytes)", name, avail);
        return 1;
    }
    size_t header_len = (size_t)buf[8] | (size_t)buf[9] << 8;
    if (len_size == 4)
        header_len |= (size_t)buf[10] << 16 | (size_t)buf[11] << 24;
    if (header_len > DETC_NPY_MAX_HEADER) {
        detc_set_err(err, err_len, "%s: .npy header is %zu bytes; at most %d are accepted", name, header_len,
                DETC_NPY_MAX_HEADER);
        return 1;
    }
    if (avail < prefix + header_len) {
        *need = prefix + header_len;
        return 0;
    }
    const char *text = (const char *)buf + prefix;
    /* numpy needs the header to be text; a NUL would otherwise cut messages short */
    if (memchr(text, '\0', header_len)) {
        detc_set_err(err, err_len, "%s: bad .npy header: contains a NUL byte", name);
        return 1;
    }
    if (parse_header(text, header_len, name, out, err, err_len))
        return 1;
    *data_offset = prefix + header_len;
    return 0;
}

void detc_npy_free(detc_npy *a)
{
    if (!a)
        return;
    free(a->data);
    memset(a, 0, sizeof *a);
}

int detc_npy_read_memory(const uint8_t *bytes, size_t len, const char *name, detc_npy *out, char *err,
                         size_t err_len)
{
    if (!name)
        name = "<memory>";
    if (!out) {
        detc_set_err(err, err_len, "%s: no output array given", name);
        return 1;
    }
    memset(out, 0, sizeof *out);
    if (!bytes && len) {
        detc_set_err(err, err_len, "%s: no data given", name);
        return 1;
    }
    size_t offset = 0, need = 0;
    if (parse_preamble(bytes, len, name, out, &offset, &need, err, err_len))
        return 1;
    if (need) {
        detc_set_err(err, err_len, "%s: truncated .npy file: header needs %zu bytes, file has %zu", name, need, len);
        return 1;
    }
    if ((uint64_t)(len - offset) != declared_bytes(out)) {
        detc_set_err(err, err_len, "%s: .npy data is %zu bytes but shape and dtype %s need %" PRIu64, name, len - offset,
                out->descr, declared_bytes(out));
        return 1;
    }
    out->data = malloc(out->nbytes ? out->nbytes : 1);
    if (!out->data) {
        detc_set_err(err, err_len, "%s: out of memory for %zu bytes", name, out->nbytes);
        return 1;
    }
    if (out->nbytes)
        memcpy(out->data, bytes + offset, out->nbytes);
    return 0;
}

int detc_npy_read(const char *path, detc_npy *out, char *err, size_t err_len)
{
    if (out)
        memset(out, 0, sizeof *out);
    if (!path || !out) {
        detc_set_err(err, err_len, "npy: no path or output array given");
        return 1;
    }
    /* regular files only: a FIFO would block, a device never ends */
    uint64_t file_size;
    int fd = detc_open_regular(path, &file_size, err, err_len);
    FILE *f = fd >= 0 ? fdopen(fd, "rb") : NULL;
    if (!f) {
        if (fd >= 0) {
            detc_set_err(err, err_len, "%s: cannot open for reading", path);
            close(fd);
        }
        return 1;
    }
    int rc = 1;
    uint8_t *head = malloc(12 + DETC_NPY_MAX_HEADER);
    if (!head) {
        detc_set_err(err, err_len, "%s: out of memory", path);
        goto done;
    }
    size_t avail = fread(head, 1, 12, f), offset = 0, need = 0;
    if (parse_preamble(head, avail, path, out, &offset, &need, err, err_len))
        goto done;
    if (need) {
        avail += fread(head + avail, 1, need - avail, f);
        if (parse_preamble(head, avail, path, out, &offset, &need, err, err_len))
            goto done;
        if (need) {
            detc_set_err(err, err_len, "%s: truncated .npy file: header needs %zu bytes, file has %zu", path, need, avail);
            goto done;
        }
    }
    /* size check before allocating: a hostile header must not make us allocate gigabytes */
    if (fseeko(f, 0, SEEK_END) != 0) {
        detc_set_err(err, err_len, "%s: cannot seek (not a regular file?)", path);
        goto done;
    }
    off_t end = ftello(f);
    if (end < 0 || (uint64_t)end < offset) {
        detc_set_err(err, err_len, "%s: cannot determine the file size", path);
        goto done;
    }
    uint64_t remaining = (uint64_t)end - offset;
    if (remaining != declared_bytes(out)) {
        detc_set_err(err, err_len, "%s: .npy data is %" PRIu64 " bytes but shape and dtype %s need %" PRIu64, path,
                remaining, out->descr, declared_bytes(out));
        goto done;
    }
    if (fseeko(f, (off_t)offset, SEEK_SET) != 0) {
        detc_set_err(err, err_len, "%s: cannot seek", path);
        goto done;
    }
    out->data = malloc(out->nbytes ? out->nbytes : 1);
    if (!out->data) {
        detc_set_err(err, err_len, "%s: out of memory for %zu bytes", path, out->nbytes);
        goto done;
    }
    if (fread(out->data, 1, out->nbytes, f) != out->nbytes) {
        detc_set_err(err, err_len, "%s: read error", path);
        goto done;
    }
    rc = 0;
done:
    fclose(f);
    free(head);
    if (rc)
        detc_npy_free(out);
    return rc;
}

/* ---------------------------------------------------------------- writing */

int detc_npy_write(const char *path, const char *descr, int rank, const int64_t *shape, const void *data,
                   char *err, size_t err_len)
{
    if (!path) {
        detc_set_err(err, err_len, "npy: no path given");
        return 1;
    }
    detc_dtype di = descr ? detc_dtype_from_npy(descr, strlen(descr)) : DETC_DTYPE_INVALID;
    if (di < 0) {
        detc_set_err(err, err_len, "%s: dtype '%s' is not supported (|u1 |i1 <i2 <i4 <i8 <f2 <f4 <f8 |b1)", path,
                descr ? descr : "(null)");
        return 1;
    }
    if (rank < 0 || rank > DETC_NPY_MAX_RANK || (rank > 0 && !shape)) {
        detc_set_err(err, err_len, "%s: rank %d is not supported (0..%d)", path, rank, DETC_NPY_MAX_RANK);
        return 1;
    }
    size_t nbytes = 0;
    if (count_bytes(rank, shape, detc_dtype_size(di), &nbytes)) {
        detc_set_err(err, err_len, "%s: shape has a negative dimension or too many elements", path);
        return 1;
    }
    if (nbytes && !data) {
        detc_set_err(err, err_len, "%s: no data given for %zu bytes", path, nbytes);
        return 1;
    }
    /* Same text as numpy.save: sorted keys, repr() values, room for dimension 0 to grow. */
    char header[512];
    int n = snprintf(header, sizeof header, "{'descr': '%s', 'fortran_order': False, 'shape': (",
                     detc_dtype_npy(di));
    for (int i = 0; i < rank; i++)
        n += snprintf(header + n, sizeof header - (size_t)n, i ? ", %lld" : "%lld", (long long)shape[i]);
    n += snprintf(header + n, sizeof header - (size_t)n, "%s), }", rank == 1 ? "," : "");
    if (rank > 0) {
        char first[24];
        int digits = snprintf(first, sizeof first, "%lld", (long long)shape[0]);
        for (int i = digits; i < GROWTH_AXIS_MAX_DIGITS; i++)
            header[n++] = ' ';
    }
    /* pad with spaces and a final newline so the data starts on a 64-byte boundary */
    size_t hlen = (size_t)n + 1;
    size_t pad = ARRAY_ALIGN - ((MAGIC_LEN + 2 + 2 + hlen) % ARRAY_ALIGN);
    memset(header + n, ' ', pad);
    header[(size_t)n + pad] = '\n';
    size_t total = (size_t)n + pad + 1;
    uint8_t pre[MAGIC_LEN + 4];
    memcpy(pre, MAGIC, MAGIC_LEN);
    pre[6] = 1;
    pre[7] = 0;
    pre[8] = (uint8_t)(total & 0xff);
    pre[9] = (uint8_t)(total >> 8);

    /* temporary file renamed into place: a failed write leaves any previous file as it was */
    detc_atomic_file f;
    if (detc_atomic_begin(&f, path, err, err_len))
        return 1;
    detc_atomic_write(&f, pre, sizeof pre);
    detc_atomic_write(&f, header, total);
    if (nbytes)
        detc_atomic_write(&f, data, nbytes);
    return detc_atomic_commit(&f, err, err_len);
}

void detc_npy_filename(const char *tensor_name, char *out, size_t out_len)
{
    static const char suffix[] = ".npy";
    if (!out || out_len == 0)
        return;
    if (!tensor_name)
        tensor_name = "";
    size_t room = out_len > sizeof suffix ? out_len - sizeof suffix : 0; /* bytes for the name */
    size_t i = 0;
    for (; tensor_name[i] && i < room; i++) {
        unsigned char c = (unsigned char)tensor_name[i];
        int keep = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
                   c == '_' || c == '-';
        out[i] = keep ? (char)c : '_';
    }
    snprintf(out + i, out_len - i, "%s", suffix);
}

/* detc compare DIR_A DIR_B: tensor-by-tensor and detection-level comparison of two directories of
 * .npy dumps (detc run --dump, or a TensorFlow/TFLite script writing the same layout). B is the
 * reference. Everything read from the directories is untrusted: manifests, map files and .npy files
 * are checked before use, and a bad one is reported, never crashed on. */
#define _POSIX_C_SOURCE 200809L
#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "dtype.h"
#include "file_io.h"
#include "npy.h"

static const char *USAGE =
    "usage: detc compare DIR_A DIR_B [--map NAMES.json] [--atol A] [--rtol R] [--only NAME,...]\n"
    "                    [--detections [--iou T] [--score-tol S] [--boxes NAME] [--classes NAME]\n"
    "                    [--scores NAME] [--count NAME]] [--json FILE]\n"
    "\n"
    "Compares two directories of tensor dumps, e.g. 'detc run --dump DIR_A' against the same tensors\n"
    "dumped from TensorFlow or TFLite into DIR_B. B is the reference.\n"
    "\n"
    "Each directory holds NAME.npy files and optionally manifest.json, as written by 'detc run --dump':\n"
    "  {\"tensors\": [{\"name\": N, \"file\": F, \"dtype\": D, \"shape\": [...], \"scale\": S, \"zero_point\": Z}]}\n"
    "('file', 'dtype', 'shape', 'scale'/'zero_point' optional; 'dtype' and 'shape' must agree with the\n"
    "file). With a manifest, tensors are named by it; without one, by file name without '.npy'. When\n"
    "only one side has a manifest, a name also matches the other side's file NAME.npy with bytes\n"
    "outside [A-Za-z0-9._-] replaced by '_'. dtypes: u8 i8 i16 i32 i64 f16 f32 f64 bool.\n"
    "\n"
    "  --map FILE      JSON object {\"name in A\": \"name in B\", ...}; unmapped names match equal names\n"
    "  --atol A        absolute tolerance (default 1e-05)\n"
    "  --rtol R        relative tolerance (default 0.0001); an element passes when\n"
    "                  |a - b| <= atol + rtol * |b|; NaN passes only against NaN. Integer tensors are\n"
    "                  compared as stored, so --atol 1 allows quantized values one quantum apart\n"
    "  --only LIST     comma-separated tensor names (in A or in B) to compare; others are ignored\n"
    "  --json FILE     also write every number below to FILE as JSON\n"
    "  --detections    compare the SSD-style detection outputs detection by detection instead of\n"
    "                  element by element: each B detection (highest score first) is matched to the\n"
    "                  unmatched A detection of the same class with the highest IoU; passes when\n"
    "                  every detection on both sides is matched with IoU >= T and |score diff| <= S;\n"
    "                  other tensors are still compared element by element\n"
    "  --iou T         (default 0.999)\n"
    "  --score-tol S   (default 0.0001)\n"
    "  --boxes NAME    [1,N,4] ymin,xmin,ymax,xmax (default TFLite_Detection_PostProcess)\n"
    "  --classes NAME  [1,N] class ids (default TFLite_Detection_PostProcess:1)\n"
    "  --scores NAME   [1,N] scores (default TFLite_Detection_PostProcess:2)\n"
    "  --count NAME    [1] number of valid detections (default TFLite_Detection_PostProcess:3)\n"
    "                  (tensor names as in A or in B; any numeric dtype)\n"
    "\n"
    "Per tensor pair it prints both sides' dtype and shape and, computed in double precision:\n"
    "  max_abs    max |a - b|                      mean_abs   mean |a - b|\n"
    "  max_rel    max |a - b| / |b| over b != 0    cosine     cosine similarity (1 when both are 0)\n"
    "  identical  fraction of elements with a == b (NaN == NaN)\n"
    "integer dtypes also get the largest difference in quanta and a histogram of |a - b| = 0, 1, 2,\n"
    ">2; when both manifests give scale and zero_point, the error of the dequantized values\n"
    "(q - zero_point) * scale too (different quantization parameters are a failure). A dtype or shape\n"
    "disagreement is reported as such and is a failure, except shapes that differ only by size-1\n"
    "dims. Tensors found on one side only are listed.\n"
    "\n"
    "exit status: 0 everything within tolerance, 3 something outside tolerance, 1 an input could not\n"
    "be read (or no tensor names match), 2 bad command line.\n";

#define CMD "compare"
#define MAX_TEXT_FILE (256u << 20) /* manifest.json / --map files */

/* ---- dtypes ---------------------------------------------------------------------------------- */

/* Element types come from the one dtype table (runtime/dtype.c): detc's names, .npy descriptors and
 * numpy's names. Integer dtypes (not bool) get the quanta histogram. */
static int dtype_of_descr(const char *descr)
{
    return detc_dtype_from_npy(descr, strlen(descr));
}

static int dtype_of_name(const char *name)
{
    return detc_dtype_from_any_name(name);
}

static double half_to_double(uint16_t h)
{
    int sign = h >> 15, exp = (h >> 10) & 0x1f, mant = h & 0x3ff;
    double v;
    if (exp == 0)
        v = ldexp(mant, -24);
    else if (exp == 31)
        v = mant ? NAN : INFINITY;
    else
        v = ldexp(mant | 0x400, exp - 25);
    return sign ? -v : v;
}

/* Element i as a double; the data is little-endian (npy.h) and may be unaligned. */
static double value_at(const void *data, int dt, size_t i)
{
    const unsigned char *p = data;
    switch (dt) {
    case DETC_U8: return p[i];
    case DETC_I8: { int8_t v; memcpy(&v, p + i, 1); return v; }
    case DETC_I16: { int16_t v; memcpy(&v, p + 2 * i, 2); return v; }
    case DETC_I32: { int32_t v; memcpy(&v, p + 4 * i, 4); return v; }
    case DETC_I64: { int64_t v; memcpy(&v, p + 8 * i, 8); return (double)v; }
    case DETC_F16: { uint16_t v; memcpy(&v, p + 2 * i, 2); return half_to_double(v); }
    case DETC_F32: { float v; memcpy(&v, p + 4 * i, 4); return v; }
    case DETC_F64: { double v; memcpy(&v, p + 8 * i, 8); return v; }
    case DETC_BOOL: return p[i] != 0;
    }
    return NAN;
}

/* Element i of an integer dtype, exactly. */
static int64_t int_at(const void *data, int dt, size_t i)
{
    if (dt == DETC_I64) {
        int64_t v;
        memcpy(&v, (const unsigned char *)data + 8 * i, 8);
        return v;
    }
    return (int64_t)value_at(data, dt, i);
}

/* ---- small helpers --------------------------------------------------------------------------- */

static char *xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

/* malloc'd printf; never returns NULL (out of memory aborts, as there is nothing sensible left). */
static char *xprintf(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;
static char *xprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        n = 0;
    char *s = malloc((size_t)n + 1);
    if (!s) {
        fputs("detc compare: out of memory\n", stderr);
        exit(EXIT_FAILED);
    }
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}

/* Replaces control characters and bytes that are not UTF-8 with '?', so that untrusted names and
 * messages print safely and make valid JSON. */
static void clean_text(char *s)
{
    unsigned char *p = (unsigned char *)s;
    while (*p) {
        unsigned c = *p;
        int len = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 && c >= 0xc2 ? 2 : (c & 0xf0) == 0xe0 ? 3
                : (c & 0xf8) == 0xf0 && c <= 0xf4 ? 4 : 0;
        bool ok = len > 0;
        for (int k = 1; ok && k < len; k++)
            ok = (p[k] & 0xc0) == 0x80;
        if (ok && len > 2) /* overlong forms, surrogates, beyond U+10FFFF */
            ok = !(c == 0xe0 && p[1] < 0xa0) && !(c == 0xed && p[1] > 0x9f) && !(c == 0xf0 && p[1] < 0x90) &&
                 !(c == 0xf4 && p[1] > 0x8f);
        if (!ok) {
            *p++ = '?';
            continue;
        }
        if (len == 1 && (c < 0x20 || c == 0x7f))
            *p = '?';
        p += len;
    }
}

static char *cleaned(const char *s)
{
    char *c = xstrdup(s);
    if (!c) {
        fputs("detc compare: out of memory\n", stderr);
        exit(EXIT_FAILED);
    }
    clean_text(c);
    return c;
}

static cJSON *json_text(const char *s)
{
    char *c = cleaned(s);
    cJSON *j = cJSON_CreateString(c);
    free(c);
    return j;
}

static char *sanitized_file(const char *name)
{
    size_t n = strlen(name) + 8;
    char *f = malloc(n);
    if (!f) {
        fputs("detc compare: out of memory\n", stderr);
        exit(EXIT_FAILED);
    }
    detc_npy_filename(name, f, n);
    return f;
}

static void shape_str(char *out, size_t len, int rank, const int64_t *shape)
{
    size_t k = 0;
    k += (size_t)snprintf(out, len, "[");
    for (int i = 0; i < rank && k < len; i++)
        k += (size_t)snprintf(out + k, len - k, "%s%lld", i ? "," : "", (long long)shape[i]);
    if (k < len)
        snprintf(out + k, len - k, "]");
}

static void number_str(char *out, size_t len, double v)
{
    if (v == 0)
        snprintf(out, len, "0");
    else
        snprintf(out, len, "%.6g", v);
}

/* Reads a whole (small) text file: a regular file only (a FIFO would block), NUL-terminated. */
static char *read_text(const char *path, size_t *len_out, char *err, size_t err_len)
{
    uint8_t *buf;
    size_t len;
    if (detc_read_regular_file(path, MAX_TEXT_FILE, &buf, &len, err, err_len) != 0)
        return NULL;
    char *text = realloc(buf, len + 1);
    if (!text) {
        free(buf);
        snprintf(err, err_len, "out of memory reading %s", path);
        return NULL;
    }
    text[len] = '\0';
    *len_out = len;
    return text;
}

/* Parses JSON text, with the position of a syntax error in the message. */
static cJSON *parse_json(const char *text, size_t len, const char *path, char *err, size_t err_len)
{
    const char *end = NULL;
    cJSON *j = cJSON_ParseWithLengthOpts(text, len, &end, false);
    if (!j) {
        size_t off = end && end >= text && end <= text + len ? (size_t)(end - text) : 0;
        size_t line = 1;
        for (size_t i = 0; i < off; i++)
            line += text[i] == '\n';
        snprintf(err, err_len, "%s is not valid JSON (error near byte %zu, line %zu)", path, off, line);
    }
    return j;
}

/* ---- one dump directory ---------------------------------------------------------------------- */

typedef struct {
    char *name; /* tensor name: from the manifest, else the file stem */
    char *shown; /* the name as printed (clean_text) */
    char *file; /* relative to the directory */
    int dtype;  /* manifest's, -1 when it gives none */
    int rank;   /* manifest's, -1 when it gives none */
    int64_t shape[DETC_NPY_MAX_RANK];
    bool quant; /* manifest gives scale and zero_point */
    double scale, zero_point;
    int partner; /* index of the matched entry on the other side, or -1 */
    bool role;   /* a detection tensor (with --detections) */
} entry;

typedef struct {
    const char *path;
    bool manifest;
    entry *e;
    int n;
    int *by_name, *by_file; /* entry indices sorted by name / by file */
} dump;

static int add_entry(dump *d, int *cap)
{
    if (d->n == *cap) {
        int nc = *cap ? *cap * 2 : 64;
        entry *ne = realloc(d->e, (size_t)nc * sizeof *ne);
        if (!ne)
            return -1;
        d->e = ne;
        *cap = nc;
    }
    entry *e = &d->e[d->n];
    memset(e, 0, sizeof *e);
    e->dtype = -1;
    e->rank = -1;
    e->partner = -1;
    return d->n++;
}

static void dump_free(dump *d)
{
    for (int i = 0; i < d->n; i++) {
        free(d->e[i].name);
        free(d->e[i].shown);
        free(d->e[i].file);
    }
    free(d->e);
    free(d->by_name);
    free(d->by_file);
}

/* qsort/bsearch on entry indices need the dump; the comparison runs single-threaded. */
static const dump *sort_dump;
static int cmp_by_name(const void *x, const void *y)
{
    return strcmp(sort_dump->e[*(const int *)x].name, sort_dump->e[*(const int *)y].name);
}
static int cmp_by_file(const void *x, const void *y)
{
    return strcmp(sort_dump->e[*(const int *)x].file, sort_dump->e[*(const int *)y].file);
}

static int find_sorted(const dump *d, const int *index, bool by_file, const char *key)
{
    int lo = 0, hi = d->n - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2;
        const entry *e = &d->e[index[mid]];
        int c = strcmp(key, by_file ? e->file : e->name);
        if (c == 0)
            return index[mid];
        if (c < 0)
            hi = mid - 1;
        else
            lo = mid + 1;
    }
    return -1;
}

static int find_name(const dump *d, const char *name)
{
    return find_sorted(d, d->by_name, false, name);
}

/* A manifest's file name must stay inside the directory. */
static bool safe_relative_path(const char *p)
{
    if (!*p || *p == '/')
        return false;
    for (const char *s = p; *s;) {
        const char *slash = strchr(s, '/');
        size_t n = slash ? (size_t)(slash - s) : strlen(s);
        if (n == 2 && s[0] == '.' && s[1] == '.')
            return false;
        s += n;
        if (*s == '/')
            s++;
    }
    return true;
}

static int load_manifest(dump *d, const char *path, char *err, size_t err_len)
{
    size_t len;
    char *text = read_text(path, &len, err, err_len);
    if (!text)
        return -1;
    cJSON *root = parse_json(text, len, path, err, err_len);
    free(text);
    if (!root)
        return -1;
    int rc = -1, cap = 0, k = 0;
    const cJSON *list = cJSON_IsObject(root) ? cJSON_GetObjectItemCaseSensitive(root, "tensors") : NULL;
    if (!cJSON_IsArray(list)) {
        snprintf(err, err_len, "%s: expected an object with a \"tensors\" array", path);
        goto done;
    }
    const cJSON *t;
    cJSON_ArrayForEach(t, list) {
        if (!cJSON_IsObject(t)) {
            snprintf(err, err_len, "%s: tensors[%d] is not an object", path, k);
            goto done;
        }
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(t, "name");
        const cJSON *file = cJSON_GetObjectItemCaseSensitive(t, "file");
        const cJSON *dtype = cJSON_GetObjectItemCaseSensitive(t, "dtype");
        const cJSON *shape = cJSON_GetObjectItemCaseSensitive(t, "shape");
        const cJSON *scale = cJSON_GetObjectItemCaseSensitive(t, "scale");
        const cJSON *zp = cJSON_GetObjectItemCaseSensitive(t, "zero_point");
        if (!cJSON_IsString(name) || !name->valuestring[0]) {
            snprintf(err, err_len, "%s: tensors[%d] has no \"name\" string", path, k);
            goto done;
        }
        const char *nm = name->valuestring;
        if (file && (!cJSON_IsString(file) || !safe_relative_path(file->valuestring))) {
            snprintf(err, err_len,
                     "%s: tensor '%s': \"file\" must be a relative path inside the directory (no '..')", path, nm);
            goto done;
        }
        if (dtype && (!cJSON_IsString(dtype) || dtype_of_name(dtype->valuestring) < 0)) {
            snprintf(err, err_len, "%s: tensor '%s': \"dtype\" must be one of u8 i8 i16 i32 i64 f16 f32 f64 bool",
                     path, nm);
            goto done;
        }
        if (shape) {
            int r = cJSON_IsArray(shape) ? cJSON_GetArraySize(shape) : -1;
            if (r < 0 || r > DETC_NPY_MAX_RANK) {
                snprintf(err, err_len, "%s: tensor '%s': \"shape\" must be an array of at most %d sizes", path, nm,
                         DETC_NPY_MAX_RANK);
                goto done;
            }
            const cJSON *s;
            cJSON_ArrayForEach(s, shape) {
                if (!cJSON_IsNumber(s) || !(s->valuedouble >= 0 && s->valuedouble <= 9007199254740992.0) ||
                    s->valuedouble != floor(s->valuedouble)) {
                    snprintf(err, err_len, "%s: tensor '%s': \"shape\" holds something that is not a size", path,
                             nm);
                    goto done;
                }
            }
        }
        if (!scale != !zp) {
            snprintf(err, err_len, "%s: tensor '%s' has %s without %s", path, nm, scale ? "scale" : "zero_point",
                     scale ? "zero_point" : "scale");
            goto done;
        }
        if (scale && (!cJSON_IsNumber(scale) || !isfinite(scale->valuedouble) || !cJSON_IsNumber(zp) ||
                      !isfinite(zp->valuedouble))) {
            snprintf(err, err_len, "%s: tensor '%s': \"scale\" and \"zero_point\" must be finite numbers", path, nm);
            goto done;
        }
        int i = add_entry(d, &cap);
        if (i < 0) {
            snprintf(err, err_len, "out of memory reading %s", path);
            goto done;
        }
        entry *e = &d->e[i];
        e->name = xstrdup(nm);
        e->file = file ? xstrdup(file->valuestring) : sanitized_file(nm);
        if (!e->name || !e->file) {
            snprintf(err, err_len, "out of memory reading %s", path);
            goto done;
        }
        if (dtype)
            e->dtype = dtype_of_name(dtype->valuestring);
        if (shape) {
            e->rank = 0;
            const cJSON *s;
            cJSON_ArrayForEach(s, shape) e->shape[e->rank++] = (int64_t)s->valuedouble;
        }
        if (scale) {
            e->quant = true;
            e->scale = scale->valuedouble;
            e->zero_point = zp->valuedouble;
        }
        k++;
    }
    rc = 0;
done:
    cJSON_Delete(root);
    return rc;
}

static int scan_npy_files(dump *d, char *err, size_t err_len)
{
    DIR *dir = opendir(d->path);
    if (!dir) {
        snprintf(err, err_len, "cannot open directory %s: %s", d->path, strerror(errno));
        return -1;
    }
    int cap = 0, rc = 0;
    struct dirent *de;
    while ((de = readdir(dir)) != NULL) {
        size_t n = strlen(de->d_name);
        if (n <= 4 || strcmp(de->d_name + n - 4, ".npy") != 0)
            continue;
        char *path = xprintf("%s/%s", d->path, de->d_name);
        struct stat st;
        bool regular = stat(path, &st) == 0 && S_ISREG(st.st_mode);
        free(path);
        if (!regular)
            continue;
        int i = add_entry(d, &cap);
        if (i < 0 || !(d->e[i].file = xstrdup(de->d_name)) || !(d->e[i].name = xstrdup(de->d_name))) {
            snprintf(err, err_len, "out of memory listing %s", d->path);
            rc = -1;
            break;
        }
        d->e[i].name[n - 4] = '\0';
    }
    closedir(dir);
    if (rc == 0 && d->n > 1) {
        sort_dump = d; /* stable, readable order: by name */
        int *order = malloc((size_t)(d->n ? d->n : 1) * sizeof *order);
        entry *sorted = malloc((size_t)(d->n ? d->n : 1) * sizeof *sorted);
        if (!order || !sorted) {
            free(order);
            free(sorted);
            snprintf(err, err_len, "out of memory listing %s", d->path);
            return -1;
        }
        for (int i = 0; i < d->n; i++)
            order[i] = i;
        qsort(order, (size_t)d->n, sizeof *order, cmp_by_name);
        for (int i = 0; i < d->n; i++)
            sorted[i] = d->e[order[i]];
        memcpy(d->e, sorted, (size_t)d->n * sizeof *sorted);
        free(order);
        free(sorted);
    }
    return rc;
}

static int load_dump(dump *d, char *err, size_t err_len)
{
    struct stat st;
    if (stat(d->path, &st) != 0) {
        snprintf(err, err_len, "cannot read directory %s: %s", d->path, strerror(errno));
        return -1;
    }
    if (!S_ISDIR(st.st_mode)) {
        snprintf(err, err_len, "%s is not a directory", d->path);
        return -1;
    }
    char *mpath = xprintf("%s/manifest.json", d->path);
    int rc;
    if (stat(mpath, &st) == 0) {
        d->manifest = true;
        rc = load_manifest(d, mpath, err, err_len);
    } else {
        rc = scan_npy_files(d, err, err_len);
    }
    free(mpath);
    if (rc != 0)
        return rc;
    if (d->n == 0) {
        snprintf(err, err_len, d->manifest ? "%s/manifest.json lists no tensors" : "%s holds no .npy files",
                 d->path);
        return -1;
    }
    d->by_name = malloc((size_t)d->n * sizeof *d->by_name);
    d->by_file = malloc((size_t)d->n * sizeof *d->by_file);
    if (!d->by_name || !d->by_file) {
        snprintf(err, err_len, "out of memory");
        return -1;
    }
    for (int i = 0; i < d->n; i++) {
        d->by_name[i] = d->by_file[i] = i;
        d->e[i].shown = cleaned(d->e[i].name);
    }
    sort_dump = d;
    qsort(d->by_name, (size_t)d->n, sizeof(int), cmp_by_name);
    qsort(d->by_file, (size_t)d->n, sizeof(int), cmp_by_file);
    for (int i = 1; i < d->n; i++) {
        if (strcmp(d->e[d->by_name[i]].name, d->e[d->by_name[i - 1]].name) == 0) {
            snprintf(err, err_len, "%s/manifest.json lists tensor '%s' twice", d->path, d->e[d->by_name[i]].name);
            return -1;
        }
    }
    return 0;
}

/* ---- one loaded tensor ----------------------------------------------------------------------- */

typedef struct {
    detc_npy npy;
    bool loaded;
    int dtype;
    size_t count;
} tensor;

static int tensor_load(const dump *d, const entry *e, tensor *t, char *err, size_t err_len)
{
    char *path = xprintf("%s/%s", d->path, e->file);
    char msg[512];
    memset(t, 0, sizeof *t);
    int rc = detc_npy_read(path, &t->npy, msg, sizeof msg);
    if (rc != 0) {
        snprintf(err, err_len, "%s", msg); /* names the file */
        free(path);
        return -1;
    }
    t->loaded = true;
    t->dtype = dtype_of_descr(t->npy.descr);
    if (t->dtype < 0) {
        snprintf(err, err_len, "%s: unsupported dtype '%s'", path, t->npy.descr);
        free(path);
        return -1;
    }
    if (t->npy.rank < 0 || t->npy.rank > DETC_NPY_MAX_RANK || t->npy.nbytes % detc_dtype_size(t->dtype) != 0 ||
        (t->npy.nbytes && !t->npy.data)) {
        snprintf(err, err_len, "%s: inconsistent array", path);
        free(path);
        return -1;
    }
    t->count = t->npy.nbytes / detc_dtype_size(t->dtype);
    /* A manifest's dtype and shape, when given, must describe the file. */
    char ms[160], fs[160];
    if (e->dtype >= 0 && e->dtype != t->dtype) {
        snprintf(err, err_len, "%s: manifest.json says tensor '%s' is %s but %s holds %s", d->path, e->name,
                 detc_dtype_name(e->dtype), e->file, detc_dtype_name(t->dtype));
        free(path);
        return -1;
    }
    bool same = e->rank < 0 || e->rank == t->npy.rank;
    for (int i = 0; same && e->rank >= 0 && i < e->rank; i++)
        same = e->shape[i] == t->npy.shape[i];
    if (!same) {
        shape_str(ms, sizeof ms, e->rank, e->shape);
        shape_str(fs, sizeof fs, t->npy.rank, t->npy.shape);
        snprintf(err, err_len, "%s: manifest.json says tensor '%s' has shape %s but %s holds %s", d->path, e->name,
                 ms, e->file, fs);
        free(path);
        return -1;
    }
    free(path);
    return 0;
}

static void tensor_free(tensor *t)
{
    if (t->loaded)
        detc_npy_free(&t->npy);
    t->loaded = false;
}

/* ---- element-wise comparison of one pair ----------------------------------------------------- */

typedef struct {
    int a, b; /* entry indices */
    bool error;
    char msg[1200];
    int dtype_a, dtype_b;
    int rank_a, rank_b;
    int64_t shape_a[DETC_NPY_MAX_RANK], shape_b[DETC_NPY_MAX_RANK];
    bool dtype_differs, shape_differs, squeezed, quant_differs;
    bool compared; /* the numbers below are set */
    size_t count, outside, nan_mismatch, identical;
    double max_abs, max_rel, mean_abs, cosine;
    bool has_worst;
    size_t worst; /* index of the largest |a - b| */
    size_t first_nan; /* index of the first NaN on one side only */
    double worst_a, worst_b;
    bool has_quanta;
    uint64_t max_quanta;
    size_t hist[4];
    bool has_deq;
    double deq_max_abs, deq_mean_abs;
    bool pass;
} pair;

static bool is_float(int dt)
{
    return dt == DETC_F16 || dt == DETC_F32 || dt == DETC_F64;
}

static bool squeezed_equal(int ra, const int64_t *sa, int rb, const int64_t *sb)
{
    int i = 0, j = 0;
    for (;;) {
        while (i < ra && sa[i] == 1)
            i++;
        while (j < rb && sb[j] == 1)
            j++;
        if (i == ra || j == rb)
            return i == ra && j == rb;
        if (sa[i++] != sb[j++])
            return false;
    }
}

static bool same_quant(const entry *a, const entry *b)
{
    double ds = fabs(a->scale - b->scale), m = fmax(fabs(a->scale), fabs(b->scale));
    return ds <= 1e-6 * m && a->zero_point == b->zero_point;
}

static void compare_values(const tensor *ta, const tensor *tb, const entry *ea, const entry *eb, double atol,
                           double rtol, pair *r)
{
    size_t n = ta->count;
    const void *da = ta->npy.data, *db = tb->npy.data;
    int dta = ta->dtype, dtb = tb->dtype;
    r->compared = true;
    r->count = n;
    /* Pass 1: everything but the cosine; also the largest magnitudes, to scale the cosine. */
    double sum_abs = 0, scale_a = 0, scale_b = 0;
    size_t n_num = 0;
    bool first = true;
    for (size_t i = 0; i < n; i++) {
        double a = value_at(da, dta, i), b = value_at(db, dtb, i);
        bool an = isnan(a), bn = isnan(b);
        if (an || bn) {
            if (an && bn) {
                r->identical++;
            } else {
                if (!r->nan_mismatch++)
                    r->first_nan = i;
                r->outside++;
            }
            continue;
        }
        double diff = a == b ? 0 : fabs(a - b);
        if (a == b)
            r->identical++;
        bool ok = a == b || (isfinite(a) && isfinite(b) && diff <= atol + rtol * fabs(b));
        if (!ok)
            r->outside++;
        if (first || diff > r->max_abs) {
            r->has_worst = true;
            r->max_abs = diff;
            r->worst = i;
            r->worst_a = a;
            r->worst_b = b;
            first = false;
        }
        if (b != 0 && isfinite(b) && diff / fabs(b) > r->max_rel)
            r->max_rel = diff / fabs(b);
        sum_abs += diff;
        n_num++;
        if (isfinite(a) && isfinite(b)) {
            scale_a = fmax(scale_a, fabs(a));
            scale_b = fmax(scale_b, fabs(b));
        }
    }
    r->mean_abs = n_num ? sum_abs / (double)n_num : 0;
    /* Pass 2: cosine similarity over the elements finite on both sides, scaled against overflow. */
    if (scale_a == 0 && scale_b == 0) {
        r->cosine = 1;
    } else if (scale_a == 0 || scale_b == 0) {
        r->cosine = 0;
    } else {
        double dot = 0, na = 0, nb = 0;
        for (size_t i = 0; i < n; i++) {
            double a = value_at(da, dta, i), b = value_at(db, dtb, i);
            if (!isfinite(a) || !isfinite(b))
                continue;
            a /= scale_a;
            b /= scale_b;
            dot += a * b;
            na += a * a;
            nb += b * b;
        }
        double c = dot / sqrt(na * nb);
        r->cosine = c > 1 ? 1 : c < -1 ? -1 : c;
    }
    if (detc_dtype_is_integer(dta) && detc_dtype_is_integer(dtb)) {
        r->has_quanta = true;
        for (size_t i = 0; i < n; i++) {
            int64_t a = int_at(da, dta, i), b = int_at(db, dtb, i);
            uint64_t d = a > b ? (uint64_t)a - (uint64_t)b : (uint64_t)b - (uint64_t)a;
            if (d > r->max_quanta)
                r->max_quanta = d;
            r->hist[d > 2 ? 3 : d]++;
        }
        if (ea->quant && eb->quant) {
            r->has_deq = true;
            double sum = 0;
            for (size_t i = 0; i < n; i++) {
                double a = ((double)int_at(da, dta, i) - ea->zero_point) * ea->scale;
                double b = ((double)int_at(db, dtb, i) - eb->zero_point) * eb->scale;
                double d = fabs(a - b);
                if (d > r->deq_max_abs)
                    r->deq_max_abs = d;
                sum += d;
            }
            r->deq_mean_abs = n ? sum / (double)n : 0;
        }
    }
}

static void compare_pair(const dump *A, const dump *B, pair *r, double atol, double rtol)
{
    const entry *ea = &A->e[r->a], *eb = &B->e[r->b];
    tensor ta, tb;
    char err[1100];
    r->dtype_a = r->dtype_b = -1;
    r->rank_a = r->rank_b = -1;
    if (tensor_load(A, ea, &ta, err, sizeof err) != 0) {
        r->error = true;
        snprintf(r->msg, sizeof r->msg, "%s", err);
    } else if (tensor_load(B, eb, &tb, err, sizeof err) != 0) {
        r->error = true;
        snprintf(r->msg, sizeof r->msg, "%s", err);
        tensor_free(&tb);
    }
    clean_text(r->msg);
    if (r->error) {
        tensor_free(&ta);
        return;
    }
    r->dtype_a = ta.dtype;
    r->dtype_b = tb.dtype;
    r->rank_a = ta.npy.rank;
    r->rank_b = tb.npy.rank;
    memcpy(r->shape_a, ta.npy.shape, sizeof r->shape_a);
    memcpy(r->shape_b, tb.npy.shape, sizeof r->shape_b);
    r->dtype_differs = ta.dtype != tb.dtype;
    bool same_shape = ta.npy.rank == tb.npy.rank;
    for (int i = 0; same_shape && i < ta.npy.rank; i++)
        same_shape = ta.npy.shape[i] == tb.npy.shape[i];
    if (!same_shape) {
        if (ta.count == tb.count && squeezed_equal(ta.npy.rank, ta.npy.shape, tb.npy.rank, tb.npy.shape))
            r->squeezed = true;
        else
            r->shape_differs = true;
    }
    r->quant_differs = detc_dtype_is_integer(ta.dtype) && detc_dtype_is_integer(tb.dtype) && ea->quant && eb->quant &&
                       !same_quant(ea, eb);
    /* Different dtypes of the same kind (f16 vs f32, i32 vs i64) still get numbers, for information;
     * integers against floats (quantized against real values) or bools would only give huge errors. */
    bool comparable = !r->dtype_differs || (is_float(ta.dtype) && is_float(tb.dtype)) ||
                      (detc_dtype_is_integer(ta.dtype) && detc_dtype_is_integer(tb.dtype));
    if (comparable && !r->shape_differs && ta.count == tb.count)
        compare_values(&ta, &tb, ea, eb, atol, rtol, r);
    r->pass = r->compared && r->outside == 0 && !r->quant_differs && !r->dtype_differs;
    tensor_free(&ta);
    tensor_free(&tb);
}

/* ---- detection-level comparison -------------------------------------------------------------- */

enum { ROLE_BOXES, ROLE_CLASSES, ROLE_SCORES, ROLE_COUNT, N_ROLES };
static const char *const ROLE_OPTION[N_ROLES] = {"--boxes", "--classes", "--scores", "--count"};

typedef struct {
    double y0, x0, y1, x1, cls, score;
} det;

typedef struct {
    bool ran, error;
    char msg[1200];
    const char *names[N_ROLES];
    int pair_of_role[N_ROLES];
    det *da, *db;
    int n_a, n_b, matched, bad;
    int *match_of_a, *match_of_b; /* partner index or -1 */
    double *iou_of_b;             /* IoU of B detection's match */
    double min_iou, max_score_diff;
    double iou_thr, score_tol;
    bool pass;
} det_result;

static int load_detections(const dump *d, const int entry_of_role[N_ROLES], det **out, int *n_out, char *err,
                           size_t err_len)
{
    tensor t[N_ROLES];
    memset(t, 0, sizeof t);
    int rc = -1;
    for (int k = 0; k < N_ROLES; k++)
        if (tensor_load(d, &d->e[entry_of_role[k]], &t[k], err, err_len) != 0)
            goto done;
    size_t n = t[ROLE_SCORES].count;
    const char *bad = NULL;
    if (t[ROLE_BOXES].count != 4 * n || t[ROLE_BOXES].count / 4 != n)
        bad = "boxes must hold 4 numbers per score";
    else if (t[ROLE_CLASSES].count != n)
        bad = "classes must hold one number per score";
    else if (t[ROLE_COUNT].count != 1)
        bad = "count must hold exactly one number (batch 1)";
    else if (n > 1000000)
        bad = "more than 1000000 detections";
    if (bad) {
        snprintf(err, err_len, "%s: detection tensors disagree: %s (boxes %zu, classes %zu, scores %zu, count %zu "
                 "numbers)", d->path, bad, t[ROLE_BOXES].count, t[ROLE_CLASSES].count, n, t[ROLE_COUNT].count);
        goto done;
    }
    double c = value_at(t[ROLE_COUNT].npy.data, t[ROLE_COUNT].dtype, 0);
    if (!(c >= 0 && c <= (double)n) || c != floor(c)) {
        snprintf(err, err_len, "%s: detection count %g is not a whole number in 0..%zu (the rows of scores)",
                 d->path, c, n);
        goto done;
    }
    int m = (int)c;
    det *v = malloc((size_t)(m ? m : 1) * sizeof *v);
    if (!v) {
        snprintf(err, err_len, "out of memory");
        goto done;
    }
    for (int i = 0; i < m; i++) {
        const tensor *tb = &t[ROLE_BOXES];
        v[i].y0 = value_at(tb->npy.data, tb->dtype, 4 * (size_t)i);
        v[i].x0 = value_at(tb->npy.data, tb->dtype, 4 * (size_t)i + 1);
        v[i].y1 = value_at(tb->npy.data, tb->dtype, 4 * (size_t)i + 2);
        v[i].x1 = value_at(tb->npy.data, tb->dtype, 4 * (size_t)i + 3);
        v[i].cls = value_at(t[ROLE_CLASSES].npy.data, t[ROLE_CLASSES].dtype, (size_t)i);
        v[i].score = value_at(t[ROLE_SCORES].npy.data, t[ROLE_SCORES].dtype, (size_t)i);
    }
    *out = v;
    *n_out = m;
    rc = 0;
done:
    for (int k = 0; k < N_ROLES; k++)
        tensor_free(&t[k]);
    return rc;
}

static double box_iou(const det *a, const det *b)
{
    double ay0 = fmin(a->y0, a->y1), ay1 = fmax(a->y0, a->y1), ax0 = fmin(a->x0, a->x1), ax1 = fmax(a->x0, a->x1);
    double by0 = fmin(b->y0, b->y1), by1 = fmax(b->y0, b->y1), bx0 = fmin(b->x0, b->x1), bx1 = fmax(b->x0, b->x1);
    double ih = fmin(ay1, by1) - fmax(ay0, by0), iw = fmin(ax1, bx1) - fmax(ax0, bx0);
    double inter = ih > 0 && iw > 0 ? ih * iw : 0;
    double uni = (ay1 - ay0) * (ax1 - ax0) + (by1 - by0) * (bx1 - bx0) - inter;
    if (!(uni > 0)) /* two empty boxes: the same box or none */
        return a->y0 == b->y0 && a->x0 == b->x0 && a->y1 == b->y1 && a->x1 == b->x1 ? 1 : 0;
    double iou = inter / uni;
    return iou >= 0 && iou <= 1 ? iou : iou > 1 ? 1 : 0; /* NaN coordinates: no overlap */
}

static bool same_class(double a, double b)
{
    return isfinite(a) && isfinite(b) && round(a) == round(b);
}

static det *sort_dets;
static int cmp_score_desc(const void *x, const void *y)
{
    int i = *(const int *)x, j = *(const int *)y;
    double a = sort_dets[i].score, b = sort_dets[j].score;
    if (a > b || (!isnan(a) && isnan(b)))
        return -1;
    if (a < b || (isnan(a) && !isnan(b)))
        return 1;
    return i < j ? -1 : i > j;
}

static void match_detections(det_result *r)
{
    int na = r->n_a, nb = r->n_b;
    r->match_of_a = malloc((size_t)(na ? na : 1) * sizeof(int));
    r->match_of_b = malloc((size_t)(nb ? nb : 1) * sizeof(int));
    r->iou_of_b = calloc((size_t)(nb ? nb : 1), sizeof(double));
    int *order = malloc((size_t)(nb ? nb : 1) * sizeof(int));
    if (!r->match_of_a || !r->match_of_b || !r->iou_of_b || !order) {
        fputs("detc compare: out of memory\n", stderr);
        exit(EXIT_FAILED);
    }
    for (int i = 0; i < na; i++)
        r->match_of_a[i] = -1;
    for (int j = 0; j < nb; j++) {
        r->match_of_b[j] = -1;
        order[j] = j;
    }
    sort_dets = r->db;
    qsort(order, (size_t)nb, sizeof *order, cmp_score_desc);
    r->min_iou = 1;
    r->max_score_diff = 0;
    for (int k = 0; k < nb; k++) {
        int j = order[k], best = -1;
        double best_iou = 0, best_ds = 0;
        for (int i = 0; i < na; i++) {
            if (r->match_of_a[i] >= 0 || !same_class(r->da[i].cls, r->db[j].cls))
                continue;
            double iou = box_iou(&r->da[i], &r->db[j]);
            double ds = fabs(r->da[i].score - r->db[j].score);
            if (iou > best_iou || (iou > 0 && iou == best_iou && ds < best_ds)) {
                best = i;
                best_iou = iou;
                best_ds = ds;
            }
        }
        if (best < 0)
            continue;
        r->match_of_b[j] = best;
        r->match_of_a[best] = j;
        r->iou_of_b[j] = best_iou;
        r->matched++;
        if (best_iou < r->min_iou)
            r->min_iou = best_iou;
        double ds = fabs(r->da[best].score - r->db[j].score);
        if (!(ds <= r->max_score_diff))
            r->max_score_diff = ds; /* NaN sticks */
        if (!(best_iou >= r->iou_thr) || !(ds <= r->score_tol))
            r->bad++;
    }
    free(order);
    r->pass = r->bad == 0 && r->matched == na && r->matched == nb;
}

static void det_result_free(det_result *r)
{
    free(r->da);
    free(r->db);
    free(r->match_of_a);
    free(r->match_of_b);
    free(r->iou_of_b);
}

/* ---- output ---------------------------------------------------------------------------------- */

static char *side_str(int dtype, int rank, const int64_t *shape)
{
    char s[200];
    if (dtype < 0)
        return xprintf("?");
    shape_str(s, sizeof s, rank, shape);
    return xprintf("%s %s", detc_dtype_name(dtype), s);
}

static const char *pair_status(const pair *p)
{
    return p->error ? "ERROR" : p->pass ? "ok" : "FAIL";
}

enum { C_STATUS, C_NAME, C_A, C_B, C_MAXABS, C_MAXREL, C_MEANABS, C_COS, C_IDENT, N_COLS };
static const char *const HEADERS[N_COLS] = {"result", "name", "A", "B", "max_abs", "max_rel", "mean_abs",
                                            "cosine", "identical"};

static void index_str(char *out, size_t len, size_t flat, int rank, const int64_t *shape)
{
    size_t idx[DETC_NPY_MAX_RANK];
    for (int i = rank - 1; i >= 0; i--) {
        size_t d = shape[i] > 0 ? (size_t)shape[i] : 1;
        idx[i] = flat % d;
        flat /= d;
    }
    size_t k = (size_t)snprintf(out, len, "[");
    for (int i = 0; i < rank && k < len; i++)
        k += (size_t)snprintf(out + k, len - k, "%s%zu", i ? "," : "", idx[i]);
    if (k < len)
        snprintf(out + k, len - k, "]");
}

static void print_notes(const dump *A, const dump *B, const pair *p, double atol, double rtol)
{
    char sa[200], sb[200];
    if (p->error) {
        printf("      error: %s\n", p->msg);
        return;
    }
    if (p->dtype_differs)
        printf("      dtype differs: %s vs %s%s\n", detc_dtype_name(p->dtype_a), detc_dtype_name(p->dtype_b),
               p->compared ? " (numbers for information; a failure all the same)" : "");
    if (p->shape_differs || p->squeezed) {
        shape_str(sa, sizeof sa, p->rank_a, p->shape_a);
        shape_str(sb, sizeof sb, p->rank_b, p->shape_b);
        if (p->shape_differs)
            printf("      shape differs: %s vs %s\n", sa, sb);
        else
            printf("      shapes differ only by size-1 dims (%s vs %s); compared element by element\n", sa, sb);
    }
    if (p->quant_differs) {
        const entry *ea = &A->e[p->a], *eb = &B->e[p->b];
        printf("      quantization differs: scale %.9g zero_point %g vs scale %.9g zero_point %g\n", ea->scale,
               ea->zero_point, eb->scale, eb->zero_point);
    }
    if (!p->compared)
        return;
    if (p->has_quanta)
        printf("      quanta: max %llu; |diff| 0: %zu, 1: %zu, 2: %zu, >2: %zu\n", (unsigned long long)p->max_quanta,
               p->hist[0], p->hist[1], p->hist[2], p->hist[3]);
    if (p->has_deq)
        printf("      dequantized: max_abs %.6g, mean_abs %.6g\n", p->deq_max_abs, p->deq_mean_abs);
    char ix[200];
    if (p->nan_mismatch) {
        index_str(ix, sizeof ix, p->first_nan, p->rank_b, p->shape_b);
        printf("      NaN on one side only at %zu elements (first at %s)\n", p->nan_mismatch, ix);
    }
    if (p->outside) {
        printf("      %zu of %zu elements outside |a-b| <= %g + %g*|b|", p->outside, p->count, atol, rtol);
        if (p->has_worst) {
            index_str(ix, sizeof ix, p->worst, p->rank_b, p->shape_b);
            printf("; largest |a-b| at %s: A %.9g, B %.9g", ix, p->worst_a, p->worst_b);
        }
        printf("\n");
    }
}

static void print_table(const dump *A, const dump *B, const pair *pairs, int n, double atol, double rtol)
{
    if (n == 0)
        return;
    char *(*cells)[N_COLS] = calloc((size_t)n, sizeof *cells);
    if (!cells) {
        fputs("detc compare: out of memory\n", stderr);
        exit(EXIT_FAILED);
    }
    printf("\n");
    int width[N_COLS];
    for (int c = 0; c < N_COLS; c++)
        width[c] = (int)strlen(HEADERS[c]);
    for (int i = 0; i < n; i++) {
        const pair *p = &pairs[i];
        const char *na = A->e[p->a].shown, *nb = B->e[p->b].shown;
        char buf[64];
        cells[i][C_STATUS] = xprintf("%s", pair_status(p));
        cells[i][C_NAME] = strcmp(na, nb) == 0 ? xprintf("%s", na) : xprintf("%s -> %s", na, nb);
        cells[i][C_A] = side_str(p->dtype_a, p->rank_a, p->shape_a);
        cells[i][C_B] = side_str(p->dtype_b, p->rank_b, p->shape_b);
        if (p->compared) {
            number_str(buf, sizeof buf, p->max_abs);
            cells[i][C_MAXABS] = xprintf("%s", buf);
            number_str(buf, sizeof buf, p->max_rel);
            cells[i][C_MAXREL] = xprintf("%s", buf);
            number_str(buf, sizeof buf, p->mean_abs);
            cells[i][C_MEANABS] = xprintf("%s", buf);
            cells[i][C_COS] = xprintf("%.6f", p->cosine);
            if (p->identical == p->count) {
                cells[i][C_IDENT] = xprintf("100%%");
            } else {
                double pc = 100.0 * (double)p->identical / (double)p->count;
                cells[i][C_IDENT] = xprintf("%.2f%%", pc > 99.99 ? 99.99 : pc);
            }
        } else {
            for (int c = C_MAXABS; c < N_COLS; c++)
                cells[i][c] = xprintf("-");
        }
        for (int c = 0; c < N_COLS; c++) {
            int w = (int)strlen(cells[i][c]);
            int cap = c == C_NAME ? 60 : 40;
            if (w > width[c])
                width[c] = w > cap ? cap : w;
        }
    }
    for (int c = 0; c < N_COLS; c++)
        printf("%-*s%s", c == N_COLS - 1 ? 0 : width[c], HEADERS[c], c == N_COLS - 1 ? "\n" : "  ");
    for (int i = 0; i < n; i++) {
        for (int c = 0; c < N_COLS; c++)
            printf("%-*s%s", c == N_COLS - 1 ? 0 : width[c], cells[i][c], c == N_COLS - 1 ? "\n" : "  ");
        print_notes(A, B, &pairs[i], atol, rtol);
        for (int c = 0; c < N_COLS; c++)
            free(cells[i][c]);
    }
    free(cells);
}

static void print_det(const char *side, int i, const det *d)
{
    printf("%s#%d class %g score %.6g box [%.6g,%.6g,%.6g,%.6g]", side, i, d->cls, d->score, d->y0, d->x0, d->y1,
           d->x1);
}

static void print_detections(const det_result *r)
{
    printf("\ndetections (B is the reference; boxes %s, classes %s, scores %s, count %s):\n", r->names[0],
           r->names[1], r->names[2], r->names[3]);
    if (r->error) {
        printf("  error: %s\n", r->msg);
        return;
    }
    printf("  A %d, B %d, matched %d", r->n_a, r->n_b, r->matched);
    if (r->matched)
        printf(", min IoU %.6g, max |score diff| %.6g", r->min_iou, r->max_score_diff);
    printf(" (need IoU >= %g, |score diff| <= %g)\n", r->iou_thr, r->score_tol);
    for (int j = 0; j < r->n_b; j++) {
        int i = r->match_of_b[j];
        if (i < 0)
            continue;
        double ds = fabs(r->da[i].score - r->db[j].score);
        bool iou_ok = r->iou_of_b[j] >= r->iou_thr, ds_ok = ds <= r->score_tol;
        if (iou_ok && ds_ok)
            continue;
        printf("  outside tolerance: ");
        print_det("B", j, &r->db[j]);
        printf(" ~ ");
        print_det("A", i, &r->da[i]);
        printf(": IoU %.6g%s, |score diff| %.6g%s\n", r->iou_of_b[j], iou_ok ? "" : " (too low)", ds,
               ds_ok ? "" : " (too large)");
    }
    for (int j = 0; j < r->n_b; j++) {
        if (r->match_of_b[j] >= 0)
            continue;
        printf("  unmatched in B: ");
        print_det("B", j, &r->db[j]);
        printf("\n");
    }
    for (int i = 0; i < r->n_a; i++) {
        if (r->match_of_a[i] >= 0)
            continue;
        printf("  unmatched in A: ");
        print_det("A", i, &r->da[i]);
        printf("\n");
    }
    printf("  detections %s\n", r->pass ? "within tolerance" : "outside tolerance");
}

static cJSON *json_shape(int rank, const int64_t *shape)
{
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; i < rank; i++)
        cJSON_AddItemToArray(a, cJSON_CreateNumber((double)shape[i]));
    return a;
}

static cJSON *json_det(const det *d, int index)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "index", index);
    cJSON_AddNumberToObject(o, "class", d->cls);
    cJSON_AddNumberToObject(o, "score", d->score);
    double box[4] = {d->y0, d->x0, d->y1, d->x1};
    cJSON_AddItemToObject(o, "box", cJSON_CreateDoubleArray(box, 4));
    return o;
}

static cJSON *json_report(const dump *A, const dump *B, const pair *pairs, int n_pairs, const det_result *dr,
                          double atol, double rtol, int n_pass, int n_error, bool pass)
{
    cJSON *root = cJSON_CreateObject();
    cJSON_AddItemToObject(root, "dir_a", json_text(A->path));
    cJSON_AddItemToObject(root, "dir_b", json_text(B->path));
    cJSON_AddNumberToObject(root, "atol", atol);
    cJSON_AddNumberToObject(root, "rtol", rtol);
    cJSON *ts = cJSON_AddArrayToObject(root, "tensors");
    for (int i = 0; i < n_pairs; i++) {
        const pair *p = &pairs[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddItemToObject(o, "name_a", json_text(A->e[p->a].name));
        cJSON_AddItemToObject(o, "name_b", json_text(B->e[p->b].name));
        cJSON_AddItemToObject(o, "file_a", json_text(A->e[p->a].file));
        cJSON_AddItemToObject(o, "file_b", json_text(B->e[p->b].file));
        cJSON_AddStringToObject(o, "result", p->error ? "error" : p->pass ? "ok" : "fail");
        cJSON_AddBoolToObject(o, "within_tolerance", p->pass);
        if (p->error)
            cJSON_AddStringToObject(o, "error", p->msg);
        if (p->dtype_a >= 0) {
            cJSON_AddStringToObject(o, "dtype_a", detc_dtype_name(p->dtype_a));
            cJSON_AddStringToObject(o, "dtype_b", detc_dtype_name(p->dtype_b));
            cJSON_AddItemToObject(o, "shape_a", json_shape(p->rank_a, p->shape_a));
            cJSON_AddItemToObject(o, "shape_b", json_shape(p->rank_b, p->shape_b));
            cJSON_AddBoolToObject(o, "dtype_differs", p->dtype_differs);
            cJSON_AddBoolToObject(o, "shape_differs", p->shape_differs);
            cJSON_AddBoolToObject(o, "shapes_differ_by_size1_dims", p->squeezed);
            cJSON_AddBoolToObject(o, "quantization_differs", p->quant_differs);
        }
        if (p->compared) {
            cJSON_AddNumberToObject(o, "count", (double)p->count);
            cJSON_AddNumberToObject(o, "max_abs_error", p->max_abs);
            cJSON_AddNumberToObject(o, "max_rel_error", p->max_rel);
            cJSON_AddNumberToObject(o, "mean_abs_error", p->mean_abs);
            cJSON_AddNumberToObject(o, "cosine_similarity", p->cosine);
            cJSON_AddNumberToObject(o, "identical_fraction", p->count ? (double)p->identical / (double)p->count : 1);
            cJSON_AddNumberToObject(o, "outside_tolerance", (double)p->outside);
            cJSON_AddNumberToObject(o, "nan_mismatches", (double)p->nan_mismatch);
            if (p->has_worst) {
                cJSON_AddNumberToObject(o, "max_abs_error_index", (double)p->worst);
                cJSON_AddNumberToObject(o, "max_abs_error_a", p->worst_a);
                cJSON_AddNumberToObject(o, "max_abs_error_b", p->worst_b);
            }
            if (p->has_quanta) {
                cJSON *q = cJSON_AddObjectToObject(o, "quanta");
                cJSON_AddNumberToObject(q, "max", (double)p->max_quanta);
                double h[4] = {(double)p->hist[0], (double)p->hist[1], (double)p->hist[2], (double)p->hist[3]};
                cJSON_AddItemToObject(q, "histogram", cJSON_CreateDoubleArray(h, 4));
            }
            if (p->has_deq) {
                cJSON *q = cJSON_AddObjectToObject(o, "dequantized");
                cJSON_AddNumberToObject(q, "max_abs_error", p->deq_max_abs);
                cJSON_AddNumberToObject(q, "mean_abs_error", p->deq_mean_abs);
            }
        }
        cJSON_AddItemToArray(ts, o);
    }
    const dump *sides[2] = {A, B};
    const char *keys[2] = {"only_in_a", "only_in_b"};
    for (int s = 0; s < 2; s++) {
        cJSON *arr = cJSON_AddArrayToObject(root, keys[s]);
        for (int i = 0; i < sides[s]->n; i++)
            if (sides[s]->e[i].partner == -1)
                cJSON_AddItemToArray(arr, json_text(sides[s]->e[i].name));
    }
    if (dr->ran) {
        cJSON *d = cJSON_AddObjectToObject(root, "detections");
        if (dr->error) {
            cJSON_AddStringToObject(d, "error", dr->msg);
        } else {
            cJSON_AddNumberToObject(d, "iou_threshold", dr->iou_thr);
            cJSON_AddNumberToObject(d, "score_tolerance", dr->score_tol);
            cJSON_AddNumberToObject(d, "count_a", dr->n_a);
            cJSON_AddNumberToObject(d, "count_b", dr->n_b);
            cJSON_AddNumberToObject(d, "matched", dr->matched);
            cJSON_AddNumberToObject(d, "matched_outside_tolerance", dr->bad);
            if (dr->matched) {
                cJSON_AddNumberToObject(d, "min_iou", dr->min_iou);
                cJSON_AddNumberToObject(d, "max_score_diff", dr->max_score_diff);
            }
            cJSON *m = cJSON_AddArrayToObject(d, "matches");
            for (int j = 0; j < dr->n_b; j++) {
                int i = dr->match_of_b[j];
                if (i < 0)
                    continue;
                cJSON *o = cJSON_CreateObject();
                cJSON_AddNumberToObject(o, "b", j);
                cJSON_AddNumberToObject(o, "a", i);
                cJSON_AddNumberToObject(o, "class", dr->db[j].cls);
                cJSON_AddNumberToObject(o, "iou", dr->iou_of_b[j]);
                cJSON_AddNumberToObject(o, "score_diff", fabs(dr->da[i].score - dr->db[j].score));
                cJSON_AddItemToArray(m, o);
            }
            cJSON *ua = cJSON_AddArrayToObject(d, "unmatched_a");
            for (int i = 0; i < dr->n_a; i++)
                if (dr->match_of_a[i] < 0)
                    cJSON_AddItemToArray(ua, json_det(&dr->da[i], i));
            cJSON *ub = cJSON_AddArrayToObject(d, "unmatched_b");
            for (int j = 0; j < dr->n_b; j++)
                if (dr->match_of_b[j] < 0)
                    cJSON_AddItemToArray(ub, json_det(&dr->db[j], j));
            cJSON_AddBoolToObject(d, "within_tolerance", dr->pass);
        }
    }
    cJSON *s = cJSON_AddObjectToObject(root, "summary");
    cJSON_AddNumberToObject(s, "tensors", n_pairs);
    cJSON_AddNumberToObject(s, "within_tolerance", n_pass);
    cJSON_AddNumberToObject(s, "outside_tolerance", n_pairs - n_pass - n_error);
    cJSON_AddNumberToObject(s, "errors", n_error);
    cJSON_AddBoolToObject(root, "pass", pass);
    return root;
}

/* ---- command line ---------------------------------------------------------------------------- */

static bool parse_double(const char *opt, const char *val, double min, double max, double *out)
{
    if (!val) {
        cli_usage_error(CMD, "%s needs a value", opt);
        return false;
    }
    char *end;
    errno = 0;
    double v = strtod(val, &end);
    if (errno || end == val || *end || !isfinite(v) || v < min || v > max) {
        cli_usage_error(CMD, "%s needs a number in %g..%g, got '%s'", opt, min, max, val);
        return false;
    }
    *out = v;
    return true;
}

/* Comma-separated list, split in place. */
static char **split_list(char *s, int *n)
{
    size_t cap = 1;
    for (const char *p = s; *p; p++)
        cap += *p == ',';
    char **v = calloc(cap, sizeof *v);
    *n = 0;
    if (!v)
        return NULL;
    char *save = NULL;
    for (char *tok = strtok_r(s, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
        v[(*n)++] = tok;
    return v;
}

static bool in_list(char **list, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (strcmp(list[i], name) == 0)
            return true;
    return false;
}

typedef struct {
    const char *dir_a, *dir_b, *map_path, *json_path, *only;
    double atol, rtol, iou, score_tol;
    bool detections, det_option;
    const char *role_names[N_ROLES];
} options;

static int parse_args(int argc, char **argv, options *o)
{
    *o = (options){.atol = 1e-5, .rtol = 1e-4, .iou = 0.999, .score_tol = 1e-4,
                   .role_names = {"TFLite_Detection_PostProcess", "TFLite_Detection_PostProcess:1",
                                  "TFLite_Detection_PostProcess:2", "TFLite_Detection_PostProcess:3"}};
    for (int i = 1; i < argc; i++) {
        const char *v;
        bool role = false;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(USAGE, stdout);
            return -1;
        } else if (strcmp(argv[i], "--detections") == 0) {
            o->detections = true;
        } else if (cli_option_value(argc, argv, &i, "--map", &v)) {
            if (!(o->map_path = v))
                return cli_usage_error(CMD, "--map needs a JSON file");
        } else if (cli_option_value(argc, argv, &i, "--json", &v)) {
            if (!(o->json_path = v))
                return cli_usage_error(CMD, "--json needs a file name");
        } else if (cli_option_value(argc, argv, &i, "--only", &v)) {
            if (!(o->only = v) || !*v)
                return cli_usage_error(CMD, "--only needs a comma-separated list of tensor names");
        } else if (cli_option_value(argc, argv, &i, "--atol", &v)) {
            if (!parse_double("--atol", v, 0, 1e300, &o->atol))
                return EXIT_USAGE;
        } else if (cli_option_value(argc, argv, &i, "--rtol", &v)) {
            if (!parse_double("--rtol", v, 0, 1e300, &o->rtol))
                return EXIT_USAGE;
        } else if (cli_option_value(argc, argv, &i, "--iou", &v)) {
            if (!parse_double("--iou", v, 0, 1, &o->iou))
                return EXIT_USAGE;
            o->det_option = true;
        } else if (cli_option_value(argc, argv, &i, "--score-tol", &v)) {
            if (!parse_double("--score-tol", v, 0, 1e300, &o->score_tol))
                return EXIT_USAGE;
            o->det_option = true;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            for (int k = 0; k < N_ROLES && !role; k++) {
                if (cli_option_value(argc, argv, &i, ROLE_OPTION[k], &v)) {
                    role = true;
                    if (!v || !*v)
                        return cli_usage_error(CMD, "%s needs a tensor name", ROLE_OPTION[k]);
                    o->role_names[k] = v;
                    o->det_option = true;
                }
            }
            if (!role)
                return cli_usage_error(CMD, "unknown option '%s'", argv[i]);
        } else if (!o->dir_a) {
            o->dir_a = argv[i];
        } else if (!o->dir_b) {
            o->dir_b = argv[i];
        } else {
            return cli_usage_error(CMD, "unexpected argument '%s'", argv[i]);
        }
    }
    if (!o->dir_a || !o->dir_b)
        return cli_usage_error(CMD, "needs two directories, DIR_A and DIR_B (the reference)");
    if (o->det_option && !o->detections)
        return cli_usage_error(CMD, "--iou, --score-tol, --boxes, --classes, --scores and --count need --detections");
    return EXIT_OK;
}

/* --map: {"name in A": "name in B"}. */
static cJSON *load_map(const char *path, const dump *A, char *err, size_t err_len)
{
    size_t len;
    char *text = read_text(path, &len, err, err_len);
    if (!text)
        return NULL;
    cJSON *map = parse_json(text, len, path, err, err_len);
    free(text);
    if (!map)
        return NULL;
    if (!cJSON_IsObject(map)) {
        snprintf(err, err_len, "%s: --map needs a JSON object {\"name in A\": \"name in B\", ...}", path);
        cJSON_Delete(map);
        return NULL;
    }
    const cJSON *m;
    cJSON_ArrayForEach(m, map) {
        if (!cJSON_IsString(m) || !m->string) {
            snprintf(err, err_len, "%s: the value for '%s' is not a string (a tensor name in B)", path,
                     m->string ? m->string : "?");
            cJSON_Delete(map);
            return NULL;
        }
        for (const cJSON *p = map->child; p != m; p = p->next) {
            if (strcmp(p->string, m->string) == 0) {
                snprintf(err, err_len, "%s maps '%s' twice", path, m->string);
                cJSON_Delete(map);
                return NULL;
            }
        }
        if (find_name(A, m->string) < 0) {
            char *c = cleaned(m->string);
            fprintf(stderr, "detc compare: warning: --map names '%s', which %s (A) does not hold\n", c, A->path);
            free(c);
        }
    }
    return map;
}

/* Finds B's partner for a name; when a side lacks a manifest, also by dump file name. */
static int find_partner(const dump *A, const dump *B, const char *target)
{
    int j = find_name(B, target);
    if (j < 0 && (!A->manifest || !B->manifest)) {
        char *f = sanitized_file(target);
        j = find_sorted(B, B->by_file, true, f);
        free(f);
    }
    return j;
}

static void print_list(const char *what, const dump *d, char **only, int n_only)
{
    int n = 0;
    for (int i = 0; i < d->n; i++)
        n += d->e[i].partner == -1 && (!only || in_list(only, n_only, d->e[i].name));
    if (!n)
        return;
    printf("\nonly in %s (%s), %d:", what, d->path, n);
    for (int i = 0, k = 0; i < d->n; i++) {
        if (d->e[i].partner != -1 || (only && !in_list(only, n_only, d->e[i].name)))
            continue;
        printf("%s %s", k++ ? "," : "", d->e[i].shown);
    }
    printf("\n");
}

int cmd_compare(int argc, char **argv)
{
    options o;
    int rc = parse_args(argc, argv, &o);
    if (rc != EXIT_OK)
        return rc < 0 ? EXIT_OK : rc;

    char err[1200];
    if (o.json_path && detc_output_check(o.json_path, err, sizeof err) != 0) { /* before the comparison */
        fprintf(stderr, "detc compare: %s\n", err);
        return EXIT_FAILED;
    }
    dump A = {.path = o.dir_a}, B = {.path = o.dir_b};
    cJSON *map = NULL;
    pair *pairs = NULL;
    char *only_buf = NULL, **only = NULL;
    int n_only = 0, n_pairs = 0;
    det_result dr = {.iou_thr = o.iou, .score_tol = o.score_tol};
    rc = EXIT_FAILED;

    if (load_dump(&A, err, sizeof err) != 0 || load_dump(&B, err, sizeof err) != 0) {
        clean_text(err);
        fprintf(stderr, "detc compare: %s\n", err);
        goto done;
    }
    if (o.map_path && !(map = load_map(o.map_path, &A, err, sizeof err))) {
        clean_text(err);
        fprintf(stderr, "detc compare: %s\n", err);
        goto done;
    }
    if (o.only) {
        only_buf = xstrdup(o.only);
        only = only_buf ? split_list(only_buf, &n_only) : NULL;
        if (!only) {
            fputs("detc compare: out of memory\n", stderr);
            goto done;
        }
    }

    /* Pair the tensors: A's order (the graph's, with a manifest). */
    pairs = calloc((size_t)A.n, sizeof *pairs);
    if (!pairs) {
        fputs("detc compare: out of memory\n", stderr);
        goto done;
    }
    for (int i = 0; i < A.n; i++) {
        const cJSON *m = map ? cJSON_GetObjectItemCaseSensitive(map, A.e[i].name) : NULL;
        const char *target = m ? m->valuestring : A.e[i].name;
        int j = find_partner(&A, &B, target);
        if (j < 0) {
            if (m) {
                char *t = cleaned(target);
                fprintf(stderr, "detc compare: warning: --map maps '%s' to '%s', which %s (B) does not hold\n",
                        A.e[i].shown, t, B.path);
                free(t);
            }
            continue;
        }
        if (B.e[j].partner >= 0) {
            fprintf(stderr, "detc compare: warning: '%s' in B would match both '%s' and '%s' in A; compared with "
                    "the first\n", B.e[j].shown, A.e[B.e[j].partner].shown, A.e[i].shown);
            continue;
        }
        A.e[i].partner = j;
        B.e[j].partner = i;
        pairs[n_pairs].a = i;
        pairs[n_pairs].b = j;
        n_pairs++;
    }

    /* --detections: set the four detection tensors aside. */
    if (o.detections) {
        dr.ran = true;
        for (int k = 0; k < N_ROLES; k++) {
            const char *nm = o.role_names[k];
            dr.names[k] = nm;
            dr.pair_of_role[k] = -1;
            char *file = sanitized_file(nm); /* how a side without manifest names it */
            for (int p = 0; p < n_pairs && dr.pair_of_role[k] < 0; p++) {
                const entry *ea = &A.e[pairs[p].a], *eb = &B.e[pairs[p].b];
                if (strcmp(ea->name, nm) == 0 || strcmp(eb->name, nm) == 0 ||
                    (!A.manifest && strcmp(ea->file, file) == 0) || (!B.manifest && strcmp(eb->file, file) == 0))
                    dr.pair_of_role[k] = p;
            }
            free(file);
            if (dr.pair_of_role[k] < 0) {
                bool in_a = find_partner(&B, &A, nm) >= 0, in_b = find_partner(&A, &B, nm) >= 0;
                fprintf(stderr, "detc compare: --detections: tensor '%s' (%s) is %s; name it with %s or match it "
                        "with --map\n", nm, ROLE_OPTION[k], in_a ? "in A but has no partner in B"
                        : in_b ? "in B but has no partner in A" : "in neither directory", ROLE_OPTION[k]);
                goto done;
            }
        }
        int ea[N_ROLES], eb[N_ROLES];
        for (int k = 0; k < N_ROLES; k++) {
            ea[k] = pairs[dr.pair_of_role[k]].a;
            eb[k] = pairs[dr.pair_of_role[k]].b;
            A.e[ea[k]].role = B.e[eb[k]].role = true;
        }
        if (load_detections(&A, ea, &dr.da, &dr.n_a, dr.msg, sizeof dr.msg) != 0 ||
            load_detections(&B, eb, &dr.db, &dr.n_b, dr.msg, sizeof dr.msg) != 0) {
            dr.error = true;
            clean_text(dr.msg);
        }
        else
            match_detections(&dr);
    }

    /* Keep the pairs to compare element by element. */
    int kept = 0;
    for (int p = 0; p < n_pairs; p++) {
        const entry *ea = &A.e[pairs[p].a], *eb = &B.e[pairs[p].b];
        if (ea->role || (only && !in_list(only, n_only, ea->name) && !in_list(only, n_only, eb->name)))
            continue;
        pairs[kept++] = pairs[p];
    }
    n_pairs = kept;
    for (int k = 0; k < n_only; k++)
        if (find_name(&A, only[k]) < 0 && find_name(&B, only[k]) < 0)
            fprintf(stderr, "detc compare: warning: --only names '%s', which neither directory holds\n", only[k]);

    if (n_pairs == 0 && !dr.ran) {
        fprintf(stderr, "detc compare: no tensor %s matches between %s (A: %d tensors, e.g. '%s') and %s (B: %d "
                "tensors, e.g. '%s'); use --map to pair differently named tensors\n",
                only ? "named by --only" : "name", A.path, A.n, A.e[0].shown, B.path, B.n, B.e[0].shown);
        goto done;
    }

    printf("detc compare: A = %s, B = %s (reference); pass when |a-b| <= %g + %g*|b|\n", A.path, B.path, o.atol,
           o.rtol);
    int n_pass = 0, n_error = 0;
    for (int p = 0; p < n_pairs; p++) {
        compare_pair(&A, &B, &pairs[p], o.atol, o.rtol);
        n_pass += pairs[p].pass;
        n_error += pairs[p].error;
    }
    print_table(&A, &B, pairs, n_pairs, o.atol, o.rtol);
    print_list("A", &A, only, n_only);
    print_list("B", &B, only, n_only);
    if (dr.ran)
        print_detections(&dr);

    bool pass = n_pass == n_pairs && (!dr.ran || (!dr.error && dr.pass));
    printf("\ncompare: %d tensors, ", n_pairs);
    if (n_pass == n_pairs)
        printf("%d within tolerance", n_pass);
    else
        printf("%d outside tolerance", n_pairs - n_pass - n_error);
    if (n_error)
        printf(", %d unreadable", n_error);
    if (dr.ran) {
        if (dr.error)
            printf("; detections unreadable");
        else
            printf("; detections: %d in A, %d in B, %d matched, %s", dr.n_a, dr.n_b, dr.matched,
                   dr.pass ? "within tolerance" : "outside tolerance");
    }
    printf("\n");

    rc = n_error || (dr.ran && dr.error) ? EXIT_FAILED : pass ? EXIT_OK : EXIT_MISMATCH;
    if (o.json_path) {
        cJSON *j = json_report(&A, &B, pairs, n_pairs, &dr, o.atol, o.rtol, n_pass, n_error, pass);
        char *text = j ? cJSON_Print(j) : NULL;
        char werr[1024];
        /* temporary file renamed into place: a failed write leaves an older report as it was */
        if (!text || detc_write_file_atomic(o.json_path, text, strlen(text), werr, sizeof werr) != 0) {
            fprintf(stderr, "detc compare: %s\n", text ? werr : "out of memory");
            rc = EXIT_FAILED;
        }
        free(text);
        cJSON_Delete(j);
    }
done:
    det_result_free(&dr);
    free(pairs);
    free(only);
    free(only_buf);
    cJSON_Delete(map);
    dump_free(&A);
    dump_free(&B);
    return rc;
}

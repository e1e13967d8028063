/* Building a model from the bytes of a .detc file (no file I/O here: runtime/api/ maps files): check the
 * fixed header, parse the JSON header, build and validate the tensor table and the graph, run every op's
 * prepare step, fold constants, plan memory. Every problem found is reported; building stops early only
 * when nothing further can be checked (bad magic, bad JSON). The graph for other input shapes is built the
 * same way from the same JSON tree (detc_instance_acquire). */
#define _POSIX_C_SOURCE 200809L
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_field.h"
#include "model.h"
#include "checksum.h"
#include "quant.h"

#define HEADER_BYTES 32u
#define MAX_JSON_BYTES (64u << 20)
#define MAX_NAME_BYTES 255
#define MAX_OPERANDS 1024

static const uint8_t MAGIC[8] = {'D', 'E', 'T', 'C', 'M', 'O', 'D', 'L'};

typedef struct {
    detc_model *m;
    detc_instance *inst;   /* the graph being built */
    size_t constant_bytes; /* mapped weights it references */
    detc_errors *errs;
    const char *file; /* message prefix */
    /* name -> tensor index, open addressing */
    int *slots;
    size_t n_slots;
    bool inputs_broken; /* "inputs" unusable (reported): unproduced activations may be meant as inputs */
} loader;

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t rd64(const uint8_t *p)
{
    return (uint64_t)rd32(p) | (uint64_t)rd32(p + 4) << 32;
}

/* ---- name table ---- */

/* FNV-1a, 64-bit on every target (truncated to size_t on 32-bit ones, where only the low bits are used). */
static size_t hash_name(const char *s)
{
    uint64_t h = 1469598103934665603ull; /* 64-bit FNV-1a on every target (size_t is 32 bits on armhf) */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return (size_t)h;
}

static int find_name(const loader *L, const char *name)
{
    if (!L->n_slots)
        return -1;
    for (size_t i = hash_name(name) & (L->n_slots - 1);; i = (i + 1) & (L->n_slots - 1)) {
        int t = L->slots[i];
        if (t < 0)
            return -1;
        if (strcmp(L->inst->g.tensors[t].name, name) == 0)
            return t;
    }
}

static void insert_name(loader *L, int t)
{
    for (size_t i = hash_name(L->inst->g.tensors[t].name) & (L->n_slots - 1);; i = (i + 1) & (L->n_slots - 1))
        if (L->slots[i] < 0) {
            L->slots[i] = t;
            return;
        }
}

/* ---- fixed header ---- */

static int check_header(detc_model *m, const char *file, detc_errors *errs, uint32_t *json_len)
{
    const uint8_t *h = m->map;
    if (memcmp(h, MAGIC, sizeof MAGIC) != 0) {
        detc_errors_add(errs, DETC_ERR_FORMAT, -1,
                        "%s: bad magic %02x %02x %02x %02x %02x %02x %02x %02x, expected \"DETCMODL\"; this is not a "
                        "detc model (convert TFLite, TensorFlow or torchvision models with tools/detc-convert)",
                        file, h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7]);
        return -1;
    }
    uint32_t version = rd32(h + 8);
    if (version != DETC_FORMAT_VERSION) {
        detc_errors_add(errs, DETC_ERR_FORMAT, -1,
                        "%s: format version %u, but this detc reads version %d; convert the model again with this "
                        "detc's tools/detc-convert",
                        file, version, DETC_FORMAT_VERSION);
        return -1;
    }
    uint32_t jl = rd32(h + 12);
    uint64_t data_off = rd64(h + 16), data_len = rd64(h + 24);
    int bad = 0;
    if (jl == 0 || jl > MAX_JSON_BYTES || (uint64_t)HEADER_BYTES + jl > m->map_len) {
        detc_errors_add(errs, DETC_ERR_FORMAT, -1,
                        "%s: JSON header length %u does not fit: the file has %zu bytes after the 32-byte header "
                        "(limit 64 MiB); the file is truncated or corrupt",
                        file, jl, m->map_len - HEADER_BYTES);
        return -1;
    }
    if (data_off % 64 != 0 || data_off < (uint64_t)HEADER_BYTES + jl || data_off > m->map_len) {
        detc_errors_add(errs, DETC_ERR_FORMAT, -1,
                        "%s: data offset %llu is invalid: it must be a multiple of 64, at least %llu (after the JSON "
                        "header) and at most the file size %zu",
                        file, (unsigned long long)data_off, (unsigned long long)HEADER_BYTES + jl, m->map_len);
        bad = 1;
    } else if (data_len != (uint64_t)m->map_len - data_off) {
        detc_errors_add(errs, DETC_ERR_FORMAT, -1,
                        "%s: data section length %llu disagrees with the file: %llu bytes follow offset %llu; the "
                        "file is truncated or has trailing bytes",
                        file, (unsigned long long)data_len, (unsigned long long)(m->map_len - data_off),
                        (unsigned long long)data_off);
        bad = 1;
    }
    if (bad)
        return -1;
    m->data = m->map + data_off;
    m->data_len = data_len;
    *json_len = jl;
    return 0;
}

/* ---- tensors ---- */


static bool parse_shape(loader *L, const char *what, const char *tname, const cJSON *shape, int *rank,
                        int32_t *dims)
{
    if (!cJSON_IsArray(shape) || cJSON_GetArraySize(shape) > DETC_MAX_RANK) {
        detc_errors_add(L->errs, DETC_ERR_SHAPE, -1, "%s: %s '%s': \"shape\" must be a list of at most %d dimensions",
                        L->file, what, tname, DETC_MAX_RANK);
        return false;
    }
    int r = 0;
    const cJSON *d;
    cJSON_ArrayForEach(d, shape)
    {
        int64_t v;
        if (!detc_json_integer(d, 1, INT32_MAX, &v)) {
            detc_errors_add(L->errs, DETC_ERR_SHAPE, -1,
                            "%s: %s '%s': dimension %d must be an integer in 1..2147483647", L->file, what, tname, r);
            return false;
        }
        dims[r++] = (int32_t)v;
    }
    *rank = r;
    return true;
}

static bool parse_quant(loader *L, detc_tensor *t, const cJSON *q)
{
    const char *f = L->file;
    const detc_dtype_info *info = detc_dtype_get(t->dtype);
    const cJSON *scale = cJSON_GetObjectItemCaseSensitive(q, "scale");
    const cJSON *zp = cJSON_GetObjectItemCaseSensitive(q, "zero_point");
    const cJSON *axis = cJSON_GetObjectItemCaseSensitive(q, "axis");
    if (!cJSON_IsObject(q) || !cJSON_IsArray(scale) || !cJSON_IsArray(zp)) {
        detc_errors_add(L->errs, DETC_ERR_QUANT, -1,
                        "%s: tensor '%s': \"quant\" must be an object with \"scale\" and \"zero_point\" lists", f,
                        t->name);
        return false;
    }
    if (!info->quantizable) {
        detc_errors_add(L->errs, DETC_ERR_QUANT, -1,
                        "%s: tensor '%s' is %s but has quantization parameters; only u8, i8, i16 and i32 tensors can "
                        "be quantized: drop \"quant\" or fix the dtype",
                        f, t->name, info->name);
        return false;
    }
    int n = cJSON_GetArraySize(scale);
    if (n < 1 || n != cJSON_GetArraySize(zp)) {
        detc_errors_add(L->errs, DETC_ERR_QUANT, -1,
                        "%s: tensor '%s': quant has %d scales and %d zero points; they must be equal and at least 1", f,
                        t->name, n, cJSON_GetArraySize(zp));
        return false;
    }
    int64_t ax = -1;
    if (axis && !detc_json_integer(axis, -1, DETC_MAX_RANK - 1, &ax)) {
        detc_errors_add(L->errs, DETC_ERR_QUANT, -1, "%s: tensor '%s': quant axis must be -1 or a dimension index",
                        f, t->name);
        return false;
    }
    if (ax >= 0 && t->shape_declared && (ax >= t->declared_rank || t->declared_dims[ax] != n)) {
        detc_errors_add(L->errs, DETC_ERR_QUANT, -1,
                        "%s: tensor '%s': per-channel quantization on axis %lld needs one scale per channel (%d), found "
                        "%d",
                        f, t->name, (long long)ax,
                        ax < t->declared_rank ? (int)t->declared_dims[ax] : -1, n);
        return false;
    }
    if (ax < 0 && n != 1) {
        detc_errors_add(L->errs, DETC_ERR_QUANT, -1,
                        "%s: tensor '%s': %d scales given but axis is -1 (per tensor); give \"axis\" for per-channel "
                        "quantization",
                        f, t->name, n);
        return false;
    }
    t->quant.scale = malloc((size_t)n * sizeof *t->quant.scale);
    t->quant.zero_point = malloc((size_t)n * sizeof *t->quant.zero_point);
    if (!t->quant.scale || !t->quant.zero_point) {
        detc_errors_add(L->errs, DETC_ERR_NOMEM, -1, "%s: out of memory", f);
        return false;
    }
    /* walked as lists: cJSON_GetArrayItem(i) steps from the head, quadratic over a 2048-channel array */
    const cJSON *s = scale->child, *z = zp->child;
    for (int i = 0; i < n; i++, s = s->next, z = z->next) {
        int64_t zv;
        /* Messages quote the value found ("scale[0] is 0"), never just the index, which reads as a value. */
        char found[64];
        if (!cJSON_IsNumber(s) || !isfinite(s->valuedouble) || s->valuedouble <= 0 ||
            (float)s->valuedouble <= 0.0f || !isfinite((float)s->valuedouble)) {
            if (cJSON_IsNumber(s))
                snprintf(found, sizeof found, "%.9g", s->valuedouble);
            else
                snprintf(found, sizeof found, "not a number");
            detc_errors_add(L->errs, DETC_ERR_QUANT, -1,
                            "%s: tensor '%s': quant scale[%d] is %s, expected a positive finite number representable "
                            "in f32",
                            f, t->name, i, found);
            return false;
        }
        if (!detc_json_integer(z, info->qmin, info->qmax, &zv)) {
            if (cJSON_IsNumber(z))
                snprintf(found, sizeof found, "%.17g", z->valuedouble);
            else
                snprintf(found, sizeof found, "not a number");
            detc_errors_add(L->errs, DETC_ERR_QUANT, -1,
                            "%s: tensor '%s': quant zero_point[%d] is %s, expected an integer in %s's range "
                            "%lld..%lld",
                            f, t->name, i, found, info->name, (long long)info->qmin, (long long)info->qmax);
            return false;
        }
        t->quant.scale[i] = (float)s->valuedouble;
        t->quant.zero_point[i] = (int32_t)zv;
    }
    t->quant.count = n;
    t->quant.axis = (int)ax;
    return true;
}

static bool parse_tensor(loader *L, int index, const cJSON *j)
{
    detc_tensor *t = &L->inst->g.tensors[index];
    const char *f = L->file;
    t->producer = -1;
    t->dtype = DETC_DTYPE_INVALID;
    t->quant.axis = -1;
    t->kind = DETC_TENSOR_ACTIVATION;
    t->poisoned = true; /* until proven good */
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(j, "name");
    if (!cJSON_IsObject(j) || !cJSON_IsString(name) || !name->valuestring[0] ||
        strlen(name->valuestring) > MAX_NAME_BYTES) {
        detc_errors_add(L->errs, DETC_ERR_FORMAT, -1,
                        "%s: tensor %d: every tensor needs a \"name\" of 1..%d bytes", f, index, MAX_NAME_BYTES);
        t->name = "";
        return false;
    }
    t->name = name->valuestring;
    if (find_name(L, t->name) >= 0) {
        detc_errors_add(L->errs, DETC_ERR_FORMAT, -1, "%s: tensor %d: name '%s' is used by tensor %d already; names "
                        "must be unique", f, index, t->name, find_name(L, t->name));
        return false;
    }
    insert_name(L, index);

    const cJSON *dtype = cJSON_GetObjectItemCaseSensitive(j, "dtype");
    if (cJSON_IsString(dtype))
        t->dtype = detc_dtype_parse(dtype->valuestring);
    if (t->dtype == DETC_DTYPE_INVALID) {
        detc_errors_add(L->errs, DETC_ERR_DTYPE, -1,
                        "%s: tensor '%s': dtype %s%s%s is not one of f32, f16, i8, u8, i16, i32, i64, f64, bool", f,
                        t->name, cJSON_IsString(dtype) ? "'" : "", cJSON_IsString(dtype) ? dtype->valuestring : "(missing)",
                        cJSON_IsString(dtype) ? "'" : "");
        return false;
    }
    const cJSON *shape = cJSON_GetObjectItemCaseSensitive(j, "shape");
    if (shape) {
        if (!parse_shape(L, "tensor", t->name, shape, &t->declared_rank, t->declared_dims))
            return false;
        t->shape_declared = true;
        t->rank = t->declared_rank;
        memcpy(t->dims, t->declared_dims, sizeof t->dims);
    }
    const cJSON *quant = cJSON_GetObjectItemCaseSensitive(j, "quant");
    if (quant && !parse_quant(L, t, quant))
        return false;

    const cJSON *offset = cJSON_GetObjectItemCaseSensitive(j, "offset");
    const cJSON *length = cJSON_GetObjectItemCaseSensitive(j, "length");
    if (offset || length) {
        int64_t off, len;
        if (!detc_json_integer(offset, 0, INT64_MAX / 2, &off) || !detc_json_integer(length, 0, INT64_MAX / 2, &len)) {
            detc_errors_add(L->errs, DETC_ERR_FORMAT, -1,
                            "%s: constant '%s': \"offset\" and \"length\" must both be non-negative integers", f,
                            t->name);
            return false;
        }
        if (!t->shape_declared) {
            detc_errors_add(L->errs, DETC_ERR_SHAPE, -1, "%s: constant '%s' has data but no \"shape\"", f, t->name);
            return false;
        }
        /* element count * size, overflow-checked: dims < 2^31 and rank <= 6 can exceed 2^64 */
        uint64_t bytes = detc_dtype_size(t->dtype);
        for (int i = 0; i < t->rank; i++) {
            if (bytes > UINT64_MAX / (uint64_t)t->dims[i] || bytes * (uint64_t)t->dims[i] > (uint64_t)1 << 48) {
                char s[128];
                detc_shape_str(t->rank, t->dims, s, sizeof s);
                detc_errors_add(L->errs, DETC_ERR_SHAPE, -1,
                                "%s: constant '%s': shape %s of %s is too large (over 2^48 bytes); the shape is corrupt",
                                f, t->name, s, detc_dtype_name(t->dtype));
                return false;
            }
            bytes *= (uint64_t)t->dims[i];
        }
        if ((uint64_t)len != bytes) {
            char s[128];
            detc_shape_str(t->rank, t->dims, s, sizeof s);
            detc_errors_add(L->errs, DETC_ERR_FORMAT, -1,
                            "%s: constant '%s': length %lld bytes, but shape %s of %s needs %llu bytes", f, t->name,
                            (long long)len, s, detc_dtype_name(t->dtype), (unsigned long long)bytes);
            return false;
        }
        if (off % 64 != 0 || (uint64_t)off > L->m->data_len || (uint64_t)len > L->m->data_len - (uint64_t)off) {
            detc_errors_add(L->errs, DETC_ERR_FORMAT, -1,
                            "%s: constant '%s': bytes %lld..%lld are outside the data section (%llu bytes) or the "
                            "offset is not a multiple of 64; the file is truncated or corrupt",
                            f, t->name, (long long)off, (long long)off + len, (unsigned long long)L->m->data_len);
            return false;
        }
        t->kind = DETC_TENSOR_CONSTANT;
        t->file_offset = (uint64_t)off;
        t->nbytes = (size_t)len;
        t->data = (void *)(uintptr_t)(L->m->data + off);
        t->shape_known = true;
        L->constant_bytes += t->nbytes;
    }
    t->poisoned = false;
    return true;
}

typedef struct {
    uint64_t off, len;
    int t;
} extent;

static int cmp_extent(const void *a, const void *b)
{
    const extent *x = a, *y = b;
    return x->off < y->off ? -1 : x->off > y->off ? 1 : x->t - y->t;
}

static void check_overlaps(loader *L)
{
    detc_graph *g = &L->inst->g;
    extent *e = malloc((size_t)g->n_tensors * sizeof *e + 1);
    if (!e)
        return;
    int n = 0;
    for (int i = 0; i < g->n_tensors; i++)
        if (g->tensors[i].kind == DETC_TENSOR_CONSTANT && !g->tensors[i].poisoned && g->tensors[i].nbytes)
            e[n++] = (extent){g->tensors[i].file_offset, g->tensors[i].nbytes, i};
    qsort(e, (size_t)n, sizeof *e, cmp_extent);
    for (int i = 1; i < n; i++)
        if (e[i].off < e[i - 1].off + e[i - 1].len) {
            detc_errors_add(L->errs, DETC_ERR_FORMAT, -1,
                            "%s: constants '%s' (bytes %llu..%llu) and '%s' (bytes %llu..%llu) overlap in the data "
                            "section; the file is corrupt",
                            L->file, g->tensors[e[i - 1].t].name, (unsigned long long)e[i - 1].off,
                            (unsigned long long)(e[i - 1].off + e[i - 1].len), g->tensors[e[i].t].name,
                            (unsigned long long)e[i].off, (unsigned long long)(e[i].off + e[i].len));
            g->tensors[e[i].t].poisoned = true;
        }
    free(e);
}

/* ---- nodes ---- */

static int resolve_operands(loader *L, detc_node *n, const cJSON *list, const char *what, int **out, int *count)
{
    int len = cJSON_IsArray(list) ? cJSON_GetArraySize(list) : -1;
    if (len < 0 || len > MAX_OPERANDS) {
        detc_errors_add(L->errs, DETC_ERR_FORMAT, n->index, "%s: node %d '%s' (%s): \"%s\" must be a list of at most %d "
                        "tensor names", L->file, n->index, n->name, n->op_name, what, MAX_OPERANDS);
        return -1;
    }
    *out = malloc((size_t)len * sizeof **out + 1);
    if (!*out)
        return -1;
    *count = len;
    int bad = 0, i = 0;
    /* "input 0 'x'", as in the op checks' messages */
    const char *one = strcmp(what, "inputs") == 0 ? "input" : "output";
    const cJSON *item;
    cJSON_ArrayForEach(item, list)
    {
        int idx = -1;
        if (!cJSON_IsString(item)) {
            detc_errors_add(L->errs, DETC_ERR_FORMAT, n->index, "%s: node %d '%s' (%s): %s %d is not a tensor name",
                            L->file, n->index, n->name, n->op_name, one, i);
            bad = 1;
        } else if (item->valuestring[0] == '\0' && strcmp(what, "inputs") == 0) {
            idx = -1; /* omitted optional operand */
        } else if ((idx = find_name(L, item->valuestring)) < 0) {
            detc_errors_add(L->errs, DETC_ERR_GRAPH, n->index,
                            "%s: node %d '%s' (%s): %s %d '%s' is not defined: no tensor of that name in the tensor "
                            "table; add it or fix the name",
                            L->file, n->index, n->name, n->op_name, one, i, item->valuestring);
            bad = 1;
        }
        (*out)[i++] = idx;
    }
    return bad ? -1 : 0;
}

static bool parse_node(loader *L, int index, const cJSON *j)
{
    detc_graph *g = &L->inst->g;
    detc_node *n = &g->nodes[index];
    n->index = index;
    n->name = "";
    n->op_name = "?";
    if (!cJSON_IsObject(j)) {
        detc_errors_add(L->errs, DETC_ERR_FORMAT, index, "%s: node %d is not a JSON object", L->file, index);
        return false;
    }
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(j, "name");
    const cJSON *op = cJSON_GetObjectItemCaseSensitive(j, "op");
    if (cJSON_IsString(name))
        n->name = name->valuestring;
    if (cJSON_IsString(op))
        n->op_name = op->valuestring;
    bool ok = true;
    n->op = cJSON_IsString(op) ? detc_op_find(op->valuestring) : NULL;
    if (!n->op) {
        char known[1024];
        detc_op_names(known, sizeof known);
        detc_errors_add(L->errs, DETC_ERR_GRAPH, index,
                        "%s: node %d '%s': unknown op '%s'; detc knows: %s. Convert the model with a detc-convert that "
                        "maps this op, or replace it",
                        L->file, index, n->name, n->op_name, known);
        ok = false;
    }
    const cJSON *attrs = cJSON_GetObjectItemCaseSensitive(j, "attrs");
    if (attrs && !cJSON_IsObject(attrs)) {
        detc_errors_add(L->errs, DETC_ERR_ATTR, index, "%s: node %d '%s' (%s): \"attrs\" must be an object", L->file,
                        index, n->name, n->op_name);
        ok = false;
    }
    n->attrs = attrs;
    if (resolve_operands(L, n, cJSON_GetObjectItemCaseSensitive(j, "inputs"), "inputs", &n->inputs, &n->n_inputs))
        ok = false;
    if (resolve_operands(L, n, cJSON_GetObjectItemCaseSensitive(j, "outputs"), "outputs", &n->outputs,
                         &n->n_outputs))
        ok = false;
    if (!ok)
        return false;
    if (n->op && (n->n_inputs < n->op->min_inputs || n->n_inputs > n->op->max_inputs)) {
        detc_errors_add(L->errs, DETC_ERR_GRAPH, index, "%s: node %d '%s' (%s): has %d inputs, %s takes %d..%d",
                        L->file, index, n->name, n->op_name, n->n_inputs, n->op_name, n->op->min_inputs,
                        n->op->max_inputs);
        ok = false;
    }
    if (n->op && n->n_outputs != n->op->n_outputs) {
        detc_errors_add(L->errs, DETC_ERR_GRAPH, index, "%s: node %d '%s' (%s): has %d outputs, %s produces %d",
                        L->file, index, n->name, n->op_name, n->n_outputs, n->op_name, n->op->n_outputs);
        ok = false;
    }
    for (int i = 0; i < n->n_outputs; i++) {
        detc_tensor *t = &g->tensors[n->outputs[i]];
        if (t->kind == DETC_TENSOR_CONSTANT) {
            detc_errors_add(L->errs, DETC_ERR_GRAPH, index,
                            "%s: node %d '%s' (%s): output %d '%s' is a constant; a node cannot overwrite constant "
                            "data", L->file, index, n->name, n->op_name, i, t->name);
            ok = false;
        } else if (t->producer >= 0) {
            const detc_node *other = &g->nodes[t->producer];
            detc_errors_add(L->errs, DETC_ERR_GRAPH, index,
                            "%s: node %d '%s' (%s): output %d '%s' is already produced by node %d '%s' (%s); every "
                            "tensor has exactly one producer",
                            L->file, index, n->name, n->op_name, i, t->name, other->index, other->name,
                            other->op_name);
            ok = false;
        } else {
            t->producer = index;
        }
    }
    return ok;
}

static bool size_tensor(loader *L, detc_tensor *t);

static void check_graph_io(loader *L, const cJSON *root)
{
    detc_graph *g = &L->inst->g;
    const char *keys[2] = {"inputs", "outputs"};
    for (int which = 0; which < 2; which++) {
        const cJSON *list = cJSON_GetObjectItemCaseSensitive(root, keys[which]);
        int len = cJSON_IsArray(list) ? cJSON_GetArraySize(list) : -1;
        if (len < 1 || len > MAX_OPERANDS) {
            detc_errors_add(L->errs, DETC_ERR_FORMAT, -1, "%s: \"%s\" must be a list of 1..%d tensor names", L->file,
                            keys[which], MAX_OPERANDS);
            if (which == 0)
                L->inputs_broken = true;
            continue;
        }
        int *idx = malloc((size_t)len * sizeof *idx);
        if (!idx)
            continue;
        int n = 0;
        const cJSON *item;
        cJSON_ArrayForEach(item, list)
        {
            int t = cJSON_IsString(item) ? find_name(L, item->valuestring) : -1;
            if (t < 0) {
                detc_errors_add(L->errs, DETC_ERR_GRAPH, -1, "%s: graph %s '%s' is not in the tensor table", L->file,
                                which ? "output" : "input", cJSON_IsString(item) ? item->valuestring : "?");
                continue;
            }
            detc_tensor *tt = &g->tensors[t];
            if (which == 0) {
                if (tt->kind == DETC_TENSOR_CONSTANT || tt->producer >= 0) {
                    detc_errors_add(L->errs, DETC_ERR_GRAPH, -1,
                                    "%s: graph input '%s' is %s; a graph input is fed by the caller", L->file, tt->name,
                                    tt->kind == DETC_TENSOR_CONSTANT ? "a constant" : "computed by a node");
                    continue;
                }
                if (!tt->shape_declared && !tt->poisoned) {
                    detc_errors_add(L->errs, DETC_ERR_SHAPE, -1,
                                    "%s: graph input '%s' has no \"shape\"; inputs must declare dtype and shape so that "
                                    "callers can be checked",
                                    L->file, tt->name);
                    tt->poisoned = true;
                }
                tt->kind = DETC_TENSOR_INPUT;
                tt->shape_known = tt->shape_declared;
                if (tt->shape_known && !tt->poisoned)
                    size_tensor(L, tt);
            } else {
                tt->is_output = true;
            }
            idx[n++] = t;
        }
        if (which == 0) {
            g->inputs = idx;
            g->n_inputs = n;
        } else {
            g->outputs = idx;
            g->n_outputs = n;
        }
    }
}

/* Kahn's algorithm; nodes left over sit on or behind a cycle. */
static int sort_nodes(loader *L)
{
    detc_graph *g = &L->inst->g;
    int nn = g->n_nodes;
    int *indeg = calloc((size_t)nn + 1, sizeof *indeg);
    int *queue = malloc(((size_t)nn + 1) * sizeof *queue);
    g->order = malloc(((size_t)nn + 1) * sizeof *g->order);
    /* consumers lists in CSR form */
    int *count = calloc((size_t)g->n_tensors + 1, sizeof *count);
    if (!indeg || !queue || !g->order || !count) {
        free(indeg);
        free(queue);
        free(count);
        free(g->order);
        g->order = NULL;
        detc_errors_add(L->errs, DETC_ERR_NOMEM, -1, "%s: out of memory", L->file);
        return -1;
    }
    size_t edges = 0;
    for (int i = 0; i < nn; i++)
        for (int k = 0; k < g->nodes[i].n_inputs; k++) {
            int t = g->nodes[i].inputs[k];
            if (t >= 0 && g->tensors[t].producer >= 0) {
                indeg[i]++;
                count[t]++;
                edges++;
            }
        }
    int *start = malloc(((size_t)g->n_tensors + 1) * sizeof *start);
    int *cons = malloc((edges + 1) * sizeof *cons);
    if (!start || !cons) {
        free(indeg);
        free(queue);
        free(count);
        free(start);
        free(cons);
        free(g->order);
        g->order = NULL;
        detc_errors_add(L->errs, DETC_ERR_NOMEM, -1, "%s: out of memory", L->file);
        return -1;
    }
    int acc = 0;
    for (int t = 0; t < g->n_tensors; t++) {
        start[t] = acc;
        acc += count[t];
        count[t] = 0;
    }
    start[g->n_tensors] = acc;
    for (int i = 0; i < nn; i++)
        for (int k = 0; k < g->nodes[i].n_inputs; k++) {
            int t = g->nodes[i].inputs[k];
            if (t >= 0 && g->tensors[t].producer >= 0)
                cons[start[t] + count[t]++] = i;
        }
    int head = 0, tail = 0, done = 0;
    for (int i = 0; i < nn; i++)
        if (indeg[i] == 0)
            queue[tail++] = i;
    while (head < tail) {
        int i = queue[head++];
        g->order[done++] = i;
        const detc_node *n = &g->nodes[i];
        for (int k = 0; k < n->n_outputs; k++) {
            int t = n->outputs[k];
            if (t < 0)
                continue;
            for (int c = start[t]; c < start[t + 1]; c++)
                if (--indeg[cons[c]] == 0)
                    queue[tail++] = cons[c];
        }
    }
    int rc = 0;
    if (done < nn) {
        /* The nodes left over sit on a cycle or behind one. Peel off, repeatedly, those whose outputs no
         * other left-over node reads: what remains is on (or between) cycles, the rest only consumes them. */
        int *outdeg = calloc((size_t)nn + 1, sizeof *outdeg);
        int behind = 0;
        if (outdeg) {
            for (int i = 0; i < nn; i++)
                if (indeg[i] > 0)
                    for (int k = 0; k < g->nodes[i].n_inputs; k++) {
                        int t = g->nodes[i].inputs[k];
                        if (t >= 0 && g->tensors[t].producer >= 0 && indeg[g->tensors[t].producer] > 0)
                            outdeg[g->tensors[t].producer]++;
                    }
            int peeled;
            do {
                peeled = 0;
                for (int i = 0; i < nn; i++)
                    if (indeg[i] > 0 && outdeg[i] == 0) {
                        indeg[i] = -1; /* behind a cycle */
                        behind++;
                        peeled = 1;
                        for (int k = 0; k < g->nodes[i].n_inputs; k++) {
                            int t = g->nodes[i].inputs[k];
                            if (t >= 0 && g->tensors[t].producer >= 0 && indeg[g->tensors[t].producer] > 0)
                                outdeg[g->tensors[t].producer]--;
                        }
                    }
            } while (peeled);
            free(outdeg);
        }
        char list[1024] = "";
        size_t used = 0;
        int shown = 0;
        for (int i = 0; i < nn && used < sizeof list - 1; i++)
            if (indeg[i] > 0) {
                int w = snprintf(list + used, sizeof list - used, "%s%d '%s' (%s)", shown ? ", " : "", i,
                                 g->nodes[i].name, g->nodes[i].op_name);
                if (w < 0)
                    break;
                used += (size_t)w;
                shown++;
            }
        char more[160] = "";
        if (behind)
            snprintf(more, sizeof more, " (%d more node%s downstream of the cycle %s not checked)", behind,
                     behind == 1 ? "" : "s", behind == 1 ? "is" : "are");
        detc_errors_add(L->errs, DETC_ERR_GRAPH, -1,
                        "%s: the graph has a cycle: %d nodes depend on their own outputs, directly or through other "
                        "nodes: %s; a detection graph must be acyclic%s",
                        L->file, nn - done - behind, list, more);
        /* Append the left-over nodes so that the acyclic rest is still prepared (its problems reported in
         * the same pass); they are never prepared themselves and their outputs count as broken. */
        for (int i = 0; i < nn; i++)
            if (indeg[i] != 0) {
                g->order[done++] = i;
                g->nodes[i].invalid = true;
                for (int k = 0; k < g->nodes[i].n_outputs; k++)
                    if (g->nodes[i].outputs[k] >= 0)
                        g->tensors[g->nodes[i].outputs[k]].poisoned = true;
            }
        rc = -1;
    }
    free(indeg);
    free(queue);
    free(count);
    free(start);
    free(cons);
    return rc;
}

static void prepare_nodes(loader *L)
{
    detc_graph *g = &L->inst->g;
    for (int s = 0; s < g->n_nodes; s++) {
        detc_node *n = &g->nodes[g->order[s]];
        bool skip = n->invalid;
        for (int k = 0; k < n->n_inputs; k++) {
            int t = n->inputs[k];
            if (t < 0)
                continue;
            detc_tensor *tt = &g->tensors[t];
            if (tt->poisoned) {
                skip = true; /* its problem is reported where it arose */
            } else if (tt->kind == DETC_TENSOR_ACTIVATION && tt->producer < 0) {
                if (!L->inputs_broken) /* else it is probably one of the inputs: no second message */
                    detc_errors_add(L->errs, DETC_ERR_GRAPH, n->index,
                                    "%s: node %d '%s' (%s): input %d '%s' is never computed: no node produces it, it "
                                    "is not a graph input and has no data; list it in \"inputs\" or add its producer",
                                    L->file, n->index, n->name, n->op_name, k, tt->name);
                tt->poisoned = true;
                skip = true;
            }
        }
        detc_prep p = {.g = g, .node = n, .errs = L->errs, .kernels = L->m->kernels, .no_winograd = L->m->opts.no_winograd != 0};
        n->copied_inputs = 0;
        if (!skip && n->op)
            n->op->prepare(&p);
        if (skip || p.failed || !n->op) {
            for (int k = 0; k < n->n_outputs; k++)
                if (n->outputs[k] >= 0)
                    g->tensors[n->outputs[k]].poisoned = true;
        } else {
            for (int k = 0; k < n->n_outputs; k++)
                if (n->outputs[k] >= 0 && !g->tensors[n->outputs[k]].poisoned &&
                    g->tensors[n->outputs[k]].shape_known)
                    size_tensor(L, &g->tensors[n->outputs[k]]);
        }
    }
}

/* An activation's byte size, at most 1 TiB: reported (and the tensor poisoned, so that its consumers are
 * not checked against an impossible shape) where the shape first appears: a graph input's declaration, or
 * the output of the node that inferred it. */
static bool size_tensor(loader *L, detc_tensor *t)
{
    uint64_t bytes = detc_dtype_size(t->dtype);
    bool too_big = false;
    for (int d = 0; d < t->rank; d++) {
        if ((uint64_t)t->dims[d] > ((uint64_t)1 << 40) / (bytes ? bytes : 1)) {
            too_big = true;
            break;
        }
        bytes *= (uint64_t)t->dims[d];
        if (bytes > ((uint64_t)1 << 40))
            too_big = true;
    }
    if (too_big) {
        char s[128];
        detc_shape_str(t->rank, t->dims, s, sizeof s);
        detc_errors_add(L->errs, DETC_ERR_SHAPE, t->producer, "%s: tensor '%s' of shape %s is over 1 TiB", L->file,
                        t->name, s);
        t->poisoned = true;
        return false;
    }
    t->nbytes = (size_t)bytes;
    return true;
}

/* Activation sizes, now that prepare inferred every shape. */
static void size_activations(loader *L)
{
    detc_graph *g = &L->inst->g;
    for (int i = 0; i < g->n_tensors; i++) {
        detc_tensor *t = &g->tensors[i];
        if (t->kind == DETC_TENSOR_CONSTANT || t->poisoned || !t->shape_known)
            continue;
        size_tensor(L, t);
    }
}

/* Builds inst->g from the JSON tree. input_dims: NULL for the declared shapes, else new dims for every graph
 * input (same ranks), applied before any op is prepared. */
static int load_graph(detc_model *m, detc_instance *inst, const char *file, const int32_t (*input_dims)[DETC_MAX_RANK],
                      detc_errors *errs)
{
    loader L = {.m = m, .inst = inst, .errs = errs, .file = file};
    cJSON *root = m->json;
    int before = errs->count;
    const cJSON *format = cJSON_GetObjectItemCaseSensitive(root, "format");
    const cJSON *version = cJSON_GetObjectItemCaseSensitive(root, "version");
    if (!cJSON_IsObject(root) || !cJSON_IsString(format) || strcmp(format->valuestring, "detc") != 0) {
        detc_errors_add(errs, DETC_ERR_FORMAT, -1, "%s: the JSON header must be an object with \"format\": \"detc\"",
                        file);
        return -1;
    }
    if (!cJSON_IsNumber(version) || version->valuedouble != DETC_FORMAT_VERSION)
        detc_errors_add(errs, DETC_ERR_FORMAT, -1,
                        "%s: the JSON header's \"version\" must be %d, as in the fixed header", file,
                        DETC_FORMAT_VERSION);
    const cJSON *tensors = cJSON_GetObjectItemCaseSensitive(root, "tensors");
    const cJSON *nodes = cJSON_GetObjectItemCaseSensitive(root, "nodes");
    if (!cJSON_IsArray(tensors) || !cJSON_IsArray(nodes)) {
        detc_errors_add(errs, DETC_ERR_FORMAT, -1, "%s: the JSON header needs \"tensors\" and \"nodes\" lists", file);
        return -1;
    }
    detc_graph *g = &inst->g;
    g->model_name = file;
    g->n_tensors = cJSON_GetArraySize(tensors);
    g->n_nodes = cJSON_GetArraySize(nodes);
    g->tensors = calloc((size_t)g->n_tensors + 1, sizeof *g->tensors);
    g->nodes = calloc((size_t)g->n_nodes + 1, sizeof *g->nodes);
    L.n_slots = 16;
    while (L.n_slots < 2 * (size_t)g->n_tensors)
        L.n_slots *= 2;
    L.slots = malloc(L.n_slots * sizeof *L.slots);
    if (!g->tensors || !g->nodes || !L.slots) {
        free(L.slots);
        free(g->tensors);
        free(g->nodes);
        g->tensors = NULL; /* instance_free walks n_tensors/n_nodes entries */
        g->nodes = NULL;
        g->n_tensors = g->n_nodes = 0;
        detc_errors_add(errs, DETC_ERR_NOMEM, -1, "%s: out of memory", file);
        return -1;
    }
    memset(L.slots, 0xff, L.n_slots * sizeof *L.slots);
    int i = 0;
    const cJSON *item;
    cJSON_ArrayForEach(item, tensors) parse_tensor(&L, i++, item);
    check_overlaps(&L);
    i = 0;
    cJSON_ArrayForEach(item, nodes)
    {
        if (!parse_node(&L, i, item)) {
            g->nodes[i].invalid = true;
            for (int k = 0; k < g->nodes[i].n_outputs; k++)
                if (g->nodes[i].outputs[k] >= 0)
                    g->tensors[g->nodes[i].outputs[k]].poisoned = true;
        }
        i++;
    }
    check_graph_io(&L, root);
    for (int k = 0; input_dims && k < g->n_inputs; k++) {
        detc_tensor *t = &g->tensors[g->inputs[k]];
        memcpy(t->dims, input_dims[k], sizeof t->dims);
        memcpy(t->declared_dims, input_dims[k], sizeof t->declared_dims);
        size_tensor(&L, t);
    }
    /* A cycle is reported by sort_nodes, which still orders every node (the cyclic ones last, marked
     * invalid), so the rest of the graph is checked too; only running out of memory stops here. */
    sort_nodes(&L);
    if (g->order)
        prepare_nodes(&L);
    size_activations(&L);
    free(L.slots);
    if (!input_dims)
        m->constant_bytes = L.constant_bytes;
    return errs->count > before || errs->dropped ? -1 : 0;
}

/* ---- load-time constant folding ----
 * A node whose inputs are all constants (or, for inputs its op reads only the shape of, anything)
 * computes the same outputs on every run: it is evaluated once here, after every op was prepared, and its
 * outputs become constants in heap memory owned by the instance. The node stays in the graph (inspect lists
 * it, bench profiles it as never run) but not in the run order, and the memory plan reserves nothing for
 * its outputs or scratch. Example: converted TensorFlow graphs that dequantize u8 weights with a cast per
 * layer. Folding trades memory for speed (an f32 constant from a u8 weight is 4x its size), hence
 * detc_options.no_fold and DETC_FOLD=0. */

#define FOLD_ALIGN 64

static size_t fold_align(size_t n)
{
    return (n ? n + FOLD_ALIGN - 1 : FOLD_ALIGN) / FOLD_ALIGN * FOLD_ALIGN;
}

static bool foldable(const detc_graph *g, const detc_node *n)
{
    if (n->invalid || !n->op)
        return false;
    for (int k = 0; k < n->n_inputs; k++) {
        int t = n->inputs[k];
        if (t < 0 || (k < 32 && (n->op->shape_only_inputs >> k & 1u)))
            continue;
        if (g->tensors[t].kind != DETC_TENSOR_CONSTANT)
            return false;
    }
    return true;
}

static void release_op_data(detc_node *n)
{
    if (n->op_data) {
        if (n->op && n->op->release)
            n->op->release(n->op_data);
        else
            free(n->op_data);
    }
    n->op_data = NULL;
}

/* Evaluates n into fresh heap buffers, on the loading thread. False (nothing changed) when memory runs out
 * or eval fails: the node then stays in the run order, where a failure is reported as usual. */
static bool fold_node(const detc_model *m, detc_graph *g, detc_node *n)
{
    /* within the memory limit (the node then runs in the arena, where the plan checks the limit again) */
    size_t need = fold_align(n->scratch_bytes), limit = detc_memory_limit(m);
    for (int k = 0; k < n->n_outputs; k++)
        need += fold_align(g->tensors[n->outputs[k]].nbytes);
    if (need > limit || g->folded_bytes > limit - need)
        return false;
    void *scratch = n->scratch_bytes ? aligned_alloc(FOLD_ALIGN, fold_align(n->scratch_bytes)) : NULL;
    bool ok = !n->scratch_bytes || scratch;
    for (int k = 0; ok && k < n->n_outputs; k++) {
        detc_tensor *t = &g->tensors[n->outputs[k]];
        t->data = aligned_alloc(FOLD_ALIGN, fold_align(t->nbytes));
        if (t->data)
            memset(t->data, 0, fold_align(t->nbytes));
        ok = t->data != NULL;
    }
    if (ok) {
        detc_exec x = {.g = g, .pool = NULL, .kernels = m->kernels, .scratch = scratch};
        ok = n->op->eval(&x, n) == DETC_OK;
    }
    free(scratch);
    for (int k = 0; k < n->n_outputs; k++) {
        detc_tensor *t = &g->tensors[n->outputs[k]];
        if (!ok) {
            free(t->data);
            t->data = NULL;
            continue;
        }
        t->kind = DETC_TENSOR_CONSTANT;
        t->folded = true;
        g->folded_bytes += t->nbytes;
    }
    if (ok) {
        n->folded = true;
        g->n_folded++;
        release_op_data(n); /* never evaluated again (anchors keeps its boxes there) */
    }
    return ok;
}

typedef struct {
    int key, late, pos, node;
} run_slot;

static int cmp_run_slot(const void *a, const void *b)
{
    const run_slot *x = a, *y = b;
    if (x->key != y->key)
        return x->key < y->key ? -1 : 1;
    if (x->late != y->late)
        return x->late < y->late ? -1 : 1;
    return x->pos < y->pos ? -1 : x->pos > y->pos;
}

/* Folds what can be folded (unless m->opts.no_fold) and builds the run order. Constant-only nodes that
 * stay in the graph (folding off, or a fold that failed) are moved to just before their first consumer
 * that is not constant-only: otherwise they all run first (Kahn's order starts with every node without
 * computed inputs) and their outputs, dequantized weights, all live in the arena at once. */
static int fold_constants(const detc_model *m, detc_graph *g, detc_errors *errs)
{
    int nn = g->n_nodes;
    g->run_order = malloc(((size_t)nn + 1) * sizeof *g->run_order);
    uint8_t *use = calloc((size_t)g->n_tensors + 1, 1); /* bit 0: read by an executed node, bit 1: folded;
                                                          * bit 2: constant or computed from constants only */
    int *deadline = malloc(((size_t)nn + 1) * sizeof *deadline);
    run_slot *slots = malloc(((size_t)nn + 1) * sizeof *slots);
    if (!g->run_order || !use || !deadline || !slots) {
        free(use);
        free(deadline);
        free(slots);
        detc_errors_add(errs, DETC_ERR_NOMEM, -1, "%s: out of memory", g->model_name);
        return -1;
    }
    for (int i = 0; i < g->n_tensors; i++)
        if (g->tensors[i].kind == DETC_TENSOR_CONSTANT)
            use[i] |= 4;
    for (int s = 0; s < nn; s++) {
        detc_node *n = &g->nodes[g->order[s]];
        bool folded = !m->opts.no_fold && foldable(g, n) && fold_node(m, g, n);
        bool konst = !n->invalid && n->op;
        for (int k = 0; k < n->n_inputs; k++)
            if (n->inputs[k] >= 0) {
                use[n->inputs[k]] |= folded ? 2 : 1;
                konst = konst && (use[n->inputs[k]] & 4);
            }
        for (int k = 0; konst && k < n->n_outputs; k++)
            use[n->outputs[k]] |= 4;
        deadline[n->index] = konst && !folded ? nn : -1; /* -1: not deferred (or folded) */
    }
    /* Latest position of each deferred node: before the first executed node that needs it, directly or
     * through other deferred nodes (consumers come later in `order`, so one backward pass settles it). */
    for (int s = nn - 1; s >= 0; s--) {
        const detc_node *n = &g->nodes[g->order[s]];
        if (n->folded)
            continue;
        int key = deadline[n->index] >= 0 ? deadline[n->index] : s;
        for (int k = 0; k < n->n_inputs; k++) {
            int t = n->inputs[k];
            int p = t >= 0 ? g->tensors[t].producer : -1;
            if (p >= 0 && deadline[p] > key)
                deadline[p] = key;
        }
    }
    int ns = 0;
    for (int s = 0; s < nn; s++) {
        const detc_node *n = &g->nodes[g->order[s]];
        if (n->folded)
            continue;
        bool deferred = deadline[n->index] >= 0;
        slots[ns++] = (run_slot){deferred ? deadline[n->index] : s, deferred ? 0 : 1, s, n->index};
    }
    qsort(slots, (size_t)ns, sizeof *slots, cmp_run_slot);
    for (int i = 0; i < ns; i++)
        g->run_order[i] = slots[i].node;
    g->n_run = ns;
    for (int i = 0; i < g->n_tensors; i++) {
        const detc_tensor *t = &g->tensors[i];
        if (t->kind == DETC_TENSOR_CONSTANT && !t->folded && (use[i] & 3) == 2 && !t->is_output)
            g->folded_source_bytes += t->nbytes;
    }
    free(use);
    free(deadline);
    free(slots);
    return 0;
}

/* An on/off environment switch: unset or "1" leaves *off as the options set it, "0" sets it; anything else
 * is an error that says what 0 and 1 mean. */
static int read_switch_env(const char *name, int *off, const char *means0, const char *means1, detc_errors *errs)
{
    const char *v = getenv(name);
    if (!v || strcmp(v, "1") == 0)
        return 0;
    if (strcmp(v, "0") == 0) {
        *off = 1;
        return 0;
    }
    detc_errors_add(errs, DETC_ERR_ARG, -1, "%s='%s' must be 0 (%s) or 1 (%s, the default)", name, v, means0, means1);
    return -1;
}

/* DETC_FOLD: unset, "1": fold (unless the caller's options say no_fold); "0": never fold. */
static int read_fold_env(detc_model *m, detc_errors *errs)
{
    return read_switch_env("DETC_FOLD", &m->opts.no_fold, "run nodes whose inputs are all constant on every run",
                           "evaluate them once at load and keep their outputs", errs);
}

/* DETC_WINOGRAD: unset, "1": Winograd for float 3x3 convs and for quantized ones marked "winograd": "int16"
 * (unless the caller's options say no_winograd); "0": never. */
static int read_winograd_env(detc_model *m, detc_errors *errs)
{
    return read_switch_env("DETC_WINOGRAD", &m->opts.no_winograd, "3x3 convs as direct sums",
                           "Winograd F(4x4, 3x3) for stride-1 float 3x3 convs and marked quantized ones", errs);
}

static const char *json_kind(const cJSON *v)
{
    return cJSON_IsNumber(v) ? "a number" : cJSON_IsNull(v) ? "null" : cJSON_IsBool(v) ? "a boolean"
           : cJSON_IsArray(v) ? "a list" : cJSON_IsObject(v) ? "an object" : "not a string";
}

/* Labels are class names: anything else would print as an empty name, so it is refused. */
static int load_labels(detc_model *m, const char *file, detc_errors *errs)
{
    const cJSON *labels = cJSON_GetObjectItemCaseSensitive(m->json, "labels");
    if (labels && !cJSON_IsArray(labels)) {
        detc_errors_add(errs, DETC_ERR_FORMAT, -1, "%s: \"labels\" is %s; it must be a list of class names (strings)",
                        file, json_kind(labels));
        return -1;
    }
    int n = cJSON_GetArraySize(labels), bad = 0, i = 0;
    const cJSON *item;
    cJSON_ArrayForEach(item, labels)
    {
        if (!cJSON_IsString(item) && bad++ < 3)
            detc_errors_add(errs, DETC_ERR_FORMAT, -1,
                            "%s: \"labels\"[%d] is %s; class names must be strings (use \"\" for an unnamed class)",
                            file, i, json_kind(item));
        i++;
    }
    if (bad > 3)
        detc_errors_add(errs, DETC_ERR_FORMAT, -1, "%s: ... and %d more labels that are not strings", file, bad - 3);
    if (bad || n <= 0)
        return bad ? -1 : 0;
    m->labels = calloc((size_t)n, sizeof *m->labels);
    if (!m->labels)
        return 0;
    cJSON_ArrayForEach(item, labels) m->labels[m->n_labels++] = item->valuestring;
    return 0;
}

/* ---- instances ---- */

static void instance_free(detc_instance *inst)
{
    if (!inst)
        return;
    detc_graph *g = &inst->g;
    for (int i = 0; i < g->n_tensors; i++) {
        detc_tensor *t = &g->tensors[i];
        if (t->folded)
            free(t->data);
        detc_quant_free(&t->quant);
    }
    for (int i = 0; i < g->n_nodes; i++) {
        detc_node *n = &g->nodes[i];
        release_op_data(n);
        free(n->inputs);
        free(n->outputs);
    }
    free(g->tensors);
    free(g->nodes);
    free(g->order);
    free(g->run_order);
    free(g->inputs);
    free(g->outputs);
    free(inst);
}

/* Folds and plans an instance whose graph was built without problems. */
/* Executed nodes that read a tensor folded at load saw it as an activation when they were prepared: prepared
 * again now that it is a constant, they can lay it out for their kernel (conv2d and fully_connected pack a
 * dequantized filter, conv2d transforms it for Winograd). Nothing else changes: same dtypes and shapes. */
static int reprepare_consumers(const detc_model *m, detc_graph *g, detc_errors *errs)
{
    for (int s = 0; s < g->n_run; s++) {
        detc_node *n = &g->nodes[g->run_order[s]];
        bool reads_folded = false;
        for (int k = 0; k < n->n_inputs; k++)
            reads_folded = reads_folded || (n->inputs[k] >= 0 && g->tensors[n->inputs[k]].folded);
        if (!reads_folded || n->invalid || !n->op)
            continue;
        detc_prep p = {.g = g, .node = n, .errs = errs, .kernels = m->kernels, .no_winograd = m->opts.no_winograd != 0};
        n->copied_inputs = 0;
        if (!n->op->prepare(&p) || p.failed)
            return -1;
    }
    return 0;
}

/* Mapped constants that no executed node reads after load: read only by folded nodes, or only by nodes
 * that copied them at prepare (packed filters). The graph keeps pointing at them (a tensor dump, a pipeline
 * or a repack for another kernel table reads them again, from the file). */
void detc_unread_constants(const detc_model *m, const detc_graph *g, detc_bytes_fn fn, void *ctx)
{
    uint8_t *read = calloc((size_t)g->n_tensors + 1, 1);
    if (!read)
        return; /* nothing given back: only memory is at stake */
    for (int s = 0; s < g->n_run; s++) {
        const detc_node *n = &g->nodes[g->run_order[s]];
        for (int k = 0; k < n->n_inputs; k++)
            if (n->inputs[k] >= 0 && !(k < 32 && (n->copied_inputs >> k & 1u)))
                read[n->inputs[k]] = 1;
    }
    for (int i = 0; i < g->n_tensors; i++) {
        const detc_tensor *t = &g->tensors[i];
        uintptr_t d = (uintptr_t)t->data, lo = (uintptr_t)m->data;
        if (t->kind == DETC_TENSOR_CONSTANT && !t->folded && !t->is_output && !read[i] && t->data && t->nbytes > 0 &&
            d >= lo && d - lo <= m->data_len && t->nbytes <= m->data_len - (d - lo))
            fn(t->data, t->nbytes, ctx);
    }
    free(read);
}

static int instance_finish(const detc_model *m, detc_instance *inst, detc_errors *errs)
{
    if (fold_constants(m, &inst->g, errs) != 0 || reprepare_consumers(m, &inst->g, errs) != 0)
        return -1;
    int rc = detc_plan_memory(m, inst, errs);
    if (rc == 0 && m->drop_unread)
        inst->dropped_bytes = m->drop_unread(m, &inst->g);
    return rc;
}

static const char *model_file(const detc_model *m)
{
    const char *s = strrchr(m->path, '/');
    return s ? s + 1 : m->path;
}

int detc_model_build(detc_model *m, detc_errors *errs)
{
    if (pthread_mutex_init(&m->lock, NULL) != 0) {
        detc_errors_add(errs, DETC_ERR_NOMEM, -1, "cannot create a mutex");
        return -1;
    }
    m->lock_ready = true;
    const char *file = model_file(m);
    if (m->map_len < HEADER_BYTES) {
        detc_errors_add(errs, DETC_ERR_FORMAT, -1,
                        "%s: file is %zu bytes, shorter than the 32-byte .detc header; the file is truncated or not "
                        "a detc model (convert it with tools/detc-convert)",
                        file, m->map_len);
        return -1;
    }
    uint32_t json_len;
    if (check_header(m, file, errs, &json_len) != 0)
        return -1;
    const char *json_end = NULL;
    m->json = cJSON_ParseWithLengthOpts((const char *)m->map + HEADER_BYTES, json_len, &json_end, false);
    if (!m->json) {
        const char *at = cJSON_GetErrorPtr();
        long pos = at ? (long)(at - (const char *)m->map) : -1;
        detc_errors_add(errs, DETC_ERR_FORMAT, -1,
                        "%s: the JSON header is not valid JSON (error near byte %ld); the file is corrupt or was "
                        "edited by hand",
                        file, pos);
        return -1;
    }
    /* before the graph: prepare steps lay out constants for the table eval will use */
    m->kernels = detc_kernels_select(getenv("DETC_KERNELS"));
    if (!m->kernels) {
        detc_errors_add(errs, DETC_ERR_ARG, -1, "DETC_KERNELS='%s' names no kernel table this CPU supports",
                        getenv("DETC_KERNELS"));
        return -1;
    }
    if (detc_data_checksum_check(m, file, errs) != 0)
        return -1; /* corrupt weights: nothing built on them can be trusted */
    if (read_winograd_env(m, errs) != 0)
        return -1;
    m->base = calloc(1, sizeof *m->base);
    if (!m->base) {
        detc_errors_add(errs, DETC_ERR_NOMEM, -1, "%s: out of memory", file);
        return -1;
    }
    int rc = load_graph(m, m->base, file, NULL, errs);
    if (rc != 0 && !m->base->g.tensors) {
        instance_free(m->base); /* no tensor table: nothing more can be checked */
        m->base = NULL;
    }
    if (load_labels(m, file, errs) != 0)
        rc = -1;
    m->pipeline_json = cJSON_GetObjectItemCaseSensitive(m->json, "pipeline");
    return rc;
}

int detc_model_finish(detc_model *m, detc_errors *errs)
{
    if (read_fold_env(m, errs) != 0)
        return -1;
    return instance_finish(m, m->base, errs);
}

void detc_model_release(detc_model *m)
{
    instance_free(m->base);
    m->base = NULL;
    while (m->shapes) { /* contexts still holding these were not freed first: the caller's bug, no leak here */
        detc_instance *next = m->shapes->next;
        instance_free(m->shapes);
        m->shapes = next;
    }
    free(m->labels);
    m->labels = NULL;
    cJSON_Delete(m->json);
    m->json = NULL;
}

static bool same_input_dims(const detc_instance *inst, const int32_t (*dims)[DETC_MAX_RANK])
{
    const detc_graph *g = &inst->g;
    for (int k = 0; k < g->n_inputs; k++) {
        const detc_tensor *t = &g->tensors[g->inputs[k]];
        if (memcmp(t->dims, dims[k], (size_t)t->rank * sizeof t->dims[0]) != 0)
            return false;
    }
    return true;
}

detc_instance *detc_instance_acquire(detc_model *m, const int32_t (*input_dims)[DETC_MAX_RANK], detc_errors *errs)
{
    pthread_mutex_lock(&m->lock);
    detc_instance *found = NULL;
    if (same_input_dims(m->base, input_dims))
        found = m->base;
    for (detc_instance *i = m->shapes; !found && i; i = i->next)
        if (same_input_dims(i, input_dims))
            found = i;
    if (found) {
        found->refs++;
        pthread_mutex_unlock(&m->lock);
        return found;
    }
    /* Built under the lock: contexts asking for the same new shapes wait for one build instead of each
     * packing the filters again. */
    detc_instance *inst = calloc(1, sizeof *inst);
    int rc = -1;
    if (inst) {
        int before = errs->count;
        rc = load_graph(m, inst, model_file(m), input_dims, errs);
        if (rc == 0 && errs->count == before)
            rc = instance_finish(m, inst, errs);
    } else {
        detc_errors_add(errs, DETC_ERR_NOMEM, -1, "%s: out of memory", model_file(m));
    }
    if (rc != 0) {
        instance_free(inst);
        pthread_mutex_unlock(&m->lock);
        return NULL;
    }
    inst->refs = 1;
    inst->next = m->shapes;
    m->shapes = inst;
    pthread_mutex_unlock(&m->lock);
    return inst;
}

void detc_instance_release(detc_model *m, detc_instance *inst)
{
    if (!inst)
        return;
    pthread_mutex_lock(&m->lock);
    inst->refs--;
    if (inst != m->base && inst->refs <= 0) { /* the base lives as long as the model */
        for (detc_instance **p = &m->shapes; *p; p = &(*p)->next)
            if (*p == inst) {
                *p = inst->next;
                break;
            }
        instance_free(inst);
    }
    pthread_mutex_unlock(&m->lock);
}

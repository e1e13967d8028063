/* Pipeline kinds and the image-input handling they share. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline.h"
#include "quant.h"

static const detc_pipeline_kind *const KINDS[] = {&detc_pipeline_ssd, &detc_pipeline_blazeface, &detc_pipeline_maskrcnn};
#define N_KINDS (sizeof KINDS / sizeof KINDS[0])

void detc_pipeline_error(detc_model *m, detc_errors *errs, const char *what, const char *fix)
{
    detc_errors_add(errs, DETC_ERR_FORMAT, -1, "%s: pipeline: %s; %s", m->base->g.model_name, what, fix);
}

static bool read_triplet(const cJSON *j, float def, float out[3])
{
    out[0] = out[1] = out[2] = def;
    if (!j)
        return true;
    if (!cJSON_IsArray(j) || cJSON_GetArraySize(j) != 3)
        return false;
    for (int c = 0; c < 3; c++) {
        double d;
        if (!detc_json_number(cJSON_GetArrayItem(j, c), -1e6, 1e6, &d))
            return false;
        out[c] = (float)d;
    }
    return true;
}

int detc_pipeline_kept(detc_model *m, detc_errors *errs, const char *key, int t)
{
    const detc_tensor *tt = &m->base->g.tensors[t];
    /* The memory plan keeps only graph outputs (and constants) after the run; any other tensor's memory
     * is reused by later nodes, so the pipeline would read whatever was written there last. */
    if (tt->is_output || tt->kind == DETC_TENSOR_CONSTANT)
        return 0;
    char msg[512];
    snprintf(msg, sizeof msg,
             "output \"%s\" names tensor '%s', which is not a graph output: its memory is reused once the graph "
             "no longer needs it, so detections would be read from overwritten memory",
             key, tt->name);
    detc_pipeline_error(m, errs, msg, "add it to the file's \"outputs\" list or point the pipeline at a graph output");
    return -1;
}

int detc_pipeline_output(detc_model *m, detc_errors *errs, const cJSON *obj, const char *key, int rank)
{
    const cJSON *name = detc_json_field(obj, key);
    char msg[512];
    if (!cJSON_IsString(name)) {
        snprintf(msg, sizeof msg, "\"outputs\".\"%s\" (a tensor name) is missing", key);
        detc_pipeline_error(m, errs, msg, "name the graph tensor that holds it");
        return -1;
    }
    int t = detc_find_tensor(m, name->valuestring);
    if (t < 0) {
        snprintf(msg, sizeof msg, "output \"%s\" names tensor '%s', which is not in the graph", key,
                 name->valuestring);
        detc_pipeline_error(m, errs, msg, "fix the name");
        return -1;
    }
    const detc_tensor *tt = &m->base->g.tensors[t];
    if (tt->poisoned)
        return -1; /* reported already */
    if (tt->dtype != DETC_F32 || tt->rank != rank) {
        snprintf(msg, sizeof msg, "output \"%s\" '%s' is %s of rank %d, expected f32 of rank %d", key, tt->name,
                 detc_dtype_name(tt->dtype), tt->rank, rank);
        detc_pipeline_error(m, errs, msg, "point it at the right graph output");
        return -1;
    }
    return detc_pipeline_kept(m, errs, key, t) == 0 ? t : -1;
}

int detc_image_input_load(detc_model *m, const cJSON *in, detc_image_input *p, detc_errors *errs)
{
    int before = errs->count;
    const cJSON *w = detc_json_field(in, "width"), *h = detc_json_field(in, "height");
    const cJSON *color = detc_json_field(in, "color"), *resize = detc_json_field(in, "resize");
    const cJSON *tensor = detc_json_field(in, "tensor");
    if (!cJSON_IsObject(in)) {
        detc_pipeline_error(m, errs, "\"input\" must be an object", "see weights/FORMAT.md section 2.3");
        return -1;
    }
    p->tensor = cJSON_IsString(tensor) ? detc_find_tensor(m, tensor->valuestring) : detc_input_tensor(m, 0);
    if (p->tensor < 0 || m->base->g.tensors[p->tensor].kind != DETC_TENSOR_INPUT) {
        detc_pipeline_error(m, errs, "\"input\".\"tensor\" does not name a graph input",
                            "fix the name or omit it (first input)");
        return -1;
    }
    const detc_tensor *t = &m->base->g.tensors[p->tensor];
    if (t->poisoned)
        return -1;
    int64_t wi, hi;
    if (!detc_json_integer(w, 1, 16384, &wi) || !detc_json_integer(h, 1, 16384, &hi)) {
        detc_pipeline_error(m, errs, "\"input\" needs integer \"width\" and \"height\" in 1..16384",
                            "fix the pipeline");
        return -1;
    }
    p->width = (int)wi;
    p->height = (int)hi;
    if (t->rank != 4 || t->dims[0] != 1 || t->dims[1] != p->height || t->dims[2] != p->width || t->dims[3] != 3) {
        char s[128], msg[400];
        detc_shape_str(t->rank, t->dims, s, sizeof s);
        snprintf(msg, sizeof msg, "the pipeline resizes images to %dx%d RGB, but input '%s' has shape %s (NHWC)",
                 p->width, p->height, t->name, s);
        detc_pipeline_error(m, errs, msg,
                            "make the pipeline's width/height match the input tensor [1, height, width, 3]");
    }
    bool quantized = detc_tensor_is_quantized(t) && t->quant.count == 1;
    if (t->dtype != DETC_F32 && !((t->dtype == DETC_U8 || t->dtype == DETC_I8) && quantized)) {
        char msg[300];
        snprintf(msg, sizeof msg,
                 "input '%s' is %s%s; images can be fed to f32 inputs or to u8/i8 inputs with per-tensor "
                 "quantization",
                 t->name, detc_dtype_name(t->dtype),
                 detc_tensor_is_quantized(t) ? " with per-channel quantization" : " without quantization parameters");
        detc_pipeline_error(m, errs, msg, "give the input quantization parameters when converting, or make it f32");
    }
    p->bgr = cJSON_IsString(color) && strcmp(color->valuestring, "bgr") == 0;
    if (color && !(cJSON_IsString(color) && (p->bgr || strcmp(color->valuestring, "rgb") == 0)))
        detc_pipeline_error(m, errs, "\"color\" must be \"rgb\" or \"bgr\"", "fix the pipeline");
    p->resize = DETC_RESIZE_BILINEAR;
    if (resize && !(cJSON_IsString(resize) && detc_resize_mode_parse(resize->valuestring, &p->resize) == 0))
        detc_pipeline_error(m, errs, "\"resize\" must be \"nearest\", \"bilinear\" or \"area_aa\"", "fix the pipeline");
    if (!read_triplet(detc_json_field(in, "mean"), 0.0f, p->mean) ||
        !read_triplet(detc_json_field(in, "std"), 1.0f, p->std) || p->std[0] == 0.0f || p->std[1] == 0.0f ||
        p->std[2] == 0.0f)
        detc_pipeline_error(m, errs, "\"mean\" and \"std\" must be lists of 3 finite numbers, std non-zero",
                            "fix the pipeline");
    return errs->count > before ? -1 : 0;
}

int detc_image_input_fill(detc_context *c, const detc_image_input *p, const detc_image *img, detc_resize_mode mode,
                          detc_errors *errs)
{
    if (!img || !img->pixels || img->channels != 3 || img->width < 1 || img->height < 1) {
        detc_errors_add(errs, DETC_ERR_ARG, -1, "the image must be RGB with at least one pixel");
        return -1;
    }
    detc_image small;
    char err[256];
    if (detc_image_resize(img, p->width, p->height, mode, &small, err, sizeof err) != 0) {
        detc_errors_add(errs, DETC_ERR_IMAGE, -1, "%s", err);
        return -1;
    }
    detc_tensor *t = &c->g.tensors[p->tensor];
    const detc_dtype_info *info = detc_dtype_get(t->dtype);
    size_t n = (size_t)p->width * (size_t)p->height;
    for (size_t i = 0; i < n; i++) {
        for (int ch = 0; ch < 3; ch++) {
            size_t src = i * 3 + (size_t)(p->bgr ? 2 - ch : ch), dst = i * 3 + (size_t)ch;
            float x = ((float)small.pixels[src] - p->mean[ch]) / p->std[ch];
            if (t->dtype == DETC_F32) {
                ((float *)t->data)[dst] = x;
                continue;
            }
            float q = detc_roundf_away(x / t->quant.scale[0]) + (float)t->quant.zero_point[0];
            q = q < (float)info->qmin ? (float)info->qmin : q > (float)info->qmax ? (float)info->qmax : q;
            if (t->dtype == DETC_U8)
                ((uint8_t *)t->data)[dst] = (uint8_t)q;
            else
                ((int8_t *)t->data)[dst] = (int8_t)q;
        }
    }
    detc_image_free(&small);
    return 0;
}

int detc_pipeline_load(detc_model *m, detc_errors *errs)
{
    const cJSON *pj = m->pipeline_json;
    if (!pj)
        return 0;
    const cJSON *kind = detc_json_field(pj, "kind");
    const detc_pipeline_kind *k = NULL;
    for (size_t i = 0; i < N_KINDS && cJSON_IsObject(pj) && cJSON_IsString(kind); i++)
        if (strcmp(kind->valuestring, KINDS[i]->name) == 0)
            k = KINDS[i];
    if (!k) {
        char known[256] = "";
        for (size_t i = 0; i < N_KINDS; i++) {
            strncat(known, i ? ", " : "", sizeof known - strlen(known) - 1);
            strncat(known, KINDS[i]->name, sizeof known - strlen(known) - 1);
        }
        char msg[300];
        snprintf(msg, sizeof msg, "\"kind\" is missing or unknown; detc knows: %s", known);
        detc_pipeline_error(m, errs, msg, "fix the pipeline or convert the model again");
        return -1;
    }
    detc_pipeline *p = calloc(1, sizeof *p);
    if (!p) {
        detc_errors_add(errs, DETC_ERR_NOMEM, -1, "out of memory");
        return -1;
    }
    p->kind = k;
    m->pipeline = p;
    return k->load(m, p, pj, errs);
}

void detc_pipeline_free(detc_pipeline *p)
{
    if (!p)
        return;
    if (p->state) {
        if (p->kind->free_state)
            p->kind->free_state(p->state);
        else
            free(p->state);
    }
    free(p);
}

float detc_score_threshold(const detc_detect_options *opts, float model_default)
{
    if (!opts || opts->threshold == 0.0f || isnan(opts->threshold))
        return model_default;
    return opts->threshold < 0.0f ? -INFINITY : opts->threshold;
}

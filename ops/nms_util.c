/* NMS, torch's sort / topk orders, and torchvision box helpers (see nms_util.h). */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF /* every float operation rounds as torchvision's kernels do */
#endif
#include "nms_util.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <string.h>

#include "op_util.h"

/* ---------------- libstdc++ algorithms over nms_entry ----------------
 * Transcribed from the algorithms' published structure (introsort with median-of-three pivot and a
 * final insertion sort at threshold 16, heap select / sort heap, introselect), so that elements that
 * compare equal end up where libstdc++ puts them. */

typedef bool (*cmp_fn)(const nms_entry *a, const nms_entry *b);

/* torch's KeyValueCompDesc / topk's "largest" lambda: NaN sorts first. */
static bool torch_desc(const nms_entry *a, const nms_entry *b)
{
    return (isnan(a->score) && !isnan(b->score)) || a->score > b->score;
}

static bool stable_desc(const nms_entry *a, const nms_entry *b)
{
    if (torch_desc(a, b))
        return true;
    if (torch_desc(b, a))
        return false;
    return a->index < b->index;
}

static void swap_e(nms_entry *a, nms_entry *b)
{
    nms_entry t = *a;
    *a = *b;
    *b = t;
}

static int lg(int n)
{
    int r = 0;
    while (n > 1) {
        n >>= 1;
        r++;
    }
    return r;
}

static void push_heap(nms_entry *first, int hole, int top, nms_entry value, cmp_fn comp)
{
    int parent = (hole - 1) / 2;
    while (hole > top && comp(&first[parent], &value)) {
        first[hole] = first[parent];
        hole = parent;
        parent = (hole - 1) / 2;
    }
    first[hole] = value;
}

static void adjust_heap(nms_entry *first, int hole, int len, nms_entry value, cmp_fn comp)
{
    int top = hole, child = hole;
    while (child < (len - 1) / 2) {
        child = 2 * (child + 1);
        if (comp(&first[child], &first[child - 1]))
            child--;
        first[hole] = first[child];
        hole = child;
    }
    if ((len & 1) == 0 && child == (len - 2) / 2) {
        child = 2 * (child + 1);
        first[hole] = first[child - 1];
        hole = child - 1;
    }
    push_heap(first, hole, top, value, comp);
}

static void make_heap(nms_entry *first, int len, cmp_fn comp)
{
    if (len < 2)
        return;
    for (int parent = (len - 2) / 2;; parent--) {
        adjust_heap(first, parent, len, first[parent], comp);
        if (parent == 0)
            return;
    }
}

static void pop_heap(nms_entry *first, int len, nms_entry *result, cmp_fn comp)
{
    nms_entry value = *result;
    *result = first[0];
    adjust_heap(first, 0, len, value, comp);
}

static void heap_select(nms_entry *first, int middle, int last, cmp_fn comp)
{
    make_heap(first, middle, comp);
    for (int i = middle; i < last; i++)
        if (comp(&first[i], &first[0]))
            pop_heap(first, middle, &first[i], comp);
}

static void sort_heap(nms_entry *first, int len, cmp_fn comp)
{
    while (len > 1) {
        len--;
        pop_heap(first, len, &first[len], comp);
    }
}

static void move_median_to_first(nms_entry *result, nms_entry *a, nms_entry *b, nms_entry *c, cmp_fn comp)
{
    if (comp(a, b)) {
        if (comp(b, c))
            swap_e(result, b);
        else if (comp(a, c))
            swap_e(result, c);
        else
            swap_e(result, a);
    } else if (comp(a, c)) {
        swap_e(result, a);
    } else if (comp(b, c)) {
        swap_e(result, c);
    } else {
        swap_e(result, b);
    }
}

/* __unguarded_partition_pivot over [first, first + len): returns the cut offset. */
static int partition_pivot(nms_entry *first, int len, cmp_fn comp)
{
    int mid = len / 2;
    move_median_to_first(first, first + 1, first + mid, first + len - 1, comp);
    int lo = 1, hi = len;
    for (;;) {
        while (comp(&first[lo], &first[0]))
            lo++;
        hi--;
        while (comp(&first[0], &first[hi]))
            hi--;
        if (!(lo < hi))
            return lo;
        swap_e(&first[lo], &first[hi]);
        lo++;
    }
}

static void unguarded_linear_insert(nms_entry *last, cmp_fn comp)
{
    nms_entry val = *last;
    nms_entry *next = last - 1;
    while (comp(&val, next)) {
        *last = *next;
        last = next;
        next--;
    }
    *last = val;
}

static void insertion_sort(nms_entry *first, int len, cmp_fn comp)
{
    for (int i = 1; i < len; i++) {
        if (comp(&first[i], &first[0])) {
            nms_entry val = first[i];
            memmove(first + 1, first, (size_t)i * sizeof *first);
            first[0] = val;
        } else {
            unguarded_linear_insert(&first[i], comp);
        }
    }
}

#define SORT_THRESHOLD 16

static void introsort_loop(nms_entry *first, int len, int depth, cmp_fn comp)
{
    while (len > SORT_THRESHOLD) {
        if (depth == 0) {
            heap_select(first, len, len, comp);
            sort_heap(first, len, comp);
            return;
        }
        depth--;
        int cut = partition_pivot(first, len, comp);
        introsort_loop(first + cut, len - cut, depth, comp);
        len = cut;
    }
}

static void std_sort(nms_entry *v, int n, cmp_fn comp)
{
    if (n < 2)
        return;
    introsort_loop(v, n, lg(n) * 2, comp);
    if (n > SORT_THRESHOLD) {
        insertion_sort(v, SORT_THRESHOLD, comp);
        for (int i = SORT_THRESHOLD; i < n; i++)
            unguarded_linear_insert(&v[i], comp);
    } else {
        insertion_sort(v, n, comp);
    }
}

/* std::nth_element(v, v + nth, v + n). */
static void std_nth_element(nms_entry *v, int nth, int n, cmp_fn comp)
{
    if (n == 0 || nth == n)
        return;
    nms_entry *first = v, *last = v + n, *pnth = v + nth;
    int depth = lg(n) * 2;
    while (last - first > 3) {
        if (depth == 0) {
            int mid = (int)(pnth - first) + 1;
            heap_select(first, mid, (int)(last - first), comp);
            swap_e(first, pnth);
            return;
        }
        depth--;
        nms_entry *cut = first + partition_pivot(first, (int)(last - first), comp);
        if (cut <= pnth)
            first = cut;
        else
            last = cut;
    }
    insertion_sort(first, (int)(last - first), comp);
}

void nms_sort_torch(nms_entry *v, int n)
{
    std_sort(v, n, torch_desc);
}

void nms_sort_stable(nms_entry *v, int n)
{
    std_sort(v, n, stable_desc);
}

void nms_topk_torch(nms_entry *v, int n, int k)
{
    if (k <= 0 || n <= 0)
        return;
    if (k > n)
        k = n;
    if ((int64_t)k * 64 <= n) {
        heap_select(v, k, n, torch_desc);
        sort_heap(v, k, torch_desc);
    } else {
        std_nth_element(v, k - 1, n, torch_desc);
        std_sort(v, k - 1, torch_desc);
    }
}

/* ---------------- NMS ---------------- */

static size_t take(size_t *cursor, size_t bytes)
{
    size_t at = *cursor;
    *cursor += (bytes + 15) & ~(size_t)15;
    return at;
}

typedef struct {
    size_t order, kept, areas, boxes, sorted, supp, members, local_keep, group_start, cursor, total;
} nms_layout;

static nms_layout layout(int n, int groups)
{
    nms_layout l;
    size_t c = 0, un = n > 0 ? (size_t)n : 1;
    l.order = take(&c, un * sizeof(nms_entry));
    l.kept = take(&c, un);
    l.areas = take(&c, un * sizeof(float));
    l.boxes = take(&c, un * 4 * sizeof(float));
    l.sorted = take(&c, un * 5 * sizeof(float));
    l.supp = take(&c, un * sizeof(int32_t));
    l.members = take(&c, un * sizeof(int));
    l.local_keep = take(&c, un * sizeof(int));
    l.group_start = take(&c, ((size_t)(groups > 0 ? groups : 1) + 1) * sizeof(int));
    l.cursor = take(&c, ((size_t)(groups > 0 ? groups : 1) + 1) * sizeof(int));
    l.total = c;
    return l;
}

size_t nms_work_bytes(int n, int groups)
{
    return layout(n, groups).total;
}

void nms_work_init(nms_work *w, void *mem, int n, int groups)
{
    nms_layout l = layout(n, groups);
    uint8_t *base = mem;
    w->order = (nms_entry *)(void *)(base + l.order);
    w->kept = base + l.kept;
    w->areas = (float *)(void *)(base + l.areas);
    w->boxes = (float *)(void *)(base + l.boxes);
    w->sorted = (float *)(void *)(base + l.sorted);
    w->supp = (int32_t *)(void *)(base + l.supp);
    w->members = (int *)(void *)(base + l.members);
    w->local_keep = (int *)(void *)(base + l.local_keep);
    w->group_start = (int *)(void *)(base + l.group_start);
    w->cursor = (int *)(void *)(base + l.cursor);
    w->n = n;
    w->groups = groups;
}

static float maxf(float a, float b)
{
    return a < b ? b : a; /* std::max */
}

static float minf(float a, float b)
{
    return b < a ? b : a; /* std::min */
}

/* One kept box against the n boxes after it in score order (arrays in score order): each one whose IoU
 * exceeds thr is marked in supp. Every pair is computed, suppressed or not, so the loop has no branch and
 * vectorizes; a mark is only ever set, so the marks are those of torchvision's loop, which skips the boxes
 * already suppressed (the IoU of each pair is the same float operations in the same order). */
static void nms_suppress(int n, const float *bi, float area_i, float thr, const float *restrict x0,
                         const float *restrict y0, const float *restrict x1, const float *restrict y1,
                         const float *restrict ar, int32_t *restrict supp)
{
    const float b0 = bi[0], b1 = bi[1], b2 = bi[2], b3 = bi[3];
    for (int c = 0; c < n; c++) {
        float xx1 = maxf(b0, x0[c]), yy1 = maxf(b1, y0[c]);
        float xx2 = minf(b2, x1[c]), yy2 = minf(b3, y1[c]);
        float iw = maxf(0.0f, xx2 - xx1), ih = maxf(0.0f, yy2 - yy1);
        float inter = iw * ih;
        float ovr = inter / (area_i + ar[c] - inter);
        supp[c] |= ovr > thr;
    }
}

static int nms_torchvision(const float *boxes, const float *scores, const int *subset, int m, float thr,
                           int *keep, nms_work *w)
{
    nms_entry *order = w->order;
    for (int j = 0; j < m; j++) {
        int g = subset ? subset[j] : j;
        const float *b = boxes + (size_t)g * 4;
        order[j] = (nms_entry){scores[g], j};
        w->areas[j] = (b[2] - b[0]) * (b[3] - b[1]);
    }
    nms_sort_stable(order, m); /* torchvision 0.14: scores.sort(stable=true, 0, descending=true) */
    size_t cap = (size_t)(w->n > 0 ? w->n : 1);
    float *x0 = w->sorted, *y0 = x0 + cap, *x1 = y0 + cap, *y1 = x1 + cap, *ar = y1 + cap;
    for (int a = 0; a < m; a++) {
        int i = order[a].index;
        const float *b = boxes + (size_t)(subset ? subset[i] : i) * 4;
        x0[a] = b[0];
        y0[a] = b[1];
        x1[a] = b[2];
        y1[a] = b[3];
        ar[a] = w->areas[i];
        w->supp[a] = 0;
    }
    int kept = 0;
    for (int a = 0; a < m; a++) {
        if (w->supp[a])
            continue;
        keep[kept++] = order[a].index;
        const float bi[4] = {x0[a], y0[a], x1[a], y1[a]};
        int c = a + 1;
        nms_suppress(m - c, bi, ar[a], thr, x0 + c, y0 + c, x1 + c, y1 + c, ar + c, w->supp + c);
    }
    return kept;
}

/* TensorFlow's IOU(): corners normalised per axis, 0 for an empty box. */
static float iou_tf(const float *a, const float *b)
{
    float a0 = minf(a[0], a[2]), a1 = minf(a[1], a[3]), a2 = maxf(a[0], a[2]), a3 = maxf(a[1], a[3]);
    float b0 = minf(b[0], b[2]), b1 = minf(b[1], b[3]), b2 = maxf(b[0], b[2]), b3 = maxf(b[1], b[3]);
    float area_a = (a2 - a0) * (a3 - a1), area_b = (b2 - b0) * (b3 - b1);
    if (area_a <= 0 || area_b <= 0)
        return 0.0f;
    float i0 = maxf(a0, b0), i1 = maxf(a1, b1), i2 = minf(a2, b2), i3 = minf(a3, b3);
    float inter = maxf(i2 - i0, 0.0f) * maxf(i3 - i1, 0.0f);
    return inter / (area_a + area_b - inter);
}

static int nms_tensorflow(const float *boxes, const float *scores, const int *subset, int m, float thr,
                          float score_thr, int max_out, int *keep, nms_work *w)
{
    int n = 0;
    for (int j = 0; j < m; j++) {
        float s = scores[subset ? subset[j] : j];
        if (s > score_thr)
            w->order[n++] = (nms_entry){s, j};
    }
    nms_sort_stable(w->order, n);
    int kept = 0;
    for (int a = 0; a < n && (max_out < 0 || kept < max_out); a++) {
        int i = w->order[a].index;
        const float *bi = boxes + (size_t)(subset ? subset[i] : i) * 4;
        bool ok = true;
        for (int s = kept - 1; s >= 0 && ok; s--) {
            const float *bs = boxes + (size_t)(subset ? subset[keep[s]] : keep[s]) * 4;
            ok = iou_tf(bi, bs) <= thr; /* TF keeps a candidate only while sim <= threshold */
        }
        if (ok)
            keep[kept++] = i;
    }
    return kept;
}

int nms_single(nms_rules rules, const float *boxes, const float *scores, const int *subset, int m,
               float iou_threshold, float score_threshold, int max_out, int *keep, nms_work *w)
{
    if (m <= 0)
        return 0;
    if (rules == NMS_TENSORFLOW)
        return nms_tensorflow(boxes, scores, subset, m, iou_threshold, score_threshold, max_out, keep, w);
    return nms_torchvision(boxes, scores, subset, m, iou_threshold, keep, w);
}

/* _batched_nms_vanilla: NMS per group (members in ascending index order, as torch.where gives them),
 * survivors in ascending index order, then sorted by score with torch's sort. */
static int batched_vanilla(const float *boxes, const float *scores, const int *groups, int n, float thr, int *keep,
                           nms_work *w)
{
    int G = w->groups;
    memset(w->group_start, 0, ((size_t)G + 1) * sizeof(int));
    for (int i = 0; i < n; i++)
        w->group_start[groups[i] + 1]++;
    for (int g = 0; g < G; g++)
        w->group_start[g + 1] += w->group_start[g];
    /* stable counting sort into members */
    for (int g = 0; g < G; g++)
        w->cursor[g] = w->group_start[g];
    for (int i = 0; i < n; i++)
        w->members[w->cursor[groups[i]]++] = i;
    memset(w->kept, 0, (size_t)n);
    for (int g = 0; g < G; g++) {
        int s = w->group_start[g], m = w->group_start[g + 1] - s;
        if (m == 0)
            continue;
        int k = nms_torchvision(boxes, scores, w->members + s, m, thr, w->local_keep, w);
        for (int t = 0; t < k; t++)
            w->kept[w->members[s + w->local_keep[t]]] = 1;
    }
    int count = 0;
    for (int i = 0; i < n; i++)
        if (w->kept[i])
            w->members[count++] = i;
    for (int t = 0; t < count; t++)
        w->order[t] = (nms_entry){scores[w->members[t]], t};
    nms_sort_torch(w->order, count);
    for (int t = 0; t < count; t++)
        keep[t] = w->members[w->order[t].index];
    return count;
}

/* _batched_nms_coordinate_trick: boxes + group * (max coordinate + 1), one NMS. */
static int batched_offsets(const float *boxes, const float *scores, const int *groups, int n, float thr, int *keep,
                           nms_work *w)
{
    float max_c = boxes[0];
    for (int i = 1; i < 4 * n; i++) {
        float v = boxes[i];
        if (isnan(v) || v > max_c)
            max_c = v; /* torch's max propagates NaN */
        if (isnan(max_c))
            break;
    }
    float step = max_c + 1.0f;
    for (int i = 0; i < n; i++) {
        float off = (float)groups[i] * step;
        for (int c = 0; c < 4; c++)
            w->boxes[(size_t)i * 4 + c] = boxes[(size_t)i * 4 + c] + off;
    }
    return nms_torchvision(w->boxes, scores, NULL, n, thr, keep, w);
}

int nms_batched_torchvision(const float *boxes, const float *scores, const int *groups, int n, float iou_threshold,
                            int *keep, nms_work *w)
{
    if (n <= 0)
        return 0;
    if ((int64_t)n * 4 > 4000)
        return batched_vanilla(boxes, scores, groups, n, iou_threshold, keep, w);
    return batched_offsets(boxes, scores, groups, n, iou_threshold, keep, w);
}

/* ---------------- box helpers ---------------- */

void nms_decode_box(const float *ref, const float *delta, const float weights[4], float clip, float *out)
{
    float widths = ref[2] - ref[0], heights = ref[3] - ref[1];
    float ctr_x = ref[0] + 0.5f * widths, ctr_y = ref[1] + 0.5f * heights;
    float dx = delta[0] / weights[0], dy = delta[1] / weights[1];
    float dw = delta[2] / weights[2], dh = delta[3] / weights[3];
    dw = dw > clip ? clip : dw; /* torch.clamp(max=): NaN stays NaN */
    dh = dh > clip ? clip : dh;
    float pcx = dx * widths + ctr_x, pcy = dy * heights + ctr_y;
    float pw = expf(dw) * widths, ph = expf(dh) * heights;
    float hw = 0.5f * pw, hh = 0.5f * ph;
    out[0] = pcx - hw;
    out[1] = pcy - hh;
    out[2] = pcx + hw;
    out[3] = pcy + hh;
}

static float clampf(float v, float lo, float hi)
{
    /* torch.clamp: min(max(v, lo), hi), NaN propagates */
    if (isnan(v))
        return v;
    v = v < lo ? lo : v;
    return v > hi ? hi : v;
}

void nms_clip_box(float *box, float height, float width)
{
    box[0] = clampf(box[0], 0.0f, width);
    box[1] = clampf(box[1], 0.0f, height);
    box[2] = clampf(box[2], 0.0f, width);
    box[3] = clampf(box[3], 0.0f, height);
}

/* ---------------- float-list attributes ---------------- */

bool nms_attr_float_list(detc_prep *p, const char *name, bool required, int max_n, float *out, int *count)
{
    const cJSON *v = detc_attr_get(p, name);
    *count = 0;
    if (!v) {
        if (required)
            detc_prep_error(p, DETC_ERR_ATTR, "required attribute '%s' is missing; see ops/README.md for %s", name,
                            p->node->op_name);
        return !required;
    }
    int len = cJSON_IsArray(v) ? cJSON_GetArraySize(v) : -1;
    if (len < 1 || len > max_n) {
        detc_prep_error(p, DETC_ERR_ATTR, "attribute '%s' must be a list of 1..%d numbers", name, max_n);
        return false;
    }
    int i = 0;
    const cJSON *item;
    cJSON_ArrayForEach(item, v)
    {
        if (!cJSON_IsNumber(item) || !isfinite(item->valuedouble) || fabs(item->valuedouble) > 1e30) {
            detc_prep_error(p, DETC_ERR_ATTR, "attribute '%s'[%d] must be a finite number", name, i);
            return false;
        }
        out[i++] = (float)item->valuedouble;
    }
    *count = len;
    return true;
}

bool nms_attr_floats(detc_prep *p, const char *name, int n, const float *def, float *out)
{
    int count = 0;
    float tmp[16];
    if (n > 16)
        return false;
    if (!nms_attr_float_list(p, name, false, 16, tmp, &count))
        return false;
    if (count == 0) {
        memcpy(out, def, (size_t)n * sizeof *out);
        return true;
    }
    if (count != n) {
        detc_prep_error(p, DETC_ERR_ATTR, "attribute '%s' must be a list of %d numbers, found %d", name, n, count);
        return false;
    }
    memcpy(out, tmp, (size_t)n * sizeof *out);
    return true;
}

/* libFuzzer harness: bytes -> detc_image_load_memory (JPEG, PNG) and detc_exif_orientation, then the EXIF
 * orientation transform and each resize mode to a small size. */
#include <stdlib.h>
#include <string.h>

#include "exif.h"
#include "fuzz_common.h"
#include "image_file.h"

#ifdef FUZZ_REPLAY
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_image_one
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    detc_image img;
    char err[512] = "";
    int orientation = detc_exif_orientation(data, size);
    if (orientation < 1 || orientation > 8)
        abort();
    if (detc_image_load_memory(data, size, "fuzz.img", &img, err, sizeof err) != 0) {
        if (err[0] == '\0' || img.pixels)
            abort(); /* a failure must say why and leave nothing allocated */
        return 0;
    }
    if (!img.pixels || img.channels != 3 || img.width < 1 || img.height < 1 ||
        img.width > DETC_IMAGE_MAX_SIDE || img.height > DETC_IMAGE_MAX_SIDE)
        abort();
    uint64_t st = fuzz_hash(data, size);
    /* the file's own orientation, or one picked from the input: every transform gets exercised */
    int o = orientation != 1 ? orientation : 1 + (int)(fuzz_next(&st) % 8);
    int w = img.width, h = img.height;
    if (detc_image_orient(&img, o, err, sizeof err) != 0)
        abort(); /* valid image, valid orientation: must succeed */
    if ((o >= 5 ? img.height != w || img.width != h : img.width != w || img.height != h) || !img.pixels)
        abort();
    /* Every resize mode, shrinking and enlarging, to sizes picked from the input. */
    for (int mode = DETC_RESIZE_NEAREST; mode <= DETC_RESIZE_AREA_AA; mode++) {
        int ow = 1 + (int)(fuzz_next(&st) % 48), oh = 1 + (int)(fuzz_next(&st) % 48);
        detc_image small;
        memset(&small, 0, sizeof small);
        if (detc_image_resize(&img, ow, oh, (detc_resize_mode)mode, &small, err, sizeof err) != 0)
            abort(); /* valid image, valid size: must succeed */
        if (small.width != ow || small.height != oh || small.channels != 3)
            abort();
        detc_image_free(&small);
    }
    detc_image_free(&img);
    return 0;
}

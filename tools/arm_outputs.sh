#!/bin/sh
# `make test-arm-outputs`: every tensor of detc's models computed by the ARM builds under qemu, compared
# with the native (x86) build's: quantized models exactly (every tensor, integer and float, bit for bit),
# float models within atol 5e-4 + rtol 1e-4, the spread between x86's own tables (FMA and summation order
# differ between them: the x86 portable table against the best one is checked with the same tolerance,
# and fails detc compare's defaults on the same Mask R-CNN tensors as ARM does).
# Runs: aarch64 on cortex-a72 (neon) and cortex-a76 (neon + dot product),
# armhf on cortex-a15 (NEON + VFPv4: neon) and cortex-a9 (NEON without VFPv4: portable kernels).
#   tools/arm_outputs.sh [NATIVE_BUILD [AARCH64_BUILD [ARMHF_BUILD]]]     (build, build-aarch64, build-armhf)
# Exit 1 when any comparison fails; a build or model that is missing is reported and skipped.
set -u
nat=${1:-build}
a64=${2:-build-aarch64}
a32=${3:-build-armhf}
root=$(cd "$(dirname "$0")/.." && pwd)
shared=${DETC_SHARED:-$root/../shared}
work="$root/$nat/arm-outputs"
mkdir -p "$work"
fail=0
ssd="$shared/models/ssd_mobilenet_v1_coco_quant"
shapes="$shared/models/maskrcnn_r18fpn_shapes"
conv_to() { out=$1; shift; [ -f "$work/$out" ] || "$root/tools/detc-convert" "$@" -o "$work/$out" >/dev/null 2>&1; }
conv_to ssd.detc tflite "$ssd/detect.tflite" --labels "$ssd/labelmap.txt"
conv_to ssd_f32.detc tflite "$ssd/detect.tflite" --labels "$ssd/labelmap.txt" --dequantize
conv_to blazeface.detc tflite "$shared/models/blazeface_short_range/face_detection_short_range.tflite" \
    --pipeline-json "$root/models/blazeface_pipeline.json"
conv_to shapes.detc torchvision "$shapes/maskrcnn_r18fpn_shapes.pth" --config "$shapes/config.json"

# check NAME MODEL IMAGE EXACT
check() {
    [ -f "$work/$2" ] || { echo "skip $1: $2 not converted"; return; }
    rm -rf "$work/$1.x86"
    "$root/$nat/detc" run "$work/$2" --image "$3" --dump "$work/$1.x86" >/dev/null || { echo "FAIL $1: native run"; fail=1; return; }
    tol="--atol 5e-4 --rtol 1e-4"
    [ "$4" = exact ] && tol="--atol 0 --rtol 0"
    rm -rf "$work/$1.x86-portable"
    DETC_KERNELS=portable "$root/$nat/detc" run "$work/$2" --image "$3" --dump "$work/$1.x86-portable" >/dev/null &&
        "$root/$nat/detc" compare "$work/$1.x86-portable" "$work/$1.x86" $tol >"$work/$1.x86-portable.txt" 2>&1 &&
        echo "ok   $1 on x86 portable table ($4)" || { echo "FAIL $1 on x86 portable table"; fail=1; }
    for run in "aarch64 qemu-aarch64 cortex-a72 $a64" "aarch64 qemu-aarch64 cortex-a76 $a64" \
               "armhf qemu-arm cortex-a15 $a32" "armhf qemu-arm cortex-a9 $a32"; do
        set -- "$1" "$2" "$3" "$4" $run
        [ -x "$root/$8/detc" ] || { echo "skip $1 on $5: $8/detc not built"; continue; }
        d="$work/$1.$5.$7"
        rm -rf "$d"
        if ! QEMU_CPU=$7 OPENBLAS_NUM_THREADS=1 $6 "$root/$8/detc" run "$work/$2" --image "$3" --dump "$d" >/dev/null 2>"$d.err"; then
            echo "FAIL $1 on $5 $7: $(tail -n 1 "$d.err")"; fail=1; continue
        fi
        if "$root/$nat/detc" compare "$d" "$work/$1.x86" $tol >"$d.txt" 2>&1; then
            echo "ok   $1 on $5 $7 ($(ls "$d" | grep -c '\.npy$') tensors, $4)"
        else
            echo "FAIL $1 on $5 $7: $(tail -n 3 "$d.txt" | tr '\n' ' ')"; fail=1
        fi
    done
}
check ssd_u8 ssd.detc "$shared/images/dog.jpg" exact
check ssd_f32 ssd_f32.detc "$shared/images/dog.jpg" tolerance
check blazeface blazeface.detc "$shared/images/person.jpg" tolerance
check maskrcnn_shapes shapes.detc "$shapes/val/shapes_000.png" tolerance
exit $fail

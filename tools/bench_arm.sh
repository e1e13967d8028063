#!/bin/sh
# `make bench-arm`: instructions per inference under qemu-user (../shared/tools/arm-insn), one thread.
#   tools/bench_arm.sh [AARCH64_BUILD [ARMHF_BUILD]]     (defaults: build-aarch64 build-armhf)
# Per model: `detc bench --warmup 0 --threads 1` counted with --runs N1 and --runs N2 (N1=1, N2=3 by
# default); per inference = (count2 - count1) / (N2 - N1), so loading, decoding and preprocessing cancel.
# Rows: SSD MobileNet v1 uint8 next to Arm NN 20.08 (the peer is counted when arm-insn/build.sh --peer has
# built it in OUT, else its figure recorded in arm-insn/README.md is shown), then detc alone on SSD f32
# (detc-convert --dequantize), BlazeFace and the shapes Mask R-CNN; aarch64 on cortex-a72 (armv8.0) and
# cortex-a76 (dot product), armhf on cortex-a15 (NEON + VFPv4). Counts are a proxy for speed, not timings.
set -eu
a64=${1:-build-aarch64}
a32=${2:-build-armhf}
root=$(cd "$(dirname "$0")/.." && pwd)
shared=${DETC_SHARED:-$root/../shared}
insn="$shared/tools/arm-insn"
export OUT=${OUT:-/tmp/arm-insn-$(id -u)}
n1=${N1:-1}
n2=${N2:-3}
work="$root/$a64/bench-arm"
mkdir -p "$work"
[ -x "$insn/count.sh" ] || { echo "bench-arm: $insn not found (../shared/tools/arm-insn)" >&2; exit 1; }
[ -f "$OUT/libinsncount.so" ] || "$insn/build.sh" >/dev/null

ssd="$shared/models/ssd_mobilenet_v1_coco_quant"
blaze="$shared/models/blazeface_short_range/face_detection_short_range.tflite"
shapes="$shared/models/maskrcnn_r18fpn_shapes"
conv_to() { out=$1; shift; [ -f "$work/$out" ] || "$root/tools/detc-convert" "$@" -o "$work/$out" >/dev/null 2>&1 || true; }
conv_to ssd.detc tflite "$ssd/detect.tflite" --labels "$ssd/labelmap.txt"
conv_to ssd_f32.detc tflite "$ssd/detect.tflite" --labels "$ssd/labelmap.txt" --dequantize
conv_to blazeface.detc tflite "$blaze" --pipeline-json "$root/models/blazeface_pipeline.json"
conv_to shapes.detc torchvision "$shapes/maskrcnn_r18fpn_shapes.pth" --config "$shapes/config.json"

# count QEMU CPU BUILD MODEL IMAGE: instructions per inference (empty when it failed)
count() {
    c1=$(QEMU=$1 QEMU_CPU=$2 "$insn/count.sh" "$root/$3/detc" bench "$work/$4" "$5" --runs "$n1" --warmup 0 \
        --threads 1 --top 0) || return 0
    c2=$(QEMU=$1 QEMU_CPU=$2 "$insn/count.sh" "$root/$3/detc" bench "$work/$4" "$5" --runs "$n2" --warmup 0 \
        --threads 1 --top 0) || return 0
    echo $(((c2 - c1) / (n2 - n1)))
}
m() { [ -n "$1" ] && awk -v v="$1" 'BEGIN { printf "%8.1f M", v / 1e6 }' || printf '%10s' "failed"; }
kernels() { QEMU_CPU=$2 $1 "$root/$3/detc" inspect "$work/ssd.detc" 2>/dev/null | sed -n 's/^kernels *//p'; }

echo "== instructions per inference under qemu, one thread (N1=$n1, N2=$n2 runs)"
for cpu in cortex-a72 cortex-a76; do
    [ -x "$root/$a64/detc" ] || { echo "  $a64/detc not built (make aarch64)"; break; }
    echo "-- aarch64, QEMU_CPU=$cpu: kernels $(kernels qemu-aarch64 $cpu "$a64")"
    d=$(count qemu-aarch64 $cpu "$a64" ssd.detc "$shared/images/dog.jpg")
    if [ -x "$OUT/armnn_ssd" ]; then
        "$root/$a64/detc" run "$work/ssd.detc" --image "$shared/images/dog.jpg" --dump "$work/ssd_input" \
            --tensors normalized_input_image_tensor >/dev/null 2>&1 || true
        p=$(QEMU_CPU=$cpu "$insn/peer-armnn.sh" "$ssd/detect.tflite" "$work/ssd_input/normalized_input_image_tensor.npy" 2>/dev/null || true)
        src="counted"
    else
        p=$(case $cpu in cortex-a72) echo 346858228 ;; cortex-a76) echo 167917467 ;; esac)
        src="recorded in arm-insn/README.md"
    fi
    ratio=$( [ -n "$d" ] && [ -n "$p" ] && awk -v d="$d" -v p="$p" 'BEGIN { printf "%.2f", d / p }' || echo "-")
    printf '  SSD MobileNet v1 uint8   detc %s   Arm NN 20.08 %s (%s)   detc/ArmNN %s\n' "$(m "$d")" "$(m "$p")" "$src" "$ratio"
    printf '  SSD MobileNet v1 f32     detc %s\n' "$(m "$(count qemu-aarch64 $cpu "$a64" ssd_f32.detc "$shared/images/dog.jpg")")"
    printf '  BlazeFace short range    detc %s\n' "$(m "$(count qemu-aarch64 $cpu "$a64" blazeface.detc "$shared/images/person.jpg")")"
    printf '  Mask R-CNN shapes        detc %s\n' "$(m "$(count qemu-aarch64 $cpu "$a64" shapes.detc "$shapes/val/shapes_000.png")")"
done
if [ -x "$root/$a32/detc" ]; then
    cpu=cortex-a15
    echo "-- armhf, QEMU_CPU=$cpu: kernels $(kernels qemu-arm $cpu "$a32")"
    printf '  SSD MobileNet v1 uint8   detc %s\n' "$(m "$(count qemu-arm $cpu "$a32" ssd.detc "$shared/images/dog.jpg")")"
    printf '  SSD MobileNet v1 f32     detc %s\n' "$(m "$(count qemu-arm $cpu "$a32" ssd_f32.detc "$shared/images/dog.jpg")")"
    printf '  BlazeFace short range    detc %s\n' "$(m "$(count qemu-arm $cpu "$a32" blazeface.detc "$shared/images/person.jpg")")"
    printf '  Mask R-CNN shapes        detc %s\n' "$(m "$(count qemu-arm $cpu "$a32" shapes.detc "$shapes/val/shapes_000.png")")"
else
    echo "-- armhf: $a32/detc not built (make armhf)"
fi

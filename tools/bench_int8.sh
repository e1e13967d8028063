#!/bin/sh
# `make bench`, int8 section (tools/bench_int8.sh BUILD): models quantized by `detc-convert --quantize int8`
# next to the same models in f32, on the same machine, in one run; medians, ratios, file sizes.
#   1. the shapes Mask R-CNN (../shared/models/maskrcnn_r18fpn_shapes, calibrated on its calib/ images,
#      timed on a validation image), 1 and 2 threads;
#   2. res10 face SSD (OpenCV's TensorFlow graph; calibrated on ../shared/images), 1 and 2 threads;
#   3. Mask R-CNN R50-FPN 800x800 with seeded random weights, when tools/bench_maskrcnn.sh has made it
#      (BUILD/bench/maskrcnn/r50; needs torch): int8 calibrated on ../shared/images, and torchvision's f32
#      time for the same graph scope when torch is present.
# RUNS (default 10) runs per row in ROUNDS (default 5) rounds; each round runs every row once, so that the
# machine's load hits f32 and int8 alike. Figures: median of round medians; ratio: median of per-round
# ratios (int8 / f32: below 1, int8 is faster). Numbers depend on the machine's load: run it on an idle one.
set -eu
build=${1:-build}
root=$(cd "$(dirname "$0")/.." && pwd)
# peers given --threads N hold OpenBLAS's own thread pool to N as well (tools/peer_env/blas_threads.py)
export PYTHONPATH="$root/tools/peer_env${PYTHONPATH:+:$PYTHONPATH}"
shared=${DETC_SHARED:-$root/../shared}
runs=${RUNS:-10}
rounds=${ROUNDS:-5}
per=$(( (runs + rounds - 1) / rounds ))
py=/usr/bin/python3
detc="$root/$build/detc"
convert="$root/tools/detc-convert"
out="$root/$build/bench/int8"
mkdir -p "$out"
rm -f "$out"/*.vals

median_of() { sed -n 's/.*median \([0-9.]*\).*/\1/p' | head -n 1; }
med() {
    [ -f "$out/$1.vals" ] || return 0
    grep -v NA "$out/$1.vals" | sort -n | awk '{ v[NR] = $1 } END { if (NR) printf "%.3f", NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
# one TAG MODEL IMAGE THREADS [KERNELS]: a round of detc bench (KERNELS: a DETC_KERNELS set; default auto)
one() {
    env ${5:+"DETC_KERNELS=$5"} "$detc" bench "$2" "$3" --runs "$per" --threads "$4" --top 0 >"$out/$1.txt" 2>&1 || true
    v=$(median_of <"$out/$1.txt")
    echo "${v:-NA}" >>"$out/$1.vals"
}
row() {
    m=$(med "$2")
    printf '  %-30s median %9s ms   (rounds: %s)\n' "$1" "${m:-failed}" "$(tr '\n' ' ' <"$out/$2.vals" 2>/dev/null | sed 's/ $//')"
}
ratio() {
    paste "$out/$2.vals" "$out/$3.vals" | awk '$1 != "NA" && $2 != "NA" && $2 > 0 { print $1 / $2 }' | sort -n |
        awk -v l="$1" '{ v[NR] = $1 } END { if (NR) printf "  ratio %-38s %.2f\n", l ":", NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
size() { stat -c %s "$1" 2>/dev/null | awk '{ printf "%.1f MB", $1 / 1e6 }'; }
# On a CPU with AMX, int8 also runs without it (the kernels a CPU with AVX-512
# VNNI but no AMX, such as AMD Zen 4, gets), since the int8 / f32 ratio depends on it.
# without_amx BENCH_OUTPUT: the DETC_KERNELS set detc picked there, less amx ("" when it has no amx)
without_amx() {
    sed -n 's/.*, kernels \(.*\)$/\1/p' "$1" | grep '+amx' | sed 's/^portable+//; s/+amx//' || true
}
no_amx=""
# section NAME F32 INT8 IMAGE: f32 and int8 at 1 and 2 threads, interleaved
section() {
    r=0
    while [ $r -lt "$rounds" ]; do
        for n in 1 2; do
            one "$1_f32_t$n" "$2" "$4" "$n"
            [ $r -gt 0 ] || [ $n -gt 1 ] || no_amx=$(without_amx "$out/$1_f32_t1.txt")
            one "$1_int8_t$n" "$3" "$4" "$n"
            [ -z "$no_amx" ] || one "$1_int8_noamx_t$n" "$3" "$4" "$n" "$no_amx"
        done
        r=$((r + 1))
    done
    for n in 1 2; do
        row "f32  $n thread(s)" "$1_f32_t$n"
        row "int8 $n thread(s)" "$1_int8_t$n"
        ratio "int8 / f32, $n thread(s)" "$1_int8_t$n" "$1_f32_t$n"
        if [ -n "$no_amx" ]; then
            row "int8 without AMX $n thread(s)" "$1_int8_noamx_t$n"
            ratio "int8 without AMX / f32, $n thread(s)" "$1_int8_noamx_t$n" "$1_f32_t$n"
        fi
    done
    echo "  files: f32 $(size "$2"), int8 $(size "$3")"
}

echo "== int8 (detc-convert --quantize int8) next to f32"
shapes="$shared/models/maskrcnn_r18fpn_shapes"
echo "-- shapes Mask R-CNN (ResNet-18 FPN, 256x256), val/shapes_000.png"
if [ -f "$shapes/maskrcnn_r18fpn_shapes.pth" ]; then
    "$convert" torchvision "$shapes/maskrcnn_r18fpn_shapes.pth" --config "$shapes/config.json" -o "$out/shapes.detc" \
        >"$out/shapes_convert.txt" 2>&1
    DETC_BIN="$detc" "$convert" torchvision "$shapes/maskrcnn_r18fpn_shapes.pth" --config "$shapes/config.json" \
        --quantize int8 --calibrate "$shapes/calib" --calibrate-count 16 -o "$out/shapes_int8.detc" \
        >>"$out/shapes_convert.txt" 2>&1
    section shapes "$out/shapes.detc" "$out/shapes_int8.detc" "$shapes/val/shapes_000.png"
else
    echo "  skipped: $shapes not found"
fi

res10="$shared/models/opencv_face_ssd_res10"
echo "-- res10 face SSD (300x300), person.jpg"
if [ -f "$res10/opencv_face_detector_uint8.pb" ]; then
    set -- "$res10/opencv_face_detector_uint8.pb" --config "$res10/opencv_face_detector.pbtxt" --preset opencv_face_ssd_res10
    "$convert" tf "$@" --dequantize-weights -o "$out/res10.detc" >"$out/res10_convert.txt" 2>&1
    DETC_BIN="$detc" "$convert" tf "$@" --quantize int8 --calibrate "$shared/images" -o "$out/res10_int8.detc" \
        >>"$out/res10_convert.txt" 2>&1
    section res10 "$out/res10.detc" "$out/res10_int8.detc" "$shared/images/person.jpg"
else
    echo "  skipped: $res10 not found"
fi

r50="$root/$build/bench/maskrcnn/r50"
echo "-- Mask R-CNN R50-FPN 800x800 (seeded random weights)"
if [ -f "$r50/r50_800.detc" ] && [ -f "$r50/random_r50_seed5.pth" ]; then
    # quantized again when the f32 model or the converter changed since
    [ -f "$out/r50_int8.detc" ] && [ "$out/r50_int8.detc" -nt "$r50/r50_800.detc" ] &&
        [ -z "$(find "$root/tools/detc_convert" -name '*.py' -newer "$out/r50_int8.detc")" ] || DETC_BIN="$detc" "$convert" torchvision "$r50/random_r50_seed5.pth" \
        --config "$r50/random_r50_seed5.json" --input-size 800x800 --quantize int8 --calibrate "$shared/images" \
        --calibrate-count 3 -o "$out/r50_int8.detc" >"$out/r50_convert.txt" 2>&1
    section r50 "$r50/r50_800.detc" "$out/r50_int8.detc" "$r50/r50_800.png"
    if $py -c "import torch, torchvision" 2>/dev/null; then
        for n in 1 2; do
            $py "$root/tools/torchvision_ref.py" --random-r50 5 --out "$r50/tv_scratch" --time --runs "$runs" \
                --threads "$n" --image "$r50/r50_800.png" >"$out/r50_tv_t$n.txt" 2>&1 || true
            v=$(sed -n 's/.*median_ms \([0-9.]*\).*/\1/p' "$out/r50_tv_t$n.txt" | head -n 1)
            echo "${v:-NA}" >"$out/r50_tv_t$n.vals"
            row "torchvision f32 $n thread(s)" "r50_tv_t$n"
        done
    fi
else
    echo "  skipped: run tools/bench_maskrcnn.sh first (it makes $r50 with torch)"
fi

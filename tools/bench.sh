#!/bin/sh
# `make bench` (tools/bench.sh BUILD): detc side by side with a peer on the same machine, in one run.
#   1. SSD MobileNet v1 COCO: detc uint8 and float32 (`detc-convert tflite --dequantize`), 1 and 2 threads,
#      vs TFLite uint8 (WebAssembly SIMD, XNNPACK, 1 thread: tools/tflite_ref has no threads); peak memory.
#   2. res10 face SSD (OpenCV's TensorFlow graph, f32): detc --threads 1 and 2 vs OpenCV DNN
#      (tools/opencv_ref.py --runs) with cv2.setNumThreads(1) and (2).
#   3. BlazeFace short range (f32): detc 1 and 2 threads vs TFLite (WebAssembly SIMD, XNNPACK, 1 thread).
# Every peer gets detc's own preprocessed input tensor (dumped with `detc run --dump`); image decoding
# and preprocessing are not timed. RUNS (default 30) runs per row, split into ROUNDS (default 5)
# rounds; each round runs every row of a section once, in turn, so that a change of the machine's load
# hits detc and its peer alike. A row's figure is the median of its round medians; a ratio is the
# median of the per-round ratios. The round medians are printed: their spread shows the noise.
# A section whose model or peer is missing says why and is skipped; exit 1 only when nothing was measured.
# Speed targets live here, never in tests. Numbers depend on the machine's load: run it on an idle one.
set -eu
build=${1:-build}
root=$(cd "$(dirname "$0")/.." && pwd)
# peers given --threads N hold OpenBLAS's own thread pool to N as well (tools/peer_env/blas_threads.py)
export PYTHONPATH="$root/tools/peer_env${PYTHONPATH:+:$PYTHONPATH}"
shared=${DETC_SHARED:-$root/../shared}
runs=${RUNS:-30}
rounds=${ROUNDS:-5}
per=$(( (runs + rounds - 1) / rounds ))
python=/usr/bin/python3
detc="$root/$build/detc"
out="$root/$build/bench"
image="$shared/images/dog.jpg"
face_image="$shared/images/person.jpg"
mkdir -p "$out"
rm -f "$out"/*.vals
measured=0

median_of() { sed -n 's/.*median \([0-9.]*\).*/\1/p' | head -n 1; }
# record TAG: appends the median found in $out/TAG.txt (or NA) to $out/TAG.vals
record() { v=$(median_of <"$out/$1.txt"); echo "${v:-NA}" >>"$out/$1.vals"; }
# med TAG: median of the recorded round medians (empty when none)
med() {
    [ -f "$out/$1.vals" ] || return 0
    grep -v NA "$out/$1.vals" | sort -n | awk '{ v[NR] = $1 } END { if (NR) printf "%.3f", NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
# row LABEL TAG
row() {
    m=$(med "$2")
    if [ -n "$m" ]; then
        printf '  %-36s median %8s ms   (rounds: %s)\n' "$1" "$m" "$(tr '\n' ' ' <"$out/$2.vals" | sed 's/ $//')"
        measured=1
    else
        printf '  %-36s failed: %s\n' "$1" "$(tail -n 1 "$out/$2.txt" 2>/dev/null)"
    fi
}
# ratio LABEL TAG_A TAG_B: median over rounds of A / B
ratio() {
    [ -f "$out/$2.vals" ] && [ -f "$out/$3.vals" ] || return 0
    paste "$out/$2.vals" "$out/$3.vals" | awk '$1 != "NA" && $2 != "NA" && $2 > 0 { print $1 / $2 }' | sort -n |
        awk -v l="$1" '{ v[NR] = $1 } END { if (NR) printf "  ratio %-44s %.2f\n", l ":", NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
# dbench MODEL IMAGE THREADS TAG: one round of detc bench
dbench() {
    "$detc" bench "$1" "$2" --runs "$per" --threads "$3" --top 0 >"$out/$4.txt" 2>&1 || true
    record "$4"
}
have_tflite() { command -v node >/dev/null 2>&1 && [ -d "$root/tools/tflite_ref/node_modules" ]; }
# tbench MODEL INPUT.npy TAG: one round of TFLite (XNNPACK, 1 thread)
tbench() {
    node "$root/tools/tflite_ref/run.mjs" "$1" --input "0=$2" --out "$out/$3" --runs "$per" >"$out/$3.txt" 2>&1 || true
    record "$3"
}
no_tflite="tflite: reference runner not installed (node + tools/install-reference-runners.sh); no peer timing"

if [ ! -x "$detc" ]; then
    echo "bench: $detc not found (make BUILD=$build first)" >&2
    exit 1
fi
echo "bench: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) at start;" \
     "$runs runs per row in $rounds rounds (RUNS, ROUNDS)"

# -- 1. SSD MobileNet v1 COCO, uint8 and float32 -----------------------------------------------------------------
tflite="$shared/models/ssd_mobilenet_v1_coco_quant/detect.tflite"
echo
echo "== SSD MobileNet v1 COCO, 300x300, dog.jpg: uint8 and float32 (detc-convert --dequantize)"
labels="$(dirname "$tflite")/labelmap.txt"
if [ ! -f "$tflite" ]; then
    echo "  skipped: $tflite not found (see make demo for the model's URL)"
elif ! { "$root/tools/detc-convert" tflite "$tflite" --labels "$labels" -o "$out/ssd.detc" &&
         "$root/tools/detc-convert" tflite "$tflite" --labels "$labels" --dequantize -o "$out/ssd_f32.detc"; } \
        >"$out/ssd_convert.txt" 2>&1; then
    echo "  skipped: detc-convert failed: $(tail -n 1 "$out/ssd_convert.txt")"
else
    if have_tflite; then
        rm -rf "$out/ssd_input"
        "$detc" run "$out/ssd.detc" --image "$image" --dump "$out/ssd_input" --tensors normalized_input_image_tensor >/dev/null
    fi
    r=0
    while [ "$r" -lt "$rounds" ]; do
        dbench "$out/ssd.detc" "$image" 1 ssd_u8_t1
        dbench "$out/ssd_f32.detc" "$image" 1 ssd_f32_t1
        have_tflite && tbench "$tflite" "$out/ssd_input/normalized_input_image_tensor.npy" ssd_tflite
        dbench "$out/ssd.detc" "$image" 2 ssd_u8_t2
        dbench "$out/ssd_f32.detc" "$image" 2 ssd_f32_t2
        r=$((r + 1))
    done
    echo "  (detc kernels $(sed -n 's/.*kernels //p' "$out/ssd_u8_t1.txt" | head -n 1))"
    row "detc   uint8   1 thread" ssd_u8_t1
    row "detc   uint8   2 threads" ssd_u8_t2
    row "detc   float32 1 thread" ssd_f32_t1
    row "detc   float32 2 threads" ssd_f32_t2
    if have_tflite; then row "tflite uint8   1 thread (XNNPACK)" ssd_tflite; else echo "  $no_tflite"; fi
    ratio "detc float32 / detc uint8, 1 thread" ssd_f32_t1 ssd_u8_t1
    ratio "detc float32 / detc uint8, 2 threads" ssd_f32_t2 ssd_u8_t2
    ratio "detc uint8 / tflite uint8, 1 thread" ssd_u8_t1 ssd_tflite
    ratio "detc float32 / tflite uint8, 1 thread" ssd_f32_t1 ssd_tflite
    if [ -x /usr/bin/time ]; then
        for m in ssd ssd_f32; do
            /usr/bin/time -v "$detc" detect "$out/$m.detc" "$image" >/dev/null 2>"$out/time_$m.txt" || true
            echo "  peak memory, detc detect $m.detc (RSS): $(sed -n 's/.*Maximum resident set size (kbytes): //p' "$out/time_$m.txt") KiB" \
                 "(weights file $(stat -c %s "$out/$m.detc") bytes, mapped; planned activations:" \
                 "$("$detc" validate "$out/$m.detc" | sed -n 's/.*weights, \(.*\) planned.*/\1/p'))"
        done
    fi
fi

# -- 2. res10 face detector: detc vs OpenCV DNN -----------------------------------------------------------------
res10="$shared/models/opencv_face_ssd_res10"
pb="$res10/opencv_face_detector_uint8.pb"
pbtxt="$res10/opencv_face_detector.pbtxt"
echo
echo "== res10 face SSD (OpenCV's TensorFlow graph, f32), 300x300, person.jpg: detc vs OpenCV DNN"
if [ ! -f "$pb" ] || [ ! -f "$pbtxt" ]; then
    echo "  skipped: $res10 (opencv_face_detector_uint8.pb and .pbtxt) not found"
elif ! "$python" -c 'import cv2' 2>/dev/null; then
    echo "  skipped: OpenCV's Python module is missing for $python (apt-get install python3-opencv)"
elif ! "$root/tools/detc-convert" tf "$pb" --config "$pbtxt" --preset opencv_face_ssd_res10 -o "$out/res10.detc" \
        >"$out/res10_convert.txt" 2>&1; then
    echo "  skipped: detc-convert failed: $(tail -n 1 "$out/res10_convert.txt")"
else
    rm -rf "$out/res10_input"
    "$detc" run "$out/res10.detc" --image "$face_image" --dump "$out/res10_input" --tensors data >/dev/null
    r=0
    while [ "$r" -lt "$rounds" ]; do
        for n in 1 2; do
            dbench "$out/res10.detc" "$face_image" "$n" "res10_detc_t$n"
            "$python" "$root/tools/opencv_ref.py" "$pb" --config "$pbtxt" --input "data=$out/res10_input/data.npy" \
                --out "$out/res10_opencv_t$n" --threads "$n" --runs "$per" >"$out/res10_opencv_t$n.txt" 2>&1 || true
            record "res10_opencv_t$n"
        done
        r=$((r + 1))
    done
    echo "  (OpenCV $("$python" -c 'import cv2; print(cv2.__version__)'), backend OPENCV, target CPU, fed detc's input tensor)"
    row "detc   1 thread" res10_detc_t1
    row "opencv 1 thread  (setNumThreads(1))" res10_opencv_t1
    row "detc   2 threads" res10_detc_t2
    row "opencv 2 threads (setNumThreads(2))" res10_opencv_t2
    ratio "detc / opencv, 1 thread" res10_detc_t1 res10_opencv_t1
    ratio "detc / opencv, 2 threads" res10_detc_t2 res10_opencv_t2
fi

# -- 3. BlazeFace: detc vs TFLite ----------------------------------------------------------------------------------
blaze="$shared/models/blazeface_short_range/face_detection_short_range.tflite"
echo
echo "== BlazeFace short range (f32), 128x128, person.jpg: detc vs TFLite"
if [ ! -f "$blaze" ]; then
    echo "  skipped: $blaze not found"
else
    if ! "$root/tools/detc-convert" tflite "$blaze" --pipeline-json "$root/models/blazeface_pipeline.json" \
            -o "$out/blazeface.detc" >"$out/blazeface_convert.txt" 2>&1; then
        echo "  skipped: detc-convert failed: $(tail -n 1 "$out/blazeface_convert.txt")"
    else
        if have_tflite; then
            rm -rf "$out/blazeface_input"
            "$detc" run "$out/blazeface.detc" --image "$face_image" --dump "$out/blazeface_input" --tensors input >/dev/null
        fi
        r=0
        while [ "$r" -lt "$rounds" ]; do
            dbench "$out/blazeface.detc" "$face_image" 1 blazeface_t1
            have_tflite && tbench "$blaze" "$out/blazeface_input/input.npy" blazeface_tflite
            dbench "$out/blazeface.detc" "$face_image" 2 blazeface_t2
            r=$((r + 1))
        done
        row "detc   1 thread" blazeface_t1
        row "detc   2 threads" blazeface_t2
        if have_tflite; then row "tflite 1 thread (XNNPACK)" blazeface_tflite; else echo "  $no_tflite"; fi
        ratio "detc / tflite, 1 thread" blazeface_t1 blazeface_tflite
    fi
fi

echo
echo "bench: load average $(cut -d' ' -f1-3 /proc/loadavg) at the end; outputs in $out"
[ "$measured" = 1 ] || { echo "bench: nothing was measured" >&2; exit 1; }

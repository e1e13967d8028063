#!/bin/sh
# `make bench` (tools/bench_dask.sh BUILD): detection throughput of `python3 -m detc.batch` on a local Dask
# cluster of 1 and 2 worker processes (1 thread each), against one `detc detect` process (1 thread) and the
# Python binding's own loop (read_image + detect, no Dask) on the same images: the shared photos copied
# IMAGES times in all (default 120), full size, so decoding is timed too. ROUNDS (default 3) rounds run
# every row once, in turn, so that a change of the machine's load hits them alike; medians are printed.
# detc.batch's images/s counts from the first task submitted to the last result (starting and stopping
# the cluster and loading the model are printed apart); the overhead per image is
# 1/(its images/s) - 1/(detc detect's images/s).
# Skipped (exit 0) when python3-distributed or ../shared is missing. Numbers depend on the machine's load.
set -eu
build=${1:-build}
root=$(cd "$(dirname "$0")/.." && pwd)
shared=${DETC_SHARED:-$root/../shared}
n=${IMAGES:-120}
rounds=${ROUNDS:-3}
python=/usr/bin/python3
detc="$root/$build/detc"
out="$root/$build/bench/dask"
ssd="$shared/models/ssd_mobilenet_v1_coco_quant"

echo "== detc.batch on Dask: SSD MobileNet v1 (uint8), $n images, $rounds rounds"
if ! $python -c "import distributed" 2>/dev/null; then
    echo "  skipped: python3-distributed is not installed"; exit 0
fi
if [ ! -f "$ssd/detect.tflite" ]; then
    echo "  skipped: $ssd/detect.tflite missing"; exit 0
fi
rm -rf "$out"
mkdir -p "$out/images"
$python "$root/tools/detc-convert" tflite "$ssd/detect.tflite" --labels "$ssd/labelmap.txt" -o "$out/ssd.detc" \
    >/dev/null 2>&1
i=0
while [ "$i" -lt "$n" ]; do
    for p in "$shared"/images/*.jpg; do
        [ "$i" -lt "$n" ] || break
        cp "$p" "$out/images/$(printf '%05d' "$i")_$(basename "$p")"
        i=$((i + 1))
    done
done
cat >"$out/loop.py" <<'PY'
import os, sys, time
import detc
m = detc.Model(sys.argv[1])
ctx = m.context()
paths = sorted(os.path.join(sys.argv[2], p) for p in os.listdir(sys.argv[2]))
t = time.perf_counter()
for p in paths:
    ctx.detect(detc.read_image(p))
print("%.2f" % (len(paths) / (time.perf_counter() - t)))
PY

export PYTHONPATH="$root/tools/python" DETC_LIBRARY="$root/$build/libdetc.so.1" OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1

now() { $python -c 'import time; print(time.time())'; }
# median FILE: of the numbers in FILE, one a line
median() { sort -n "$1" | awk '{ v[NR] = $1 } END { if (NR) printf "%.2f", NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
r=1
while [ "$r" -le "$rounds" ]; do
    t0=$(now)
    "$detc" detect "$out/ssd.detc" "$out/images" --threads 1 --json "$out/cli.json" >/dev/null
    t1=$(now)
    $python -c "print('%.2f' % ($n / ($t1 - $t0)))" >>"$out/cli.vals"
    $python "$out/loop.py" "$out/ssd.detc" "$out/images" >>"$out/binding.vals"
    for w in 1 2; do
        rm -rf "$out/out$w"
        t0=$(now)
        $python -m detc.batch "$out/ssd.detc" "$out/images" "$out/out$w" --local "$w" --partition-size 20 --quiet \
            >"$out/batch$w.txt" 2>&1 || { echo "  detc.batch --local $w failed:"; tail -n 5 "$out/batch$w.txt"; exit 1; }
        t1=$(now)
        sed -n 's/.*"images_per_second": \([0-9.]*\).*/\1/p' "$out/batch$w.txt" >>"$out/dask$w.vals"
        secs=$(sed -n 's/.*"seconds": \([0-9.]*\).*/\1/p' "$out/batch$w.txt")
        $python -c "print('%.1f' % ($t1 - $t0 - $secs))" >>"$out/start$w.vals"
    done
    r=$((r + 1))
done
# row LABEL TAG [SUFFIX]
row() {
    printf '  %-38s %7s images/s  (rounds: %s)%s\n' "$1" "$(median "$out/$2.vals")" \
        "$(tr '\n' ' ' <"$out/$2.vals" | sed 's/ $//')" "${3:-}"
}
row "detc detect (1 process, 1 thread)" cli
row "Python binding loop (no Dask)" binding
for w in 1 2; do
    row "detc.batch --local $w (1 thread each)" "dask$w" "; cluster start/stop $(median "$out/start$w.vals") s"
done
$python -c "
cli, b, d1, d2 = $(median "$out/cli.vals"), $(median "$out/binding.vals"), $(median "$out/dask1.vals"), $(median "$out/dask2.vals")
print('  overhead per image over detc detect: Python binding %+.1f ms, detc.batch 1 worker %+.1f ms'
      % (1000 / b - 1000 / cli, 1000 / d1 - 1000 / cli))
print('  2 workers / 1 worker: %.2fx (on %d cores)' % (d2 / d1, __import__('os').cpu_count()))
"

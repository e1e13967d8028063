#!/bin/sh
# `make bench`, part 3 (tools/bench_ort.sh BUILD): detc next to native peers, ONNX Runtime (MLAS) and
# PyTorch / torchvision, with ../shared/tools/ort-peer (its README): SSD MobileNet v1 f32 and uint8 (ONNX
# graphs built from detc's own .detc weights; ORT uint8 with TFLite's u8 weights and with the same weights
# shifted to s8, its fast VNNI path) and Mask R-CNN R50-FPN 800x800 (torchvision's model with the seeded
# random weights of tools/bench_maskrcnn.sh, exported to ONNX), 1 and 2 threads, in interleaved rounds,
# with correctness checks first. Prints the table: medians and detc / peer ratios (below 1: detc faster),
# with the load other processes put on the machine during each measurement.
#   ROUNDS_SSD (default 5), ROUNDS_R50 (default 3): rounds; QUIET_WAIT (default 20): seconds to wait for a
#   quiet machine before each group. Work files: BUILD/ort-peer. Needs node + npm (onnxruntime-node is
#   installed there), python3-onnx, python3-torch, python3-torchvision, and the R50 model that
#   tools/bench_maskrcnn.sh caches in BUILD/bench/maskrcnn/r50. The peer scripts run BUILD/detc.
set -eu
build=${1:-build}
root=$(cd "$(dirname "$0")/.." && pwd)
# peers given --threads N hold OpenBLAS's own thread pool to N as well (tools/peer_env/blas_threads.py)
export PYTHONPATH="$root/tools/peer_env${PYTHONPATH:+:$PYTHONPATH}"
shared=${DETC_SHARED:-$root/../shared}
peer="$shared/tools/ort-peer"
echo
echo "== native peers: ONNX Runtime and PyTorch / torchvision ($peer)"
if [ ! -f "$peer/run_all.sh" ]; then
    echo "  skipped: $peer/run_all.sh not found"
    exit 0
fi
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    echo "  skipped: needs node and npm (onnxruntime-node)"
    exit 0
fi
if [ ! -f "$root/$build/bench/maskrcnn/r50/r50_800.detc" ]; then
    echo "  skipped: run tools/bench_maskrcnn.sh $build first (it makes the R50 model)"
    exit 0
fi
work="$root/$build/ort-peer"
# run_all.sh times $DETC_ROOT/build/detc: point a private root's build/ at BUILD when BUILD is not build
droot=$root
if [ "$build" != build ]; then
    droot="$work/root"
    mkdir -p "$droot"
    ln -sfn "$root/$build" "$droot/build"
    ln -sfn "$root/tools" "$droot/tools"
fi
cd "$droot"
DETC_ROOT="$droot" SHARED="$shared" WORK="$work" ROUNDS_SSD="${ROUNDS_SSD:-5}" ROUNDS_R50="${ROUNDS_R50:-3}" \
    QUIET_WAIT="${QUIET_WAIT:-20}" sh "$peer/run_all.sh" >"$work.log" 2>&1 || {
    echo "  failed: see $work.log"
    tail -n 5 "$work.log"
    exit 1
}
echo "  correctness (detc vs peers):"
sed 's/^/    /' "$work/results/ssd_correctness.txt" | head -n 12
sed 's/^/    /' "$work/results/r50_correctness.txt" | head -n 12
echo
cat "$work/results/table.md"

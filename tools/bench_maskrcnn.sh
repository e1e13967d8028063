#!/bin/sh
# Mask R-CNN: detc next to torchvision on the same machine, in one run; medians and ratios.
#   tools/bench_maskrcnn.sh [BUILD]      (RUNS=N timed runs per measurement, default 5)
# (a) the shapes model (../shared/models/maskrcnn_r18fpn_shapes, ResNet-18 FPN, 256x256) on a few of
#     its validation images, 1 and 2 threads;
# (b) torchvision's maskrcnn_resnet50_fpn (91 classes) with seeded random weights
#     (tools/torchvision_ref.py --random-r50 5) on an 800x800 picture (800x800 after torchvision's
#     transform: scale 1, no padding), 1 and 2 threads; weights, picture and .detc are cached in
#     BUILD/bench/maskrcnn/;
# (c) peak RSS (/usr/bin/time -v) of `detc detect --threshold 0` on (b) (every detection, masks pasted
#     at 800x800) next to the .detc size and torchvision's peak RSS for model([image]) in a fresh process
#     (it returns and pastes every detection too), and what python + import torch alone takes.
# What is timed: `detc bench` times the graph (preprocessed input -> outputs, masks as 28x28
# probabilities); `torchvision_ref.py --time` times backbone + rpn + roi_heads on the transformed
# image tensor (same scope), model.eval(), torch.no_grad(), torch.set_num_threads(T). Both take one
# warm-up run first (not timed). detc and torchvision alternate per image and thread count, so both
# see the same machine load. Per image: medians (and minima, the better estimate on a loaded machine);
# ratio = detc / torchvision of the medians (below 1: detc faster). torchvision runs the mask head on
# the detections only, detc on all box_detections_per_img (100) rows, whatever the count.
# Speed is measured here, never in tests. Numbers depend on the machine's load: run it on an idle one.
set -eu
build=${1:-build}
root=$(cd "$(dirname "$0")/.." && pwd)
# peers given --threads N hold OpenBLAS's own thread pool to N as well (tools/peer_env/blas_threads.py)
export PYTHONPATH="$root/tools/peer_env${PYTHONPATH:+:$PYTHONPATH}"
shared=${DETC_SHARED:-$root/../shared}
runs=${RUNS:-5}
py=/usr/bin/python3
detc="$root/$build/detc"
ref="$root/tools/torchvision_ref.py"
out="$root/$build/bench/maskrcnn"
mkdir -p "$out"

if [ ! -x "$detc" ]; then
    echo "bench_maskrcnn: $detc not found (make BUILD=$build all)" >&2
    exit 1
fi
have_torch=0
if "$py" -c "import torch, torchvision" >/dev/null 2>&1; then
    have_torch=1
fi

detc_median() { sed -n 's/^latency ms: median \([0-9.]*\).*/\1/p' "$1"; }
tv_median() { sed -n 's/.* median_ms \([0-9.]*\) .*/\1/p' "$1"; }
detc_min() { sed -n 's/^latency ms: .* min \([0-9.]*\).*/\1/p' "$1"; }
tv_min() { sed -n 's/.* min_ms \([0-9.]*\) .*/\1/p' "$1"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else printf "-" }'; }
median_of() { sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "-"; else if (NR % 2) print v[(NR + 1) / 2];
                                               else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
rss_kib() { sed -n 's/.*Maximum resident set size (kbytes): //p' "$1"; }

# measure TAG MODEL IMAGE TV_ARGS... : detc then torchvision on IMAGE with 1 and 2 threads; one line each
measure() {
    tag=$1 model=$2 image=$3
    shift 3
    for t in 1 2; do
        f="$out/${tag}_detc_t$t.txt"
        "$detc" bench "$model" "$image" --runs "$runs" --warmup 1 --threads "$t" --top 15 >"$f"
        d=$(detc_median "$f")
        echo "$t $d" >>"$out/${tag}_detc.med"
        if [ "$have_torch" = 1 ]; then
            g="$out/${tag}_tv_t$t.txt"
            if ! "$py" "$ref" "$@" --image "$image" --time --runs "$runs" --warmup 1 --threads "$t" >"$g" 2>"$g.err"; then
                cat "$g.err" >&2
                exit 1
            fi
            v=$(tv_median "$g")
            echo "$t $v" >>"$out/${tag}_tv.med"
            n=$(sed -n 's/.* detections \([0-9]*\).*/\1/p' "$g")
            printf "  %-16s %d thread%s  detc %9.1f ms (min %9.1f)   torchvision %9.1f ms (min %9.1f)   ratio %s   (%s detections)\n" \
                "$(basename "$image")" "$t" "$([ "$t" = 1 ] && echo " " || echo s)" "$d" "$(detc_min "$f")" "$v" \
                "$(tv_min "$g")" "$(ratio "$d" "$v")" "$n"
        else
            printf "  %-16s %d thread%s  detc %9.1f ms (min %9.1f)\n" "$(basename "$image")" "$t" \
                "$([ "$t" = 1 ] && echo " " || echo s)" "$d" "$(detc_min "$f")"
        fi
    done
}

summary() {
    tag=$1
    for t in 1 2; do
        d=$(awk -v t="$t" '$1 == t { print $2 }' "$out/${tag}_detc.med" | median_of)
        if [ "$have_torch" = 1 ]; then
            v=$(awk -v t="$t" '$1 == t { print $2 }' "$out/${tag}_tv.med" | median_of)
            echo "  median over images, $t thread(s): detc $d ms, torchvision $v ms, ratio detc/torchvision $(ratio "$d" "$v")"
        else
            echo "  median over images, $t thread(s): detc $d ms"
        fi
    done
}

echo "== Mask R-CNN: detc vs torchvision, $runs timed runs each (after 1 warm-up), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
[ "$have_torch" = 1 ] && "$py" -c "import torch, torchvision; print('   torch %s, torchvision %s' % (torch.__version__, torchvision.__version__))"
[ "$have_torch" = 1 ] || echo "   torchvision: not installed (apt-get install python3-torch python3-torchvision); detc alone"

# -- (a) shapes model ------------------------------------------------------------------------------
shapes="$shared/models/maskrcnn_r18fpn_shapes"
echo
echo "== (a) shapes Mask R-CNN (ResNet-18 FPN 128, 4 classes), 256x256 validation images"
if [ ! -f "$shapes/maskrcnn_r18fpn_shapes.pth" ]; then
    echo "   skipped: $shapes not found (shared models live in ../shared/models)"
else
    "$root/tools/detc-convert" torchvision "$shapes/maskrcnn_r18fpn_shapes.pth" --config "$shapes/config.json" \
        -o "$out/shapes.detc" >/dev/null 2>&1
    rm -f "$out"/shapes_*.med
    for im in shapes_000 shapes_003 shapes_010; do
        measure shapes "$out/shapes.detc" "$shapes/val/$im.png" "$shapes/maskrcnn_r18fpn_shapes.pth" \
            --config "$shapes/config.json"
    done
    summary shapes
fi

# -- (b) R50-FPN, random weights, 800x800 -----------------------------------------------------------
echo
echo "== (b) maskrcnn_resnet50_fpn (91 classes, seeded random weights), 800x800"
r50="$out/r50"
if [ "$have_torch" = 0 ]; then
    echo "   skipped: needs torch and torchvision to make the random ResNet-50 weights"
else
    mkdir -p "$r50"
    if [ ! -f "$r50/r50_800.detc" ] || [ ! -f "$r50/r50_800.png" ]; then
        echo "   making the model (cached in $r50) ..."
        "$py" "$ref" --random-r50 5 --out "$r50" 2>"$r50/make.err" || { cat "$r50/make.err" >&2; exit 1; }
        "$py" - "$r50/r50_800.png" <<'EOF'
import sys
import numpy as np
from PIL import Image
rs = np.random.RandomState(5)
img = np.zeros((800, 800, 3), np.uint8) + rs.randint(0, 255, 3).astype(np.uint8)
for _ in range(24):
    y, x, h, w = rs.randint(0, 700), rs.randint(0, 700), rs.randint(40, 400), rs.randint(40, 400)
    img[y:y + h, x:x + w] = rs.randint(0, 255, 3)
Image.fromarray(img).save(sys.argv[1])
EOF
    fi
    # converted again whenever the converter changed since (the weights and the picture stay cached)
    if [ ! -f "$r50/r50_800.detc" ] || [ -n "$(find "$root/tools/detc_convert" -name '*.py' -newer "$r50/r50_800.detc")" ]; then
        "$root/tools/detc-convert" torchvision "$r50/random_r50_seed5.pth" --config "$r50/random_r50_seed5.json" \
            --input-size 800x800 -o "$r50/r50_800.detc" >/dev/null 2>&1
    fi
    rm -f "$out"/r50_*.med
    # torchvision builds the same seeded model itself (one copy of the weights in memory); its
    # checkpoint copy goes to a scratch folder
    measure r50 "$r50/r50_800.detc" "$r50/r50_800.png" --random-r50 5 --out "$r50/tv_scratch"
    echo "  detc profile (1 thread): $out/r50_detc_t1.txt"
    sed -n '/per op type/,/^$/p' "$out/r50_detc_t1.txt" | sed -n '2,7p'

    # -- (c) peak memory ----------------------------------------------------------------------------
    echo
    echo "== (c) peak memory, R50-FPN 800x800, one image, 1 thread"
    if [ ! -x /usr/bin/time ]; then
        echo "   skipped: /usr/bin/time not installed (apt-get install time)"
    else
        # --threshold 0: every detection the graph returns, masks pasted at 800x800, as torchvision's
        # model([image]) returns (and pastes) all of them
        /usr/bin/time -v "$detc" detect "$r50/r50_800.detc" "$r50/r50_800.png" --threads 1 --threshold 0 \
            >"$out/r50_detect.txt" 2>"$out/r50_detect_time.txt"
        /usr/bin/time -v "$py" "$ref" --random-r50 5 --out "$r50/tv_scratch" --image "$r50/r50_800.png" --time \
            --time-scope full --runs 1 --warmup 0 --threads 1 >"$out/r50_tv_rss.txt" 2>"$out/r50_tv_time.txt"
        /usr/bin/time -v "$py" -c "import torch, torchvision" 2>"$out/torch_import_time.txt"
        size=$(stat -c %s "$r50/r50_800.detc")
        plan=$("$detc" validate "$r50/r50_800.detc" | sed -n 's/.*weights, \(.*\) planned.*/\1/p')
        echo "  detc detect:          peak RSS $(rss_kib "$out/r50_detect_time.txt") KiB  (.detc file $size bytes, mapped; planned activations $plan; $(sed -n 's/.*, \([0-9]*\) detections$/\1/p' "$out/r50_detect.txt") detections, masks pasted)"
        echo "  torchvision model([image]): peak RSS $(rss_kib "$out/r50_tv_time.txt") KiB  ($(sed -n 's/.*after loading the model \([0-9]*\) KiB.*/\1/p' "$out/r50_tv_rss.txt") KiB after building the model; python + import torch, torchvision alone: $(rss_kib "$out/torch_import_time.txt") KiB)"
    fi
    rm -rf "$r50/tv_scratch"
fi

#!/bin/sh
# Installs what the two reference runners need (see tools/README.md). Idempotent; Debian 12, as root.
#   tools/tflite_ref/run.mjs : Node.js >= 18 and npm, then the pinned npm package in tools/tflite_ref
#   tools/armnn_ref.py       : Debian's Arm NN 20.08 (pyarmnn, TFLite parser, CpuRef backend) and numpy
#   tools/face_photo/astronaut.png: a photo with a face for tests/test_blazeface.py (from a Debian package)
# Usage: sh tools/install-reference-runners.sh [--no-armnn] [--no-tflite] [--no-face-photo]
set -eu

here=$(cd "$(dirname "$0")" && pwd)
want_armnn=1
want_tflite=1
want_face=1
for arg in "$@"; do
    case "$arg" in
        --no-armnn) want_armnn=0 ;;
        --no-tflite) want_tflite=0 ;;
        --no-face-photo) want_face=0 ;;
        *) echo "usage: $0 [--no-armnn] [--no-tflite] [--no-face-photo]" >&2; exit 2 ;;
    esac
done

if [ "$(id -u)" -ne 0 ]; then
    echo "install-reference-runners: run as root (apt-get)" >&2
    exit 1
fi

missing=""
need_pkg() {
    # $1: package name
    if ! dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; then
        missing="$missing $1"
    fi
}

if [ "$want_armnn" -eq 1 ]; then
    for p in python3 python3-numpy python3-pyarmnn libarmnntfliteparser22 libarmnn-cpuref-backend22; do
        need_pkg "$p"
    done
fi
if [ "$want_tflite" -eq 1 ]; then
    node_ok=0
    if command -v node >/dev/null 2>&1; then
        major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
        [ "$major" -ge 18 ] && node_ok=1
    fi
    [ "$node_ok" -eq 1 ] || need_pkg nodejs
    command -v npm >/dev/null 2>&1 || need_pkg npm
fi

if [ -n "$missing" ]; then
    echo "install-reference-runners: apt-get install$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # shellcheck disable=SC2086
    apt-get install -y -qq --no-install-recommends $missing
fi

if [ "$want_tflite" -eq 1 ]; then
    cd "$here/tflite_ref"
    wasm=node_modules/@tensorflow/tfjs-tflite/wasm/tflite_web_api_cc_simd.wasm
    pinned=40f49cc2d458ec09bb43db160e9e55f4b3c790a4c1d1fa280f8a61796296cf8e
    if [ -f "$wasm" ] && [ "$(sha256sum "$wasm" | cut -d' ' -f1)" = "$pinned" ]; then
        echo "install-reference-runners: tools/tflite_ref/node_modules already up to date"
    else
        # The project .npmrc (legacy-peer-deps=true) keeps npm from pulling tfjs-core, a peer the
        # runner does not use.
        npm ci --no-audit --no-fund
    fi
fi

# A photo with a human face for the BlazeFace test (the shared photos have none): scikit-image's
# public-domain NASA portrait, taken out of Debian's python3-skimage package without installing it
# and its dependencies.
if [ "$want_face" -eq 1 ]; then
    face="$here/face_photo/astronaut.png"
    if [ -f /usr/lib/python3/dist-packages/skimage/data/astronaut.png ] || [ -f "$face" ]; then
        echo "install-reference-runners: face photo already present"
    else
        tmp=$(mktemp -d)
        chown _apt "$tmp" 2>/dev/null || true # apt downloads as its own user when it can
        (cd "$tmp" && apt-get download -q python3-skimage)
        mkdir -p "$here/face_photo"
        dpkg-deb --fsys-tarfile "$tmp"/python3-skimage_*.deb |
            tar -xO ./usr/lib/python3/dist-packages/skimage/data/astronaut.png > "$face.part"
        mv "$face.part" "$face"
        rm -rf "$tmp"
        echo "install-reference-runners: wrote $face"
    fi
fi

echo "install-reference-runners: done"

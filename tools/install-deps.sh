#!/bin/sh
# Installs the Debian 12 packages detc needs, only those missing. Called by `make test` and friends.
#   tools/install-deps.sh            build + test dependencies (native)
#   tools/install-deps.sh --aarch64  cross-compiler, qemu and arm64 libraries
#   tools/install-deps.sh --armhf    cross-compiler, qemu and armhf (32-bit ARM, hard-float) libraries
set -eu

native="gcc make time pkg-config libopenblas-dev libcjson-dev libjpeg62-turbo-dev libpng-dev python3 python3-numpy libonnx-testdata python3-opencv python3-dask python3-distributed"
cross="gcc-aarch64-linux-gnu qemu-user libc6:arm64 libopenblas-dev:arm64 libcjson-dev:arm64 libjpeg62-turbo-dev:arm64 libpng-dev:arm64"

armhf="gcc-arm-linux-gnueabihf qemu-user libc6:armhf libopenblas-dev:armhf libcjson-dev:armhf libjpeg62-turbo-dev:armhf libpng-dev:armhf"

want=$native
foreign=
case "${1:-}" in
--aarch64) want=$cross; foreign=arm64 ;;
--armhf) want=$armhf; foreign=armhf ;;
esac

missing=""
for p in $want; do
    # "install ok installed" is dpkg's state for a fully installed package
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done
[ -z "$missing" ] && exit 0

echo "detc: installing Debian packages:$missing" >&2
if [ "$(id -u)" -ne 0 ]; then
    SUDO=sudo
    command -v sudo >/dev/null 2>&1 || { echo "detc: run as root or install:$missing" >&2; exit 1; }
else
    SUDO=
fi
if [ -n "$foreign" ] && ! dpkg --print-foreign-architectures | grep -qx "$foreign"; then
    $SUDO dpkg --add-architecture "$foreign"
fi
$SUDO apt-get update -q
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends $missing

#!/usr/bin/python3
"""The shared libraries' exports, and `make install` into temporary prefixes with programs built against the
installed copy only:
  * BUILD/libdetc.so.1 and libdetc-image.so.1 export exactly the DETC_API functions of detc.h, each once.
  * PREFIX=TMP/usr: files in place; pkg-config detc (core + image) and detc-core (core only); examples/*.c
    compiled with `pkg-config --cflags --libs`, run with LD_LIBRARY_PATH, equal to the installed `detc`;
    camera has no libjpeg/libpng anywhere in its libraries; a static link with `pkg-config --static`;
    the installed detc-convert command and the Python package found beside the installed library.
  * PREFIX=/usr DESTDIR=TMP/dest: Debian's layout, pkg-config files saying /usr; `make uninstall` removes
    every file install wrote.
Skipped for sanitizer builds; needs ../shared for the model (the file checks run without it)."""
import glob
import json
import os
import re
import shutil
import sys
import tempfile

from library_common import ABI, BUILD, IMAGES, ROOT, VERSION, Results, needed, run, sanitized

R = Results()
EXAMPLES = os.path.join(ROOT, "examples")


def make(*args):
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    return run(["make", "-C", ROOT, "BUILD=" + os.path.relpath(BUILD, ROOT), *args], env=env)


def installed_files(prefix, destdir=""):
    lib, py = f"{prefix}/lib", f"{prefix}/lib/python3/dist-packages"
    files = [f"{prefix}/bin/detc", f"{prefix}/bin/detc-convert", f"{prefix}/include/detc.h",
             f"{lib}/libdetc.a", f"{lib}/libdetc-image.a", f"{lib}/pkgconfig/detc.pc", f"{lib}/pkgconfig/detc-core.pc",
             f"{py}/detc/__init__.py", f"{py}/detc/batch.py", f"{py}/detc_convert/cli.py", f"{py}/detc_convert/from_tflite.py"]
    for name in ("libdetc", "libdetc-image"):
        files += [f"{lib}/{name}.so", f"{lib}/{name}.so.{ABI}", f"{lib}/{name}.so.{VERSION}"]
    return [destdir + f for f in files]


def pkg_config(prefix, *args):
    env = dict(os.environ, PKG_CONFIG_PATH=f"{prefix}/lib/pkgconfig")
    r = run(["pkg-config", *args], env=env)
    return r.stdout.split() if r.returncode == 0 else None


def compile_example(prefix, name, package, out, *extra):
    flags = pkg_config(prefix, "--cflags", "--libs", package)
    r = run([os.environ.get("CC", "cc"), "-std=c11", "-Wall", "-Wextra", "-Werror", "-O2", "-pthread",
             os.path.join(EXAMPLES, name + ".c"), *(flags or []), *extra, "-o", out])
    R.check(flags is not None and r.returncode == 0, f"{name} against the installed copy: {r.stderr}")
    return r.returncode == 0


def test_prefix(tmp):
    prefix = os.path.join(tmp, "usr")
    r = make("install", "PREFIX=" + prefix, "LDCONFIG=true")  # a temporary prefix: the system's cache untouched
    if not R.check(r.returncode == 0, f"make install PREFIX={prefix}: {r.stdout[-2000:]}{r.stderr[-2000:]}"):
        return
    missing = [f for f in installed_files(prefix) if not os.path.lexists(f)]
    R.check(not missing, f"installed files: missing {missing}")
    R.check(os.path.realpath(f"{prefix}/lib/libdetc.so") == os.path.realpath(f"{prefix}/lib/libdetc.so.{VERSION}"),
            "libdetc.so -> libdetc.so.ABI -> the real file")
    R.check(f"libdetc.so.{ABI}" in run(["readelf", "-d", f"{prefix}/lib/libdetc.so.{VERSION}"]).stdout,
            "SONAME libdetc.so.ABI")
    full, core = pkg_config(prefix, "--cflags", "--libs", "detc"), pkg_config(prefix, "--cflags", "--libs", "detc-core")
    R.check(full is not None and "-ldetc-image" in full and "-ldetc" in full and f"-I{prefix}/include" in full,
            f"pkg-config detc: {full}")
    R.check(core is not None and "-ldetc" in core and "-ldetc-image" not in core, f"pkg-config detc-core: {core}")
    R.check(pkg_config(prefix, "--modversion", "detc") == [VERSION], "pkg-config --modversion detc")
    static = pkg_config(prefix, "--static", "--libs", "detc") or []
    R.check(all(f in static for f in ("-ljpeg", "-lpng", "-lcjson", "-lopenblas")), f"--static: {static}")

    bins = os.path.join(tmp, "bin")
    os.makedirs(bins)
    exe = {n: os.path.join(bins, n) for n in ("detect_file", "camera", "threads", "detect_static")}
    built = compile_example(prefix, "detect_file", "detc", exe["detect_file"])
    built &= compile_example(prefix, "camera", "detc-core", exe["camera"])
    built &= compile_example(prefix, "threads", "detc", exe["threads"])
    # static libdetc: the archives named, their dependencies from pkg-config's Libs.private
    deps = [f for f in static if f.startswith("-l") and not f.startswith("-ldetc")]
    r = run([os.environ.get("CC", "cc"), "-std=c11", os.path.join(EXAMPLES, "detect_file.c"), f"-I{prefix}/include",
             f"{prefix}/lib/libdetc-image.a", f"{prefix}/lib/libdetc.a", *deps, "-o", exe["detect_static"]])
    R.check(r.returncode == 0 and not any("detc" in n for n in needed(exe["detect_static"])),
            f"static link with the installed archives: {r.stderr}")
    if not built:
        return
    libs = needed(exe["camera"])
    R.check(f"libdetc.so.{ABI}" in libs and not any(x in n for n in libs for x in ("jpeg", "png", "detc-image")),
            f"camera NEEDED: {libs}")
    env = dict(os.environ, LD_LIBRARY_PATH=f"{prefix}/lib")
    tree = run(["ldd", exe["camera"]], env=env).stdout
    R.check(f"{prefix}/lib/libdetc.so.{ABI}" in tree and "jpeg" not in tree and "png" not in tree,
            f"camera's libraries (ldd) are the installed libdetc and no libjpeg/libpng:\n{tree}")

    ssd = os.path.join(ROOT, "..", "shared", "models", "ssd_mobilenet_v1_coco_quant")
    if not os.path.exists(os.path.join(ssd, "detect.tflite")):
        R.skip("../shared absent: installed programs not run on a model")
        return
    model = os.path.join(tmp, "ssd.detc")
    # the installed command, with the installed Python package (nothing from the source tree)
    r = run([f"{prefix}/bin/detc-convert", "tflite", os.path.join(ssd, "detect.tflite"), "--labels",
             os.path.join(ssd, "labelmap.txt"), "-o", model], cwd=tmp)
    if not R.check(r.returncode == 0, f"installed detc-convert: {r.stderr}"):
        return
    dog = os.path.join(IMAGES, "dog.jpg")
    cli = run([f"{prefix}/bin/detc", "detect", model, dog], env=env)
    mine = run([exe["detect_file"], model, dog], env=env)
    R.check(cli.returncode == 0 and "dog" in cli.stdout and mine.stdout == cli.stdout,
            f"installed detect_file = installed detc detect:\n{mine.stdout}{mine.stderr}---\n{cli.stdout}")
    r = run([exe["detect_static"], model, dog])
    R.check(r.stdout == cli.stdout, f"statically linked detect_file: {r.stdout}{r.stderr}")
    r = run([exe["threads"], model, dog, os.path.join(IMAGES, "horses.jpg"), "--threads", "4"], env=env)
    R.check(r.returncode == 0 and "8 results compared, 0 different" in r.stdout, f"installed threads: {r.stdout}{r.stderr}")
    r = run([exe["camera"], model, "--frames", "2"], env=env)
    R.check(r.returncode == 0 and r.stdout.count("frame ") == 2, f"installed camera: {r.stdout}{r.stderr}")
    # the binding finds the library beside the package, as installed (no DETC_LIBRARY)
    pyenv = {k: v for k, v in os.environ.items() if k != "DETC_LIBRARY"}
    pyenv["PYTHONPATH"] = f"{prefix}/lib/python3/dist-packages"
    code = ("import detc, sys; m = detc.Model(sys.argv[1]); print(detc.library_path); "
            "print(' '.join(d.label for d in m.detect(sys.argv[2])))")
    r = run([sys.executable, "-c", code, model, dog], env=pyenv, cwd=tmp)
    lines = r.stdout.splitlines()
    R.check(r.returncode == 0 and len(lines) == 2 and lines[0].startswith(prefix) and
            lines[1] == "bicycle car dog person", f"installed Python package: {r.stdout}{r.stderr}")
    # detc.batch installed with it: one image on a local Dask cluster (when Debian's python3-distributed is there)
    try:
        import distributed  # noqa: F401
    except ImportError:
        R.skip("python3-distributed missing: the installed detc.batch not run")
        return
    out = os.path.join(tmp, "batch_out")
    r = run([sys.executable, "-m", "detc.batch", model, dog, out, "--local", "1"], env=pyenv, cwd=tmp)
    recs = [json.loads(line) for p in sorted(glob.glob(os.path.join(out, "part-*.jsonl"))) for line in open(p)]
    R.check(r.returncode == 0 and [d["label"] for rec in recs for d in rec["detections"]] == lines[1].split(),
            f"installed detc.batch --local 1: {r.stdout}{r.stderr}")


def exported(lib):
    r = run(["nm", "-D", "--defined-only", lib])
    return [line.split()[-1] for line in r.stdout.splitlines() if line.split()[1:2] != ["A"]]


def test_exports():
    with open(os.path.join(ROOT, "runtime", "detc.h")) as f:
        declared = set(re.findall(r"DETC_API[^;{]*?\b(detc_\w+)\s*\(", f.read()))
    core = exported(os.path.join(BUILD, f"libdetc.so.{ABI}"))
    image = exported(os.path.join(BUILD, f"libdetc-image.so.{ABI}"))
    R.check(len(declared) > 40 and set(core) | set(image) == declared,
            f"exports = DETC_API functions; not exported: {sorted(declared - set(core) - set(image))}, "
            f"exported but not declared: {sorted((set(core) | set(image)) - declared)}")
    R.check(len(core) + len(image) == len(set(core) | set(image)), "no function exported by both libraries")
    R.check(set(image) == {"detc_image_read", "detc_image_read_upright", "detc_image_write", "detc_image_release", "detc_draw_detections"},
            f"libdetc-image exports the image-file and drawing functions: {image}")


def test_destdir(tmp):
    dest = os.path.join(tmp, "dest")
    r = make("install", "PREFIX=/usr", "DESTDIR=" + dest)
    if not R.check(r.returncode == 0, f"make install PREFIX=/usr DESTDIR=...: {r.stderr[-2000:]}"):
        return
    files = installed_files("/usr", dest)
    R.check(all(os.path.lexists(f) for f in files), "DESTDIR install: every file under DESTDIR/usr")
    with open(f"{dest}/usr/lib/pkgconfig/detc-core.pc") as f:
        pc = f.read()
    R.check("prefix=/usr\n" in pc and "libdir=/usr/lib\n" in pc and dest not in pc, f"detc-core.pc: {pc}")
    with open(f"{dest}/usr/bin/detc-convert") as f:
        R.check("/usr/lib/python3/dist-packages" in f.read(), "detc-convert launcher points at PREFIX's packages")
    r = make("uninstall", "PREFIX=/usr", "DESTDIR=" + dest)
    left = [os.path.join(d, f) for d, _, fs in os.walk(dest) for f in fs]
    R.check(r.returncode == 0 and not left, f"make uninstall leaves no file: {left[:10]} {r.stderr}")


def main():
    so = os.path.join(BUILD, f"libdetc.so.{ABI}")
    if not os.path.exists(so):
        R.check(False, f"{so} not built")
        return R.finish()
    if sanitized(so):
        R.skip("sanitizer build: the install test runs on the plain build")
        return R.finish()
    for tool in ("make", "pkg-config", "readelf", "ldd", "nm"):
        if not shutil.which(tool):
            R.skip(f"{tool} absent: install not tested")
            return R.finish()
    test_exports()
    tmp = tempfile.mkdtemp(prefix="detc_install_")
    try:
        test_prefix(tmp)
        test_destdir(tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return R.finish()


if __name__ == "__main__":
    sys.exit(main())

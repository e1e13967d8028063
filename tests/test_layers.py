#!/usr/bin/python3
"""The library's layers, checked on the sources and on the built objects.

    /usr/bin/python3 tests/test_layers.py        (DETC_BIN: build/detc; the libraries sit beside it)

Layers, bottom to top (README "Layers"):
    engine    runtime/*.c, runtime/kernels*,  graph, prepare, plan, run, contexts, and the ops (one per file,
              ops/*.c                          found through ops/registry.c); no file I/O
    models    models/*.c                       pipelines on pixel buffers
    api       runtime/api/*.c                  detc.h entry points that need a pipeline or a file
    image     runtime/io/*.c                   JPEG/PNG files, drawing, .npy (libdetc-image)
A layer may use the ones below it, never one above. Checked twice: #include lines in the sources, and the
undefined symbols of each object file against the symbols the higher layers' objects define (nm), so a
call upward fails this test even without an include. Ops see the graph (graph.h), not the model or its
contexts (model.h). Also: libdetc.a needs neither libjpeg nor libpng,
and the engine makes no file-system calls.
"""

import glob
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LAYERS = ["engine", "models", "api", "image"]
passed = failed = skipped = 0


def check(ok, what):
    global passed, failed
    if ok:
        passed += 1
    else:
        failed += 1
        print("FAIL " + what)


def layer_of(rel):
    if rel.startswith("runtime/io/"):
        return "image"
    if rel.startswith("runtime/api/"):
        return "api"
    if rel.startswith("runtime/"):
        return "engine"
    if rel.startswith("ops/"):
        return "engine"
    if rel.startswith("models/"):
        return "models"
    return None


def sources():
    out = []
    for pat in ("runtime/**/*.c", "runtime/**/*.h", "runtime/*.c", "runtime/*.h", "ops/*.c", "ops/*.h", "models/*.c",
                "models/*.h"):
        out += glob.glob(os.path.join(ROOT, pat), recursive=True)
    return sorted(set(out))


def header_layers():
    """Header base name -> layer of the folder holding it."""
    h = {}
    for path in sources():
        if path.endswith(".h"):
            h[os.path.basename(path)] = layer_of(os.path.relpath(path, ROOT))
    h["detc.h"] = "engine"  # the public header: types and declarations every layer may see
    return h


def test_includes():
    """One check per source file: its includes and, in the engine, its calls."""
    hl = header_layers()
    inc = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)
    for path in sources():
        rel = os.path.relpath(path, ROOT)
        mine = layer_of(rel)
        with open(path, encoding="utf-8") as f:
            text = f.read()
        problems = []
        for name in inc.findall(text):
            base = os.path.basename(name)
            if rel.startswith("ops/") and base in ("model.h", "pipeline.h"):
                problems.append("ops see the graph, not %s" % name)
            theirs = hl.get(base)
            if theirs is not None and LAYERS.index(theirs) > LAYERS.index(mine):
                problems.append("includes %s (%s), a higher layer" % (name, theirs))
        if mine == "engine":
            code = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
            for call in ("fopen", "open(", "mmap(", "opendir", "stat("):
                if re.search(r"\b" + re.escape(call), code):
                    problems.append("the engine makes no file-system calls (found %s)" % call.rstrip("("))
        check(not problems, "%s (%s): %s" % (rel, mine, "; ".join(problems)))


def nm(path, *flags):
    r = subprocess.run(["nm", *flags, path], capture_output=True, text=True)
    return r.stdout if r.returncode == 0 else None


def test_objects():
    global skipped
    build = os.path.dirname(os.environ.get("DETC_BIN", os.path.join(ROOT, "build", "detc")))
    if not os.path.isabs(build):
        build = os.path.join(ROOT, build)
    objdir = os.path.join(build, "obj")
    # objects of today's sources only (a build folder may keep objects of moved files)
    objs = [p for p in glob.glob(os.path.join(objdir, "**", "*.o"), recursive=True)
            if layer_of(os.path.relpath(p, objdir)) is not None
            and os.path.exists(os.path.join(ROOT, os.path.relpath(p, objdir)[:-2] + ".c"))]
    if not objs or nm(objs[0]) is None:
        print("SKIP object checks: no objects under %s or no nm" % objdir)
        skipped += 1
        return
    defined = {}  # symbol -> layer
    undefined = {}  # object -> symbols
    for o in objs:
        layer = layer_of(os.path.relpath(o, objdir))
        for line in (nm(o) or "").splitlines():
            parts = line.split()
            if len(parts) == 3 and parts[1] in "TDBR":
                defined[parts[2]] = layer
            elif len(parts) == 2 and parts[0] == "U":
                undefined.setdefault(o, []).append(parts[1])
    for o, syms in sorted(undefined.items()):
        mine = layer_of(os.path.relpath(o, objdir))
        up = [s for s in syms if s in defined and LAYERS.index(defined[s]) > LAYERS.index(mine)]
        check(not up, "%s (%s) calls up into %s" % (os.path.relpath(o, objdir), mine,
                                                       ", ".join("%s (%s)" % (s, defined[s]) for s in up)))
    core = os.path.join(build, "libdetc.a")
    text = nm(core, "-u") if os.path.exists(core) else None
    if text is None:
        print("SKIP libdetc.a not built")
        skipped += 1
        return
    image_syms = sorted({s for s in re.findall(r"\b(?:jpeg_|png_)\w+", text)})
    check(not image_syms, "libdetc.a (the core) needs no image library: %s" % ", ".join(image_syms[:5]))


test_includes()
test_objects()
print("%d passed, %d failed%s" % (passed, failed, ", %d skipped" % skipped if skipped else ""))
sys.exit(1 if failed else 0)

#!/usr/bin/python3
"""detc.batch on Dask distributed: a real scheduler and two worker processes on 127.0.0.1 (started here),
220 small images made from the shared photos plus two bad files. Every image has exactly one record, the
detections equal `detc detect --json` (labels, classes, float32 scores and boxes), bad files are error
records, one worker SIGKILLed in the middle of a partition does not lose or repeat images, each worker
process loads the model once, a re-run does nothing, another job's OUT_DIR is refused, --local works, and
nothing listens beyond loopback. Skips when dask/distributed, OpenCV (to make the images) or ../shared are
missing, and for sanitizer builds (their libraries cannot be loaded into python3)."""
import glob
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

import numpy as np

from library_common import ABI, BUILD, DETC, IMAGES, ROOT, Results, convert_ssd, run, sanitized

R = Results()
LIB = os.path.join(BUILD, "libdetc.so.%d" % ABI)
PY = sys.executable
N_IMAGES = 220
PART = 10


def env():
    e = dict(os.environ)
    e["PYTHONPATH"] = os.path.join(ROOT, "tools", "python")
    e["DETC_LIBRARY"] = LIB
    e["OMP_NUM_THREADS"] = e["OPENBLAS_NUM_THREADS"] = "1"
    return e


def make_images(folder):
    """N_IMAGES variations of the shared photos (sizes, flips, brightness; JPEG and PNG) and two bad files."""
    import cv2
    photos = sorted(glob.glob(os.path.join(IMAGES, "*.jpg")))
    srcs = [cv2.imread(p) for p in photos]
    for i in range(N_IMAGES):
        img = srcs[i % len(srcs)]
        w = 96 + (i * 37) % 160
        h = max(16, int(img.shape[0] * w / img.shape[1]) + (i % 5) * 3)
        out = cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA)
        if i % 2:
            out = out[:, ::-1]
        out = np.clip(out.astype(np.int16) + (i % 7) * 4 - 12, 0, 255).astype(np.uint8)
        name = os.path.join(folder, "img%04d.%s" % (i, "png" if i % 5 == 0 else "jpg"))
        cv2.imwrite(name, out)
    with open(os.path.join(folder, "bad_text.jpg"), "w") as f:
        f.write("not an image\n")
    with open(os.path.join(folder, "img0001.jpg"), "rb") as f:
        data = f.read()
    with open(os.path.join(folder, "bad_truncated.jpg"), "wb") as f:
        f.write(data[:len(data) // 3])


def records(out_dir):
    recs = []
    for p in sorted(glob.glob(os.path.join(out_dir, "part-*.jsonl"))):
        with open(p) as f:
            recs += [json.loads(line) for line in f]
    return recs


def same_detections(got, cli):
    if set(got) != set(cli) or (got["width"], got["height"]) != (cli["width"], cli["height"]) or len(got["detections"]) != len(cli["detections"]):
        return False
    for d, c in zip(got["detections"], cli["detections"]):
        if set(d) != set(c) or (d["label"], d["class_id"]) != (c["label"], c["class_id"]):
            return False
        if np.float32(d["score"]) != np.float32(c["score"]) or not np.array_equal(np.float32(d["box"]),
                                                                                  np.float32(c["box"])):
            return False
    return True


def summary_of(text):
    m = re.search(r"detc\.batch: summary (\{.*\})", text)
    return json.loads(m.group(1)) if m else None


def listening(pids):
    """Local addresses the processes listen on (TCP), from ss; None when ss is missing."""
    r = run(["ss", "-ltnpH"]) if os.path.exists("/usr/bin/ss") or os.path.exists("/bin/ss") else None
    if r is None or r.returncode != 0:
        return None
    out = []
    for line in r.stdout.splitlines():
        if any("pid=%d," % p in line for p in pids):
            out.append(line.split()[3])
    return out


def wait_for(cond, timeout, step=0.05):
    end = time.time() + timeout
    while time.time() < end:
        v = cond()
        if v:
            return v
        time.sleep(step)
    return None


def test_cluster(tmp, model, images):
    from distributed import Client
    e = env()
    sched_file = os.path.join(tmp, "scheduler.json")
    logs = open(os.path.join(tmp, "cluster.log"), "w")
    procs = []
    try:
        procs.append(subprocess.Popen([PY, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port", "0",
                                       "--no-dashboard", "--dashboard-address", "127.0.0.1:0", "--no-show",
                                       "--scheduler-file", sched_file], env=e, stdout=logs, stderr=logs))
        if not R.check(wait_for(lambda: os.path.exists(sched_file) and os.path.getsize(sched_file) > 0, 30),
                       "dask-scheduler wrote its address"):
            return
        time.sleep(0.1)
        with open(sched_file) as f:
            address = json.load(f)["address"]
        R.check(address.startswith("tcp://127.0.0.1:"), "scheduler on loopback: " + address)
        for _ in range(2):
            procs.append(subprocess.Popen([PY, "-m", "distributed.cli.dask_worker", address, "--host", "127.0.0.1",
                                           "--nthreads", "1", "--no-nanny", "--no-dashboard", "--dashboard-address",
                                           "127.0.0.1:0", "--death-timeout", "60"],
                                          env=e, stdout=logs, stderr=logs))
        with Client(address, timeout=30) as c:
            c.wait_for_workers(2, timeout=60)
        victim = procs[1]
        addrs = listening([p.pid for p in procs])
        if addrs is None:
            R.skip("ss missing: listening addresses not checked")
        else:
            R.check(addrs and all(a.startswith("127.0.0.1:") for a in addrs), "listening on loopback only: %s" % addrs)

        # the run, with one worker killed while it is inside a partition
        out = os.path.join(tmp, "out")
        batch = subprocess.Popen([PY, "-m", "detc.batch", model, images, out, "--scheduler", address,
                                  "--partition-size", str(PART)], env=e, stdout=subprocess.PIPE,
                                 stderr=subprocess.STDOUT, text=True)
        pattern = os.path.join(out, ".part-*.%d.*.tmp" % victim.pid)
        seen = set()

        def second_partition():  # the victim busy on its second partition (it has finished one)
            for p in glob.glob(pattern):
                seen.add(os.path.basename(p).split(".")[1])
                try:
                    if len(seen) > 1 and os.path.getsize(p) > 0:
                        return True
                except OSError:  # renamed meanwhile: that partition is done
                    pass
            return False
        busy = wait_for(second_partition, 60, 0.01)
        if R.check(busy, "the worker to kill was seen inside its second partition"):
            victim.send_signal(signal.SIGKILL)
            victim.wait()
        try:
            text, _ = batch.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            batch.kill()
            text, _ = batch.communicate()
        if not R.check(batch.returncode == 0, "detc.batch with a worker killed: exit %s\n%s" % (batch.returncode, text)):
            return
        s = summary_of(text)
        recs = records(out)
        files = [r["file"] for r in recs]
        expected = sorted(glob.glob(os.path.join(images, "*")))
        R.check(sorted(files) == expected, "every image exactly once: %d records, %d distinct, %d images"
                % (len(files), len(set(files)), len(expected)))
        R.check(len(glob.glob(os.path.join(out, "part-*.jsonl"))) == -(-len(expected) // PART), "one file per partition")
        R.check(not glob.glob(os.path.join(out, ".*.tmp")), "no temporary files left")
        R.check(s and s["images"] == len(expected) and s["errors"] == 2, "summary: %s" % s)
        R.check(s and s["model_loads"] == s["worker_processes"] >= 1,
                "the model loaded once per worker process: %s" % s)

        # the same records as the CLI
        r = run([DETC, "detect", model, images, "--json", "-"])
        cli = {os.path.abspath(i["file"]): i for i in json.loads(r.stdout)["images"]}
        R.check(len(cli) == N_IMAGES, "detc detect ran %d images" % len(cli))
        by_file = {rec["file"]: rec for rec in recs}
        diff = [f for f in cli if f not in by_file or not same_detections(by_file[f], cli[f])]
        R.check(not diff, "detections equal detc detect --json: %d differ (%s)" % (len(diff), diff[:3]))
        R.check(sum(len(c["detections"]) for c in cli.values()) > 100, "the images have detections")
        bad = [rec for rec in recs if "error" in rec]
        R.check(sorted(b["file"] for b in bad) == [os.path.join(images, n) for n in ("bad_text.jpg", "bad_truncated.jpg")]
                and all(set(b) == {"file", "error"} and b["error"] for b in bad), "bad images are error records: %s" % bad)

        # a re-run does nothing
        mtimes = {p: os.stat(p).st_mtime_ns for p in glob.glob(os.path.join(out, "*"))}
        r = run([PY, "-m", "detc.batch", model, images, out, "--scheduler", address, "--partition-size", str(PART)], env=e)
        s = summary_of(r.stdout)
        R.check(r.returncode == 0 and s and s["partitions_run"] == 0 and s["images"] == len(expected),
                "re-run: nothing to do: %s%s" % (r.stdout, r.stderr))
        R.check(mtimes == {p: os.stat(p).st_mtime_ns for p in glob.glob(os.path.join(out, "*"))},
                "re-run: OUT_DIR untouched")
        # another job's OUT_DIR
        r = run([PY, "-m", "detc.batch", model, images, out, "--scheduler", address, "--threshold", "0.3"], env=e)
        R.check(r.returncode != 0 and "another job" in r.stderr, "another job's OUT_DIR refused: %s" % r.stderr)
        # a model the workers cannot load: detc's message (a detc.Error pickled whole), OUT_DIR not claimed
        notmodel = os.path.join(tmp, "not_a_model.detc")
        with open(notmodel, "w") as f:
            f.write("this is not a detc model, only text\n")
        out2 = os.path.join(tmp, "out_bad_model")
        r = run([PY, "-m", "detc.batch", notmodel, images, out2, "--scheduler", address], env=e)
        R.check(r.returncode != 0 and "bad magic" in r.stderr and "DETCMODL" in r.stderr
                and not os.path.exists(os.path.join(out2, "job.json")), "a bad model: %s" % r.stderr)
    finally:
        for p in reversed(procs):
            if p.poll() is None:
                p.terminate()
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        logs.close()


def test_local_and_inputs(tmp, model, images):
    """--local 1 with a list file of paths (relative to the list), and the three INPUTS forms."""
    e = env()
    listing = os.path.join(tmp, "list.txt")
    names = ["img0003.jpg", "img0010.png", "bad_text.jpg"]
    with open(listing, "w") as f:
        f.write("# a comment\n\n" + "".join("images/%s\n" % n for n in names))
    out = os.path.join(tmp, "out_local")
    r = run([PY, "-m", "detc.batch", model, listing, out, "--local", "1", "--threads-per-worker", "2", "--threshold",
             "0.3", "--partition-size", "1"], env=e, cwd="/")
    s = summary_of(r.stdout)
    R.check(r.returncode == 0 and s and s["images"] == 3 and s["errors"] == 1, "--local 1: %s%s" % (r.stdout, r.stderr))
    R.check(s and s["worker_processes"] == 1 and s["model_loads"] == 1, "two threads share one model: %s" % s)
    R.check("dashboard" in r.stdout, "the dashboard's address (or why there is none) is printed")
    recs = records(out)
    R.check(sorted(x["file"] for x in recs) == sorted(os.path.join(images, n) for n in names), "list file: records")
    cli = json.loads(run([DETC, "detect", model, os.path.join(images, "img0003.jpg"), "--json", "-", "--threshold",
                          "0.3"]).stdout)["images"][0]
    got = [x for x in recs if x["file"].endswith("img0003.jpg")][0]
    R.check(same_detections(got, cli), "--threshold passed to the workers")

    code = ("import sys, json; from detc.batch import list_inputs as l; "
            "print(json.dumps([len(l(a)) for a in sys.argv[1:]]))")
    r = run([PY, "-c", code, images, os.path.join(images, "*.png"), listing], env=e)
    R.check(r.returncode == 0 and json.loads(r.stdout) == [N_IMAGES + 2, N_IMAGES // 5, 3],
            "INPUTS as a directory, a glob, a list: %s%s" % (r.stdout, r.stderr))


def main():
    try:
        import distributed  # noqa: F401
        import dask  # noqa: F401
    except ImportError as e:
        R.skip("dask/distributed not installed (%s)" % e)
        return R.finish()
    try:
        import cv2  # noqa: F401
    except ImportError:
        R.skip("OpenCV missing: the test images cannot be made")
        return R.finish()
    if not os.path.exists(LIB) or sanitized(LIB):
        R.skip("%s missing or built with a sanitizer" % LIB)
        return R.finish()
    with tempfile.TemporaryDirectory(prefix="detc_dask_") as tmp:
        model = convert_ssd(os.path.join(tmp, "ssd.detc"))
        if model is None:
            R.skip("../shared has no SSD model")
            return R.finish()
        images = os.path.join(tmp, "images")
        os.mkdir(images)
        make_images(images)
        t0 = time.time()
        test_cluster(tmp, model, images)
        t1 = time.time()
        test_local_and_inputs(tmp, model, images)
        print("cluster test %.1f s, local test %.1f s" % (t1 - t0, time.time() - t1))
    return R.finish()


if __name__ == "__main__":
    sys.exit(main())

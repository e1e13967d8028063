"""Detection over many images on a Dask cluster (Dask distributed drives detc through this binding).

    python3 -m detc.batch MODEL INPUTS OUT_DIR [--scheduler tcp://HOST:PORT | --local N] [--threshold T]
                          [--partition-size N] [--threads-per-worker N] [--dashboard-address ADDR]

INPUTS is a directory (its .jpg/.jpeg/.png files, as `detc detect DIR` takes them), a glob ("photos/*/*.jpg",
quoted; ** for subfolders), one image file, or a text file of image paths, one a line (relative ones are
relative to the list file's folder; blank lines and lines starting with # are ignored).
Paths are made absolute: every worker must see the images, the model and OUT_DIR at the same paths (a
shared filesystem, or one machine).

The sorted image list is cut into partitions of --partition-size images; a Dask task runs one partition
and writes OUT_DIR/part-NNNNNN.jsonl, one JSON object per image, the records of `detc detect --jsonl`:
{"file", "width", "height", "detections": [{"label", "class_id", "score", "box", "mask"?}]}; an image
that cannot be read or run is a record {"file", "error"} instead, never a failed task. A partition's file
is written under a temporary name and renamed when complete, so it is there whole or not at all: a
worker lost in the middle leaves no partial file and Dask runs the partition again elsewhere. A re-run
with the same arguments skips the partitions already written (OUT_DIR/job.json records the job; another
job's OUT_DIR is refused).

Each worker process loads the model once; each of its threads runs its own detc context on it.
"""
import argparse
import glob
import hashlib
import json
import os
import socket
import sys
import threading
import time

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png")
JOB_FILE = "job.json"
PART_FORMAT = "part-%06d.jsonl"


# ---------------------------------------------------------------------------------------------- inputs

def _is_glob(s):
    return any(c in s for c in "*?[")


def list_inputs(inputs):
    """The images named by INPUTS (directory, glob or list file), absolute and sorted, without repeats."""
    if os.path.isdir(inputs):
        names = [n for n in os.listdir(inputs) if not n.startswith(".") and n.lower().endswith(IMAGE_EXTENSIONS)]
        paths = [os.path.join(inputs, n) for n in names]
    elif os.path.isfile(inputs) and inputs.lower().endswith(IMAGE_EXTENSIONS):
        paths = [inputs]  # one image
    elif os.path.isfile(inputs):
        with open(inputs, encoding="utf-8") as f:
            paths = [line.strip() for line in f]
        base = os.path.dirname(os.path.abspath(inputs))
        # relative entries are relative to the list file's folder
        paths = [os.path.join(base, p) for p in paths if p and not p.startswith("#")]
    elif _is_glob(inputs):
        paths = [p for p in glob.glob(inputs, recursive=True) if not os.path.isdir(p)]
    else:
        raise SystemExit("detc.batch: %s: no such directory, file or matching glob" % inputs)
    return sorted(set(os.path.abspath(p) for p in paths))


def partitions(paths, size):
    return [paths[i:i + size] for i in range(0, len(paths), size)]


# ---------------------------------------------------------------------------------------------- records

def image_record(path, dets, width, height, orientation=1):
    """The JSON record of `detc detect --jsonl` for one image (tools/cli/cmd_detect.c, detections_json)."""
    out = []
    for d in dets:
        o = {"label": d.label, "class_id": d.class_id, "score": float(d.score), "box": [float(v) for v in d.box]}
        if d.mask is not None:
            o["mask"] = {"size": [height, width], "counts": d.rle or ""}
        out.append(o)
    return {"file": path, "width": width, "height": height, "orientation": orientation, "detections": out}


# ---------------------------------------------------------------------------------------------- worker side

_state_lock = threading.Lock()
_models = {}  # (model path, threshold) -> detc.Model, one per worker process
_loads = [0]  # models loaded by this process (reported with each partition)
_local = threading.local()  # per thread: model key -> detc.Context


def _context(model_path):
    import detc
    with _state_lock:
        model = _models.get(model_path)
        if model is None:
            model = _models[model_path] = detc.Model(model_path)
            _loads[0] += 1
    contexts = getattr(_local, "contexts", None)
    if contexts is None:
        contexts = _local.contexts = {}
    ctx = contexts.get(model_path)
    if ctx is None or ctx.model is not model:
        ctx = contexts[model_path] = model.context()
    return ctx


def load_model(model_path):
    """Loads the model in this worker process now (client.run: every worker, before the first partition);
    returns the process's id."""
    _context(model_path)
    return {"host": socket.gethostname(), "pid": os.getpid()}


def _count(path):
    """Images, detections and errors in a finished partition file."""
    images = detections = errors = 0
    with open(path, encoding="utf-8") as f:
        for line in f:
            rec = json.loads(line)
            images += 1
            if "error" in rec:
                errors += 1
            else:
                detections += len(rec["detections"])
    return images, detections, errors


def run_partition(model_path, threshold, paths, out_dir, index):
    """One Dask task: detections on PATHS into OUT_DIR/part-INDEX.jsonl (temporary file + rename).
    Returns counts, timings and which process did it. A partition already written is only counted."""
    import detc
    final = os.path.join(out_dir, PART_FORMAT % index)
    info = {"index": index, "host": socket.gethostname(), "pid": os.getpid()}
    if os.path.exists(final):
        info["images"], info["detections"], info["errors"] = _count(final)
        info.update(skipped=True, seconds=0.0, model_loads=_loads[0])
        return info
    start = time.perf_counter()
    ctx = _context(model_path)
    tmp = os.path.join(out_dir, ".%s.%s.%d.%d.tmp" % (PART_FORMAT % index, info["host"], os.getpid(),
                                                       threading.get_ident()))
    images = detections = errors = 0
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            for path in paths:
                try:
                    # upright as its EXIF orientation says, as `detc detect` reads it
                    rgb, orientation = detc.read_image(path, exif=True, with_orientation=True)
                    dets = ctx.detect(rgb, threshold=threshold)
                    rec = image_record(path, dets, rgb.shape[1], rgb.shape[0], orientation)
                    detections += len(dets)
                except detc.Error as e:
                    rec = {"file": path, "error": str(e)}
                    errors += 1
                images += 1
                f.write(json.dumps(rec, ensure_ascii=False) + "\n")
                f.flush()  # a killed worker leaves what it did in its temporary file, for a post-mortem
            os.fsync(f.fileno())
        os.replace(tmp, final)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    info.update(images=images, detections=detections, errors=errors, skipped=False,
                seconds=time.perf_counter() - start, model_loads=_loads[0])
    return info


# ---------------------------------------------------------------------------------------------- driver side

def _write_atomic(path, text):
    tmp = "%s.%d.tmp" % (path, os.getpid())
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def prepare_job(model, threshold, paths, partition_size, out_dir):
    """This job's record for OUT_DIR/job.json, after checking that the one there (if any) is the same job.
    Returns (job's id, the record to write, or None when it is there already)."""
    h = hashlib.sha256()
    for p in paths:
        h.update(os.fsencode(p) + b"\0")
    job = {"model": model, "threshold": threshold, "partition_size": partition_size, "images": len(paths),
           "inputs_sha256": h.hexdigest()}
    job_path = os.path.join(out_dir, JOB_FILE)
    if os.path.exists(job_path):
        with open(job_path, encoding="utf-8") as f:
            old = json.load(f)
        if old != job:
            diff = ", ".join(k for k in job if old.get(k) != job[k])
            raise SystemExit("detc.batch: %s holds another job (different %s); use another OUT_DIR or remove it"
                             % (out_dir, diff))
        return job["inputs_sha256"][:12], None
    return job["inputs_sha256"][:12], job


def _bokeh_available():
    import importlib.util
    return importlib.util.find_spec("bokeh") is not None


def _dashboard(client, local):
    """The dashboard's address, or why there is none."""
    if not _bokeh_available():
        return None, ("off: bokeh is not installed (Debian 12 has no python3-bokeh; `pip install 'bokeh<3'` "
                      "for distributed %s enables it)" % _distributed_version())
    try:
        link = client.dashboard_link
    except Exception:
        link = None
    if not link:
        return None, "off: the scheduler serves none" if not local else "off"
    return link, None


def _distributed_version():
    import distributed
    return distributed.__version__


def _start_client(args):
    from distributed import Client, LocalCluster
    if args.scheduler:
        return Client(args.scheduler), None
    # Dask's nannies start workers with MALLOC_TRIM_THRESHOLD_=65536, which also fixes glibc's mmap threshold:
    # every decoded image is then a fresh mmap (about 12% of the throughput here). This cluster is ours.
    import dask
    environ = dict(dask.config.get("distributed.nanny.pre-spawn-environ", {}))
    environ.pop("MALLOC_TRIM_THRESHOLD_", None)
    dask.config.set({"distributed.nanny.pre-spawn-environ": environ})
    bokeh = _bokeh_available()
    dashboard = (args.dashboard_address or "127.0.0.1:8787") if bokeh else None
    cluster = LocalCluster(n_workers=args.local, threads_per_worker=args.threads_per_worker, processes=True,
                           host="127.0.0.1", dashboard_address=dashboard, worker_dashboard_address=None,
                           silence_logs=40)
    return Client(cluster), cluster


def _clean_temporaries(out_dir):
    for n in os.listdir(out_dir):
        if n.startswith(".part-") and n.endswith(".tmp"):
            try:
                os.unlink(os.path.join(out_dir, n))
            except OSError:
                pass


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python3 -m detc.batch", description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model", help="the detc model (a path every worker can read)")
    ap.add_argument("inputs", help="a directory, a glob or a text file of image paths")
    ap.add_argument("out_dir", help="receives part-NNNNNN.jsonl per partition and job.json")
    where = ap.add_mutually_exclusive_group()
    where.add_argument("--scheduler", metavar="ADDRESS", help="join a running Dask cluster (tcp://HOST:PORT)")
    where.add_argument("--local", type=int, metavar="N", help="start a local cluster of N worker processes "
                       "(the default: 1)")
    ap.add_argument("--threshold", type=float, default=None,
                    help="minimum score, 0 to 1 (default: the model's; 0 keeps every detection)")
    ap.add_argument("--partition-size", type=int, default=500, metavar="N", help="images per task (500)")
    ap.add_argument("--threads-per-worker", type=int, default=1, metavar="N",
                    help="with --local: threads (detc contexts) per worker process (1)")
    ap.add_argument("--dashboard-address", metavar="HOST:PORT", help="with --local: where the dashboard "
                    "listens (127.0.0.1:8787)")
    ap.add_argument("--quiet", action="store_true", help="no progress lines")
    args = ap.parse_args(argv)
    if args.threshold is not None and not 0.0 <= args.threshold <= 1.0:
        ap.error("--threshold must be between 0 and 1")
    if args.partition_size < 1 or (args.local is not None and args.local < 1) or args.threads_per_worker < 1:
        ap.error("--partition-size, --local and --threads-per-worker need a positive number")
    if not args.scheduler and args.local is None:
        args.local = 1

    model = os.path.abspath(args.model)
    if not os.path.isfile(model):
        raise SystemExit("detc.batch: %s: no such model file" % args.model)
    out_dir = os.path.abspath(args.out_dir)
    paths = list_inputs(args.inputs)
    if not paths:
        raise SystemExit("detc.batch: %s names no images" % args.inputs)
    job_id, new_job = prepare_job(model, args.threshold, paths, args.partition_size, out_dir)
    parts = partitions(paths, args.partition_size)
    todo = [i for i in range(len(parts)) if not os.path.exists(os.path.join(out_dir, PART_FORMAT % i))]
    if not todo and new_job:
        raise SystemExit("detc.batch: %s has partition files but no %s" % (out_dir, JOB_FILE))
    say = (lambda *a: None) if args.quiet else (lambda *a: print(*a, flush=True))
    say("detc.batch: %d images in %d partitions of up to %d; %d already done, %d to run"
        % (len(paths), len(parts), args.partition_size, len(parts) - len(todo), len(todo)))

    results, failed = {}, {}
    start = time.perf_counter()
    if todo:
        from distributed import as_completed
        client, cluster = _start_client(args)
        try:
            link, why = _dashboard(client, cluster is not None)
            say("detc.batch: scheduler %s, %d workers, %d threads; dashboard %s"
                % (client.scheduler.address, len(client.scheduler_info()["workers"]),
                   sum(client.nthreads().values()), link or why))
            t = time.perf_counter()
            from detc.batch import load_model
            try:
                loaded = client.run(load_model, model)
            except Exception as e:  # detc.Error from a worker: the model is not readable there
                raise SystemExit("detc.batch: loading the model on the workers: %s" % e)
            if new_job:  # OUT_DIR is this job's once the model loads
                os.makedirs(out_dir, exist_ok=True)
                _write_atomic(os.path.join(out_dir, JOB_FILE), json.dumps(new_job, indent=1) + "\n")
            say("detc.batch: model loaded on %d workers in %.2f s" % (len(loaded), time.perf_counter() - t))
            start = time.perf_counter()
            # by reference to the module detc.batch (run as __main__, cloudpickle would copy it by value)
            from detc.batch import run_partition as task
            futures = {client.submit(task, model, args.threshold, parts[i], out_dir, i,
                                     key="detc-%s-%06d" % (job_id, i), retries=2, pure=False): i for i in todo}
            for fut in as_completed(list(futures)):
                try:
                    r = fut.result()
                except Exception as e:  # e.g. KilledWorker: the partition killed every worker it ran on
                    failed[futures[fut]] = "%s: %s" % (type(e).__name__, e)
                    print("detc.batch: %s failed: %s" % (PART_FORMAT % futures[fut], failed[futures[fut]]),
                          file=sys.stderr, flush=True)
                    continue
                finally:
                    fut.release()  # its result is the file: nothing to recompute if that worker is lost later
                results[r["index"]] = r
                say("detc.batch: [%d/%d] %s: %d images, %d errors, %.1f s on %s pid %d"
                    % (len(results) + len(failed), len(todo), PART_FORMAT % r["index"], r["images"], r["errors"],
                       r["seconds"], r["host"], r["pid"]))
        finally:
            client.close()
            if cluster is not None:
                cluster.close()
    elapsed = time.perf_counter() - start
    _clean_temporaries(out_dir)

    images = detections = errors = 0
    for i in range(len(parts)):
        if i in results and not results[i]["skipped"]:
            r = results[i]
            n, d, e = r["images"], r["detections"], r["errors"]
        elif i in failed:
            continue
        else:
            n, d, e = _count(os.path.join(out_dir, PART_FORMAT % i))
        images, detections, errors = images + n, detections + d, errors + e
    ran = sum(r["images"] for r in results.values() if not r["skipped"])
    summary = {"images": images, "detections": detections, "errors": errors, "partitions": len(parts),
               "partitions_run": len(todo), "partitions_failed": len(failed), "images_run": ran, "seconds": round(elapsed, 3),
               "images_per_second": round(ran / elapsed, 2) if ran and elapsed > 0 else 0.0,
               "worker_processes": len({(r["host"], r["pid"]) for r in results.values()}),
               "model_loads": sum(max(r["model_loads"] for r in results.values() if (r["host"], r["pid"]) == w)
                                  for w in {(r["host"], r["pid"]) for r in results.values()})}
    print("detc.batch: %d images, %d detections, %d errors; ran %d images in %.2f s: %.1f images/s"
          % (images, detections, errors, ran, elapsed, summary["images_per_second"]))
    print("detc.batch: summary " + json.dumps(summary), flush=True)
    if failed:
        print("detc.batch: %d partitions failed (%s); run the same command again to retry them"
              % (len(failed), ", ".join(PART_FORMAT % i for i in sorted(failed))), file=sys.stderr)
        return 1
    if images != len(paths):
        print("detc.batch: %d records for %d images" % (images, len(paths)), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

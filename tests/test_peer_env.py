#!/usr/bin/python3
"""tools/peer_env (the benchmarks' PYTHONPATH for the peers they time): a Python process given --threads N gets
OPENBLAS_NUM_THREADS=N before numpy loads OpenBLAS, and OpenBLAS itself then runs N threads (read back from the
library numpy loaded, through its openblas_get_num_threads); a value the caller set is kept; other arguments set
nothing. The OpenBLAS check skips where numpy is not linked against OpenBLAS."""
import os
import subprocess
import sys

from library_common import Results

R = Results()
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PEER_ENV = os.path.join(ROOT, "tools", "peer_env")
sys.path.insert(0, PEER_ENV)
import blas_threads  # noqa: E402

# What the child reports: the variable, and the thread count of the OpenBLAS that numpy mapped (or "none").
PROBE = r"""
import ctypes, os, numpy
lib = next((l.split()[-1] for l in open('/proc/self/maps') if 'openblas' in l.split()[-1].lower()), None)
n = ctypes.CDLL(lib).openblas_get_num_threads() if lib else 'none'
print(os.environ.get('OPENBLAS_NUM_THREADS', 'unset'), n)
"""


def probe(args, env_extra=None):
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    env["PYTHONPATH"] = PEER_ENV
    env.update(env_extra or {})
    r = subprocess.run([sys.executable, "-c", PROBE] + args, capture_output=True, text=True, env=env, timeout=120)
    R.check(r.returncode == 0, f"probe {args}: {r.stderr}")
    return r.stdout.split()


def main():
    for argv, want in ((["x", "--threads", "1"], 1), (["--threads=2"], 2), (["--threads", "0"], None),
                       (["--threads", "two"], None), (["--threads"], None), ([], None), (["--runs", "3"], None)):
        R.check(blas_threads.requested(argv) == want, f"requested({argv}) is {blas_threads.requested(argv)}, not {want}")
    var, n = probe(["--threads", "1"])
    R.check(var == "1", f"--threads 1: OPENBLAS_NUM_THREADS is {var}")
    if n == "none":
        R.skip("numpy is not linked against OpenBLAS here: its thread count not checked")
    else:
        R.check(n == "1", f"--threads 1: OpenBLAS runs {n} threads")
        var, n = probe(["--threads", "1"], {"OPENBLAS_NUM_THREADS": "2"})
        R.check(var == "2" and n == "2", f"a caller's OPENBLAS_NUM_THREADS=2 is kept: {var} {n}")
    var, _ = probe(["--runs", "5"])
    R.check(var == "unset", f"no --threads: OPENBLAS_NUM_THREADS is {var}")
    return R.finish()


if __name__ == "__main__":
    sys.exit(main())

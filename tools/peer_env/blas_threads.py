"""Holds a peer's BLAS thread pool to the thread count it was given (`--threads N` or
`--threads=N` on its command line), before numpy or torch loads them.

Why: Debian's torch runs float convolutions through OpenBLAS (aten::thnn_conv2d, the channels-last 1x1 convs of
SSD), and Debian's OpenBLAS sizes its own pthread pool to the machine whatever torch.set_num_threads says. On
2 cores, `torch_ssd.py --threads 1` used two: 31 ms of CPU per 15.5 ms inference (ort-peer's cpu_time.py), and
19.8 ms per inference with OPENBLAS_NUM_THREADS=1; torchvision's R50 at `--threads 1` used 1.6 cores. A
1-thread row must be one core for every engine. (torch.set_num_threads already holds torch's own OpenMP pool.)
The variable is only set where the caller left it unset."""
import os

VARS = ("OPENBLAS_NUM_THREADS",)


def requested(argv):
    """The N of --threads N / --threads=N in argv (a positive integer), else None."""
    for i, a in enumerate(argv):
        v = argv[i + 1] if a == "--threads" and i + 1 < len(argv) else a[10:] if a.startswith("--threads=") else None
        if v is not None:
            return int(v) if v.isdigit() and int(v) > 0 else None
    return None


def hold(argv):
    """Sets VARS to the requested thread count (those the environment does not set already); returns it."""
    n = requested(argv)
    if n is not None:
        for k in VARS:
            os.environ.setdefault(k, str(n))
    return n

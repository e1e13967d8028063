"""Run at the start of every Python process whose PYTHONPATH holds this folder (tools/bench*.sh put it there for the
peers they time: ../shared/tools/ort-peer's torch_ssd.py, tools/torchvision_ref.py, tools/opencv_ref.py): see
blas_threads.py. It takes the place of Debian's own sitecustomize, which only hooks apport's crash reports."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import blas_threads  # noqa: E402

blas_threads.hold(sys.argv)
del sys.path[0]

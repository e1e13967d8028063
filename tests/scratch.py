"""A scratch folder per test script, removed when the script exits, however it exits (a failed check, an
exception, sys.exit). The converted models of one run are large: test_torchvision_archs alone wrote 0.8 GB,
and folders left behind by every run filled a developer's disk and then CI's."""
import atexit
import shutil
import tempfile


def scratch_dir(prefix):
    path = tempfile.mkdtemp(prefix=prefix)
    atexit.register(shutil.rmtree, path, True)
    return path

"""tests/scratch.py's folders are gone after the script that made them exits: normally, through sys.exit with
a failure, and through an uncaught exception. Each case runs in a child interpreter that prints its folder."""
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ENDINGS = {
    "normal": "",
    "sys.exit(1)": "sys.exit(1)",
    "exception": "raise RuntimeError('a failed check')",
}


def run(ending):
    code = ("import os, sys\nsys.path.insert(0, %r)\nfrom scratch import scratch_dir\n"
            "d = scratch_dir('detc_scratch_test_')\nos.makedirs(os.path.join(d, 'sub'))\n"
            "open(os.path.join(d, 'sub', 'model.detc'), 'wb').write(b'x' * 4096)\n"
            "print(d, flush=True)\n%s\n" % (HERE, ending))
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    return p.stdout.strip(), p.returncode


def main():
    passed = failed = 0
    for name, ending in ENDINGS.items():
        path, rc = run(ending)
        ok = "detc_scratch_test_" in path and not os.path.exists(path) and (rc == 0) == (name == "normal")
        print("%s  scratch folder removed after %s exit (rc %d): %s" % ("ok  " if ok else "FAIL", name, rc, path))
        passed += ok
        failed += not ok
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

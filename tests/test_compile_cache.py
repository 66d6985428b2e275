"""numba's on-disk cache works: a second identical run compiles nothing (checked through numba's
cache log, not by timing)."""
import os
import subprocess
import sys

from conftest import BUNDLED

SCRIPT = f"""
import newbpe
tok = newbpe.train([{str(BUNDLED / 'en' / 'ud_en_pud_test.txt')!r}], vocab_size=400, threads=2)
tok.decode(tok.encode_batch(["warm the encoder too"], threads=2)[0])
tok.encode_batch(["and the driver's serial path with another piece kernel"], encoder="lbpe", threads=1)
"""


def run_logged():
    env = dict(os.environ, NUMBA_DEBUG_CACHE="1")
    r = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr
    return r.stdout + r.stderr


def test_second_run_compiles_nothing():
    run_logged()                                    # may compile (cold clone) or load
    log = run_logged()
    assert "data loaded" in log                     # the kernels did come from the cache
    saved = [line for line in log.splitlines() if "data saved" in line or "index saved" in line]
    assert not saved, "second run compiled: " + "; ".join(saved[:3])


def test_cache_follows_every_source_file(tmp_path):
    """numba keys a cached kernel by its own file only; newbpe's cache directory is named by a
    fingerprint of every source file, so editing a module that other kernels call recompiles them."""
    import shutil
    import newbpe
    tree = tmp_path / "tree"
    shutil.copytree(os.path.dirname(newbpe.__file__), tree / "newbpe",
                    ignore=shutil.ignore_patterns("__pycache__"))
    code = "import newbpe._jit as j, os; print(os.path.basename(j.CACHE_DIR))"
    env = dict(os.environ, PYTHONPATH=str(tree))
    env.pop("NUMBA_CACHE_DIR", None)

    def cache_dir():
        r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=tree)
        assert r.returncode == 0, r.stderr
        return r.stdout.strip()
    first = cache_dir()
    assert first.startswith("numba-") and cache_dir() == first
    callee = tree / "newbpe" / "engine" / "tables.py"
    callee.write_text(callee.read_text() + "\n# edited\n")
    assert cache_dir() != first

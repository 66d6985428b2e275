"""First run after an install (issue 17): the CLI says when it compiles kernels, and only then; a
small input is counted on one thread (no parallel kernels to compile) with the same table."""
import os
import subprocess
import sys

from conftest import BUNDLED

NOTICE = "newbpe: compiling kernels (first run only"


def run_count(tmp_path, cache, name, *extra):
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache))   # a cache directory of its own: cold at first
    r = subprocess.run([sys.executable, "-m", "newbpe.cli", "count", str(BUNDLED / "en" / "ud_en_pud_test.txt"),
                        "-o", str(tmp_path / name), "--threads", "1", *extra],
                       capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr
    return r.stderr


def test_notice_on_cold_cache_only(tmp_path):
    cache = tmp_path / "cache"
    first = run_count(tmp_path, cache, "a.npz", "--progress", "none")
    assert first.count(NOTICE) == 1, first
    assert not os.listdir(cache / "newbpe")[0].startswith(".")      # the kernels went to that cache
    again = run_count(tmp_path, cache, "b.npz", "--progress", "none")
    assert NOTICE not in again, again


def test_notice_is_json_under_json_progress(tmp_path):
    import json
    err = run_count(tmp_path, tmp_path / "cache", "a.npz", "--progress", "json")
    notices = [json.loads(line) for line in err.splitlines() if "notice" in line]
    assert len(notices) == 1 and notices[0]["notice"].startswith(NOTICE), err
    assert all(json.loads(line) for line in err.splitlines())              # every line stays JSON


def test_small_blocks_count_as_the_parallel_path_does(monkeypatch):
    import numpy as np
    import newbpe.counting as counting
    path = str(BUNDLED / "en" / "tinyshakespeare.txt")

    def table(threads):
        wc = counting.WordCounts.from_files([path], "gpt2", threads=threads)
        return wc.arrays()
    serial = table(2)                                   # under PARALLEL_MIN_BYTES: one thread
    monkeypatch.setattr(counting, "PARALLEL_MIN_BYTES", 0)
    parallel = table(2)                                 # scanner chunks and two half tables
    for a, b in zip(serial, parallel):
        assert np.array_equal(a, b)

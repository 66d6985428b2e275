"""Start-up diet (newbpe/_lean.py): numba's registries load without scipy.linalg, nothing stays
hidden afterwards, and the user's own numba code keeps BLAS."""
import importlib.util
import os
import subprocess
import sys

import pytest

HAVE_SCIPY = importlib.util.find_spec("scipy") is not None

PROBE = """
import sys
import newbpe._jit
from newbpe import _lean
print('scipy.linalg' in sys.modules, any(isinstance(f, _lean._Hide) for f in sys.meta_path))
import numba, numpy as np
@numba.njit
def dot(a, b):
    return np.dot(a, b)
print(dot(np.arange(3.0), np.arange(3.0)))
"""


def run_probe(**env):
    r = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True,
                       env={**os.environ, **env})
    assert r.returncode == 0, r.stderr
    return r.stdout.split()


@pytest.mark.skipif(not HAVE_SCIPY, reason="scipy is not installed: numba has nothing to probe")
def test_library_skips_the_blas_probe_and_unhides():
    loaded, finder_left, dot = run_probe()
    assert (loaded, finder_left, dot) == ("False", "False", "5.0")


@pytest.mark.skipif(not HAVE_SCIPY, reason="scipy is not installed: numba has nothing to probe")
def test_probe_can_be_kept():
    loaded, finder_left, dot = run_probe(NEWBPE_NUMBA_BLAS_PROBE="1")
    assert (loaded, finder_left, dot) == ("True", "False", "5.0")

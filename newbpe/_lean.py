"""Start-up diet for the `newbpe` command's own process.

When numba installs its lowering registries (on the first kernel call) it imports scipy.linalg to
see whether BLAS is there for ``np.dot`` and friends, and cffi for ``ffi`` support. newbpe's
kernels use neither, yet on a machine with scipy that costs ~0.3 s and ~20 MB per command, which
is most of a small training job's overhead. The CLI process runs only newbpe's kernels, so it hides
those two optional packages from numba (numba then simply reports them as unavailable). The
library never does this: a user's process may run their own numba code that needs BLAS.
"""
import importlib.abc
import sys

OPTIONAL_FOR_NUMBA = ("scipy", "cffi")


class _Hide(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in OPTIONAL_FOR_NUMBA:
            raise ModuleNotFoundError(f"{name} is not loaded in the newbpe command's process", name=name)
        return None


def hide_optional_numba_imports():
    """Install the finder once, and only if neither package is loaded already."""
    if any(name in sys.modules for name in OPTIONAL_FOR_NUMBA):
        return
    if not any(isinstance(f, _Hide) for f in sys.meta_path):
        sys.meta_path.insert(0, _Hide())

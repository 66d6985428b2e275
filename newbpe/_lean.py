"""Start-up diet: what numba loads that newbpe's kernels never use.

When numba installs its CPU registries (once per process, before the first kernel runs) it imports
scipy.linalg, only to set a flag saying whether BLAS is there, and cffi for its ``ffi`` support.
newbpe's kernels use neither, and on a machine with scipy that costs ~0.3 s and ~20 MB, most of a
small training job's fixed cost.

- The library (`load_numba_registries`, run by `newbpe._jit` before any kernel is defined) hides
  scipy.linalg only while those registries load, then un-hides it. The one thing numba decides from that
  probe in this process is that `np.correlate`/`np.convolve` compiled later by numba use a plain
  loop instead of BLAS; every other BLAS use (np.dot, np.linalg) imports scipy lazily when compiled
  and works as usual. If scipy or numba's registries are loaded already, nothing is hidden. Set
  NEWBPE_NUMBA_BLAS_PROBE=1 to let numba probe as usual.
- The `newbpe` command's own process runs only newbpe's kernels, so `hide_optional_numba_imports`
  hides scipy and cffi from it for good.
"""
import importlib.abc
import os
import sys

OPTIONAL_FOR_NUMBA = ("scipy", "cffi")


class _Hide(importlib.abc.MetaPathFinder):
    def __init__(self, names):
        self.names = tuple(names)

    def find_spec(self, name, path=None, target=None):
        if any(name == n or name.startswith(n + ".") for n in self.names):
            raise ModuleNotFoundError(f"{name} is hidden while newbpe loads numba", name=name)
        return None


def _install(names):
    names = [n for n in names if n not in sys.modules]
    if not names:
        return None
    finder = _Hide(names)
    sys.meta_path.insert(0, finder)
    return finder


def hide_optional_numba_imports():
    """The CLI process: hide scipy and cffi for the whole run (once)."""
    if not any(isinstance(f, _Hide) for f in sys.meta_path):
        _install(OPTIONAL_FOR_NUMBA)


def load_numba_registries():
    """Install numba's CPU typing and lowering registries now (numba would do it on the first
    kernel call anyway), with scipy hidden for just that moment."""
    finder = None
    if os.environ.get("NEWBPE_NUMBA_BLAS_PROBE", "") in ("", "0") and "numba.np.arraymath" not in sys.modules:
        finder = _install(("scipy.linalg",))          # numba imports bare scipy (cheap) on import
    try:
        from numba.core.registry import cpu_target
        cpu_target.target_context.refresh()
        cpu_target.typing_context.refresh()
    finally:
        if finder is not None:
            sys.meta_path.remove(finder)

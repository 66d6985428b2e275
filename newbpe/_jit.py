"""numba for every kernel module: `from .._jit import njit, prange`. Importing this loads numba's
registries once, the lean way (see _lean.py); the first kernel call then only loads its cache."""
from numba import njit, prange

from ._lean import load_numba_registries

load_numba_registries()

__all__ = ["njit", "prange"]

"""numba for every kernel module: `from .._jit import njit, prange`. Importing this loads numba's
registries once, the lean way (see _lean.py); the first kernel call then only loads its cache.

Cache invalidation. numba keys a cached kernel by its own source file's timestamp only, so a kernel
that calls (and compiles in) kernels of another module keeps stale machine code after that other
module changes — newbpe's kernels call across modules (engine/tables -> queue -> rewrite -> loops,
encoders/_cache, rng). So every `njit(cache=True)` of newbpe caches into a directory named by a
fingerprint of all of newbpe's source files (path, size, mtime): any edit recompiles every kernel
once, an unchanged install loads them all. The directory is `newbpe/__pycache__/numba-<fingerprint>`
(or, when the package is not writable, `$XDG_CACHE_HOME/newbpe/...`; under `NUMBA_CACHE_DIR` when the
user sets one); other fingerprints' directories there are removed. numba's own setting is changed
only while a newbpe kernel is being decorated, so the user's numba code caches as usual.
"""
import hashlib
import os
import shutil

import numba
from numba import prange  # noqa: F401  (re-exported)
from numba.core import config as _config
from numba.core import event as _event

from ._lean import load_numba_registries

load_numba_registries()

__all__ = ["njit", "prange", "CACHE_DIR", "announce_compiles"]

_PACKAGE = os.path.dirname(os.path.abspath(__file__))


def _fingerprint():
    h = hashlib.sha1(numba.__version__.encode())
    for root, dirs, files in os.walk(_PACKAGE):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for name in sorted(files):
            if name.endswith(".py"):
                st = os.stat(os.path.join(root, name))
                h.update(f"{os.path.relpath(os.path.join(root, name), _PACKAGE)}:{st.st_size}:{st.st_mtime_ns};".encode())
    return h.hexdigest()[:16]


def _writable_dir(path):
    try:
        os.makedirs(path, exist_ok=True)
        probe = os.path.join(path, f".probe-{os.getpid()}")
        with open(probe, "w"):
            pass
        os.unlink(probe)
        return True
    except OSError:
        return False


def _cache_dir():
    leaf = "numba-" + _fingerprint()
    user = os.environ.get("NUMBA_CACHE_DIR")
    xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    candidates = [os.path.join(user, "newbpe")] if user else []
    candidates += [os.path.join(_PACKAGE, "__pycache__"), os.path.join(xdg, "newbpe")]
    for parent in candidates:
        if _writable_dir(os.path.join(parent, leaf)):
            _prune(parent, leaf)
            return os.path.join(parent, leaf)
    return None                      # nowhere writable: numba's own locators decide


def _prune(parent, keep, idle_seconds=3600):
    """Remove the cache directories of other fingerprints unused for an hour (a process still
    running an older tree keeps its own)."""
    import time
    try:
        names = os.listdir(parent)
    except OSError:
        return
    now = time.time()
    for name in names:
        path = os.path.join(parent, name)
        try:
            old = now - os.stat(path).st_mtime > idle_seconds
        except OSError:
            continue
        if name.startswith("numba-") and name != keep and old:
            shutil.rmtree(path, ignore_errors=True)


CACHE_DIR = _cache_dir()


_announced = [False]
_writer = [None]


class announce_compiles:
    """Within `with announce_compiles(write):`, write(line) is called once when this process first
    compiles a newbpe kernel -- that is, on a cache miss: a new install or an edited tree (the cache
    directory is per fingerprint), or a kernel this install has not needed before. Loads from the
    cache stay silent. For the CLI; the library itself prints nothing."""
    _registered = False

    def __init__(self, write):
        self.write = write

    def __enter__(self):
        if not announce_compiles._registered:
            _event.register("numba:compile", _Notice())
            announce_compiles._registered = True
        _writer[0] = self.write
        return self

    def __exit__(self, *exc):
        _writer[0] = None
        return False


class _Notice(_event.Listener):
    def on_start(self, ev):
        write = _writer[0]
        if write is None or _announced[0] or not ev.data["dispatcher"].py_func.__module__.startswith("newbpe"):
            return
        _announced[0] = True
        if CACHE_DIR is None:
            write("newbpe: compiling kernels (no writable cache directory, so every run compiles)...")
        else:
            write(f"newbpe: compiling kernels (first run only, about {FIRST_RUN_SECONDS} s)...")

    def on_end(self, ev):
        pass


#: about how long `newbpe train` on the bundled sample compiles on a 2-core machine (for the notice)
FIRST_RUN_SECONDS = 15


def _unliteral_calls(dispatcher):
    """Compile one specialisation per argument *type*, not per constant: numba types a constant
    argument of a jitted-to-jitted call as a literal (`f(st, True)` -> Literal[bool](True)), so
    `f(st, True)`, `f(st, False)` and `f(st, flag)` were three compiles of f and of everything f
    calls -- a large part of the first run's compile time, for no speed (LLVM inlines and
    folds the constants either way)."""
    from numba.core import types
    template = dispatcher.get_call_template

    def get_call_template(args, kws):
        args = tuple(types.unliteral(a) if isinstance(a, types.Literal) else a for a in args)
        kws = {k: types.unliteral(v) if isinstance(v, types.Literal) else v for k, v in kws.items()}
        return template(args, kws)
    dispatcher.get_call_template = get_call_template
    return dispatcher


def njit(*args, **kwargs):
    """numba.njit; with cache=True the cache goes to CACHE_DIR (see the module docstring)."""
    keep = kwargs.pop("keep_literals", False)       # the scanner's preset is a literal on purpose
    wrap = (lambda d: d) if keep else _unliteral_calls
    if args and callable(args[0]) and len(args) == 1 and not kwargs:
        return wrap(numba.njit(args[0]))
    if not kwargs.get("cache") or CACHE_DIR is None:
        return lambda fn: wrap(numba.njit(*args, **kwargs)(fn))

    def decorate(fn):
        saved = _config.CACHE_DIR
        _config.CACHE_DIR = CACHE_DIR
        try:
            return wrap(numba.njit(*args, **kwargs)(fn))
        finally:
            _config.CACHE_DIR = saved
    return decorate

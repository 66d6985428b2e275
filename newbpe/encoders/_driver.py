"""The one driver every numba encoder runs on: input checks, per-thread piece caches, chunks of
pieces encoded in parallel, and the gathered result.

An encoder supplies two small kernels and a model, a flat tuple of arrays and numbers (flat because
numba's parallel loops cannot take a tuple nested in a tuple, numba/numba#9098):

    encode_piece(model, units, a, n, out, pos, scratch) -> k   encode units[a:a+n] (n >= 2) into
                                                                out[pos:pos+k]; never k > n
    new_scratch(model, n_max) -> scratch                        work arrays for pieces of up to
                                                                n_max units (made once per chunk)

and the driver does the rest, the same way for every encoder (rank.py, replay.py, lbpe.py):
- pieces of 0 or 1 unit are copied through (a unit is its own token);
- a piece shorter than CACHE_MAX_UNITS is looked up in its thread's piece cache (`_cache.py`);
  real text repeats the same short pre-tokens, so this skips almost all encoding work;
- with a whole-piece trie (rank's ignore_merges, Picky's whole-word shortcut), a piece that spells a
  token is that token;
- otherwise `encode_piece`, and the result goes into the cache. Results never depend on the cache.
The kernels see borrowed arrays (`borrow`: no reference counts), so they must not keep a view of an
input beyond the call; they copy what they keep.
Pieces are cut into contiguous chunks of about equal units, one per thread (`plan`); chunk c writes
its ids from the offset of its own first unit (an output is never longer than its input, so chunks
never overlap) and `gather` packs them.

How the kernels reach the driver. The driver's loops are written once, with the piece kernel as an
argument, and numba compiles one specialization per kernel (the call is direct, as if written
inline). Plain @njit dispatchers as arguments defeat numba's on-disk cache in two ways: the type of
a dispatcher argument is keyed by the object, so a cached function taking one never finds its entry
in a new process (measured: every process recompiled, 2.6 s before the first 1-thread encode and
4-5 s with 2 threads, against 0.6 s from the cache, and each run added a data file to the cache); and
a jitted function named as a global and passed on as a value (what a per-encoder wrapper would do)
is lowered as its process address ("uses dynamic globals"), so the wrapper cannot be cached at all.
`PieceKernel` fixes both: its numba type names the function by (module, qualified name, stamp of the
source file), which is stable across processes, and its run-time value is a null pointer (the type
alone says what to call). Editing an encoder's file changes the stamp, so the driver recompiles for
it; edits to *other* files its kernels call are seen too, because newbpe caches every kernel under
a fingerprint of all its source files (newbpe/_jit.py).
"""
import importlib
import inspect
import os

import numpy as np
from numba.core import types
from numba.core.datamodel.models import OpaqueModel
from numba.core.datamodel.registry import register_default
from numba.core.imputils import lower_constant
from numba.core.pythonapi import NativeValue, unbox
from numba.extending import intrinsic

from .._jit import njit, prange
from .._threads import threads_limit
from ._cache import META_CLEARS, META_ENTRIES, META_HITS, META_MISSES, cache_create, cache_insert, \
    cache_lookup, cache_view
from ._trie import build_trie, trie_exact

# Only pieces shorter than this are cached: long pieces are rare and would flood the pool.
CACHE_MAX_UNITS = 256
# Default per-thread cache size: at most 2**16 entries and 2**20 pooled ids (8 MiB).
DEFAULT_CACHE_SLOTS = 1 << 17
DEFAULT_CACHE_POOL = 1 << 20
# Ids are packed into 32 bits in the merge and trie tables.
MAX_ID = 2**31


# --------------------------------------------------------------------------------------
# piece kernels as arguments


class PieceKernelType(types.Dispatcher):
    """numba type of a PieceKernel: calls type and lower like any jitted function's, but equality,
    hashing and pickling (the cache index) go by (module, qualname, source stamp)."""

    def __init__(self, module, qualname, stamp):
        self.where = (module, qualname, stamp)
        types.Type.__init__(self, f"piece_kernel({module}.{qualname})")

    @property
    def key(self):
        return self.where

    def __eq__(self, other):
        return types.Type.__eq__(self, other)

    def __hash__(self):
        return hash(self.where)

    def __reduce__(self):
        return PieceKernelType, self.where

    @property
    def dispatcher(self):
        found = _KERNELS.get(self.where)
        if found is None:                   # unpickled from a cache index before its PieceKernel
            module, qualname, _ = self.where
            found = getattr(importlib.import_module(module), qualname)
        return found


register_default(PieceKernelType)(OpaqueModel)


@lower_constant(PieceKernelType)
def _null_constant(context, builder, ty, pyval):
    return context.get_constant_null(ty)


@unbox(PieceKernelType)
def _null_argument(typ, obj, c):
    return NativeValue(c.context.get_constant_null(typ))


# (module, qualname, stamp) -> dispatcher of every PieceKernel made in this process
_KERNELS = {}


class PieceKernel:
    """An @njit function to hand to the driver's cached kernels. numba reads the type from
    `_numba_type_` (four times faster per call than a registered typeof)."""

    def __init__(self, dispatcher):
        f = dispatcher.py_func
        try:
            st = os.stat(inspect.getfile(f))
            stamp = (st.st_mtime, st.st_size)
        except (OSError, TypeError):        # no source file: numba cannot cache it either
            stamp = None
        self.dispatcher = dispatcher
        self._numba_type_ = PieceKernelType(f.__module__, f.__qualname__, stamp)
        _KERNELS[self._numba_type_.where] = dispatcher


# --------------------------------------------------------------------------------------
# borrowed arrays


def _borrow_value(context, builder, ty, value):
    if not isinstance(ty, types.Array):
        return value
    ary = context.make_array(ty)(context, builder, value=value)
    ary.meminfo = context.get_constant_null(types.MemInfoPointer(ty.dtype))
    return ary._getvalue()


@intrinsic
def borrow(typingctx, x):
    """`x` (an array, or a flat tuple of arrays and scalars) with every array's owner pointer
    (meminfo) cleared, as numba's parallel loops do for their arrays.

    Every array a jitted function receives is reference-counted on entry and exit, with an atomic
    add each, and the encoders' per-piece helpers (cache lookup, piece kernels) take several
    arrays: on the 1-thread path that cost ~25 ns per piece, a third of a warm encode (3 MB of
    English: 45 -> 28 ms with borrowed arrays). The caller keeps the owners alive for the whole
    call, and nothing the kernels return is a view of these arrays, so the counts are not needed.
    """
    if isinstance(x, types.Array):
        def codegen(context, builder, sig, args):
            return _borrow_value(context, builder, sig.args[0], args[0])
        return x(x), codegen
    if isinstance(x, types.BaseTuple) and not any(isinstance(t, types.BaseTuple) for t in x):
        def codegen(context, builder, sig, args):
            value = args[0]
            for i, ty in enumerate(sig.args[0]):
                item = _borrow_value(context, builder, ty, builder.extract_value(value, i))
                value = builder.insert_value(value, item, i)
            return value
        return x(x), codegen
    return None


# --------------------------------------------------------------------------------------
# the loops


@njit(cache=True)
def check_inputs(units, offsets, n_tokens):
    """0 if the inputs are well formed, else a code for the error: 1 bad offsets, 2 a unit
    id outside [0, n_tokens). One pass over the data, no temporaries (numpy's min/max/diff
    took ~10% of a warm encode)."""
    for i in range(offsets.shape[0] - 1):
        if offsets[i + 1] < offsets[i]:
            return 1
    if offsets[0] < 0 or offsets[-1] > units.shape[0]:
        return 1
    for i in range(offsets[0], offsets[-1]):
        if units[i] < 0 or units[i] >= n_tokens:
            return 2
    return 0


@njit
def encode_range(encode_piece, new_scratch, model, whole, units, offsets, lo, hi, cache, out, out_pos,
                 out_len):
    """Encode pieces lo..hi-1, writing ids contiguously from out[out_pos] and each piece's output
    length to out_len[i]. Returns the position after the last id written. (Not cached on its own:
    it is compiled into run_serial / run_parallel, once per piece kernel.)"""
    n_max = 1
    for i in range(lo, hi):
        n_max = max(n_max, offsets[i + 1] - offsets[i])
    scratch = new_scratch(model, n_max)
    use_whole = whole[1].shape[0] > 1
    for i in range(lo, hi):
        a = offsets[i]
        n = offsets[i + 1] - a
        if n <= 1:
            if n == 1:
                out[out_pos] = units[a]
                out_pos += 1
            out_len[i] = n
            continue
        piece = units[a:a + n]
        got = -1
        if n < CACHE_MAX_UNITS:
            got = cache_lookup(cache, piece, out, out_pos)
        if got < 0:
            if use_whole:
                t = trie_exact(whole, units, a, a + n)
                if t >= 0:
                    out[out_pos] = t
                    got = 1
            if got < 0:
                got = encode_piece(model, units, a, n, out, out_pos, scratch)
            if n < CACHE_MAX_UNITS:
                cache_insert(cache, piece, out[out_pos:out_pos + got])
        out_len[i] = got
        out_pos += got
    return out_pos


@njit(cache=True)
def run_serial(encode_piece, new_scratch, model, whole, units, offsets, bank, out, out_len):
    """All pieces on the calling thread with cache 0 of the bank; returns the number of ids."""
    return encode_range(encode_piece, new_scratch, borrow(model), borrow(whole), borrow(units),
                        borrow(offsets), 0, offsets.shape[0] - 1, borrow(cache_view(bank, 0)),
                        borrow(out), 0, borrow(out_len))


@njit(cache=True, parallel=True)
def run_parallel(encode_piece, new_scratch, model, whole, units, offsets, bounds, bank, out, out_len):
    """Chunk c (pieces bounds[c]..bounds[c+1]-1) on its own thread with cache c of the bank.
    (Arrays inside a parallel loop are borrowed already.)"""
    base = offsets[0]
    for c in prange(bounds.shape[0] - 1):
        lo = bounds[c]
        encode_range(encode_piece, new_scratch, borrow(model), borrow(whole), borrow(units),
                     borrow(offsets), lo, bounds[c + 1], borrow(cache_view(bank, c)), borrow(out),
                     offsets[lo] - base, borrow(out_len))


def plan(offsets, threads):
    """Chunk bounds (piece indices) for `threads` chunks of about equal units."""
    n_pieces = len(offsets) - 1
    targets = offsets[0] + (offsets[-1] - offsets[0]) * np.arange(threads + 1) // threads
    bounds = np.searchsorted(offsets[:-1], targets, side="left").astype(np.int64)
    bounds[0], bounds[-1] = 0, n_pieces
    return np.maximum.accumulate(bounds)


def gather(out, offsets, bounds, out_len):
    """(ids, out_offsets) from the chunk-wise output buffer."""
    out_offsets = np.zeros(len(out_len) + 1, dtype=np.int64)
    np.cumsum(out_len, out=out_offsets[1:])
    ids = np.empty(out_offsets[-1], dtype=np.int64)
    for c in range(len(bounds) - 1):
        lo, hi = bounds[c], bounds[c + 1]
        src = offsets[lo] - offsets[0]
        ids[out_offsets[lo]:out_offsets[hi]] = out[src:src + out_offsets[hi] - out_offsets[lo]]
    return ids, out_offsets


# --------------------------------------------------------------------------------------
# the Python side


class DrivenEncoder:
    """Base of the numba encoders: `encode_units` and the per-thread caches, over the subclass's
    `encode_piece` / `new_scratch` (PieceKernels) and `model()`.

    Keeps one bounded cache per worker thread across calls. Not safe to call from several Python
    threads at once (the kernels hold the GIL, so that cannot happen by accident).
    """

    encode_piece = None
    new_scratch = None
    #: The unit dtype callers may pass as is (the Tokenizer builds units of it): int32 saves 4 bytes
    #: per unit where the piece kernel takes it (rank); anything else is converted to int64.
    unit_dtype = np.int64

    def __init__(self, n_tokens, whole_units=None, cache_slots=DEFAULT_CACHE_SLOTS,
                 cache_pool=DEFAULT_CACHE_POOL):
        """n_tokens: number of ids (unit ids must be below it). whole_units: {token id: unit
        sequence} of the tokens a piece is emitted as when it spells one exactly (None: no
        shortcut). cache_slots (a power of two) and cache_pool size each thread's piece cache."""
        n_tokens = int(n_tokens)
        if not 0 < n_tokens <= MAX_ID:
            raise ValueError(f"n_tokens must be in 1..2**31, got {n_tokens}")
        if cache_slots < 2 or cache_slots & (cache_slots - 1):
            raise ValueError("cache_slots must be a power of two >= 2")
        self.n_tokens = n_tokens
        self.cache_slots = int(cache_slots)
        self.cache_pool = int(cache_pool)
        self.whole = build_trie({t: u for t, u in (whole_units or {}).items() if len(u) > 0})
        self._bank = None

    def model(self):
        """The tuple the piece kernels receive (built per call, so tuning attributes apply). Every
        encoder class defines its own; the base class has none."""
        raise TypeError(f"{type(self).__name__} defines no model() for the driver")

    def _caches(self, n):
        """A bank of at least n per-thread caches (kept across calls)."""
        if self._bank is None or self._bank[0].shape[0] < n:
            self._bank = cache_create(n, self.cache_slots, self.cache_pool)
        return self._bank

    def clear_cache(self):
        """Drop all cached pieces and their memory. Results never depend on the cache."""
        self._bank = None

    def cache_stats(self):
        """Summed counters over the per-thread caches: entries, hits, misses, clears."""
        if self._bank is None:
            return dict(entries=0, hits=0, misses=0, clears=0)
        meta = self._bank[2].sum(axis=0)
        return dict(entries=int(meta[META_ENTRIES]), hits=int(meta[META_HITS]),
                    misses=int(meta[META_MISSES]), clears=int(meta[META_CLEARS]))

    def encode_units(self, units, offsets, threads=1):
        """units: 1-D int64 array (or int32, if that is `unit_dtype`) of unit ids for all pieces
        concatenated; offsets: int64 array of
        length n_pieces+1 (piece i is units[offsets[i]:offsets[i+1]]). Returns (ids, out_offsets):
        ids int64 concatenated output, out_offsets int64 length n_pieces+1. threads>1 encodes
        contiguous chunks of pieces in parallel (each chunk its own cache); the result is identical
        for any thread count."""
        units = np.asarray(units)
        dtype = np.int32 if (self.unit_dtype == np.int32 and units.dtype == np.int32) else np.int64
        units = np.ascontiguousarray(units, dtype=dtype).ravel()
        offsets = np.ascontiguousarray(offsets, dtype=np.int64).ravel()
        threads = int(threads)
        if threads < 1:
            raise ValueError("threads must be >= 1")
        if offsets.size < 1:
            raise ValueError("offsets must have length n_pieces + 1 >= 1")
        error = check_inputs(units, offsets, self.n_tokens)
        if error == 1:
            raise ValueError("offsets must be non-decreasing and within units")
        if error == 2:
            raise ValueError("unit ids must be in [0, n_tokens)")
        n_pieces = offsets.size - 1
        if n_pieces == 0:
            return np.zeros(0, np.int64), np.zeros(1, np.int64)
        threads = min(threads, n_pieces)
        out = np.empty(offsets[-1] - offsets[0], dtype=np.int64)
        out_len = np.empty(n_pieces, dtype=np.int64)
        bank = self._caches(threads)
        model = self.model()
        if any(isinstance(x, tuple) for x in model):
            raise TypeError("an encoder's model must be a flat tuple of arrays and numbers")
        kernels = (self.encode_piece, self.new_scratch, model, self.whole, units, offsets)
        if threads == 1:                      # no plan, no gather: a few us on a short text
            end = run_serial(*kernels, bank, out, out_len)
            out_offsets = np.zeros(n_pieces + 1, dtype=np.int64)
            np.cumsum(out_len, out=out_offsets[1:])
            return out[:end].copy(), out_offsets
        bounds = plan(offsets, threads)
        with threads_limit(threads):
            run_parallel(*kernels, bounds, bank, out, out_len)
        return gather(out, offsets, bounds, out_len)

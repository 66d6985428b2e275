"""Per-document seeded random numbers: xoshiro256** in numba and NumPy-SeedSequence seeds
(specs `stochastok.md` §6).

Why a module of its own: StochasTok's expansion and the supertoken random chunker (`supertokens.md`
§3.1) both draw per-document random numbers and must give results that depend only on
(global seed, [epoch,] document index) and the document itself. What this module guarantees:

- `document_seeds(seed, indices, epoch=None)` gives document d the 64-bit word
  `SeedSequence((seed, d)).generate_state(1, uint64)[0]` (`(seed, epoch, d)` with per-epoch
  resampling), equal to NumPy's (tested), computed for all documents at once by a vectorised copy
  of NumPy's SeedSequence hash. A document's word never depends on which other documents are in
  the batch, so any process count, thread count, batch size or shard order gives the same streams.
- `seed_state(word, s)` turns that word into a xoshiro256** state (Blackman & Vigna) through
  SplitMix64 (never all zero); `next_u64(s)` is the generator's next 64-bit output and
  `below(s, n)` an exactly uniform integer in [0, n) for 1 <= n < 2**32 (Lemire's multiply-shift
  method with rejection). A kernel runs one state per document, so its stream is the document's
  alone. The stream for a given word is fixed: changing these kernels changes every expansion
  ever published with a seed, so they are frozen (tests compare them with a pure-Python twin).
- `resolve_seed(None)` draws fresh OS entropy once; callers resolve before fanning out to workers
  so that all of them share it.
"""
import numpy as np

from ._jit import njit
from .errors import NewbpeError

# ---------------------------------------------------------------------------------------- generator
_U32 = np.uint64(0xFFFFFFFF)
_S32 = np.uint64(32)


@njit(cache=True)
def _splitmix64(x):
    """(next state, output) of SplitMix64."""
    x = x + np.uint64(0x9E3779B97F4A7C15)
    z = x
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x, z ^ (z >> np.uint64(31))


@njit(cache=True)
def seed_state(seed, s):
    """xoshiro256** state s[0..3] from one 64-bit seed word (SplitMix64, never all zero)."""
    x = seed
    for i in range(4):
        x, s[i] = _splitmix64(x)


@njit(cache=True)
def _rotl(x, k):
    return (x << np.uint64(k)) | (x >> np.uint64(64 - k))


@njit(cache=True)
def next_u64(s):
    """xoshiro256**: the next 64-bit output."""
    result = _rotl(s[1] * np.uint64(5), 7) * np.uint64(9)
    t = s[1] << np.uint64(17)
    s[2] ^= s[0]
    s[3] ^= s[1]
    s[1] ^= s[2]
    s[0] ^= s[3]
    s[2] ^= t
    s[3] = _rotl(s[3], 45)
    return result


@njit(cache=True)
def below(s, n):
    """Uniform integer in [0, n) for 1 <= n < 2**32, exactly (Lemire's method with rejection)."""
    bound = np.uint64(n)
    m = (next_u64(s) >> _S32) * bound
    low = m & _U32
    if low < bound:
        threshold = (np.uint64(1 << 32) - bound) % bound
        while low < threshold:
            m = (next_u64(s) >> _S32) * bound
            low = m & _U32
    return np.int64(m >> _S32)


@njit(cache=True)
def _draws(seed, n, bound):
    """n draws of below(bound) from a fresh generator (tests compare with the pure-Python twin)."""
    s = np.empty(4, np.uint64)
    seed_state(seed, s)
    out = np.empty(n, np.int64)
    for i in range(n):
        out[i] = below(s, bound)
    return out


# ---------------------------------------------------------------------------------------- seeds
_INIT_A, _MULT_A = 0x43b0d7e5, 0x931e8875
_INIT_B, _MULT_B = 0x8b51f9dd, 0x58f38ded
_MIX_L, _MIX_R = 0xca01f9dd, 0x4973f715
_POOL = 4
_M32 = 0xFFFFFFFF


def _int_words(x):
    """NumPy's SeedSequence view of a non-negative int: its 32-bit words, least significant first."""
    x = int(x)
    if x < 0:
        raise NewbpeError(f"seeds and indices must be non-negative, got {x}")
    words = [x & _M32]
    x >>= 32
    while x:
        words.append(x & _M32)
        x >>= 32
    return words


def _seedseq_words(columns):
    """NumPy's SeedSequence(entropy).generate_state(1, np.uint64), vectorised over documents:
    `columns` is the entropy as a list of uint32 arrays (one per entropy word, one entry per
    document). The hash constants evolve independently of the data, so they are Python ints."""
    n = len(columns[0])
    hc = _INIT_A

    def hashmix(value):
        nonlocal hc
        value = value ^ np.uint32(hc)
        hc = (hc * _MULT_A) & _M32
        value = value * np.uint32(hc)
        return value ^ (value >> np.uint32(16))

    def mix(x, y):
        r = np.uint32(_MIX_L) * x - np.uint32(_MIX_R) * y
        return r ^ (r >> np.uint32(16))

    zero = np.zeros(n, np.uint32)
    pool = [hashmix(columns[i] if i < len(columns) else zero) for i in range(_POOL)]
    for i_src in range(_POOL):
        for i_dst in range(_POOL):
            if i_src != i_dst:
                pool[i_dst] = mix(pool[i_dst], hashmix(pool[i_src]))
    for i_src in range(_POOL, len(columns)):
        for i_dst in range(_POOL):
            pool[i_dst] = mix(pool[i_dst], hashmix(columns[i_src]))
    hb = _INIT_B
    state = []
    for i in range(2):
        v = pool[i] ^ np.uint32(hb)
        hb = (hb * _MULT_B) & _M32
        v = v * np.uint32(hb)
        state.append(v ^ (v >> np.uint32(16)))
    return state[0].astype(np.uint64) | (state[1].astype(np.uint64) << np.uint64(32))


def document_seeds(seed, indices, epoch=None):
    """One uint64 per document: `SeedSequence((seed, index)).generate_state(1, np.uint64)[0]`, or
    with `epoch`, `SeedSequence((seed, epoch, index))` (per-epoch resampling), for every index."""
    with np.errstate(over="ignore"):
        idx = np.asarray(indices, dtype=np.int64).ravel()
        if idx.size and idx.min() < 0:
            raise NewbpeError("document indices must be non-negative")
        prefix = _int_words(seed) + (_int_words(epoch) if epoch is not None else [])
        out = np.empty(idx.size, np.uint64)
        big = idx >= (1 << 32)
        for mask, n_words in ((~big, 1), (big, 2)):
            sel = idx[mask].astype(np.uint64)
            if not sel.size:
                continue
            cols = [np.full(sel.size, w, np.uint32) for w in prefix]
            cols.append((sel & np.uint64(_M32)).astype(np.uint32))
            if n_words == 2:
                cols.append((sel >> np.uint64(32)).astype(np.uint32))
            out[mask] = _seedseq_words(cols)
    return out


def resolve_seed(seed):
    """A fixed non-negative int seed; None draws fresh OS entropy (NumPy's SeedSequence())."""
    if seed is None:
        return int(np.random.SeedSequence().entropy)
    from .checks import check
    return check("seed", seed)

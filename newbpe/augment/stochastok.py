"""StochasTok: stochastic token splitting of training data (specs `stochastok.md`).

Sims et al., *StochasTok: Improving Fine-Grained Subword Understanding in LLMs*, arXiv 2506.01687;
reference code anyasims/stochastok. The tokenizer is unchanged: the deterministic ids of a training
document are expanded by splitting random tokens into two in-vocabulary tokens whose bytes
concatenate to the original, so decoding is lossless by construction.

Split table (§3). For every token t that is neither special nor added, every cut of its bytes B into
B[:j] + B[j:] with both parts in the vocabulary (a byte-string hash map, O(sum |B|) look-ups) is a
split; stored as CSR arrays `split_offset[t] .. split_offset[t+1]` into `split_left`, `split_right`,
in increasing cut position. Specials and added tokens are never split and never produced. The
vocabulary is the tokens a model can emit (`tokens="present"`: Picky BPE's present tokens, Scaffold's
visible tokens); a multi-byte token with no split into such tokens is unsplittable and counted in a
warning. Tables are saved as `.npz` arrays (integer ids; never JSON with string keys, the reference's
bug §7.1 that silently disables expansion); a reference-format JSON table loads with its keys
converted to int.

Expansion (§4, the reference's distribution). N = floor(p * n0) attempts; each picks a uniformly
random position in the current, growing sequence and, if the token there has splits, replaces it by
one of them chosen uniformly (parts can be split again); the optional cap `max_num_to_expand` stops
after that many successes. Implementation (§5): an unordered array of live leaves makes each attempt
O(1) (the position choice is uniform over current tokens, independent of their order); each original
token is the root of a binary tree whose leaves, read in order, are its expansion.

Randomness (§6). Document d gets one 64-bit word from NumPy's
`SeedSequence((seed, d)).generate_state(1, uint64)` (`(seed, epoch, d)` with per-epoch resampling),
computed for all documents at once by a vectorised copy of NumPy's SeedSequence hash (tested equal to
NumPy's). That word seeds, through SplitMix64, a xoshiro256** generator (Blackman & Vigna) that the
kernel runs for that document alone; bounded integers use Lemire's multiply-shift method with
rejection, so every position and every split is exactly uniform. Results therefore depend only on
(seed, epoch, document index, ids, p, cap): not on thread count, batch size, `num_proc` or order.
"""
import hashlib
import io
import itertools
import json
import os
import warnings

import numpy as np
from .._jit import njit, prange

from .._threads import threads_limit
from ..errors import ModelFileError, NewbpeError
from ..io import atomic_write, read_documents, read_npz

TABLE_FILE = "stochastok.npz"
TABLE_FORMAT = "newbpe-stochastok-table"
TABLE_VERSION = 1
_MAX_NODES = (1 << 31) - 1      # int32 scratch: a document's nodes (n0 + 2 * splits)

# ---------------------------------------------------------------------------------------- PRNG
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
def _seed_state(seed, s):
    """xoshiro256** state s[0..3] from one 64-bit seed word (SplitMix64, never all zero)."""
    x = seed
    for i in range(4):
        x, s[i] = _splitmix64(x)


@njit(cache=True)
def _rotl(x, k):
    return (x << np.uint64(k)) | (x >> np.uint64(64 - k))


@njit(cache=True)
def _next(s):
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
def _below(s, n):
    """Uniform integer in [0, n) for 1 <= n < 2**32, exactly (Lemire's method with rejection)."""
    bound = np.uint64(n)
    m = (_next(s) >> _S32) * bound
    low = m & _U32
    if low < bound:
        threshold = (np.uint64(1 << 32) - bound) % bound
        while low < threshold:
            m = (_next(s) >> _S32) * bound
            low = m & _U32
    return np.int64(m >> _S32)


@njit(cache=True)
def _draws(seed, n, bound):
    """n draws of _below(bound) from a fresh generator (tests compare with the pure-Python twin)."""
    s = np.empty(4, np.uint64)
    _seed_state(seed, s)
    out = np.empty(n, np.int64)
    for i in range(n):
        out[i] = _below(s, bound)
    return out


# ---------------------------------------------------------------------------------------- kernels
@njit(cache=True)
def _expand_doc(src, n_att, cap, seed, offs, left, right, limit, out, pos, tok, child, live, stack, s):
    """Expand one document `src` into out[pos:]; returns (length written, successes), or (-1 - i, 0)
    when src[i] is not an id in [0, limit). Nodes 0..n0-1 are the original tokens (read from src),
    new nodes are n0, n0+1, ... (token in tok[node - n0]); child[v] is v's left child (the right
    one is child[v] + 1), -1 for a leaf; live[0..n_live) lists the current leaves, unordered.
    Scratch is int32 (half the memory traffic); documents are limited to 2**31 nodes."""
    n0 = src.shape[0]
    n_tab = offs.shape[0] - 1
    if n_att == 0 or cap == 0 or n0 == 0:
        for i in range(n0):
            t = src[i]
            if t < 0 or t >= limit:
                return -1 - i, 0
            out[pos + i] = t
        return n0, 0
    for i in range(n0):                       # one pass: check the ids, set up the leaves
        t = src[i]
        if t < 0 or t >= limit:
            return -1 - i, 0
        child[i] = -1
        live[i] = i
    n_live = n0
    n_nodes = n0
    done = 0
    _seed_state(seed, s)
    for _ in range(n_att):
        if cap >= 0 and done >= cap:
            break
        j = _below(s, n_live)
        v = live[j]
        t = src[v] if v < n0 else np.int64(tok[v - n0])
        if t >= n_tab:
            continue
        k0 = offs[t]
        k = offs[t + 1] - k0
        if k == 0:
            continue
        c = k0 if k == 1 else k0 + _below(s, k)
        a = n_nodes
        tok[a - n0] = left[c]
        tok[a + 1 - n0] = right[c]
        child[a] = -1
        child[a + 1] = -1
        child[v] = a
        live[j] = a
        live[n_live] = a + 1
        n_live += 1
        n_nodes += 2
        done += 1
    start = pos
    for i in range(n0):                       # in-order leaves of each original token's tree
        if child[i] < 0:
            out[pos] = src[i]
            pos += 1
            continue
        sp = 1
        stack[0] = i
        while sp > 0:
            sp -= 1
            v = stack[sp]
            while child[v] >= 0:
                stack[sp] = child[v] + 1      # the right part, emitted after the left subtree
                sp += 1
                v = child[v]
            out[pos] = tok[v - n0]
            pos += 1
    return pos - start, done


@njit(cache=True)
def _expand_range(ids, doc_off, n_att, cap, seeds, offs, left, right, limit, max_depth, lo, hi, out, pos,
                  out_len, successes):
    """Documents lo..hi-1 one after the other, written back to back from out[pos]; scratch sized
    once for the largest. Returns the end position, or -1 - (index into ids) of a bad id."""
    need = 0
    for d in range(lo, hi):
        n0 = doc_off[d + 1] - doc_off[d]
        m = n_att[d] if cap < 0 else min(n_att[d], cap)
        need = max(need, n0 + 2 * m)
    tok = np.empty(need, np.int32)
    child = np.empty(need, np.int32)
    live = np.empty(need, np.int32)
    stack = np.empty(max_depth + 2, np.int64)
    s = np.empty(4, np.uint64)
    for d in range(lo, hi):
        got, done = _expand_doc(ids[doc_off[d]:doc_off[d + 1]], n_att[d], cap, seeds[d], offs, left, right,
                                limit, out, pos, tok, child, live, stack, s)
        if got < 0:
            return -1 - (doc_off[d] + (-1 - got))
        out_len[d] = got
        successes[d] = done
        pos += got
    return pos


@njit(cache=True, parallel=True)
def _expand_chunks(ids, doc_off, n_att, cap, seeds, offs, left, right, limit, max_depth, chunk_bounds,
                   chunk_start, out, out_len, successes, chunk_end):
    """Chunk c (documents chunk_bounds[c]..) writes from out[chunk_start[c]], its upper bound."""
    for c in prange(chunk_bounds.shape[0] - 1):
        chunk_end[c] = _expand_range(ids, doc_off, n_att, cap, seeds, offs, left, right, limit, max_depth,
                                     chunk_bounds[c], chunk_bounds[c + 1], out, chunk_start[c], out_len,
                                     successes)


@njit(cache=True, parallel=True)
def _gather_chunks(out, chunk_start, chunk_end, dst_start, dst):
    for c in prange(chunk_start.shape[0]):
        a = chunk_start[c]
        b = dst_start[c]
        for i in range(chunk_end[c] - a):
            dst[b + i] = out[a + i]


# ---------------------------------------------------------------------------------------- seeding
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
    if isinstance(seed, (bool, float)) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise NewbpeError(f"seed must be a non-negative integer or None, got {seed!r}")
    return int(seed)


# ---------------------------------------------------------------------------------------- the table
def build_split_table(tokens, never_split=()):
    """CSR split table of a vocabulary. tokens[i]: bytes of id i, or None (no token / not usable).
    Ids in `never_split` (specials, added tokens) are neither split nor produced. Returns
    (split_offset, split_left, split_right, n_unsplittable)."""
    never = set(int(i) for i in never_split)
    index = {}
    for i, b in enumerate(tokens):
        if b is not None and i not in never and b not in index:
            index[bytes(b)] = i                # duplicate strings: the lowest id is produced
    counts = np.zeros(len(tokens), np.int64)
    left, right = [], []
    unsplittable = 0
    get = index.get
    for i, b in enumerate(tokens):
        if b is None or i in never or len(b) < 2:
            continue
        k = 0
        for j in range(1, len(b)):
            a = get(b[:j])
            if a is not None:
                c = get(b[j:])
                if c is not None:
                    left.append(a)
                    right.append(c)
                    k += 1
        counts[i] = k
        unsplittable += k == 0
    offs = np.zeros(len(tokens) + 1, np.int64)
    np.cumsum(counts, out=offs[1:])
    return offs, np.array(left, np.int64), np.array(right, np.int64), unsplittable


def _split_depth(offs, left, right):
    """Longest chain of splits from any token (bounds the traversal stack); refuses cycles, which a
    table loaded without its vocabulary could contain."""
    n = offs.shape[0] - 1
    depth = np.full(n, -1, np.int64)       # -1 unknown, -2 on the current path
    for root in range(n):
        if depth[root] >= 0:
            continue
        stack = [root]
        while stack:
            t = stack[-1]
            if depth[t] == -1:
                depth[t] = -2
                for c in range(offs[t], offs[t + 1]):
                    for u in (left[c], right[c]):
                        if u < n and depth[u] == -2:
                            raise ModelFileError(f"split table has a cycle through token {u}")
                        if u < n and depth[u] == -1:
                            stack.append(int(u))
            else:
                stack.pop()
                if depth[t] == -2:
                    d = 0
                    for c in range(offs[t], offs[t + 1]):
                        for u in (left[c], right[c]):
                            d = max(d, 1 + (depth[u] if u < n else 0))
                    depth[t] = d
    return int(depth.max()) if n else 0


def _fingerprint(tokens, never_split):
    h = hashlib.sha256()
    for i, b in enumerate(tokens):
        if b is None:
            h.update(b"\xff\xff\xff\xff")
        else:
            h.update(len(b).to_bytes(4, "little") + b)
    h.update(repr(sorted(int(i) for i in never_split)).encode())
    return h.hexdigest()


class StochasTok:
    """StochasTok expansion over one vocabulary.

        st = StochasTok(tok)                        # a newbpe Tokenizer (or tiktoken / HF tokenizer object)
        st = StochasTok.from_hf("tokenizer.json")   # or .from_tiktoken("x.tiktoken"), .load("table.npz")
        new_ids = st.expand(ids, p=0.1, seed=0)
        batch = st.expand_batch(list_of_id_lists, p=0.1, seed=0)
        ds = ds.map(st.map_function(p=0.1, seed=0), batched=True, with_indices=True)

    Attributes: `split_offset`, `split_left`, `split_right` (CSR, int64), `vocab_size` (ids accepted
    in input; ids without a table row are never split), `n_unsplittable`, `max_depth`.
    """

    def __init__(self, tokenizer=None, *, tokens="present", _table=None):
        """Build from a newbpe `Tokenizer`, a `tiktoken.Encoding` or a `tokenizers.Tokenizer`.
        tokens="present" (the only choice, spec §3): the table uses the tokens the model can emit,
        i.e. Picky BPE's present tokens and Scaffold-BPE's visible tokens; removed/hidden tokens
        have no id and are never produced."""
        if tokens != "present":
            raise NewbpeError(f"tokens must be 'present' (the tokens a model can emit), got {tokens!r}")
        if _table is not None:
            self._set(*_table)
            return
        if tokenizer is None:
            raise NewbpeError("StochasTok needs a tokenizer (or use from_hf / from_tiktoken / from_vocab / load)")
        self._build(*_vocab_of(tokenizer))

    # ------------------------------------------------------------------ construction
    def _build(self, vocab, never, source):
        offs, left, right, n_bad = build_split_table(vocab, never)
        self._set(offs, left, right, len(vocab), _fingerprint(vocab, never), n_bad)
        if n_bad:
            warnings.warn(f"StochasTok: {n_bad} multi-byte token(s) of the {source} have no split into two "
                          "vocabulary tokens; they are never split", stacklevel=3)

    def _set(self, offs, left, right, vocab_size, fingerprint, n_unsplittable):
        self.split_offset = np.ascontiguousarray(offs, np.int64)
        self.split_left = np.ascontiguousarray(left, np.int64)
        self.split_right = np.ascontiguousarray(right, np.int64)
        self.vocab_size = int(vocab_size)
        self.fingerprint = fingerprint
        self.n_unsplittable = int(n_unsplittable)
        self.max_depth = _split_depth(self.split_offset, self.split_left, self.split_right)

    @classmethod
    def from_vocab(cls, tokens, never_split=()):
        """tokens: a list (index = id) of bytes or None, or a {id: bytes} dict; `never_split`:
        ids of special and added tokens."""
        if isinstance(tokens, dict):
            n = max(tokens, default=-1) + 1
            tokens = [tokens.get(i) for i in range(n)]
        self = cls.__new__(cls)
        self._build([None if t is None else bytes(t) for t in tokens], never_split, "vocabulary")
        return self

    @classmethod
    def from_hf(cls, path):
        """From an HF tokenizer.json (file, directory or JSON string) of a byte-level BPE model;
        added tokens (specials included) are never split."""
        from ..export.hf import read_hf_vocab
        vocab, never = read_hf_vocab(path)
        self = cls.__new__(cls)
        self._build(vocab, never, "HF tokenizer.json")
        return self

    @classmethod
    def from_tiktoken(cls, source, special_tokens=None):
        """From a tiktoken rank file (`base64 rank` lines) or a `tiktoken.Encoding`. Special tokens
        (from `special_tokens`, or a newbpe export's `NAME.tiktoken.json` beside the file) take ids
        after the ranks and are never split."""
        if hasattr(source, "_mergeable_ranks"):
            ranks, specials = source._mergeable_ranks, dict(getattr(source, "_special_tokens", {}))
        else:
            from ..export.tiktoken import read_tiktoken_ranks
            if not os.path.isfile(source):
                raise ModelFileError(f"tiktoken file not found: {source}")
            ranks = read_tiktoken_ranks(source)
            specials = {}
            meta = os.fspath(source) + ".json"
            if special_tokens is None and os.path.isfile(meta):
                with open(meta, encoding="utf-8") as f:
                    specials = json.load(f).get("special_tokens", {})
        if special_tokens is not None:
            specials = dict(special_tokens)
        vocab, never = _tiktoken_vocab(ranks, specials)
        self = cls.__new__(cls)
        self._build(vocab, never, "tiktoken vocabulary")
        return self

    @classmethod
    def from_reference_json(cls, path_or_dict, vocab_size=None):
        """A table in the reference code's JSON format ({"token_id": [[left, right], ...]}): the
        keys, strings after a JSON round trip, are converted to int (the reference then finds no
        token in its table and silently never expands, spec §7.1)."""
        d = path_or_dict
        if not isinstance(d, dict):
            try:
                with open(d, encoding="utf-8") as f:
                    d = json.load(f)
            except (OSError, json.JSONDecodeError) as e:
                raise ModelFileError(f"{path_or_dict}: not a StochasTok JSON table ({e})") from None
        try:
            table = {int(k): [(int(a), int(b)) for a, b in v] for k, v in d.items()}
        except (TypeError, ValueError) as e:
            raise ModelFileError(f"not a StochasTok JSON table ({e})") from None
        ids = [i for i in table] + [x for v in table.values() for pair in v for x in pair]
        if ids and min(ids) < 0:
            raise ModelFileError("negative token id in StochasTok JSON table")
        n = max(ids, default=-1) + 1
        if vocab_size is not None and n > vocab_size:
            raise ModelFileError(f"StochasTok JSON table uses token id {n - 1}, outside the vocabulary")
        n = max(n, int(vocab_size or 0))
        counts = np.zeros(n, np.int64)
        for k, v in table.items():
            counts[k] = len(v)
        offs = np.zeros(n + 1, np.int64)
        np.cumsum(counts, out=offs[1:])
        pairs = [p for k in sorted(table) for p in table[k]]
        arr = np.array(pairs, np.int64).reshape(-1, 2)
        self = cls.__new__(cls)
        self._set(offs, arr[:, 0], arr[:, 1], n if vocab_size is None else vocab_size, None, 0)
        return self

    # ------------------------------------------------------------------ persistence
    def save(self, path):
        """Write the table as `.npz` arrays (atomically). A directory (e.g. the model's) gets
        `stochastok.npz`. Returns the file written."""
        path = os.fspath(path)
        if os.path.isdir(path):
            path = os.path.join(path, TABLE_FILE)
        meta = {"format": TABLE_FORMAT, "version": TABLE_VERSION, "vocab_size": self.vocab_size,
                "fingerprint": self.fingerprint, "n_unsplittable": self.n_unsplittable}

        def write(f):
            np.savez(f, split_offset=self.split_offset, split_left=self.split_left, split_right=self.split_right,
                     meta=np.frombuffer(json.dumps(meta).encode(), np.uint8))
        atomic_write(path, write, binary=True)
        return path

    @classmethod
    def load(cls, path, tokenizer=None):
        """A saved table: an `.npz` file or a directory holding `stochastok.npz`; a `.json` file is
        read as the reference's format (keys converted to int). With `tokenizer`, the table must
        have been built from that tokenizer's vocabulary (fingerprint check)."""
        path = os.fspath(path)
        if os.path.isdir(path):
            path = os.path.join(path, TABLE_FILE)
        if path.endswith(".json"):
            return cls.from_reference_json(path, None if tokenizer is None else len(_vocab_of(tokenizer)[0]))
        meta, (offs, left, right) = read_npz(path, ("split_offset", "split_left", "split_right"),
                                             TABLE_FORMAT, TABLE_VERSION, "StochasTok table")
        n = offs.shape[0] - 1
        ok = (offs.ndim == 1 and n >= 0 and offs[0] == 0 and left.shape == right.shape
              and offs[-1] == left.shape[0] and np.all(np.diff(offs) >= 0)
              and (left.size == 0 or (min(left.min(), right.min()) >= 0)))
        if not ok:
            raise ModelFileError(f"{path}: malformed StochasTok table")
        self = cls.__new__(cls)
        self._set(offs, left, right, meta["vocab_size"], meta.get("fingerprint"), meta.get("n_unsplittable", 0))
        if tokenizer is not None:
            vocab, never, _ = _vocab_of(tokenizer)
            if _fingerprint(vocab, never) != self.fingerprint:
                raise ModelFileError(f"{path}: the table was built from another vocabulary")
        return self

    @classmethod
    def for_model(cls, model_dir):
        """The table of a newbpe model directory: `stochastok.npz` there when it matches the model's
        vocabulary, else built from the model (and not written)."""
        from ..model import Tokenizer
        tok = Tokenizer.load(model_dir)
        cached = os.path.join(model_dir, TABLE_FILE) if os.path.isdir(model_dir) else None
        if cached and os.path.isfile(cached):
            try:
                return tok, cls.load(cached, tokenizer=tok)
            except ModelFileError:
                pass
        return tok, cls(tok)

    # ------------------------------------------------------------------ queries
    def splits(self, token_id):
        """[(left_id, right_id), ...] of a token, in increasing cut position."""
        t = int(token_id)
        if not 0 <= t < self.split_offset.shape[0] - 1:
            return []
        a, b = self.split_offset[t], self.split_offset[t + 1]
        return list(zip(self.split_left[a:b].tolist(), self.split_right[a:b].tolist()))

    def to_dict(self):
        """{token_id (int): [(left, right), ...]} for every splittable token."""
        counts = np.diff(self.split_offset)
        return {int(t): self.splits(t) for t in np.flatnonzero(counts)}

    def __repr__(self):
        n = int(np.count_nonzero(np.diff(self.split_offset)))
        return f"StochasTok(vocab_size={self.vocab_size}, splittable={n}, splits={self.split_left.size})"

    # ------------------------------------------------------------------ expansion
    def expand(self, ids, p, *, seed=None, max_num_to_expand=None, index=0, epoch=None):
        """Expanded copy of one document's ids (a list for a list, an int64 array for an array).
        The same as `expand_batch([ids], ..., indices=[index])[0]`."""
        out = self.expand_batch([ids], p, seed=seed, max_num_to_expand=max_num_to_expand, indices=[index],
                                epoch=epoch, threads=1)
        return out[0]

    def expand_batch(self, docs, p, *, seed=None, max_num_to_expand=None, indices=None, epoch=None,
                     threads=None, return_successes=False):
        """Expand many documents independently in one kernel call. Document i uses the random
        stream of (seed, [epoch,] indices[i]) (default indices 0..n-1), so the result depends on
        neither batch size, thread count nor order. Returns a list (lists for list inputs, int64
        arrays for array inputs); with return_successes=True also the int64 array of successful
        splits per document."""
        arrays = [isinstance(d, np.ndarray) for d in docs]
        lengths = np.fromiter((len(d) for d in docs), np.int64, count=len(docs))
        total = int(lengths.sum())
        if docs and all(arrays):
            flat = np.concatenate([np.asarray(d).astype(np.int64, copy=False).ravel() for d in docs])
        else:
            flat = np.fromiter(itertools.chain.from_iterable(docs), np.int64, count=total)
        offsets = np.zeros(len(docs) + 1, np.int64)
        np.cumsum(lengths, out=offsets[1:])
        out, out_off, successes = self.expand_flat(flat, offsets, p, seed=seed, max_num_to_expand=max_num_to_expand,
                                                   indices=indices, epoch=epoch, threads=threads)
        result = []
        for i, is_array in enumerate(arrays):
            piece = out[out_off[i]:out_off[i + 1]]
            result.append(piece.copy() if is_array else piece.tolist())
        return (result, successes) if return_successes else result

    def expand_flat(self, ids, offsets, p, *, seed=None, max_num_to_expand=None, indices=None, epoch=None,
                    threads=None):
        """The batch kernel on CSR input: documents ids[offsets[d]:offsets[d+1]]. Returns
        (ids int64, offsets int64, successes int64 per document)."""
        ids = np.ascontiguousarray(ids, dtype=np.int64).ravel()
        offsets = np.ascontiguousarray(offsets, dtype=np.int64).ravel()
        n_docs = offsets.shape[0] - 1
        if n_docs < 0 or offsets[0] != 0 or offsets[-1] != ids.shape[0] or np.any(np.diff(offsets) < 0):
            raise NewbpeError("offsets must start at 0, be non-decreasing and end at len(ids)")
        p = _check_p(p)
        cap = _check_cap(max_num_to_expand)
        lengths = np.diff(offsets)
        with np.errstate(over="ignore", invalid="ignore"):
            attempts = np.floor(lengths.astype(np.float64) * p)   # the reference's int(len(ids) * p)
        if attempts.size and attempts.max() > _MAX_NODES:
            raise NewbpeError("too many attempts for one document (p * length must stay below 2**31)")
        n_att = attempts.astype(np.int64)
        grow = n_att if cap < 0 else np.minimum(n_att, cap)
        if n_docs and (lengths + 2 * grow).max() > _MAX_NODES:
            raise NewbpeError("a document is too long to expand (length + 2 * splits must stay below 2**31)")
        if indices is None:
            indices = np.arange(n_docs, dtype=np.int64)
        indices = np.asarray(indices, dtype=np.int64).ravel()
        if indices.shape[0] != n_docs:
            raise NewbpeError(f"{indices.shape[0]} indices for {n_docs} documents")
        seeds = document_seeds(resolve_seed(seed), indices, epoch)
        threads = int(threads or os.cpu_count() or 1)
        if threads < 1:
            raise NewbpeError("threads must be >= 1")
        out_len = np.zeros(n_docs, np.int64)
        successes = np.zeros(n_docs, np.int64)
        args = (ids, offsets, n_att, cap, seeds, self.split_offset, self.split_left, self.split_right,
                self.vocab_size, self.max_depth)
        # threads=1 never enters a parallel kernel, so it is safe in processes forked after the
        # parent used numba's OpenMP layer (datasets.map with num_proc).
        if threads == 1 or n_docs < 2:
            out = np.empty(int(ids.shape[0] + grow.sum()), np.int64)
            end = _expand_range(*args, 0, n_docs, out, 0, out_len, successes)
            self._raise_bad_id(ids, end)
            result = out[:end]
        else:
            bounds = _plan(lengths + grow, threads)
            cum = np.zeros(n_docs + 1, np.int64)
            np.cumsum(lengths + grow, out=cum[1:])
            chunk_start = cum[bounds[:-1]]
            chunk_end = np.zeros(len(bounds) - 1, np.int64)
            out = np.empty(int(cum[-1]), np.int64)
            with threads_limit(threads):
                _expand_chunks(*args, bounds, chunk_start, out, out_len, successes, chunk_end)
            for e in chunk_end:
                self._raise_bad_id(ids, e)
            sizes = chunk_end - chunk_start
            dst_start = np.zeros(len(sizes), np.int64)
            np.cumsum(sizes[:-1], out=dst_start[1:])
            result = np.empty(int(sizes.sum()), np.int64)
            with threads_limit(threads):
                _gather_chunks(out, chunk_start, chunk_end, dst_start, result)
        new_off = np.zeros(n_docs + 1, np.int64)
        np.cumsum(out_len, out=new_off[1:])
        return result, new_off, successes

    def _raise_bad_id(self, ids, end):
        if end < 0:
            raise NewbpeError(f"token id {int(ids[-1 - end])} is outside this vocabulary (0..{self.vocab_size - 1})")

    def map_function(self, p, *, seed, column="ids", output_column=None, max_num_to_expand=None, epoch=None,
                     with_len=True, threads=1):
        """A function for `datasets.Dataset.map(fn, batched=True, with_indices=True)`: expands
        column `column` into `output_column` (default: in place) and adds `len`. Document i is seeded
        from (seed, [epoch,] its dataset index), so any batch size and `num_proc` give the same
        result. seed=None is resolved to fresh entropy once, here, so all workers share it."""
        return _MapFunction(self, p, resolve_seed(seed), column, output_column or column,
                            max_num_to_expand, epoch, with_len, threads)

    def expand_dataset(self, dataset, p, *, seed, column="ids", splits=("train",), max_num_to_expand=None,
                       epoch=None, num_proc=None, batch_size=1000):
        """Expand a `datasets.Dataset`, or the `splits` of a DatasetDict (default: training only,
        spec §6; the reference expands validation too, which makes losses incomparable; pass
        splits=None for all)."""
        fn = self.map_function(p, seed=seed, column=column, max_num_to_expand=max_num_to_expand, epoch=epoch)
        kw = dict(batched=True, with_indices=True, batch_size=batch_size, num_proc=num_proc,
                  desc="StochasTok")
        if isinstance(dataset, dict):                    # a DatasetDict
            keep = set(dataset.keys()) if splits is None else set(splits)
            unknown = keep - set(dataset.keys())
            if unknown:
                raise NewbpeError(f"no split(s) {', '.join(sorted(unknown))} in the dataset")
            out = dict(dataset)
            for name in keep:
                out[name] = dataset[name].map(fn, **kw)
            return type(dataset)(out)
        return dataset.map(fn, **kw)


class _MapFunction:
    """Picklable batched map function (see StochasTok.map_function)."""

    def __init__(self, st, p, seed, column, output_column, cap, epoch, with_len, threads):
        self.st, self.p, self.seed, self.column, self.output_column = st, _check_p(p), seed, column, output_column
        self.cap, self.epoch, self.with_len, self.threads = cap, epoch, with_len, threads

    def __call__(self, batch, indices):
        docs = batch[self.column]
        out = self.st.expand_batch(docs, self.p, seed=self.seed, max_num_to_expand=self.cap, indices=indices,
                                   epoch=self.epoch, threads=self.threads)
        res = {self.output_column: out}
        if self.with_len:
            res["len"] = [len(x) for x in out]
        return res


def _vocab_of(tokenizer):
    """(token bytes by emitted id, never-split ids, description) of a tokenizer object."""
    if hasattr(tokenizer, "model_ids") and hasattr(tokenizer, "tokens"):          # newbpe Tokenizer
        vocab = [tokenizer.tokens[i] for i in tokenizer.model_ids]
        never = [m for m, i in enumerate(tokenizer.model_ids) if i < tokenizer.n_specials]
        return vocab, never, f"newbpe {tokenizer.algo} model"
    if hasattr(tokenizer, "_mergeable_ranks"):                                      # tiktoken.Encoding
        vocab, never = _tiktoken_vocab(tokenizer._mergeable_ranks, getattr(tokenizer, "_special_tokens", {}))
        return vocab, never, "tiktoken encoding"
    if hasattr(tokenizer, "to_str"):                                                # tokenizers.Tokenizer
        from ..export.hf import read_hf_vocab
        vocab, never = read_hf_vocab(json.loads(tokenizer.to_str()))
        return vocab, never, "HF tokenizer"
    raise NewbpeError(f"cannot build a StochasTok table from a {type(tokenizer).__name__}")


def _tiktoken_vocab(ranks, specials):
    n = max([*ranks.values(), *specials.values(), -1]) + 1
    vocab = [None] * n
    for b, r in ranks.items():
        vocab[r] = bytes(b)
    for s, i in specials.items():
        vocab[i] = s.encode("utf-8")
    return vocab, set(specials.values())


def _check_p(p):
    try:
        p = float(p)
    except (TypeError, ValueError):
        raise NewbpeError(f"p must be a number, got {p!r}") from None
    if not (p >= 0 and np.isfinite(p)):
        raise NewbpeError(f"p must be a finite number >= 0, got {p}")
    return p


def _check_cap(cap):
    if cap is None:
        return -1
    if isinstance(cap, bool) or not isinstance(cap, (int, np.integer)) or cap < 0:
        raise NewbpeError(f"max_num_to_expand must be a non-negative integer or None, got {cap!r}")
    return int(cap)


def _plan(work, threads):
    """Contiguous chunks of documents with about equal work (4 per thread, for balance)."""
    n = work.shape[0]
    n_chunks = min(n, 4 * threads)
    cum = np.cumsum(work)
    targets = cum[-1] * np.arange(1, n_chunks) / n_chunks
    cuts = np.searchsorted(cum, targets, side="left") + 1
    return np.unique(np.concatenate([[0], np.clip(cuts, 0, n), [n]])).astype(np.int64)


# ---------------------------------------------------------------------------------------- output files
OUTPUT_FORMATS = (".npy", ".bin", ".jsonl")


def ids_dtype(vocab_size):
    """uint16 when every id fits (vocabulary < 65,536 ids), else uint32 (spec §6)."""
    return np.uint16 if vocab_size < (1 << 16) else np.uint32


def check_output_path(path):
    ext = os.path.splitext(os.fspath(path))[1].lower()
    if ext not in OUTPUT_FORMATS:
        raise NewbpeError(f"output must end in {', '.join(OUTPUT_FORMATS)}, got {os.fspath(path)!r}")
    return ext


class IdsWriter:
    """Streams documents of ids to PATH by extension: `.npy`: one flat array (uint16/uint32) +
    `PATH.idx`; `.bin`: the same array as raw little-endian values + `PATH.idx`; `PATH.idx` holds the
    n_docs + 1 document offsets as raw little-endian int64 (`np.fromfile(PATH + ".idx", "<i8")`);
    `.jsonl`: one {"ids": [...]} line per document. Memory holds one batch at a time. The files are
    one all-or-nothing group (`newbpe.atomic.Output`): they appear, together, at `close`; `abort`
    (or any error) leaves the old files, if any, and no temp file. `.npy` reserves its header at
    the start and fills in the length at `close` (numpy's 1.0 header is 128 bytes for any length)."""

    def __init__(self, path, vocab_size):
        from ..atomic import Output
        self.path = os.fspath(path)
        self.ext = check_output_path(self.path)
        self.dtype = np.dtype(ids_dtype(vocab_size)).newbyteorder("<")
        real = os.path.realpath(self.path)          # a symlinked output: written where it points
        self._out = Output(os.path.dirname(real))
        try:
            self._data = self._out.open(os.path.basename(real), binary=True)
            self._idx = self._out.open(os.path.basename(real) + ".idx", binary=True) if self.ext != ".jsonl" else None
            self.n_ids = 0
            self.n_docs = 0
            if self._idx is not None:
                self._idx.write(np.zeros(1, "<i8").tobytes())
            if self.ext == ".npy":
                self._header_size = self._write_header()
        except BaseException:
            self._out.abort()
            raise

    def _write_header(self):
        """The .npy header for the ids written so far, at the start of the data file."""
        header = io.BytesIO()
        np.lib.format.write_array_header_1_0(header, {"descr": np.lib.format.dtype_to_descr(self.dtype),
                                                      "fortran_order": False, "shape": (self.n_ids,)})
        self._data.write(header.getvalue())
        return len(header.getvalue())

    def write(self, ids, offsets):
        """Append documents ids[offsets[d]:offsets[d + 1]]."""
        n = len(offsets) - 1
        if self.ext == ".jsonl":
            self._data.write("".join('{"ids":[' + ",".join(map(str, ids[offsets[d]:offsets[d + 1]].tolist())) + "]}\n"
                                     for d in range(n)).encode())
        else:
            self._data.write(np.asarray(ids[offsets[0]:offsets[-1]]).astype(self.dtype).tobytes())
            self._idx.write((np.asarray(offsets[1:], np.int64) - offsets[0] + self.n_ids).astype("<i8").tobytes())
        self.n_ids += int(offsets[-1] - offsets[0])
        self.n_docs += n

    def close(self):
        """Put the files in place (all of them or none); returns the files written."""
        if self.ext == ".npy":
            self._data.seek(0)
            if self._write_header() != self._header_size:
                self.abort()
                raise NewbpeError(f"{self.path}: the .npy header changed size")
        self._out.commit()
        return [self.path] + ([self.path + ".idx"] if self._idx else [])

    def abort(self):
        self._out.abort()


def expand_files(tok, st, files, output, p, *, seed=None, max_num_to_expand=None, epoch=None, split="line",
                 allowed_special=(), append_special=None, threads=None, batch_chars=4 << 20):
    """Encode text files with `tok`, expand them with `st` and write the ids to `output` (`IdsWriter`),
    streaming batches of about `batch_chars` characters, so memory is bounded by a batch. Documents
    are numbered across files in order, so document d's expansion depends only on (seed, [epoch,] d),
    its ids, p and the cap, whatever the batching. Returns (n_docs, ids in, ids out, successes, files)."""
    check_output_path(output)
    eot = None
    if append_special is not None:
        if append_special not in tok.special_tokens:
            raise NewbpeError(f"append_special: {append_special!r} is not a special token of this model")
        eot = tok.token_to_id(append_special)
    writer = IdsWriter(output, tok.vocab_size)
    n_in = n_out = n_split = 0
    try:
        batch, size = [], 0
        docs = read_documents(files, split)
        while True:
            doc = next(docs, None)
            if doc is not None:
                batch.append(doc)
                size += len(doc)
            if batch and (doc is None or size >= batch_chars):
                ids = tok.encode_batch(batch, allowed_special=allowed_special, threads=threads)
                if eot is not None:
                    for d in ids:
                        d.append(eot)
                offsets = np.zeros(len(ids) + 1, dtype=np.int64)
                np.cumsum([len(d) for d in ids], out=offsets[1:])
                flat = np.fromiter((x for d in ids for x in d), dtype=np.int64, count=int(offsets[-1]))
                first = writer.n_docs
                out, out_off, successes = st.expand_flat(
                    flat, offsets, p, seed=seed, max_num_to_expand=max_num_to_expand, epoch=epoch,
                    indices=np.arange(first, first + len(ids)), threads=threads)
                writer.write(out, out_off)
                n_in += int(offsets[-1])
                n_out += int(out_off[-1])
                n_split += int(successes.sum())
                batch, size = [], 0
            if doc is None:
                break
        if writer.n_docs == 0:
            raise NewbpeError("no documents in the input")
        written = writer.close()
    except BaseException:
        writer.abort()
        raise
    return writer.n_docs, n_in, n_out, n_split, written

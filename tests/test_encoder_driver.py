"""The shared encoder driver (newbpe/encoders/_driver.py): its contract with a toy piece kernel,
the same checks for every encoder, and the PieceKernel type that keeps numba's disk cache working."""
import pickle

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from newbpe._jit import njit
from newbpe.encoders._driver import CACHE_MAX_UNITS, DrivenEncoder, PieceKernel, PieceKernelType, gather, plan
from newbpe.encoders.lbpe import LBPEEncoder
from newbpe.encoders.rank import RankEncoder
from newbpe.encoders.replay import ReplayEncoder

N_UNITS, N_TOKENS = 6, 12


@njit(cache=True)
def _reverse_piece(model, units, a, n, out, pos, scratch):
    """Toy piece kernel: the units reversed, shifted by model[0]; checks the scratch contract."""
    if scratch.shape[0] < n:
        raise ValueError("scratch smaller than a piece of its chunk")
    for k in range(n):
        out[pos + k] = units[a + n - 1 - k] + model[0]
    return n


@njit(cache=True)
def _reverse_scratch(model, n_max):
    return np.empty(n_max, np.int64)


class ReverseEncoder(DrivenEncoder):
    encode_piece = PieceKernel(_reverse_piece)
    new_scratch = PieceKernel(_reverse_scratch)

    def model(self):
        return (0,)


def oracle(pieces, whole):
    spelled = {}
    for t in sorted(whole):
        spelled.setdefault(tuple(whole[t]), t)
    out = []
    for p in pieces:
        if len(p) >= 2 and tuple(p) in spelled:
            out.append([spelled[tuple(p)]])
        else:
            out.append(list(p) if len(p) <= 1 else list(reversed(p)))
    return out


def pack(pieces):
    units = np.array([u for p in pieces for u in p], dtype=np.int64)
    offsets = np.zeros(len(pieces) + 1, dtype=np.int64)
    np.cumsum([len(p) for p in pieces], out=offsets[1:])
    return units, offsets


piece_st = st.one_of(st.lists(st.integers(0, N_UNITS - 1), max_size=6),
                     st.lists(st.integers(0, 1), min_size=CACHE_MAX_UNITS, max_size=CACHE_MAX_UNITS + 3))


@settings(max_examples=60, deadline=None)
@given(st.lists(piece_st, max_size=30),
       st.dictionaries(st.integers(N_UNITS, N_TOKENS - 1), st.lists(st.integers(0, 2), min_size=1, max_size=3),
                       max_size=4),
       st.integers(1, 4), st.booleans())
def test_driver_contract(pieces, whole, threads, tiny_cache):
    sizes = dict(cache_slots=2, cache_pool=4) if tiny_cache else {}
    enc = ReverseEncoder(N_TOKENS, whole, **sizes)
    units, offsets = pack(pieces)
    want = oracle(pieces, whole)
    for _ in range(2):                              # the second pass runs on warm caches
        ids, out_offsets = enc.encode_units(units, offsets, threads=threads)
        got = [ids[out_offsets[i]:out_offsets[i + 1]].tolist() for i in range(len(pieces))]
        assert got == want


def test_offset_window_and_cache_stats():
    enc = ReverseEncoder(N_TOKENS)
    units = np.array([5, 1, 2, 3, 1, 2, 3, 4], dtype=np.int64)
    for threads in (3, 2, 1):
        enc.clear_cache()
        ids, out_offsets = enc.encode_units(units, np.array([1, 4, 7, 8]), threads=threads)
        assert ids.tolist() == [3, 2, 1, 3, 2, 1, 4] and out_offsets.tolist() == [0, 3, 6, 7]
    stats = enc.cache_stats()
    assert stats == dict(entries=1, hits=1, misses=1, clears=0)   # one thread: piece 2 repeats piece 1
    assert ReverseEncoder(N_TOKENS).cache_stats() == dict(entries=0, hits=0, misses=0, clears=0)


def test_plan_and_gather():
    offsets = np.array([3, 5, 5, 9, 10, 20, 21], dtype=np.int64)
    for threads in (1, 2, 3, 6, 10):
        bounds = plan(offsets, threads)
        assert bounds[0] == 0 and bounds[-1] == 6 and np.all(np.diff(bounds) >= 0) and len(bounds) == threads + 1
        out = np.full(offsets[-1] - offsets[0], -1, np.int64)
        out_len = np.diff(offsets) // 2
        for c in range(threads):                    # each chunk writes from its first unit's offset
            pos = offsets[bounds[c]] - offsets[0]
            for i in range(bounds[c], bounds[c + 1]):
                out[pos:pos + out_len[i]] = i
                pos += out_len[i]
        ids, out_offsets = gather(out, offsets, bounds, out_len)
        assert ids.tolist() == [i for i in range(6) for _ in range(out_len[i])]
        assert out_offsets.tolist() == [0, *np.cumsum(out_len).tolist()]


def test_model_must_be_flat():
    class Nested(ReverseEncoder):
        def model(self):
            return ((0,), 1)
    with pytest.raises(TypeError, match="flat tuple"):
        Nested(N_TOKENS).encode_units(np.array([1, 2]), np.array([0, 2]))


ENCODERS = {
    "rank": lambda: RankEncoder(np.array([[0, 1, 6]]), 7),
    "replay": lambda: ReplayEncoder([["M", 0, 1, 6]], 7),
    "lbpe": lambda: LBPEEncoder({6: np.array([0, 1])}, 7),
}


@pytest.mark.parametrize("name", sorted(ENCODERS))
def test_every_encoder_checks_inputs_alike(name):
    enc = ENCODERS[name]()
    for threads in (1, 2):
        ids, out_offsets = enc.encode_units(np.array([2, 0, 1, 3]), np.array([0, 1, 3, 3, 4]), threads=threads)
        assert ids.tolist() == [2, 6, 3] and out_offsets.tolist() == [0, 1, 2, 2, 3]
    ids, out_offsets = enc.encode_units(np.zeros(0, np.int64), np.array([0]))
    assert ids.size == 0 and out_offsets.tolist() == [0]
    bad = [((np.array([0, 7]), np.array([0, 2])), {}), ((np.array([0, -1]), np.array([0, 2])), {}),
           ((np.array([0, 1]), np.array([0, 3])), {}), ((np.array([0, 1]), np.array([0, 2, 1])), {}),
           ((np.array([0, 1]), np.array([], np.int64)), {}), ((np.array([0, 1]), np.array([0, 2])), {"threads": 0})]
    for args, kw in bad:
        with pytest.raises(ValueError):
            enc.encode_units(*args, **kw)


def test_piece_kernel_type_is_stable_across_processes():
    t = ReverseEncoder.encode_piece._numba_type_
    module, qualname, stamp = t.key
    assert (module.rsplit(".", 1)[-1], qualname) == ("test_encoder_driver", "_reverse_piece")
    assert pickle.loads(pickle.dumps(t)) is t                 # what numba's cache index stores
    again = PieceKernelType(module, qualname, stamp)
    assert again == t and hash(again) == hash(t)
    assert PieceKernelType(module, qualname, (0.0, 0)) != t  # an edited file: another specialization
    assert t.dispatcher is _reverse_piece

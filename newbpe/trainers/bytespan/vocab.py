"""ByteSpan's vocabulary: the base of §5.1, span selection and BPE completion on the engine
(specs bytespan.md §5.1, §6).

Token identity is (flag, bytes) (design.md): `ident` 0 (IDENT_PLAIN) = word-initial, 1
(IDENT_CONTINUATION) = continuation; a span at a pre-token boundary is initial.
"""
import numpy as np

from ..._jit import njit
from ...units import gpt2_byte_order
from ...vocab import IDENT_CONTINUATION, IDENT_PLAIN

SPACE = 0x20


def base_tokens(special_tokens):
    """(tokens, idents, lengths) of the base vocabulary (§5.1): specials, the 256 initial bytes, the
    256 continuation bytes, the 255 initial "0x20 b" (b != 0x20), each group in GPT-2 byte order."""
    order = gpt2_byte_order()
    tokens = [s.encode("utf-8") for s in special_tokens]
    idents = [IDENT_PLAIN] * len(tokens)
    tokens += [bytes([b]) for b in order] + [bytes([b]) for b in order]
    idents += [IDENT_PLAIN] * 256 + [IDENT_CONTINUATION] * 256
    spaced = [bytes([SPACE, b]) for b in order if b != SPACE]
    tokens += spaced
    idents += [IDENT_PLAIN] * len(spaced)
    return tokens, idents, [1] * len(special_tokens) + [len(t) for t in tokens[len(special_tokens):]]


def byte_ids(n_specials):
    """(initial id, continuation id) of every byte value in the base layout, int32[256] each."""
    order = np.array(gpt2_byte_order(), dtype=np.int64)
    init = np.empty(256, np.int32)
    init[order] = n_specials + np.arange(256)
    return init, init + 256


def is_base(token, ident):
    """Whether (ident, token) is in the base vocabulary of §5.1."""
    return len(token) == 1 or (ident == IDENT_PLAIN and len(token) == 2 and token[0] == SPACE
                               and token[1] != SPACE)


def balanced(ranked_by_language, k):
    """Round-robin (§6, Balanced): the i-th most frequent span of each language in turn (languages
    in the given order), each token once, until k."""
    out, seen = [], set()
    depth = 0
    lists = list(ranked_by_language)
    while len(out) < k and any(depth < len(lst) for lst in lists):
        for lst in lists:
            if depth < len(lst) and len(out) < k:
                key = lst[depth][:2]
                if key not in seen:
                    seen.add(key)
                    out.append(lst[depth])
        depth += 1
    return out


@njit(cache=True)
def resegment(data, doc_off, boundary, sp_start, sp_end, sp_tok, init_id, cont_id):
    """The training corpus as words for BPE completion (§6 step 1): every pre-token becomes a
    sequence of base ids, the selected span occurrences (sp_*, sorted by start, none crossing a
    boundary) collapsed into their token, every other byte a single-byte token (initial at the
    pre-token start, else continuation). Returns the distinct words (units int32, offsets, counts)."""
    n = data.shape[0]
    seq = np.empty(n, np.int32)
    piece = np.empty(n + 1, np.int64)
    m = 0
    p = 0
    k = 0
    for i_doc in range(doc_off.shape[0] - 1):
        i = doc_off[i_doc]
        b = doc_off[i_doc + 1]
        while i < b:
            if boundary[i]:
                piece[p] = m
                p += 1
            if k < sp_start.shape[0] and sp_start[k] == i:
                seq[m] = sp_tok[k]
                i = sp_end[k] + 1
                k += 1
            else:
                seq[m] = init_id[data[i]] if boundary[i] else cont_id[data[i]]
                i += 1
            m += 1
    piece[p] = m
    # distinct words: open addressing on a hash of the id sequence
    size = 1024
    while size < 2 * p:
        size <<= 1
    mask = size - 1
    table = np.full(size, -1, np.int64)
    first = np.empty(p, np.int64)
    count = np.zeros(p, np.int64)
    n_words = 0
    for w in range(p):
        a = piece[w]
        z = piece[w + 1]
        h = np.uint64(14695981039346656037)
        for j in range(a, z):
            h = (h ^ np.uint64(seq[j])) * np.uint64(1099511628211)
        s = np.int64((h ^ (h >> np.uint64(31))) & np.uint64(mask))
        while True:
            t = table[s]
            if t < 0:
                table[s] = n_words
                first[n_words] = w
                count[n_words] = 1
                n_words += 1
                break
            fa = piece[first[t]]
            fz = piece[first[t] + 1]
            same = fz - fa == z - a
            if same:
                for j in range(z - a):
                    if seq[fa + j] != seq[a + j]:
                        same = False
                        break
            if same:
                count[t] += 1
                break
            s = (s + 1) & mask
    total = 0
    for t in range(n_words):
        total += piece[first[t] + 1] - piece[first[t]]
    units = np.empty(total, np.int32)
    offsets = np.zeros(n_words + 1, np.int64)
    for t in range(n_words):
        a = piece[first[t]]
        z = piece[first[t] + 1]
        offsets[t + 1] = offsets[t] + z - a
        units[offsets[t]:offsets[t + 1]] = seq[a:z]
    return units, offsets, count[:n_words].copy()


def complete_with_bpe(words, base, selected, vocab_size, progress=None):
    """BPE completion (§6) on the engine: `words` = (units int32, offsets, counts), the distinct
    pre-tokens of the corpus re-segmented with the `selected` spans (list of (bytes, ident); unit ids:
    the base layout, then selected[i] at len(base) + i); pairs never cross a pre-token, overlapping
    counting and non-overlapping application, no min frequency, ties on ids; a merge takes its left
    part's flag and reuses an existing (flag, bytes). Runs until `vocab_size` tokens or no pair is
    left. Returns the engine (its tokens are the vocabulary; merges are not kept)."""
    from ...engine import Engine
    tokens, idents, lengths = base
    n_specials = len(tokens) - 767
    units, offsets, counts = words
    engine = Engine.build(units, offsets, counts, tokens + [t for t, _ in selected], n_specials,
                          base_idents=np.array(idents + [i for _, i in selected], np.int64),
                          base_lengths=np.array(lengths + [len(t) for t, _ in selected], np.int64))
    if engine.n_tokens < vocab_size:
        from ..base import Progress
        engine.run_bpe(engine.n_tokens, vocab_size, 1, progress=Progress(progress))
    return engine

"""What every BPE-family trainer shares: turning a `WordCounts` table into base tokens and
unit-id words laid out as specs README §2.3 prescribes (specials, then the alphabet, then merges).
"""
import warnings
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from ..checks import check, check_all, check_special_tokens
from ..errors import NewbpeError
from ..units import byte_counts, gpt2_byte_order


@dataclass
class BaseLayout:
    """The base vocabulary and the words as unit ids."""
    special_tokens: list
    alphabet: list             # bytes values (byte mode) or 1-char str (char mode), in id order
    units: str
    unit_data: np.ndarray      # concatenated words: unit ids, or bytes to map through unit_map
    offsets: np.ndarray
    counts: np.ndarray
    notes: dict = field(default_factory=dict)
    unit_map: np.ndarray = None    # byte mode: int32 id of every byte value

    @property
    def units_ids(self):
        """Concatenated unit ids of all words (computed in byte mode: the engine takes the bytes)."""
        return self.unit_data if self.unit_map is None else self.unit_map[self.unit_data]

    @property
    def n_specials(self):
        return len(self.special_tokens)

    @property
    def n_base(self):
        return len(self.special_tokens) + len(self.alphabet)

    def base_token_bytes(self):
        out = [s.encode("utf-8") for s in self.special_tokens]
        if self.units == "bytes":
            out += [bytes([b]) for b in self.alphabet]
        else:
            out += [c.encode("utf-8", "surrogatepass") for c in self.alphabet]
        return out


def check_specials(special_tokens):
    """Special tokens as a list (checks.check_special_tokens: a single str is one token)."""
    return check_special_tokens(special_tokens)


def layout(word_counts, special_tokens=(), *, byte_alphabet="full", limit_alphabet=None,
           initial_alphabet=(), coverage=1.0, unknown_chars="unk", unk_token="<unk>"):
    """Build the base layout of a word table.

    Byte mode: ``byte_alphabet="full"`` keeps all 256 bytes (lossless, HF with
    ``initial_alphabet=ByteLevel.alphabet()``); ``"observed"`` keeps only bytes present (HF default
    without an initial alphabet; lossy for unseen bytes, so it warns).

    Char mode (HF ``compute_alphabet`` semantics): characters counted by word count; those in
    `initial_alphabet` are always kept; `limit_alphabet` keeps the most frequent (ties: the larger
    code point is dropped first — a newbpe decision, HF's order is unspecified); `coverage` < 1
    drops the rarest characters whose cumulative count stays below (1 − coverage) · total (Picky
    reference semantics, without its slicing bug). Unknown characters are dropped from the word
    (``unknown_chars="drop"``, HF: neighbours become adjacent) or become `unk_token`
    (``"unk"``: the word is cut there, since special tokens never take part in pairs).
    """
    specials = check_specials(special_tokens)
    data, offsets, counts = word_counts.arrays(copy=False)
    units = word_counts.units
    if units == "bytes":
        check("byte_alphabet", byte_alphabet)
        order = list(gpt2_byte_order())
        if byte_alphabet == "observed":
            seen = set(np.flatnonzero(byte_counts(data)).tolist())
            order = [b for b in order if b in seen]
            if len(order) < 256:
                warnings.warn(f"byte_alphabet='observed' keeps {len(order)} of 256 bytes: unseen bytes "
                              "are dropped when encoding (lossy)", stacklevel=3)
        # the engine maps the bytes itself: an id array would cost 8 bytes per unit while building
        rank = np.full(256, -1, dtype=np.int32)
        rank[np.array(order, dtype=np.int64)] = np.arange(len(order)) + len(specials)
        return BaseLayout(specials, order, units, data, offsets, counts, unit_map=rank)

    # char mode
    raw = data.tobytes()
    words = [raw[offsets[i]:offsets[i + 1]].decode("utf-8", "surrogatepass") for i in range(len(counts))]
    char_count = Counter()
    for w, c in zip(words, counts):
        for ch in w:
            char_count[ch] += int(c)
    keep = dict(char_count)
    forced = set(initial_alphabet or ())
    if limit_alphabet is not None and len(keep) + len(forced - set(keep)) > limit_alphabet:
        ranked = sorted(keep.items(), key=lambda kv: (-kv[1], ord(kv[0])))
        kept = [ch for ch, _ in ranked if ch not in forced][:max(limit_alphabet - len(forced), 0)]
        keep = {ch: keep[ch] for ch in kept}
    if coverage < 1.0:
        total = sum(keep.values())
        budget = (1.0 - coverage) * total
        dropped = 0
        for ch, c in sorted(keep.items(), key=lambda kv: (kv[1], -ord(kv[0]))):
            if ch in forced or dropped + c > budget:
                break
            dropped += c
            del keep[ch]
    alphabet = sorted(set(keep) | forced, key=ord)
    check("unknown_chars", unknown_chars)
    if unknown_chars == "unk" and unk_token not in specials:
        specials = specials + [unk_token]
    index = {ch: i + len(specials) for i, ch in enumerate(alphabet)}
    out_units, out_offsets, out_counts = [], [0], []
    n_unknown = 0
    for w, c in zip(words, counts):
        pieces = [[]]
        for ch in w:
            i = index.get(ch)
            if i is None:
                n_unknown += int(c)
                if unknown_chars == "unk" and pieces[-1]:
                    pieces.append([])
                continue
            pieces[-1].append(i)
        for p in pieces:
            if p:
                out_units.extend(p)
                out_offsets.append(len(out_units))
                out_counts.append(int(c))
    notes = {"dropped_chars": len(char_count) - len(set(keep) & set(char_count)), "unknown_occurrences": n_unknown}
    return BaseLayout(specials, alphabet, units, np.array(out_units, dtype=np.int32),
                      np.array(out_offsets, dtype=np.int64), np.array(out_counts, dtype=np.int64), notes)


def count_words(source, special_tokens=(), pretokenizer="gpt2", units="bytes", transform=None):
    """The word-count table a BPE-family trainer trains on: `source` is a `Corpus` (or anything
    `Corpus` accepts, a `WordCounts` table included), counted once per pre-tokenization."""
    from ..corpus import Corpus
    table = Corpus.of(source).counts(pretokenizer, units, special_tokens, transform)
    if len(table) == 0:
        raise NewbpeError("the training source contains no text")
    return table


def prepare(word_counts, vocab_size, special_tokens, opts, partitions=1, **engine_options):
    """What every BPE-family trainer starts with: the base layout (alphabet options of bpe.OPTIONS),
    the vocab-size check, and the engine over the words with the shared veto options.
    partitions > 1: a `PartitionedEngine` (plain BPE's `run_bpe` only; engine_options then take
    its `parallel_threshold`). Returns (base, engine)."""
    from ..engine import Engine, PartitionedEngine
    opts = {**opts, **check_all(opts)}
    base = layout(word_counts, special_tokens, byte_alphabet=opts["byte_alphabet"],
                  limit_alphabet=opts["limit_alphabet"], initial_alphabet=opts["initial_alphabet"],
                  coverage=opts["coverage"], unknown_chars=opts["unknown_chars"], unk_token=opts["unk_token"])
    check_vocab_size(vocab_size, base)
    if partitions > 1:
        engine_options["partitions"] = partitions
    engine = (PartitionedEngine if partitions > 1 else Engine).build(
        base.unit_data, base.offsets, base.counts, base.base_token_bytes(), base.n_specials,
        max_token_length=opts["max_token_length"], max_token_length_mode=opts["max_token_length_mode"],
        unit_map=base.unit_map, **engine_options)
    return base, engine


def check_vocab_size(vocab_size, base):
    if vocab_size is None:
        raise NewbpeError("vocab_size is required")
    check("vocab_size", vocab_size)
    if not base.alphabet:
        raise NewbpeError("the alphabet is empty: no character of the corpus is kept "
                          "(check limit_alphabet, coverage and initial_alphabet)")
    if base.n_base >= vocab_size:
        raise NewbpeError(f"vocab_size {vocab_size} is not above the base vocabulary "
                          f"({base.n_specials} special tokens + {len(base.alphabet)} {base.units} = {base.n_base})")


class Progress:
    """Adapts the optional progress callback (stage, current, total); silent when None."""

    def __init__(self, callback=None):
        self.callback = callback

    def __call__(self, stage, current, total):
        if self.callback is not None:
            self.callback(stage, current, total)


def token_shape_stats(tokens):
    """Tokens with an inner space (byte 0x20 after the first byte) and the words-per-token
    histogram (words = non-empty pieces split on 0x20): what `newbpe info` shows for the methods
    whose tokens cross spaces (SuperBPE, supertokens; specs supertokens.md §2.5)."""
    hist = Counter(sum(1 for p in t.split(b" ") if p) for t in tokens)
    return {"tokens_with_inner_space": sum(1 for t in tokens if b" " in t[1:]),
            "words_per_token": {str(n): hist[n] for n in sorted(hist)}}

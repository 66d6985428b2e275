"""`Vocabulary`: a trained model's tokens, by internal id — the public table that encoders,
exporters, the CLI and tests read (nothing outside the tokenizer reads its private fields).

Ids (units.py, specs README §2): internal ids number every token ever created — specials, the
alphabet, then merges in creation order. Model ids are contiguous over the tokens a model can emit
(`model_ids`, increasing internal ids); for plain BPE the two coincide. Picky BPE's removed tokens and
Scaffold-BPE's scaffold tokens have internal ids but no model id.

Token identity is (identity flag, bytes) (design.md): `idents[i]` is 0 for every token of the
methods that have no flag, and for ByteSpan's word-initial tokens; `IDENT_CONTINUATION` marks a
token that may only continue a pre-token. Two tokens with the same bytes and different identity
flags are different tokens; within one flag the bytes are unique among emittable tokens. `flags`
are the engine's per-token bits (engine/state.py: FLAG_SCAFFOLD, ...), a different thing.
"""
import numpy as np

IDENT_PLAIN = 0            # no flag; ByteSpan: word-initial
IDENT_CONTINUATION = 1     # ByteSpan: continues a pre-token (exported with a continuation prefix)


class Vocabulary:
    """Tokens (bytes), identity flags, engine flags, ranked merges and model ids of one model."""

    def __init__(self, tokens, merges, model_ids=None, *, n_specials, n_alphabet, units, flags=None, idents=None):
        self.tokens = [bytes(t) for t in tokens]
        self.merges = [(int(a), int(b), int(c)) for a, b, c in merges]
        n = len(self.tokens)
        self.model_ids = list(range(n)) if model_ids is None else [int(i) for i in model_ids]
        self.n_specials = int(n_specials)
        self.n_alphabet = int(n_alphabet)
        self.units = units
        self.flags = list(flags) if flags is not None else [0] * n
        self.idents = [int(x) for x in idents] if idents is not None else [IDENT_PLAIN] * n
        self.to_model = np.full(n, -1, dtype=np.int64)
        self.to_model[np.array(self.model_ids, dtype=np.int64)] = np.arange(len(self.model_ids))
        self.to_internal = np.array(self.model_ids, dtype=np.int64)
        self._by_key = None

    def __len__(self):
        """Number of internal tokens (hidden ones included)."""
        return len(self.tokens)

    @property
    def size(self):
        """Number of emittable tokens (the model's vocab size)."""
        return len(self.model_ids)

    @property
    def n_base(self):
        return self.n_specials + self.n_alphabet

    @property
    def all_visible(self):
        return len(self.model_ids) == len(self.tokens)

    def hidden_ids(self):
        """Internal ids without a model id (Picky-removed, scaffold), increasing."""
        return np.flatnonzero(self.to_model < 0).tolist()

    def is_special(self, internal_id):
        return internal_id < self.n_specials

    def key(self, internal_id):
        """A token's identity: (identity flag, bytes)."""
        return self.idents[internal_id], self.tokens[internal_id]

    def model_id_of(self, key):
        """Model id of the emittable token with identity `key` = (flag, bytes), or None; O(1)."""
        if self._by_key is None:
            self._by_key = {self.key(i): m for m, i in enumerate(self.model_ids)}
        return self._by_key.get(key)

    def alphabet(self):
        """Internal ids of the base units (after the specials)."""
        return range(self.n_specials, self.n_base)

    def byte_units(self):
        """int64[256]: the unit id of every byte (identity flag 0), -1 for bytes outside an observed
        alphabet (byte units only)."""
        out = np.full(256, -1, dtype=np.int64)
        for i in self.alphabet():
            if self.idents[i] == IDENT_PLAIN and len(self.tokens[i]) == 1:
                out[self.tokens[i][0]] = i
        return out

    def char_units(self):
        """{character: unit id} (char units only)."""
        return {self.tokens[i].decode("utf-8", "surrogatepass"): i for i in self.alphabet()}

    def unit_sequences(self):
        """Base-unit sequence (int64 array) of every internal token, None for specials: what
        longest-match encoders and `ignore_merges` match against."""
        k = self.n_specials
        out = [None] * k
        if self.units == "bytes":
            table = self.byte_units()
            out += [table[np.frombuffer(t, dtype=np.uint8)] for t in self.tokens[k:]]
        else:
            chars = self.char_units()
            out += [np.array([chars[c] for c in t.decode("utf-8", "surrogatepass")], dtype=np.int64)
                    for t in self.tokens[k:]]
        return out

    def merge_ranks(self):
        """{output internal id: rank of the first merge that produces it}."""
        rank = {}
        for r, (_, _, out) in enumerate(self.merges):
            rank.setdefault(out, r)
        return rank

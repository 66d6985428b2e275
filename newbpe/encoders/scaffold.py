"""Scaffold-BPE encoding (specs/scaffold.md §4): any inner encoder over the expanded vocabulary,
then every scaffold token in its output is demolished into non-scaffold tokens.

    demolish(s) = [s]                                    if s is not scaffold
                = demolish(left(s)) + demolish(right(s))  otherwise

`demolition="first_merge"` (default) uses the first recorded merge that produced s;
"fewest_pieces" takes, among all recorded merges producing s, the derivation with the fewest final
pieces, ties broken by the smallest id sequence (h-scaffold-bpe's rule). Both agree unless
duplicate-string merges produced s. Base units are never scaffold, so the recursion ends; the
parents of a merge are strictly shorter than its output, so it has no cycles. There is no re-merge
after demolition (that belongs to h-scaffold-bpe's hierarchical extension, not to the paper).

The table is computed once per model; applying it is a vectorised gather (one lookup per emitted id).
"""
import numpy as np

from ..engine.state import FLAG_SCAFFOLD


def demolition_table(merges, flags, rule="first_merge"):
    """{scaffold internal id: [non-scaffold internal ids]} for every scaffold token."""
    if rule not in ("first_merge", "fewest_pieces"):
        raise ValueError(f"demolition must be 'first_merge' or 'fewest_pieces', not {rule!r}")
    scaffold = {t for t, f in enumerate(flags) if f & FLAG_SCAFFOLD}
    producers = {}
    for a, b, out in merges:
        if out in scaffold:
            producers.setdefault(out, []).append((a, b))
    table = {}

    def demolish(t):
        if t not in scaffold:
            return [t]
        if t not in table:
            options = producers.get(t)
            if not options:
                raise ValueError(f"scaffold token {t} has no recorded merge")
            if rule == "first_merge":
                options = options[:1]
            table[t] = min((demolish(a) + demolish(b) for a, b in options), key=lambda p: (len(p), p))
        return table[t]

    for t in sorted(scaffold):          # recursion depth <= token length: parents are strictly shorter
        demolish(t)
    return table


class DemolishEncoder:
    """Wraps an encoder over the expanded vocabulary and demolishes scaffold tokens in its output."""

    def __init__(self, inner, table, n_tokens):
        self.inner = inner
        self.unit_dtype = getattr(inner, "unit_dtype", np.int64)
        lengths = np.ones(n_tokens, dtype=np.int64)
        for t, pieces in table.items():
            lengths[t] = len(pieces)
        self._offsets = np.zeros(n_tokens + 1, dtype=np.int64)
        np.cumsum(lengths, out=self._offsets[1:])
        self._pieces = np.arange(n_tokens, dtype=np.int64)[np.repeat(np.arange(n_tokens), lengths)]
        for t, pieces in table.items():
            self._pieces[self._offsets[t]:self._offsets[t + 1]] = pieces
        self.n_scaffold = len(table)

    def encode_units(self, units, offsets, threads=1):
        ids, out_offsets = self.inner.encode_units(units, offsets, threads=threads)
        if self.n_scaffold == 0 or len(ids) == 0:
            return ids, out_offsets
        return demolish(ids, out_offsets, self._offsets, self._pieces)


def demolish(ids, out_offsets, table_offsets, table_pieces):
    """Replace every id by its table pieces; returns (ids, out_offsets) with pieces kept together."""
    lengths = table_offsets[ids + 1] - table_offsets[ids]
    ends = np.cumsum(lengths)
    starts = ends - lengths
    idx = np.arange(ends[-1], dtype=np.int64) - np.repeat(starts - table_offsets[ids], lengths)
    new_ids = table_pieces[idx]
    cum = np.zeros(len(ids) + 1, dtype=np.int64)
    cum[1:] = ends
    return new_ids, cum[out_offsets]

"""Encoders turn base-unit pieces into token ids. Each model names its default encoder; every
encoder has `encode_units(units, offsets, threads) -> (ids, out_offsets)` over internal ids.

- "rank": classic BPE, merges applied by rank (HF `merge_all` semantics); any model whose merges
  only produce emittable tokens (BPE).
- "replay": Picky BPE's event log replayed (MERGE and SPLIT events in order).
- "scaffold": rank BPE over Scaffold-BPE's expanded vocabulary, then scaffold tokens demolished.
- "lbpe": long-token-first over the model's emittable tokens (any model); with a Scaffold model,
  `scaffold_mode="expanded_then_demolish"` matches over the expanded vocabulary and demolishes.

Encoder options live in the model's options: `lbpe_ties` ("leftmost" | "rank") and
`scaffold_mode` ("visible" | "expanded_then_demolish").
"""
from ..errors import NewbpeError
from ..trainers import DEFAULT_ENCODERS

ENCODERS = ("rank", "replay", "scaffold", "lbpe")
ENCODER_OPTIONS = {"lbpe_ties": "leftmost", "scaffold_mode": "visible"}


def check_encoder(tok, name):
    """Raise a one-line error if encoder `name` does not make sense for this model."""
    if name not in ENCODERS:
        raise NewbpeError(f"unknown encoder {name!r} (available: {', '.join(ENCODERS)})")
    if name == "replay" and tok.extra.get("events") is None:
        raise NewbpeError(f"the replay encoder needs a Picky event log; this is a {tok.algo} model")
    if name == "scaffold" and tok.algo != "scaffold":
        raise NewbpeError(f"the scaffold encoder needs a Scaffold-BPE model; this is a {tok.algo} model")
    own = DEFAULT_ENCODERS.get(tok.algo, "rank")
    if name == "rank" and own != "rank":
        raise NewbpeError(f"rank encoding of a {tok.algo} model would emit tokens outside its vocabulary; "
                          f"use the {own!r} or 'lbpe' encoder")
    ties = tok.options.get("lbpe_ties", "leftmost")
    mode = tok.options.get("scaffold_mode", "visible")
    if ties not in ("leftmost", "rank"):
        raise NewbpeError(f"lbpe_ties must be 'leftmost' or 'rank', not {ties!r}")
    if mode not in ("visible", "expanded_then_demolish"):
        raise NewbpeError(f"scaffold_mode must be 'visible' or 'expanded_then_demolish', not {mode!r}")


def make_encoder(tok, name):
    import numpy as np
    check_encoder(tok, name)
    if name in ("rank", "scaffold"):
        from .rank import RankEncoder
        merges = np.array(tok._merges, dtype=np.int64).reshape(-1, 3)
        ignore = bool(tok.options.get("ignore_merges", False))
        enc = RankEncoder(merges, len(tok.tokens), tok._token_units() if ignore else None, ignore_merges=ignore)
        return _demolishing(tok, enc) if name == "scaffold" else enc
    if name == "replay":
        from .replay import ReplayEncoder
        shortcut = bool(tok.options.get("whole_word_shortcut", False))
        units = tok._token_units() if shortcut else None
        present = {i: units[i] for i in tok.model_ids if i >= tok.n_specials} if shortcut else None
        return ReplayEncoder(tok.extra["events"], len(tok.tokens), shortcut, present)
    from .lbpe import LBPEEncoder
    units = tok._token_units()
    expanded = tok.algo == "scaffold" and tok.options.get("scaffold_mode", "visible") == "expanded_then_demolish"
    ids = range(tok.n_specials, len(tok.tokens)) if expanded else (i for i in tok.model_ids if i >= tok.n_specials)
    rank = {}
    for r, (_, _, out) in enumerate(tok._merges):
        rank.setdefault(out, r)
    enc = LBPEEncoder({i: units[i] for i in ids}, len(tok.tokens), tok.options.get("lbpe_ties", "leftmost"), rank)
    return _demolishing(tok, enc) if expanded else enc


def _demolishing(tok, inner):
    from .scaffold import DemolishEncoder
    return DemolishEncoder(inner, tok.demolition(), len(tok.tokens))

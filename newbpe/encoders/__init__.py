"""Encoders turn base-unit pieces into token ids. Each model names its default encoder; every
encoder has `encode_units(units, offsets, threads) -> (ids, out_offsets)` over internal ids."""
from ..errors import NewbpeError

ENCODERS = ("rank", "replay")


def make_encoder(tok, name):
    if name == "rank":
        import numpy as np
        from .rank import RankEncoder
        merges = np.array(tok._merges, dtype=np.int64).reshape(-1, 3)
        ignore = bool(tok.options.get("ignore_merges", False))
        return RankEncoder(merges, len(tok.tokens), tok._token_units() if ignore else None, ignore_merges=ignore)
    if name == "replay":
        from .replay import ReplayEncoder
        events = tok.extra.get("events")
        if events is None:
            raise NewbpeError(f"the replay encoder needs a Picky event log; this is a {tok.algo} model")
        shortcut = bool(tok.options.get("whole_word_shortcut", False))
        units = tok._token_units() if shortcut else None
        present = {i: units[i] for i in tok.model_ids if i >= tok.n_specials} if shortcut else None
        return ReplayEncoder(events, len(tok.tokens), shortcut, present)
    raise NewbpeError(f"unknown encoder {name!r} (available: {', '.join(ENCODERS)})")

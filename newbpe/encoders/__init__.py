"""Encoders turn base-unit pieces into token ids. Each model names its default encoder; every
encoder has `encode_units(units, offsets, threads) -> (ids, out_offsets)` over internal ids."""
from ..errors import NewbpeError

ENCODERS = ("rank",)


def make_encoder(tok, name):
    if name == "rank":
        import numpy as np
        from .rank import RankEncoder
        merges = np.array(tok._merges, dtype=np.int64).reshape(-1, 3)
        ignore = bool(tok.options.get("ignore_merges", False))
        return RankEncoder(merges, len(tok.tokens), tok._token_units() if ignore else None, ignore_merges=ignore)
    raise NewbpeError(f"unknown encoder {name!r} (available: {', '.join(ENCODERS)})")

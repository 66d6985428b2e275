"""The encoder registry: encoders turn base-unit pieces into token ids over a model's `Vocabulary`.
Each model names its default encoder; every encoder has `encode_units(units, offsets, threads) ->
(ids, out_offsets)` over internal ids. Which encoders a method's models may use is the method
registry's business (methods.py); what an encoder needs from the model it checks here, when a model
file is loaded (`validate_model_data`) and when the encoder is built.

- "rank": classic BPE, merges applied by rank (HF `merge_all` semantics); any model whose merges
  only produce emittable tokens (BPE).
- "replay": an event log (Picky BPE's MERGE and SPLIT events) replayed in order.
- "scaffold": rank BPE over the expanded vocabulary, then hidden (scaffold) tokens demolished by the
  model's demolition table.
- "bytespan": flagged greedy longest-prefix per pre-token (ByteSpan, WordPiece inference): the
  longest initial token at the pre-token start, then the longest continuation tokens.
- "lbpe": long-token-first over the model's emittable tokens (any model); with a demolition table,
  `scaffold_mode="expanded_then_demolish"` matches over the expanded vocabulary and demolishes.

Encoder options live in the model's options: `lbpe_ties` ("leftmost" | "rank") and
`scaffold_mode` ("visible" | "expanded_then_demolish").
"""
from ..errors import NewbpeError

ENCODER_OPTIONS = {"lbpe_ties": "leftmost", "scaffold_mode": "visible"}
_CHOICES = {"lbpe_ties": ("leftmost", "rank"), "scaffold_mode": ("visible", "expanded_then_demolish")}


def check_encoder(tok, name):
    """Raise a one-line error if encoder `name` does not make sense for this model."""
    from ..methods import get_method
    if name not in ENCODERS:
        raise NewbpeError(f"unknown encoder {name!r} (available: {', '.join(ENCODERS)})")
    method = get_method(tok.algo)
    if name not in method.encoders:
        raise NewbpeError(f"the {name} encoder does not fit a {tok.algo} model "
                          f"(use {' or '.join(repr(e) for e in method.encoders)})")
    check_encoder_options(tok.options)


def check_encoder_options(options):
    for key, allowed in _CHOICES.items():
        value = options.get(key, ENCODER_OPTIONS[key])
        if value not in allowed:
            raise NewbpeError(f"{key} must be {' or '.join(repr(a) for a in allowed)}, not {value!r}")


def make_encoder(tok, name):
    check_encoder(tok, name)
    return ENCODERS[name](tok)


# ---------------------------------------------------------------------- the encoders
def _rank(tok):
    import numpy as np
    from .rank import RankEncoder
    v = tok.vocabulary
    merges = np.array(v.merges, dtype=np.int64).reshape(-1, 3)
    ignore = bool(tok.options.get("ignore_merges", False))
    return RankEncoder(merges, len(v), v.unit_sequences() if ignore else None, ignore_merges=ignore)


def _scaffold(tok):
    return _demolishing(tok, _rank(tok))


def _replay(tok):
    from .replay import ReplayEncoder
    v = tok.vocabulary
    shortcut = bool(tok.options.get("whole_word_shortcut", False))
    units = v.unit_sequences() if shortcut else None
    present = {i: units[i] for i in v.model_ids if not v.is_special(i)} if shortcut else None
    return ReplayEncoder(tok.extra["events"], len(v), shortcut, present)


def _lbpe(tok):
    from .lbpe import LBPEEncoder
    v = tok.vocabulary
    units = v.unit_sequences()
    expanded = "demolition" in tok.extra and tok.options.get("scaffold_mode", "visible") == "expanded_then_demolish"
    ids = range(v.n_specials, len(v)) if expanded else (i for i in v.model_ids if not v.is_special(i))
    enc = LBPEEncoder({i: units[i] for i in ids}, len(v), tok.options.get("lbpe_ties", "leftmost"), v.merge_ranks())
    return _demolishing(tok, enc) if expanded else enc


def _demolishing(tok, inner):
    from .scaffold import DemolishEncoder
    return DemolishEncoder(inner, demolition(tok), len(tok.vocabulary))


def _bytespan(tok):
    from ..vocab import IDENT_CONTINUATION
    from .bytespan import ByteSpanEncoder
    v = tok.vocabulary
    units = v.unit_sequences()
    ids = [i for i in v.model_ids if not v.is_special(i)]
    return ByteSpanEncoder({i: units[i] for i in ids if v.idents[i] != IDENT_CONTINUATION},
                           {i: units[i] for i in ids if v.idents[i] == IDENT_CONTINUATION}, len(v))


ENCODERS = {"rank": _rank, "replay": _replay, "scaffold": _scaffold, "lbpe": _lbpe, "bytespan": _bytespan}


def demolition(tok):
    """{hidden internal id: [internal ids]}: the model's stored demolition table (Scaffold-BPE)."""
    return {int(t): [int(x) for x in pieces] for t, pieces in tok.extra.get("demolition") or []}


# ---------------------------------------------------------------------- model data checks
def validate_model_data(tok, source):
    """Check, at load time, the model data that the encoders of this model's method read; every
    problem is a one-line ModelFileError naming `source`."""
    from ..errors import ModelFileError
    from ..methods import get_method

    def bad(msg):
        raise ModelFileError(f"{source}: {msg}")
    try:
        check_encoder_options(tok.options)
    except NewbpeError as e:
        bad(str(e))
    for name in get_method(tok.algo).encoders:
        check = DATA_CHECKS.get(name)
        if check is not None:
            check(tok, bad)


def _check_merge_outputs(tok, bad):
    """The rank encoder emits every merge output: each needs a model id."""
    v = tok.vocabulary
    hidden = {c for _, _, c in v.merges if v.to_model[c] < 0}
    if hidden:
        bad(f"merge output {min(hidden)} has no model id")


def _check_events(tok, bad):
    """The replay encoder's event log: MERGE [M, a, b, out] spells out, SPLIT [S, t, pieces] (pieces
    non-empty) spells t; every token alive at the end of the log has a model id."""
    events = tok.extra.get("events")
    if not isinstance(events, list):
        bad("a replay model needs an event log (extra.events)")
    v = tok.vocabulary
    tokens, k, n = v.tokens, v.n_specials, len(v)

    def is_id(x):
        return isinstance(x, int) and not isinstance(x, bool) and k <= x < n
    alive = set()
    for i, ev in enumerate(events):
        ok = isinstance(ev, list) and len(ev) >= 3 and ev[0] in ("M", "S")
        if ok and ev[0] == "M":
            ok = len(ev) == 4 and all(is_id(x) for x in ev[1:]) and tokens[ev[1]] + tokens[ev[2]] == tokens[ev[3]]
            if ok:
                alive.add(ev[3])
        elif ok:
            ok = len(ev) == 3 and is_id(ev[1]) and isinstance(ev[2], list) and ev[2] \
                and all(is_id(x) for x in ev[2]) and b"".join(tokens[x] for x in ev[2]) == tokens[ev[1]]
            if ok:
                alive.discard(ev[1])
                alive.update(ev[2])
        if not ok:
            bad(f"event {i} is malformed: {str(ev)[:80]}")
    hidden = {t for t in alive if v.to_model[t] < 0}
    if hidden:
        bad(f"token {min(hidden)} is present after the event log but has no model id")


def _check_demolition(tok, bad):
    """The demolishing encoder's data: hidden tokens are exactly the FLAG_SCAFFOLD ones, never a base
    unit; the demolition table is the one the merges and flags give (computed and stored when a
    version-1 file lacks it)."""
    from ..engine.state import FLAG_SCAFFOLD
    from .scaffold import demolition_table
    v = tok.vocabulary
    flags = v.flags
    visible = [i for i in range(len(v)) if not flags[i] & FLAG_SCAFFOLD]
    if v.model_ids != visible:
        bad("model_ids must be exactly the non-scaffold tokens")
    if any(flags[i] & FLAG_SCAFFOLD for i in range(v.n_base)):
        bad("a base unit or special token is flagged scaffold")
    try:
        table = demolition_table(v.merges, flags, tok.options.get("demolition", "first_merge"))
    except (ValueError, RecursionError) as e:
        bad(f"demolition: {e}")
    computed = [[t, p] for t, p in sorted(table.items())]
    stored = tok.extra.get("demolition")
    if stored is not None:
        try:
            stored = sorted([int(t), [int(x) for x in p]] for t, p in stored)
        except (TypeError, ValueError):
            bad("malformed demolition table")
        if stored != computed:
            bad("the stored demolition table differs from the one the merges and flags give")
    tok.extra["demolition"] = computed


def _check_flagged_bytes(tok, bad):
    """The bytespan encoder never fails: every byte is a token with both identity flags (0 and 1),
    and no other flag occurs; the vocabulary is byte-level."""
    from ..vocab import IDENT_CONTINUATION, IDENT_PLAIN
    v = tok.vocabulary
    if tok.units != "bytes":
        bad("a bytespan model is byte-level")
    if any(f not in (IDENT_PLAIN, IDENT_CONTINUATION) for f in v.idents):
        bad("bytespan identity flags must be 0 (initial) or 1 (continuation)")
    present = {(v.idents[i], v.tokens[i]) for i in v.model_ids if not v.is_special(i) and len(v.tokens[i]) == 1}
    if len(present) != 512:
        bad("every byte must be a token both as initial (flag 0) and as continuation (flag 1)")


DATA_CHECKS = {"bytespan": _check_flagged_bytes, "rank": _check_merge_outputs, "replay": _check_events, "scaffold": _check_demolition}

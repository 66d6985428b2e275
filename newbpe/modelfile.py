"""Strict validation of a model.json dict (`Tokenizer.from_dict`, `Tokenizer.load`).

Every problem is a one-line `ModelFileError` naming the field. What is checked is what encoding and
decoding rely on, so a model that loads encodes without a crash and only emits ids it can decode
(a hypothesis fuzz of every field checks this, tests/test_model_fuzz.py):

- the header (format, version), `algo` (a known algorithm), `units`, the default `encoder`;
- `tokens`: base64, the specials' UTF-8 bytes first, then the alphabet (single bytes, or single
  characters for char units, all distinct), then non-empty tokens made only of alphabet units;
  no two non-special tokens alike;
- `merges`: [left, right, out] ids of non-special tokens, out spelled by left + right and not a base
  unit; a pair at most once (BPE, Scaffold; Picky may merge a pair again after a removal);
- `model_ids`: distinct ids covering the specials and the alphabet and every token the model's
  encoders can emit (BPE: every merge output; Picky: every token alive at the end of the event log;
  Scaffold: exactly the non-scaffold tokens);
- `flags` (ints), `options` (a dict; the options encoding reads are checked by newbpe.checks),
  `stats` and `extra` (dicts), Picky's event log, Scaffold's demolition table, a SPLINTER map.
"""
import base64
import binascii
import warnings

from .checks import check, check_special_tokens
from .errors import ModelFileError, NewbpeError

FORMAT = "newbpe-model"
FORMAT_VERSION = 1
REQUIRED = ("algo", "units", "pretokenizer", "special_tokens", "n_alphabet", "tokens", "merges", "model_ids")
# Options that encoding reads (the others only record how the model was trained).
ENCODING_OPTIONS = ("ignore_merges", "whole_word_shortcut", "lbpe_ties", "scaffold_mode", "demolition",
                    "unknown_chars", "unk_token")
MAX_FLAG = 2**31


def _int(x):
    return isinstance(x, int) and not isinstance(x, bool)


def validate(d, source):
    """A `Tokenizer` from model.json content `d`, or a one-line ModelFileError naming `source`."""
    from .model import Tokenizer

    def bad(msg):
        raise ModelFileError(f"{source}: {msg}")

    if not isinstance(d, dict) or d.get("format") != FORMAT:
        bad("not a newbpe model file")
    v = d.get("format_version")
    if not _int(v) or v < 1:
        bad("missing or malformed format_version")
    if v > FORMAT_VERSION:
        bad(f"format version {v} is newer than this newbpe supports ({FORMAT_VERSION}); upgrade newbpe")
    missing = [k for k in REQUIRED if k not in d]
    if missing:
        bad("missing field(s) " + ", ".join(missing))
    from .trainers import ALGORITHMS
    if not isinstance(d["algo"], str) or d["algo"] not in ALGORITHMS:
        bad(f"unknown algorithm {str(d['algo'])[:40]!r} (known: {', '.join(sorted(ALGORITHMS))})")
    algo, units = d["algo"], d["units"]
    if units not in ("bytes", "chars"):
        bad(f"unknown units {str(units)[:40]!r}")
    from .encoders import ENCODERS
    encoder = d.get("encoder", "rank")
    if encoder not in ENCODERS:
        bad(f"unknown encoder {str(encoder)[:40]!r}")
    for name in ("options", "stats", "extra"):
        if d.get(name) is not None and not isinstance(d[name], dict):
            bad(f"{name} must be an object")
    options, extra = d.get("options") or {}, d.get("extra") or {}
    for name in ENCODING_OPTIONS:
        try:
            check(name, options.get(name), none_ok=True)
        except NewbpeError as e:
            bad(f"options: {e}")

    # tokens, specials, alphabet
    if not isinstance(d["tokens"], list) or not all(isinstance(t, str) for t in d["tokens"]):
        bad("tokens must be a list of base64 strings")
    try:
        tokens = [base64.b64decode(t, validate=True) for t in d["tokens"]]
    except (binascii.Error, ValueError):
        bad("tokens are not valid base64")
    n = len(tokens)
    if not isinstance(d["special_tokens"], list):
        bad("special_tokens must be a list")
    try:
        specials = check_special_tokens(d["special_tokens"])
    except NewbpeError as e:
        bad(str(e))
    k = len(specials)
    n_alpha = d["n_alphabet"]
    if not _int(n_alpha) or not (1 <= n_alpha and k + n_alpha <= n):
        bad("n_alphabet inconsistent with the token list")
    for i, s in enumerate(specials):
        if tokens[i] != s.encode("utf-8"):
            bad(f"special token {i} does not match its token bytes")
    _check_units(tokens, k, n_alpha, units, bad)

    # merges, model ids, flags
    merges = d["merges"]
    if not isinstance(merges, list):
        bad("merges must be a list")
    seen = set()
    for r, m in enumerate(merges):
        if not (isinstance(m, list) and len(m) == 3 and all(_int(x) and k <= x < n for x in m)) \
                or m[2] < k + n_alpha:
            bad(f"merge {r} is malformed: {str(m)[:60]}")
        if tokens[m[0]] + tokens[m[1]] != tokens[m[2]]:
            bad(f"merge {r} does not spell its output token")
        if algo != "picky":
            if (m[0], m[1]) in seen:
                bad(f"merge {r} repeats the pair ({m[0]}, {m[1]})")
            seen.add((m[0], m[1]))
    mids = d["model_ids"]
    if not isinstance(mids, list) or any(not _int(i) or not 0 <= i < n for i in mids) \
            or len(set(mids)) != len(mids):
        bad("model_ids are malformed")
    visible = set(mids)
    if len(visible & set(range(k + n_alpha))) != k + n_alpha:
        bad("model_ids miss a special token or a base unit")
    flags = d.get("flags")
    if flags is None:
        flags = [0] * n
    if not isinstance(flags, list) or len(flags) != n or not all(_int(f) and 0 <= f < MAX_FLAG for f in flags):
        bad("flags must be one non-negative integer per token")

    # what the encoders emit must have model ids
    events = extra.get("events")
    if encoder == "replay" and not isinstance(events, list):
        bad("a replay model needs an event log (extra.events)")
    if events is not None:
        alive = _check_events(events, tokens, k, n, bad)
        if not alive <= visible:
            bad(f"token {min(alive - visible)} is present after the event log but has no model id")
    if algo == "bpe" and not {m[2] for m in merges} <= visible:
        bad(f"merge output {min({m[2] for m in merges} - visible)} has no model id")
    if algo == "scaffold":
        from .engine.state import FLAG_SCAFFOLD
        if mids != [i for i in range(n) if not flags[i] & FLAG_SCAFFOLD]:
            bad("model_ids must be exactly the non-scaffold tokens")
        if any(flags[i] & FLAG_SCAFFOLD for i in range(k + n_alpha)):
            bad("a base unit or special token is flagged scaffold")
    if "splinter" in extra:
        from .preprocessors.splinter import Splinter
        try:
            Splinter.from_dict(extra["splinter"], "extra.splinter")
        except NewbpeError as e:
            bad(str(e))
        except (TypeError, ValueError, KeyError, AttributeError, IndexError) as e:
            bad(f"extra.splinter is malformed ({type(e).__name__})")

    try:
        from .pretokenizers import PreTokenizer
        pretok = PreTokenizer.from_dict(d["pretokenizer"])
    except NewbpeError as e:
        bad(f"bad pre-tokenizer: {e}")
    with warnings.catch_warnings():
        tok = Tokenizer(algo=algo, units=units, pretokenizer=pretok, special_tokens=specials,
                        n_alphabet=n_alpha, tokens=tokens, merges=merges, model_ids=mids, options=options,
                        stats=d.get("stats"), encoder=encoder, flags=flags, extra=extra)
    from .encoders import check_encoder
    try:
        check_encoder(tok, encoder)
    except NewbpeError as e:
        bad(f"encoder {encoder!r}: {e}")
    if algo == "scaffold":
        _check_demolition(tok, extra.get("demolition"), n, bad)
    return tok


def _check_units(tokens, k, n_alpha, units, bad):
    """The alphabet is distinct single units; every other non-special token is non-empty, made of
    alphabet units, and unique."""
    alphabet = tokens[k:k + n_alpha]
    if units == "bytes":
        if any(len(t) != 1 for t in alphabet) or len(set(alphabet)) != n_alpha:
            bad("the alphabet must be distinct single bytes")
        allowed = set(b[0] for b in alphabet)
        for i in range(k + n_alpha, len(tokens)):
            t = tokens[i]
            if not t or not allowed.issuperset(t):
                bad(f"token {i} is empty or has a byte outside the alphabet")
    else:
        try:
            chars = [t.decode("utf-8", "surrogatepass") for t in alphabet]
        except UnicodeDecodeError:
            bad("the alphabet must be single characters (UTF-8)")
        if any(len(c) != 1 for c in chars) or len(set(chars)) != n_alpha:
            bad("the alphabet must be distinct single characters")
        allowed = set(chars)
        for i in range(k + n_alpha, len(tokens)):
            try:
                text = tokens[i].decode("utf-8", "surrogatepass")
            except UnicodeDecodeError:
                text = None
            if not text or not allowed.issuperset(text):
                bad(f"token {i} is empty, not UTF-8, or has a character outside the alphabet")
    if len(set(tokens[k:])) != len(tokens) - k:
        bad("two tokens have the same bytes")


def _check_events(events, tokens, k, n, bad):
    """Check Picky's event log (["M", a, b, out] spelled; ["S", x, pieces] with the pieces spelling
    x) and return the tokens alive at its end (base units included)."""
    if not isinstance(events, list):
        bad("extra.events must be a list")
    alive = set()
    for i, ev in enumerate(events):
        ok = isinstance(ev, list) and len(ev) >= 3 and ev[0] in ("M", "S")
        if ok and ev[0] == "M":
            ok = len(ev) == 4 and all(_int(x) and k <= x < n for x in ev[1:]) \
                and tokens[ev[1]] + tokens[ev[2]] == tokens[ev[3]]
            if ok:
                alive.add(ev[3])
        elif ok:
            ok = len(ev) == 3 and _int(ev[1]) and k <= ev[1] < n and isinstance(ev[2], list) and ev[2] \
                and all(_int(x) and k <= x < n for x in ev[2]) \
                and b"".join(tokens[x] for x in ev[2]) == tokens[ev[1]]
            if ok:
                alive.discard(ev[1])
                alive.update(ev[2])
        if not ok:
            bad(f"event {i} is malformed: {str(ev)[:80]}")
    return alive


def _check_demolition(tok, stored, n, bad):
    """Scaffold: the demolition table the merges and flags give exists, and matches a stored one."""
    try:
        table = tok.demolition()
    except (ValueError, RecursionError) as e:
        bad(f"demolition: {e}")
    if stored is None:
        return
    try:
        stored = sorted([int(t), [int(x) for x in p]] for t, p in stored)
    except (TypeError, ValueError):
        bad("malformed demolition table")
    if stored != [[t, p] for t, p in sorted(table.items())]:
        bad("the stored demolition table differs from the one the merges and flags give")

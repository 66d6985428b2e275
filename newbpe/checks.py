"""Checks of option values, one per option, shared by the library (`train`, `count`, the trainers,
`Tokenizer` loading) and the CLI (whose click types call the same check, `ClickCheck` in cli.py),
so a bad value gives the same one-line `NewbpeError` wherever it comes in, before any counting.

`RULES` maps an option name shared by the BPE family, the encoders or StochasTok to its rule (a
method's own options have their rules in its registry entry, methods.py): ("int", lo, hi) — an int (not a bool) in lo..hi (hi None:
unbounded); ("float", lo, hi, lo_open) — a finite number in [lo, hi] (lo excluded when lo_open; hi None:
unbounded);
("bool",); ("choice", values); ("str",) — a non-empty str;
("chars",) — single characters (a list of 1-character str, or a str: its characters).
Only the options in `NULLABLE` (unset by default) may be None. Options whose default is None (unset) may
be None. Light: no numpy or numba here (the CLI imports it at start-up).
"""
import math

from .errors import NewbpeError

# Token ids are int32 inside the engine (and vocab sizes must fit in int64 for numpy and numba).
MAX_VOCAB_SIZE = 2**31 - 1

RULES = {
    "vocab_size": ("int", 1, MAX_VOCAB_SIZE),
    "threads": ("int", 1, None),
    "min_frequency": ("int", 0, None),
    "max_token_length": ("int", 1, None),
    "limit_alphabet": ("int", 1, None),
    "coverage": ("float", 0.0, 1.0, True),
    "max_token_length_mode": ("choice", ("exact", "hf")),
    "byte_alphabet": ("choice", ("full", "observed")),
    "unknown_chars": ("choice", ("unk", "drop")),
    "unk_token": ("str",),
    "initial_alphabet": ("chars",),
    "lbpe_ties": ("choice", ("leftmost", "rank")),
    "scaffold_mode": ("choice", ("visible", "expanded_then_demolish")),
    "ignore_merges": ("bool",),
    "add_prefix_space": ("bool",),      # imported HF ByteLevel flags (export/hf_load.py)
    "trim_offsets": ("bool",),
    # StochasTok (augment/stochastok.py)
    "p": ("float", 0.0, None, False),
    "seed": ("int", 0, None),
    "max_num_to_expand": ("int", 0, None),
    "epoch": ("int", 0, None),
    # input sampling (sources.Sampler)
    "max_bytes": ("int", 1, None),
    "sample": ("float", 0.0, 1.0, True),
    "sample_seed": ("int", 0, None),
    # merging count shards (shards.py)
    "min_count": ("int", 1, None),
    "max_words": ("int", 1, None),
}

NULLABLE = {"threads", "max_token_length", "limit_alphabet", "seed", "max_num_to_expand", "epoch", "max_bytes",
            "sample"}


def rule_of(name):
    """The rule of option `name`: the shared ones above, or a method's own (its registry entry in
    methods.py, `option_rules`), or None."""
    rule = RULES.get(name)
    if rule is None:
        from .methods import METHODS
        rule = next((m.option_rules[name] for m in METHODS.values() if name in m.option_rules), None)
    return rule


def is_nullable(name):
    if name in NULLABLE:
        return True
    from .methods import METHODS
    return any(name in m.nullable for m in METHODS.values())


def describe(name):
    """What `name` takes, in words (for error messages and CLI metavars)."""
    rule = rule_of(name)
    kind = rule[0]
    if kind == "int":
        lo, hi = rule[1], rule[2]
        return f"an integer in {lo}..{hi}" if hi is not None else f"an integer >= {lo}"
    if kind == "float":
        lo, hi, lo_open = rule[1], rule[2], rule[3]
        if hi is None:
            return f"a finite number {'>' if lo_open else '>='} {lo:g}"
        return f"a number in {'(' if lo_open else '['}{lo:g}, {hi:g}]"
    if kind == "bool":
        return "true or false"
    if kind == "choice":
        return "one of " + ", ".join(rule[1])
    if kind == "chars":
        return "a list of single characters"
    return "a non-empty string"


def check(name, value, none_ok=None):
    """`value` if it is valid for option `name` (ints as int, numbers as float), else a one-line
    NewbpeError naming the option, what it takes and what it got. Options without a rule pass.
    none_ok: whether None passes (default: for the options in NULLABLE)."""
    rule = rule_of(name)
    if none_ok is None:
        none_ok = is_nullable(name)
    if rule is None or (value is None and none_ok):
        return value
    kind = rule[0]
    ok = False
    if kind == "int":
        ok = _is_int(value) and rule[1] <= value and (rule[2] is None or value <= rule[2])
        value = int(value) if ok else value
    elif kind == "float":
        ok = _is_number(value) and math.isfinite(value) and \
            (rule[1] < value if rule[3] else rule[1] <= value) and (rule[2] is None or value <= rule[2])
        value = float(value) if ok else value
    elif kind == "bool":
        ok = isinstance(value, bool) or type(value).__name__ == "bool_"
        value = bool(value) if ok else value
    elif kind == "choice":
        ok = isinstance(value, str) and value in rule[1]
    elif kind == "chars":
        ok = isinstance(value, (str, list, tuple, set, frozenset)) and \
            all(isinstance(c, str) and len(c) == 1 for c in value)
        value = sorted(value) if ok and isinstance(value, (set, frozenset)) else value
    else:
        ok = isinstance(value, str) and value != ""
    if not ok:
        raise NewbpeError(f"{name} must be {describe(name)}, got {_show(value)}")
    return value


def check_all(options):
    """check() every (name, value) of a dict; returns a new dict of the checked values."""
    return {k: check(k, v) for k, v in options.items()}


def check_threads(threads):
    """threads: None (all cores) or an integer >= 1."""
    return check("threads", threads)


def check_special_tokens(special_tokens):
    """Special tokens as a list: a single str is one token (not its characters); None is none.
    Each must be a non-empty str, without duplicates."""
    if special_tokens is None:
        return []
    if isinstance(special_tokens, str):
        special_tokens = [special_tokens]
    try:
        specials = list(special_tokens)
    except TypeError:
        raise NewbpeError(f"special_tokens must be a list of strings, got {_show(special_tokens)}") from None
    for s in specials:
        if not isinstance(s, str) or not s:
            raise NewbpeError(f"special tokens must be non-empty strings, got {_show(s)}")
        try:
            s.encode("utf-8")
        except UnicodeEncodeError as e:
            raise text_error(e) from None
    if len(set(specials)) != len(specials):
        raise NewbpeError("special tokens contain duplicates: " + ", ".join(sorted(
            {s for s in specials if specials.count(s) > 1})))
    return specials


def text_error(exc):
    """The one-line NewbpeError for a str that cannot be turned into bytes (a UnicodeEncodeError):
    a lone surrogate is not text. Byte-level models read invalid UTF-8 as surrogate escapes
    (U+DC80..U+DCFF, `surrogateescape`), which map back to the original bytes; any other surrogate
    (e.g. U+D800) has no bytes. Char-level models take no surrogates at all when counting."""
    bad = exc.object[exc.start:exc.end] if isinstance(exc, UnicodeEncodeError) else ""
    code = f"U+{ord(bad[0]):04X}" if bad else "a code point"
    return NewbpeError(f"text contains a lone surrogate {code}, which is not valid Unicode and has no UTF-8 "
                       "bytes (pass bytes instead, or str decoded with errors='surrogateescape')")


def _is_int(v):
    return not isinstance(v, bool) and (isinstance(v, int) or type(v).__name__.startswith(("int", "uint")))


def _is_number(v):
    return _is_int(v) or (not isinstance(v, bool) and isinstance(v, float)) or type(v).__name__.startswith("float")


def _show(v):
    s = repr(v)
    return s if len(s) <= 60 else s[:57] + "..."

"""model.json: the schema and its strict generic validation (the Tokenizer saves the directory).

Format "newbpe-model", version 2:

    algo, units, special_tokens, n_alphabet, options, stats, extra (method data: Picky's event log,
    Scaffold's demolition table),
    pipeline: {transforms: [{"type", ...}], pretokenizer: {"type", ...}, encoder: {"type"},
               decoder: {"type"}},
    tokens (base64 bytes by internal id), idents (identity flags, only when one is non-zero),
    merges ([left, right, out] internal ids, rank order), model_ids, flags (engine bits).

Version 1 files (pre-tokenizer, encoder and SPLINTER map at the top level / in `extra`) still load
and encode identically (fixtures in tests/fixtures/models/). Loading refuses newer versions. Every
problem is a one-line `ModelFileError` naming the file; the method's own data is checked by the
encoders that read it (encoders/__init__.py, `validate_model_data`).
"""
import base64
import binascii
import json
import os

from .errors import ModelFileError, NewbpeError

FORMAT = "newbpe-model"
FORMAT_VERSION = 2
MODEL_FILE = "model.json"


def model_to_dict(tok):
    """model.json content (version 2) of a Tokenizer."""
    from .preprocessors import transform_to_dict
    v = tok.vocabulary
    d = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "algo": tok.algo,
        "units": tok.units,
        "pipeline": {
            "transforms": [transform_to_dict(t) for t in tok.transforms],
            "pretokenizer": tok.pretokenizer.to_dict(),
            "encoder": {"type": tok.default_encoder},
            "decoder": tok.decoder.to_dict(),
        },
        "special_tokens": tok.special_tokens,
        "n_alphabet": v.n_alphabet,
        "options": tok.options,
        "tokens": [binascii.b2a_base64(t, newline=False).decode("ascii") for t in v.tokens],
        "merges": list(map(list, v.merges)),
        "model_ids": v.model_ids,
        "flags": v.flags,
        "extra": tok.extra,
        "stats": tok.stats,
    }
    if any(v.idents):
        d["idents"] = v.idents
    return d


def read_model_file(path):
    """(parsed model.json, its path) of a model directory or a model.json path."""
    from .io import read_json
    path = os.fspath(path)
    file = os.path.join(path, MODEL_FILE) if os.path.isdir(path) else path
    if not os.path.exists(file) and not (path.endswith(".json") or os.path.isdir(path)):
        raise ModelFileError(f"model directory not found: {path}")
    return read_json(file, "model file"), file


def _upgrade_v1(d):
    """Version 1 → the version 2 layout (pipeline section; SPLINTER map out of `extra`)."""
    d = dict(d)
    extra = dict(d.get("extra") or {})
    transforms = [{"type": "splinter", "map": extra.pop("splinter")}] if "splinter" in extra else []
    d["extra"] = extra
    d["pipeline"] = {"transforms": transforms, "pretokenizer": d.pop("pretokenizer", None),
                     "encoder": {"type": d.pop("encoder", "rank")}, "decoder": None}
    return d


def read_fields(d, source):
    """Validate model.json content generically and return the Tokenizer's keyword arguments."""
    from .decoders import decoder_from_dict
    from .methods import METHODS
    from .pretokenizers import PreTokenizer
    from .preprocessors import transform_from_dict

    def bad(msg):
        raise ModelFileError(f"{source}: {msg}")
    if not isinstance(d, dict) or d.get("format") != FORMAT:
        bad("not a newbpe model file")
    v = d.get("format_version")
    if not isinstance(v, int) or isinstance(v, bool):
        bad("missing format_version")
    if v > FORMAT_VERSION:
        bad(f"format version {v} is newer than this newbpe supports ({FORMAT_VERSION}); upgrade newbpe")
    if v < 2:
        d = _upgrade_v1(d)
    required = ("algo", "units", "pipeline", "special_tokens", "n_alphabet", "tokens", "merges", "model_ids")
    missing = [k for k in required if k not in d]
    if missing:
        bad("missing field(s) " + ", ".join(missing))
    if d["algo"] not in METHODS:
        bad(f"unknown algorithm {d['algo']!r} (known: {', '.join(sorted(METHODS))})")
    method = METHODS[d["algo"]]
    if d["units"] not in ("bytes", "chars"):
        bad(f"unknown units {d['units']!r}")
    try:
        tokens = [base64.b64decode(t, validate=True) for t in d["tokens"]]
    except Exception:  # noqa: BLE001 - any undecodable entry is the same one-line error
        bad("tokens are not valid base64")
    n = len(tokens)
    specials = d["special_tokens"]
    if not isinstance(specials, list) or not all(isinstance(s, str) and s for s in specials):
        bad("special_tokens must be a list of non-empty strings")
    k = len(specials)
    n_alphabet = d["n_alphabet"]
    if not (isinstance(n_alphabet, int) and 0 <= n_alphabet and k + n_alphabet <= n):
        bad("n_alphabet inconsistent with the token list")
    for i, s in enumerate(specials):
        if tokens[i] != s.encode("utf-8"):
            bad(f"special token {i} does not match its token bytes")
    idents = d.get("idents") or [0] * n
    if not isinstance(idents, list) or len(idents) != n or not all(isinstance(x, int) and x >= 0 for x in idents):
        bad("idents must be one non-negative integer per token")
    merges = d["merges"]
    if not isinstance(merges, list):
        bad("merges must be a list")
    for r, m in enumerate(merges):
        if not (isinstance(m, list) and len(m) == 3 and all(isinstance(x, int) and 0 <= x < n for x in m)):
            bad(f"merge {r} is malformed: {m!r}")
        if tokens[m[0]] + tokens[m[1]] != tokens[m[2]]:
            bad(f"merge {r} does not spell its output token")
        if idents[m[2]] != idents[m[0]]:
            bad(f"merge {r}: the output token's identity flag differs from its left part's")
    mids = d["model_ids"]
    if not isinstance(mids, list) or any(not isinstance(i, int) or not 0 <= i < n for i in mids) \
            or len(set(mids)) != len(mids):
        bad("model_ids are malformed")
    seen = set()
    for i in mids:
        if i >= k:
            key = (idents[i], tokens[i])
            if key in seen:
                bad(f"token {i} repeats another emittable token's (identity flag, bytes)")
            seen.add(key)
    flags = d.get("flags") or [0] * n
    if not isinstance(flags, list) or len(flags) != n or not all(isinstance(f, int) for f in flags):
        bad("flags must be one integer per token")
    pipeline = d["pipeline"]
    if not isinstance(pipeline, dict):
        bad("pipeline must be an object")
    try:
        pretok = PreTokenizer.from_dict(pipeline.get("pretokenizer"))
    except Exception as e:  # noqa: BLE001
        bad(f"bad pre-tokenizer: {e}")
    encoder = (pipeline.get("encoder") or {}).get("type", method.encoder) \
        if isinstance(pipeline.get("encoder"), (dict, type(None))) else None
    if encoder not in method.encoders:
        bad(f"encoder {encoder!r} does not fit a {d['algo']} model (allowed: {', '.join(method.encoders)})")
    try:
        transforms = [transform_from_dict(t, f"{source}: transform") for t in pipeline.get("transforms") or []]
        decoder = decoder_from_dict(pipeline["decoder"]) if pipeline.get("decoder") else pretok.decoder()
    except NewbpeError as e:
        bad(str(e).removeprefix(f"{source}: "))
    for name in ("options", "stats", "extra"):
        if not isinstance(d.get(name) or {}, dict):
            bad(f"{name} must be an object")
    return dict(algo=d["algo"], units=d["units"], pretokenizer=pretok, special_tokens=specials,
                n_alphabet=n_alphabet, tokens=tokens, merges=merges, model_ids=mids, options=d.get("options"),
                stats=d.get("stats"), encoder=encoder, flags=flags, extra=d.get("extra"), idents=idents,
                transforms=transforms, decoder=decoder)

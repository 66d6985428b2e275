"""model.json: the schema and its strict validation (the Tokenizer saves the directory).

Format "newbpe-model", version 2:

    algo, units, special_tokens, n_alphabet, options, stats, extra (method data: Picky's event log,
    Scaffold's demolition table),
    pipeline: {transforms: [{"type", ...}], pretokenizer: {"type", ...}, encoder: {"type"},
               decoder: {"type"}},
    tokens (base64 bytes by internal id), idents (identity flags, only when one is non-zero),
    merges ([left, right, out] internal ids, rank order), model_ids, flags (engine bits),
    roles ({"bos"|"eos"|"pad"|"unk": special token}) and template ({"add_bos", "add_eos"}), each only
    when set (roles.py); files without them load as before.

Version 1 files (pre-tokenizer, encoder and SPLINTER map at the top level / in `extra`) still load
and encode identically (fixtures in tests/fixtures/models/). Loading refuses newer versions.

Every problem is a one-line `ModelFileError` naming the file and the field. What is checked is what
encoding and decoding rely on, so a model that loads encodes without a crash and only emits ids it
can decode (a hypothesis fuzz of every field checks this, tests/test_model_fuzz.py):

- the header, `algo` (a registered method), `units`, the default encoder (one the method allows);
- `tokens`: base64, the specials' UTF-8 bytes first, then the alphabet (distinct single units), then
  non-empty tokens made only of alphabet units; no two non-special tokens with the same identity
  (flag, bytes); `idents` one non-negative int per token;
- `merges`: [left, right, out] ids of non-special tokens, out spelled by left + right, not a base unit,
  with the left part's identity flag; a pair at most once unless the method merges again (Picky);
- `model_ids`: distinct ids covering the specials and the alphabet; `flags` ints; `options` (the
  options encoding reads are checked by newbpe.checks), `stats`, `extra` objects; the pipeline stages.
The data a method's encoders read (an event log, a demolition table, merge outputs with model ids) is
checked by those encoders (encoders/__init__.py, `validate_model_data`).
"""
import base64
import binascii
import json
import os

from .checks import check, check_special_tokens
from .errors import ModelFileError, NewbpeError

FORMAT = "newbpe-model"
FORMAT_VERSION = 2
MODEL_FILE = "model.json"
# Options that encoding reads (the others only record how the model was trained).
ENCODING_OPTIONS = ("ignore_merges", "whole_word_shortcut", "lbpe_ties", "scaffold_mode", "demolition",
                    "unknown_chars", "unk_token", "prefix_space", "trim_offsets")
MAX_FLAG = 2**31


def model_dir_files():
    """Every file newbpe may write into a model directory: a save deletes the ones it does not
    write, so nothing of an earlier model survives (the HF export and its sidecars, StochasTok's
    table, a tiktoken export under its default name)."""
    from .export.hf import hf_file_names
    return (MODEL_FILE,) + hf_file_names() + ("stochastok.npz", "newbpe.tiktoken", "newbpe.tiktoken.json",
                                              "newbpe_tokenizer.py")      # save_pretrained's shim (pretrained.py)


def check_model_dir_path(path):
    """A model is saved as a directory (model.json plus its exports). A path ending in ``.json`` is
    almost always meant as a file (HF's ``tokenizer.save("tokenizer.json")``): refused in one line,
    before any work, instead of creating a directory named like a file (a newbpe decision)."""
    import os
    from .errors import NewbpeError
    p = os.fspath(path)
    if p.rstrip("/").lower().endswith(".json") and not os.path.isdir(p):
        raise NewbpeError(f"{p}: a model is saved as a directory (it holds {MODEL_FILE}, tokenizer.json, "
                          "...); give a directory path, or write HF's file alone with "
                          "`newbpe export -m DIR -o OUT_DIR` / Tokenizer.to_hf()")
    return p


def _int(x):
    return isinstance(x, int) and not isinstance(x, bool)


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
    if tok.roles:
        d["roles"] = dict(tok.roles)          # special-token roles and template (roles.py), only when set
    if tok.template:
        d["template"] = dict(tok.template)
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
    """Validate model.json content and return the Tokenizer's keyword arguments."""
    from .decoders import decoder_from_dict
    from .methods import METHODS
    from .pretokenizers import PreTokenizer
    from .preprocessors import transform_from_dict

    def bad(msg):
        raise ModelFileError(f"{source}: {msg}")
    if not isinstance(d, dict) or d.get("format") != FORMAT:
        looks_hf = isinstance(d, dict) and isinstance(d.get("model"), dict) and "pre_tokenizer" in d
        bad("not a newbpe model file; newbpe.load() reads a model directory or its model.json, and an HF "
            "byte-level BPE tokenizer.json (a file named tokenizer.json, or a directory holding one)"
            + ("; this file looks like an HF tokenizer.json: rename it tokenizer.json or pass its directory"
               if looks_hf else ""))
    v = d.get("format_version")
    if not _int(v) or v < 1:
        bad("missing or malformed format_version")
    if v > FORMAT_VERSION:
        bad(f"format version {v} is newer than this newbpe supports ({FORMAT_VERSION}); upgrade newbpe")
    if v < 2:
        d = _upgrade_v1(d)
    required = ("algo", "units", "pipeline", "special_tokens", "n_alphabet", "tokens", "merges", "model_ids")
    missing = [k for k in required if k not in d]
    if missing:
        bad("missing field(s) " + ", ".join(missing))
    if not isinstance(d["algo"], str) or d["algo"] not in METHODS:
        bad(f"unknown algorithm {str(d['algo'])[:40]!r} (known: {', '.join(sorted(METHODS))})")
    method = METHODS[d["algo"]]
    units = d["units"]
    if units not in ("bytes", "chars"):
        bad(f"unknown units {str(units)[:40]!r}")
    for name in ("options", "stats", "extra"):
        if d.get(name) is not None and not isinstance(d[name], dict):
            bad(f"{name} must be an object")
    options = d.get("options") or {}
    for name in ENCODING_OPTIONS:
        try:
            check(name, options.get(name), none_ok=True)
        except NewbpeError as e:
            bad(f"options: {e}")

    # tokens, identity flags, specials, alphabet
    if not isinstance(d["tokens"], list) or not all(isinstance(t, str) for t in d["tokens"]):
        bad("tokens must be a list of base64 strings")
    try:
        tokens = [base64.b64decode(t, validate=True) for t in d["tokens"]]
    except (binascii.Error, ValueError):
        bad("tokens are not valid base64")
    n = len(tokens)
    idents = d.get("idents")
    if idents is None:
        idents = [0] * n
    if not isinstance(idents, list) or len(idents) != n or not all(_int(x) and 0 <= x < MAX_FLAG for x in idents):
        bad("idents must be one non-negative integer per token")
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
    _check_units(tokens, idents, k, n_alpha, units, bad)

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
        if idents[m[2]] != idents[m[0]]:
            bad(f"merge {r}: the output token's identity flag differs from its left part's")
        if not method.remerges:
            if (m[0], m[1]) in seen:
                bad(f"merge {r} repeats the pair ({m[0]}, {m[1]})")
            seen.add((m[0], m[1]))
    mids = d["model_ids"]
    if not isinstance(mids, list) or any(not _int(i) or not 0 <= i < n for i in mids) \
            or len(set(mids)) != len(mids):
        bad("model_ids are malformed")
    if len(set(mids) & set(range(k + n_alpha))) != k + n_alpha:
        bad("model_ids miss a special token or a base unit")
    flags = d.get("flags")
    if flags is None:
        flags = [0] * n
    if not isinstance(flags, list) or len(flags) != n or not all(_int(f) and 0 <= f < MAX_FLAG for f in flags):
        bad("flags must be one non-negative integer per token")

    # the pipeline stages
    pipeline = d["pipeline"]
    if not isinstance(pipeline, dict):
        bad("pipeline must be an object")
    try:
        pretok = PreTokenizer.from_dict(pipeline.get("pretokenizer"))
    except NewbpeError as e:
        bad(f"bad pre-tokenizer: {e}")
    encoder = pipeline.get("encoder")
    encoder = encoder.get("type", method.encoder) if isinstance(encoder, dict) else method.encoder if encoder is None else None
    if encoder not in method.encoders:
        bad(f"encoder {str(encoder)[:40]!r} does not fit a {d['algo']} model (allowed: {', '.join(method.encoders)})")
    transforms = pipeline.get("transforms") or []
    if not isinstance(transforms, list):
        bad("pipeline.transforms must be a list")
    try:
        transforms = [transform_from_dict(t, "transform") for t in transforms]
        decoder = decoder_from_dict(pipeline["decoder"]) if pipeline.get("decoder") else pretok.decoder()
    except NewbpeError as e:
        bad(str(e))
    except (TypeError, ValueError, KeyError, AttributeError, IndexError) as e:
        bad(f"a pipeline stage is malformed ({type(e).__name__})")
    roles, template = d.get("roles"), d.get("template")
    if roles is not None and not isinstance(roles, dict) or template is not None and not isinstance(template, dict):
        bad("roles and template must be objects")
    try:
        from .roles import check_roles, check_template
        roles = check_roles(roles)
        template = check_template(template, roles)
    except NewbpeError as e:
        bad(str(e))
    missing_roles = sorted(f"{r}={t!r}" for r, t in roles.items() if t not in specials)
    if missing_roles:
        bad(f"role token(s) that are not special tokens: {', '.join(missing_roles)[:80]}")
    return dict(algo=d["algo"], units=units, pretokenizer=pretok, special_tokens=specials, n_alphabet=n_alpha,
                tokens=tokens, merges=merges, model_ids=mids, options=options, stats=d.get("stats"),
                encoder=encoder, flags=flags, extra=d.get("extra"), idents=idents, transforms=transforms,
                decoder=decoder, roles=roles, template=template)


def _check_units(tokens, idents, k, n_alpha, units, bad):
    """The alphabet is distinct single units (per identity flag); every other non-special token is
    non-empty, made of alphabet units, and unique by (identity flag, bytes)."""
    alphabet = tokens[k:k + n_alpha]
    alpha_keys = list(zip(idents[k:k + n_alpha], alphabet))
    if units == "bytes":
        if any(len(t) != 1 for t in alphabet) or len(set(alpha_keys)) != n_alpha:
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
        if any(len(c) != 1 for c in chars) or len(set(zip(idents[k:k + n_alpha], chars))) != n_alpha:
            bad("the alphabet must be distinct single characters")
        allowed = set(chars)
        for i in range(k + n_alpha, len(tokens)):
            try:
                text = tokens[i].decode("utf-8", "surrogatepass")
            except UnicodeDecodeError:
                text = None
            if not text or not allowed.issuperset(text):
                bad(f"token {i} is empty, not UTF-8, or has a character outside the alphabet")
    keys = set(zip(idents[k:], tokens[k:]))
    if len(keys) != len(tokens) - k:
        bad("two tokens have the same identity (flag, bytes)")

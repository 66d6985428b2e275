"""Export to HF `tokenizer.json` (bpe.md §10).

A rank-BPE model is exactly expressible: the BPE model (vocab by model id, merges as string pairs in
rank order), the pre-tokenizer (ByteLevel for gpt2; Split(pattern, Isolated) + ByteLevel otherwise;
WhitespaceSplit + Metaspace for the `▁` setup), the ByteLevel decoder, and the special tokens as
added tokens. Loading the file in stock `tokenizers` gives the same ids as newbpe (a test), with two
documented differences: HF always matches added-token strings in raw text (newbpe only with
`allowed_special`), and HF's WhitespaceSplit does not treat U+001C–U+001F as whitespace while
Python's str.split (the Picky reference) does.

Methods HF cannot express (Picky, Scaffold-BPE, any model whose default encoder is LBPE) export only
on request:
- `approximate=True`: a BPE model over the emittable tokens only. A merge whose parts are hidden
  (Picky-removed or scaffold) is re-derived: its output is reached instead from the split into two
  already-reachable tokens with the longest left part, at the same rank; outputs that have no such
  split are left out. The agreement with our encoder is measured on given text and recorded.
- `expanded=True` (Scaffold-BPE, spec §6): a BPE model over the whole expanded vocabulary (scaffold
  tokens get ids N … |E|-1 after the N visible ids) plus `scaffold_demolition.json`
  ({scaffold id: [model ids]}); HF's ids followed by that table reproduce newbpe exactly (a test).
"""
import json
import os

from ..errors import NewbpeError
from ..units import bytes_to_token_string

_BYTE_LEVEL = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False}


def _inner_exact(tok):
    return tok.algo == "bpe" and tok.default_encoder == "rank" and len(tok.model_ids) == len(tok.tokens)


def hf_exact(tok):
    """True when stock HF reproduces this model's encoding exactly (never with SPLINTER: the inner
    model exports exactly with inner=True, for transformed text)."""
    return _inner_exact(tok) and "splinter" not in tok.extra


def _token_string(tok, internal_id):
    t = tok.tokens[internal_id]
    if internal_id < tok.n_specials or tok.units == "chars":
        return t.decode("utf-8", "surrogatepass")
    return bytes_to_token_string(t)


def _pre_tokenizer(pretok, units):
    name = pretok.name
    byte_level = units == "bytes"
    if name == "whitespace":
        steps = [{"type": "WhitespaceSplit"},
                 {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "always", "split": False}]
    elif name == "gpt2" and byte_level:
        return {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}
    elif name == "none":
        steps = []
    else:
        steps = [{"type": "Split", "pattern": {"Regex": pretok.pattern}, "behavior": "Isolated",
                  "invert": False}]
    if byte_level:
        steps.append(dict(_BYTE_LEVEL))
    if not steps:
        return None
    return steps[0] if len(steps) == 1 else {"type": "Sequence", "pretokenizers": steps}


def _decoder(tok):
    meta = {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "always", "split": False}
    if tok.units == "bytes":
        bl = {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True}
        return {"type": "Sequence", "decoders": [bl, meta]} if tok.pretokenizer.name == "whitespace" else bl
    return meta if tok.pretokenizer.name == "whitespace" else {"type": "Fuse"}


def expanded_ids(tok):
    """HF id of every internal id in the expanded export: model ids first, then scaffold tokens."""
    hidden = [i for i in range(len(tok.tokens)) if tok._to_model[i] < 0]
    ids = [int(m) for m in tok._to_model]
    for k, i in enumerate(hidden):
        ids[i] = len(tok.model_ids) + k
    return ids


def demolition_sidecar(tok):
    """{expanded HF id of a scaffold token: [model ids of its pieces]} (scaffold_demolition.json)."""
    ids = expanded_ids(tok)
    return {str(ids[t]): [int(tok._to_model[p]) for p in pieces] for t, pieces in sorted(tok.demolition().items())}


def _rederived_merges(tok, strings):
    """Merges over emittable tokens only (approximate export): see the module docstring."""
    visible = tok._to_model >= 0
    by_bytes = {tok.tokens[i]: i for i in range(tok.n_specials, len(tok.tokens)) if visible[i]}
    reachable = set(range(tok.n_specials, tok.n_specials + tok.n_alphabet))
    merges = []
    for a, b, c in tok._merges:
        if not visible[c] or (c in reachable and not (visible[a] and visible[b])):
            continue
        if not (visible[a] and visible[b] and a in reachable and b in reachable):
            data = tok.tokens[c]
            split = None
            for cut in range(len(data) - 1, 0, -1):
                left, right = by_bytes.get(data[:cut]), by_bytes.get(data[cut:])
                if left in reachable and right in reachable:
                    split = (left, right)
                    break
            if split is None:
                continue
            a, b = split
        merges.append([strings[a], strings[b]])
        reachable.add(c)
    return merges


SPLINTER_NOTE = ("this model runs SPLINTER before tokenizing, which HF tokenizer.json cannot express; "
                 "the exported tokenizer is the inner model and expects SPLINTER-transformed text "
                 "(newbpe splinter apply --map splinter.json; invert its decoded output with newbpe splinter invert)")


def to_hf_dict(tok, approximate=False, expanded=False, inner=False):
    """The tokenizer.json content as a dict. Methods HF cannot express raise unless `approximate`
    (or, for Scaffold-BPE, `expanded`). A SPLINTER model raises unless `inner` (then the inner
    model, for transformed text, is exported)."""
    if "splinter" in tok.extra and not inner:
        raise NewbpeError("SPLINTER models are not expressible as HF tokenizer.json (the transform needs the "
                          "map and a look-ahead search); pass inner=True / --inner to export the inner model, "
                          "which expects SPLINTER-transformed text")
    if "splinter" in tok.extra and (approximate or expanded):
        raise NewbpeError("only the exact inner export (--inner) is supported for SPLINTER models")
    if expanded and tok.algo != "scaffold":
        raise NewbpeError("the expanded HF export is for Scaffold-BPE models")
    if not hf_exact(tok) and not approximate and not expanded and not (inner and _inner_exact(tok)):
        hint = " or --expanded (with a demolition sidecar)" if tok.algo == "scaffold" else ""
        raise NewbpeError(f"{tok.algo} models with the {tok.default_encoder} encoder are not exactly expressible "
                          f"as HF tokenizer.json (see README, 'Export'); pass --approximate{hint}")
    strings = [_token_string(tok, i) for i in range(len(tok.tokens))]
    hf_id = expanded_ids(tok) if expanded else [int(m) for m in tok._to_model]
    vocab = {}
    for internal in sorted(range(len(tok.tokens)), key=lambda i: hf_id[i]):
        if hf_id[internal] < 0:
            continue
        s = strings[internal]
        if s in vocab:
            raise NewbpeError(f"two tokens share the HF string {s!r} (ids {vocab[s]} and {hf_id[internal]}); "
                              "rename the special token")
        vocab[s] = hf_id[internal]
    to_model = tok._to_model
    if expanded or len(tok.model_ids) == len(tok.tokens):
        merges = [[strings[a], strings[b]] for a, b, _ in tok._merges]
    else:
        merges = _rederived_merges(tok, strings)
    unk = None
    if tok.units == "chars" and getattr(tok, "_unk", None) is not None:
        unk = tok.special_tokens[tok._unk]
    added = [{"id": int(to_model[i]), "content": s, "single_word": False, "lstrip": False, "rstrip": False,
              "normalized": False, "special": True} for i, s in enumerate(tok.special_tokens)]
    post = ({"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": False, "use_regex": True}
            if tok.units == "bytes" else None)
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": added,
        "normalizer": None,
        "pre_tokenizer": _pre_tokenizer(tok.pretokenizer, tok.units),
        "post_processor": post,
        "decoder": _decoder(tok),
        "model": {
            "type": "BPE",
            "dropout": None,
            "unk_token": unk,
            "continuing_subword_prefix": None,
            "end_of_word_suffix": None,
            "fuse_unk": False,
            "byte_fallback": False,
            "ignore_merges": bool(tok.options.get("ignore_merges", False)),
            "vocab": vocab,
            "merges": merges,
        },
    }


def to_hf_json(tok, approximate=False, expanded=False, inner=False):
    """Compact JSON: `indent` would force Python's slow pure-Python encoder (~1 s for 32k tokens)."""
    return json.dumps(to_hf_dict(tok, approximate, expanded, inner), ensure_ascii=False, separators=(",", ":"))


HF_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "splinter.json",
            "scaffold_demolition.json")     # every file an HF export may write (an export owns them all)


def hf_files(tok, approximate=False, agreement_texts=None, expanded=False, inner=False):
    """{file name: content} of the HF export (see save_hf), tokenizer.json first."""
    measured = None
    if approximate and not hf_exact(tok) and agreement_texts is not None:
        measured = agreement(tok, agreement_texts)
        tok.stats["hf_approximation_agreement"] = measured
    files = {"tokenizer.json": to_hf_json(tok, approximate, expanded, inner) + "\n"}
    special_map = {"additional_special_tokens": list(tok.special_tokens)}
    if tok.units == "chars" and getattr(tok, "_unk", None) is not None:
        special_map["unk_token"] = tok.special_tokens[tok._unk]
    config = {"tokenizer_class": "PreTrainedTokenizerFast", "model_max_length": 1000000000000000019884624838656,
              "clean_up_tokenization_spaces": False, **special_map}
    if expanded:
        config["newbpe_scaffold"] = {
            "note": "expanded vocabulary: ids >= vocab_size are scaffold tokens; replace each by its pieces "
                    "from scaffold_demolition.json to get newbpe's ids (embedding tables need vocab_size rows)",
            "vocab_size": len(tok.model_ids)}
    elif approximate and not hf_exact(tok):
        config["newbpe_approximation"] = {
            "algorithm": tok.algo,
            "note": "approximate: stock HF cannot reproduce this method's encoding; use newbpe for exact ids",
            "agreement": measured}
    if "splinter" in tok.extra:
        config["newbpe_splinter"] = {"note": SPLINTER_NOTE, "map": "splinter.json"}
    files["tokenizer_config.json"] = json.dumps(config, ensure_ascii=False, indent=2) + "\n"
    files["special_tokens_map.json"] = json.dumps(special_map, ensure_ascii=False, indent=2) + "\n"
    if "splinter" in tok.extra:
        files["splinter.json"] = json.dumps(tok.extra["splinter"], ensure_ascii=False, indent=1) + "\n"
    if expanded:
        files["scaffold_demolition.json"] = json.dumps(demolition_sidecar(tok)) + "\n"
    return files


def save_hf(tok, out_dir, approximate=False, agreement_texts=None, expanded=False, inner=False):
    """Write tokenizer.json, tokenizer_config.json and special_tokens_map.json (so that
    `transformers.AutoTokenizer.from_pretrained(out_dir)` works), plus splinter.json or
    scaffold_demolition.json where they apply. Returns the paths written. All-or-nothing
    (`newbpe.atomic.write_dir`): an HF file of an earlier export that this one does not write is
    deleted; other files in out_dir (model.json, a user's config.json) are kept.
    For an approximate export, `agreement_texts` (an iterable of str) measures how closely HF
    reproduces our encoder; the result is recorded in tokenizer_config.json and in `tok.stats`."""
    from ..atomic import write_dir
    files = hf_files(tok, approximate, agreement_texts, expanded, inner)
    return write_dir(out_dir, files, owned=HF_FILES)


def hf_untrained(pretokenizer="gpt2", units="bytes"):
    """A stock-HF `tokenizers.Tokenizer` with an empty BPE model and exactly the pre-tokenizer our
    export writes for `pretokenizer`: the HF side of parity tests and benchmarks."""
    from tokenizers import Tokenizer as HFTokenizer
    from ..pretokenizers import PreTokenizer
    pretok = pretokenizer if isinstance(pretokenizer, PreTokenizer) else PreTokenizer(pretokenizer)
    spec = {"version": "1.0", "truncation": None, "padding": None, "added_tokens": [], "normalizer": None,
            "pre_tokenizer": _pre_tokenizer(pretok, units), "post_processor": None, "decoder": None,
            "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
                      "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False,
                      "ignore_merges": False, "vocab": {}, "merges": []}}
    return HFTokenizer.from_str(json.dumps(spec))


def agreement(tok, texts, hf=None, batch=4096):
    """How closely a (possibly approximate) HF export reproduces our encoder on `texts`.

    Compared per pre-token: `words` is the share of pre-tokens with identical ids; `tokens` is the
    share of our tokens whose byte span in the pre-token HF also produces."""
    if hf is None:
        from tokenizers import Tokenizer as HFTokenizer
        hf = HFTokenizer.from_str(to_hf_json(tok, approximate=True))
    lengths = [len(tok.tokens[i]) for i in tok.model_ids]
    counts = {"words": 0, "same_words": 0, "tokens": 0, "same_tokens": 0}

    def spans(ids):
        out, pos = set(), 0
        for i in ids:
            out.add((pos, pos + lengths[i]))
            pos += lengths[i]
        return out

    def compare(pieces):
        ours = tok.encode_batch(pieces)
        theirs = [e.ids for e in hf.encode_batch(pieces, add_special_tokens=False)]
        for a, b in zip(ours, theirs):
            counts["words"] += 1
            counts["same_words"] += a == b
            counts["tokens"] += len(a)
            counts["same_tokens"] += len(spans(a) & spans(b))

    pending = []
    for text in texts:
        pending.extend(tok.pretokenizer.split(text))
        if len(pending) >= batch:
            compare(pending)
            pending = []
    if pending:
        compare(pending)
    return {"words": counts["same_words"] / max(counts["words"], 1),
            "tokens": counts["same_tokens"] / max(counts["tokens"], 1),
            "n_words": counts["words"], "n_tokens": counts["tokens"]}


def read_hf_vocab(source):
    """The vocabulary of an HF `tokenizer.json` holding a byte-level BPE model, for tools that work
    on token bytes (StochasTok's split table). `source`: a tokenizer.json path, a directory holding
    one, a JSON string or the parsed dict. Returns (tokens, added_ids): tokens[i] is the bytes of id
    i (GPT-2 byte mapping undone, `units.token_string_to_bytes`; added tokens as their UTF-8 text;
    None for ids missing from the file), added_ids the set of added-token ids (specials included)."""
    return _vocab_bytes(*read_hf_json(source))


def read_hf_json(source):
    """(parsed tokenizer.json, its name for messages) from a path, a directory, a JSON string or a dict."""
    from ..errors import ModelFileError
    name = "tokenizer.json"
    if isinstance(source, dict):
        d = source
    else:
        if isinstance(source, (str, os.PathLike)) and os.path.exists(source):
            name = os.path.join(source, "tokenizer.json") if os.path.isdir(source) else os.fspath(source)
            try:
                with open(name, encoding="utf-8") as f:
                    source = f.read()
            except FileNotFoundError:
                raise ModelFileError(f"no tokenizer.json in {source}") from None
        elif isinstance(source, (str, os.PathLike)) and not str(source).lstrip().startswith("{"):
            raise ModelFileError(f"tokenizer file not found: {source}")
        try:
            d = json.loads(source)
        except json.JSONDecodeError as e:
            raise ModelFileError(f"{name}: not valid JSON ({e})") from None
    return d, name


def _vocab_bytes(d, name):
    from ..errors import ModelFileError
    from ..units import token_string_to_bytes
    model = d.get("model") if isinstance(d, dict) else None
    if not isinstance(model, dict) or model.get("type", "BPE") != "BPE" or not isinstance(model.get("vocab"), dict):
        raise ModelFileError(f"{name}: not an HF BPE tokenizer.json")
    if "ByteLevel" not in json.dumps([d.get("pre_tokenizer"), d.get("decoder")]):
        raise ModelFileError(f"{name}: not a byte-level model (no ByteLevel pre-tokenizer or decoder)")
    added = {}
    for a in d.get("added_tokens") or []:
        added[int(a["id"])] = a["content"].encode("utf-8")
    n = max([*model["vocab"].values(), *added, -1]) + 1
    tokens = [None] * n
    for s, i in model["vocab"].items():
        if i in added:
            continue
        try:
            tokens[i] = token_string_to_bytes(s)
        except ValueError as e:
            raise ModelFileError(f"{name}: token {i} {s!r}: {e}") from None
    for i, b in added.items():
        tokens[i] = b
    return tokens, set(added)

# ---------------------------------------------------------------------------------------------- import
def _import_pretokenizer(spec):
    """newbpe pre-tokenizer name/pattern for an HF byte-level pre_tokenizer, or raise."""
    from ..pretokenizers import PATTERNS
    if spec and spec.get("type") == "ByteLevel" and spec.get("use_regex", True):
        return "gpt2"
    steps = spec.get("pretokenizers", []) if spec and spec.get("type") == "Sequence" else [spec] if spec else []
    if steps and steps[-1].get("type") == "ByteLevel" and not steps[-1].get("use_regex", True):
        steps = steps[:-1]
        if not steps:
            return "none"
        if len(steps) == 1 and steps[0].get("type") == "Split" and steps[0].get("behavior") == "Isolated" \
                and not steps[0].get("invert") and "Regex" in steps[0].get("pattern", {}):
            pattern = steps[0]["pattern"]["Regex"]
            return next((name for name, p in PATTERNS.items() if p == pattern), pattern)
    raise NewbpeError("unsupported HF pre_tokenizer (newbpe imports byte-level BPE: ByteLevel, or "
                      "Split(regex, Isolated) + ByteLevel(use_regex=False))")


def load_hf(path):
    """A newbpe `Tokenizer` from an HF byte-level BPE `tokenizer.json` (a file or a directory holding
    one). Model ids are HF's ids; added tokens marked special become newbpe special tokens (other
    added tokens are refused). The rank encoder then reproduces HF's BPE; any other newbpe encoder
    (LBPE) works on the same vocabulary."""
    from ..model import Tokenizer
    from ..units import gpt2_byte_order, token_string_to_bytes
    d, file = read_hf_json(path)
    tokens_by_id, _ = _vocab_bytes(d, file)
    model = d["model"]
    if model.get("continuing_subword_prefix") or model.get("end_of_word_suffix") or d.get("normalizer"):
        raise NewbpeError(f"{file}: subword prefixes/suffixes and normalizers are not supported")
    pretokenizer = _import_pretokenizer(d.get("pre_tokenizer"))
    vocab = model["vocab"]
    added = d.get("added_tokens") or []
    if any(not a.get("special") and a["content"] not in vocab for a in added):
        raise NewbpeError(f"{file}: non-special added tokens are not supported")
    special_ids = {a["id"]: a["content"] for a in added if a.get("special")}
    if None in tokens_by_id:
        raise NewbpeError(f"{file}: token ids are not contiguous from 0")
    all_ids = list(range(len(tokens_by_id)))
    data = {i: b for i, b in enumerate(tokens_by_id) if i not in special_ids}
    single = {b[0]: i for i, b in data.items() if len(b) == 1}
    if len(single) != 256:
        raise NewbpeError(f"{file}: the vocabulary lacks {256 - len(single)} of the 256 byte tokens")
    tokens = [special_ids[i].encode("utf-8") for i in sorted(special_ids)]
    internal = {hf: k for k, hf in enumerate(sorted(special_ids))}
    for byte in gpt2_byte_order():
        internal[single[byte]] = len(tokens)
        tokens.append(bytes([byte]))
    by_bytes = {b: i for i, b in data.items()}
    merges = []
    for r, m in enumerate(model.get("merges") or []):
        left, right = m.split(" ", 1) if isinstance(m, str) else m
        try:
            a, b = by_bytes[token_string_to_bytes(left)], by_bytes[token_string_to_bytes(right)]
            out = by_bytes[token_string_to_bytes(left) + token_string_to_bytes(right)]
        except (KeyError, ValueError):
            raise NewbpeError(f"{file}: merge {r} ({left!r} {right!r}) uses a token outside the vocabulary") from None
        for x in (a, b, out):
            if x not in internal:
                internal[x] = len(tokens)
                tokens.append(data[x])
        merges.append((internal[a], internal[b], internal[out]))
    for i in sorted(data):                        # vocabulary tokens no merge produces (LBPE can use them)
        if i not in internal:
            internal[i] = len(tokens)
            tokens.append(data[i])
    model_ids = [internal[i] for i in all_ids]
    return Tokenizer(algo="bpe", units="bytes", pretokenizer=pretokenizer, special_tokens=[special_ids[i] for i in sorted(special_ids)],
                     n_alphabet=256, tokens=tokens, merges=merges, model_ids=model_ids,
                     options={"ignore_merges": bool(model.get("ignore_merges", False))},
                     stats={"imported_from": "hf"}, encoder="rank")

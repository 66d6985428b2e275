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

from ..errors import NewbpeError
from ..encoding import CONTINUATION_PREFIX, token_string


def _inner_exact(tok):
    """Stock HF reproduces the model's encoder (ignoring text transforms): the method exports
    exactly (registry), the model uses the method's own encoder and hides no token."""
    from ..methods import get_method
    method = get_method(tok.algo)
    v = tok.vocabulary
    return method.hf_export == "exact" and tok.default_encoder == method.encoder and v.all_visible and \
        (not any(v.idents) or tok.default_encoder == "bytespan")


def opaque_transforms(tok):
    """The model's text transforms HF cannot express (SPLINTER); NFC is an HF normalizer."""
    from ..preprocessors import hf_normalizer
    return [t for t in tok.transforms if hf_normalizer(t) is None]


def hf_exact(tok):
    """True when stock HF reproduces this model's encoding exactly (never with a text transform
    such as SPLINTER: the inner model exports exactly with inner=True, for transformed text; an NFC
    transform is exported as HF's NFC normalizer)."""
    return _inner_exact(tok) and not opaque_transforms(tok)


def expanded_ids(tok):
    """HF id of every internal id in the expanded export: model ids first, then hidden (scaffold) tokens."""
    v = tok.vocabulary
    ids = [int(m) for m in v.to_model]
    for k, i in enumerate(v.hidden_ids()):
        ids[i] = v.size + k
    return ids


def demolition_sidecar(tok):
    """{expanded HF id of a scaffold token: [model ids of its pieces]} (scaffold_demolition.json),
    from the demolition table stored in the model."""
    ids = expanded_ids(tok)
    to_model = tok.vocabulary.to_model
    return {str(ids[int(t)]): [int(to_model[p]) for p in pieces] for t, pieces in tok.extra["demolition"]}


def _rederived_merges(tok, strings):
    """Merges over emittable tokens only (approximate export): see the module docstring."""
    v = tok.vocabulary
    visible = v.to_model >= 0
    by_bytes = {v.tokens[i]: i for i in range(v.n_specials, len(v)) if visible[i]}
    reachable = set(v.alphabet())
    merges = []
    for a, b, c in v.merges:
        if not visible[c] or (c in reachable and not (visible[a] and visible[b])):
            continue
        if not (visible[a] and visible[b] and a in reachable and b in reachable):
            data = v.tokens[c]
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


TRANSFORM_NOTE = ("this model runs {name} before tokenizing, which HF tokenizer.json cannot express; "
                  "the exported tokenizer is the inner model and expects {name}-transformed text "
                  "(newbpe {name} apply --map {name}.json; invert its decoded output with newbpe {name} invert)")


def _transform_names(tok):
    from ..preprocessors import transform_type
    return ", ".join(transform_type(t) for t in opaque_transforms(tok))


def _normalizer(tok, inner):
    """HF normalizer JSON of the model's NFC-like transforms (None without any; the inner export,
    for transformed text, writes none)."""
    from ..preprocessors import hf_normalizer
    steps = [hf_normalizer(t) for t in tok.transforms if hf_normalizer(t) is not None]
    if not steps or (inner and opaque_transforms(tok)):
        return None
    return dict(steps[0]) if len(steps) == 1 else {"type": "Sequence", "normalizers": steps}


def to_hf_dict(tok, approximate=False, expanded=False, inner=False):
    """The tokenizer.json content as a dict. Methods HF cannot express raise unless `approximate`
    (or, where the method exports an expanded vocabulary, `expanded`). A model with a text transform
    (SPLINTER) raises unless `inner` (then the inner model, for transformed text, is exported)."""
    from ..methods import get_method
    method = get_method(tok.algo)
    v = tok.vocabulary
    if tok.default_encoder == "bytespan" and not (tok.transforms and not inner):
        return wordpiece_dict(tok)
    if any(v.idents):
        raise NewbpeError("tokens with identity flags (e.g. continuation tokens) have no HF BPE form")
    opaque = opaque_transforms(tok)
    if opaque and not inner:
        raise NewbpeError(f"{_transform_names(tok).upper()} models are not expressible as HF tokenizer.json (the "
                          "transform needs its map and a look-ahead search); pass inner=True / --inner to export "
                          "the inner model, which expects transformed text")
    if opaque and (approximate or expanded):
        raise NewbpeError(f"only the exact inner export (--inner) is supported for models with a text transform "
                          f"({_transform_names(tok)})")
    if expanded and (method.hf_export != "expanded" or "demolition" not in tok.extra):
        raise NewbpeError(f"the expanded HF export is for methods that export expanded vocabularies "
                          f"(not {tok.algo})")
    if not hf_exact(tok) and not approximate and not expanded and not (inner and _inner_exact(tok)):
        hint = " or --expanded (with a demolition sidecar)" if method.hf_export == "expanded" else ""
        raise NewbpeError(f"{tok.algo} models with the {tok.default_encoder} encoder are not exactly expressible "
                          f"as HF tokenizer.json (see README, 'Export'); pass --approximate{hint}")
    strings = [token_string(tok, i) for i in range(len(v))]
    hf_id = expanded_ids(tok) if expanded else [int(m) for m in v.to_model]
    vocab = {}
    for internal in sorted(range(len(v)), key=lambda i: hf_id[i]):
        if hf_id[internal] < 0:
            continue
        s = strings[internal]
        if s in vocab:
            raise NewbpeError(f"two tokens share the HF string {s!r} (ids {vocab[s]} and {hf_id[internal]}); "
                              "rename the special token")
        vocab[s] = hf_id[internal]
    if expanded or v.all_visible:
        merges = [[strings[a], strings[b]] for a, b, _ in v.merges]
    else:
        merges = _rederived_merges(tok, strings)
    added = [{"id": int(v.to_model[i]), "content": s, "single_word": False, "lstrip": False, "rstrip": False,
              "normalized": False, "special": True} for i, s in enumerate(tok.special_tokens)]
    byte_level = tok.units == "bytes"
    post = {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": False, "use_regex": True} if byte_level else None
    pre_tokenizer = tok.pretokenizer.to_hf(byte_level)
    if tok.options.get("prefix_space") or tok.options.get("trim_offsets"):   # imported ByteLevel flags
        from .hf_flags import with_byte_level_flags
        pre_tokenizer, post = with_byte_level_flags(tok, pre_tokenizer, post)
    from ..roles import hf_post_processor
    post = hf_post_processor(tok, post)           # the bos/eos template, when set (roles.py)
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": added,
        "normalizer": _normalizer(tok, inner),
        "pre_tokenizer": pre_tokenizer,
        "post_processor": post,
        "decoder": tok.decoder.to_hf(byte_level),
        "model": {
            "type": "BPE",
            "dropout": None,
            "unk_token": tok.unk_token,
            "continuing_subword_prefix": None,
            "end_of_word_suffix": None,
            "fuse_unk": False,
            "byte_fallback": False,
            "ignore_merges": bool(tok.options.get("ignore_merges", False)),
            "vocab": vocab,
            "merges": merges,
        },
    }


# ByteSpan's continuation prefix in HF WordPiece (encoding.py): not a ByteLevel symbol, so no initial
# token has it
MAX_INPUT_CHARS = 10**9


def wordpiece_dict(tok):
    """ByteSpan's lossless HF recipe (specs bytespan.md §7): a WordPiece model (initial tokens as
    GPT-2-mapped strings, continuation tokens behind the prefix ‡, specials verbatim,
    max_input_chars_per_word = 10⁹ so no pre-token becomes UNK), the model's pre-tokenizer over
    ByteLevel, and the decoder Sequence[WordPiece(‡, cleanup=false), Replace(" " -> ""), ByteLevel]:
    the WordPiece decoder puts a space before every non-continuation token after the first, and
    those are the only literal spaces (real ones are `Ġ`), so Replace removes exactly them."""
    v = tok.vocabulary
    vocab = {}
    for m, i in enumerate(v.model_ids):
        s = token_string(tok, i)           # continuation tokens behind the prefix (encoding.py)
        if s in vocab:
            raise NewbpeError(f"two tokens share the HF string {s!r} (ids {vocab[s]} and {m}); rename the special token")
        vocab[s] = m
    added = [{"id": int(v.to_model[i]), "content": s, "single_word": False, "lstrip": False, "rstrip": False,
              "normalized": False, "special": True} for i, s in enumerate(tok.special_tokens)]
    from ..roles import hf_post_processor
    return {
        "version": "1.0", "truncation": None, "padding": None, "added_tokens": added, "normalizer": None,
        "pre_tokenizer": tok.pretokenizer.to_hf(True),
        "post_processor": hf_post_processor(tok, None),       # the bos/eos template, when set (roles.py)
        "decoder": {"type": "Sequence", "decoders": [
            {"type": "WordPiece", "prefix": CONTINUATION_PREFIX, "cleanup": False},
            {"type": "Replace", "pattern": {"String": " "}, "content": ""},
            {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True}]},
        "model": {"type": "WordPiece", "unk_token": tok.special_tokens[0] if tok.special_tokens else "[UNK]",
                  "continuing_subword_prefix": CONTINUATION_PREFIX, "max_input_chars_per_word": MAX_INPUT_CHARS,
                  "vocab": vocab},
    }


def to_hf_json(tok, approximate=False, expanded=False, inner=False):
    """Compact JSON: `indent` would force Python's slow pure-Python encoder (~1 s for 32k tokens)."""
    return json.dumps(to_hf_dict(tok, approximate, expanded, inner), ensure_ascii=False, separators=(",", ":"))


def hf_file_names():
    """Every file an HF export may write (an export owns them all): the three HF files, each text
    transform's map and the expanded export's demolition sidecar."""
    from ..preprocessors import TRANSFORMS
    return ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "scaffold_demolition.json") \
        + tuple(f"{name}.json" for name in TRANSFORMS)


def hf_files(tok, approximate=False, agreement=None, expanded=False, inner=False):
    """{file name: content} of the HF export (see save_hf), tokenizer.json first. The exporter only
    reads the model; `agreement` (what `newbpe.metrics.agreement` measured) is recorded for an
    approximate export."""
    files = {"tokenizer.json": to_hf_json(tok, approximate, expanded, inner) + "\n"}
    from ..roles import hf_config_entries, hf_special_map
    special_map = hf_special_map(tok)               # roles (bos_token, eos_token, ...) and every special
    config = {"tokenizer_class": "PreTrainedTokenizerFast", "model_max_length": 1000000000000000019884624838656,
              "clean_up_tokenization_spaces": False, **special_map, **hf_config_entries(tok)}
    if expanded:
        config["newbpe_scaffold"] = {
            "note": "expanded vocabulary: ids >= vocab_size are scaffold tokens; replace each by its pieces "
                    "from scaffold_demolition.json to get newbpe's ids (embedding tables need vocab_size rows)",
            "vocab_size": tok.vocab_size}
    elif approximate and not hf_exact(tok):
        config["newbpe_approximation"] = {
            "algorithm": tok.algo,
            "note": "approximate: stock HF cannot reproduce this method's encoding; use newbpe for exact ids",
            "agreement": agreement}
    from ..preprocessors import transform_to_dict, transform_type
    maps = {}
    for transform in opaque_transforms(tok):
        name = transform_type(transform)
        config[f"newbpe_{name}"] = {"note": TRANSFORM_NOTE.format(name=name), "map": f"{name}.json"}
        maps[f"{name}.json"] = json.dumps(transform_to_dict(transform)["map"], ensure_ascii=False, indent=1) + "\n"
    files["tokenizer_config.json"] = json.dumps(config, ensure_ascii=False, indent=2) + "\n"
    files["special_tokens_map.json"] = json.dumps(special_map, ensure_ascii=False, indent=2) + "\n"
    files.update(maps)
    if expanded:
        files["scaffold_demolition.json"] = json.dumps(demolition_sidecar(tok)) + "\n"
    return files


def save_hf(tok, out_dir, approximate=False, agreement=None, expanded=False, inner=False):
    """Write tokenizer.json, tokenizer_config.json and special_tokens_map.json (so that
    `transformers.AutoTokenizer.from_pretrained(out_dir)` works), plus a text transform's map or
    scaffold_demolition.json where they apply. Returns the paths written. All-or-nothing
    (`newbpe.atomic.write_dir`): an HF file of an earlier export that this one does not write is
    deleted; other files in out_dir (model.json, a user's config.json) are kept.
    For an approximate export, `agreement` (what `newbpe.metrics.agreement` measured on some text)
    is recorded in tokenizer_config.json."""
    from ..atomic import write_dir
    files = hf_files(tok, approximate, agreement, expanded, inner)
    return write_dir(out_dir, files, owned=hf_file_names())


def hf_untrained(pretokenizer="gpt2", units="bytes"):
    """A stock-HF `tokenizers.Tokenizer` with an empty BPE model and exactly the pre-tokenizer our
    export writes for `pretokenizer`: the HF side of parity tests and benchmarks."""
    from tokenizers import Tokenizer as HFTokenizer
    from ..pretokenizers import PreTokenizer
    pretok = pretokenizer if isinstance(pretokenizer, PreTokenizer) else PreTokenizer(pretokenizer)
    spec = {"version": "1.0", "truncation": None, "padding": None, "added_tokens": [], "normalizer": None,
            "pre_tokenizer": pretok.to_hf(units == "bytes"), "post_processor": None, "decoder": None,
            "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
                      "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False,
                      "ignore_merges": False, "vocab": {}, "merges": []}}
    return HFTokenizer.from_str(json.dumps(spec))

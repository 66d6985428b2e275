"""Reading an HF `tokenizer.json` (byte-level BPE) into newbpe: `newbpe.load` of a tokenizer.json,
and the token-bytes view StochasTok builds its split tables from."""
import json
import os

from ..errors import NewbpeError


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

def load_hf(path):
    """A newbpe `Tokenizer` from an HF byte-level BPE `tokenizer.json` (a file or a directory holding
    one). Model ids are HF's ids; added tokens marked special become newbpe special tokens (other
    added tokens are refused). The rank encoder then reproduces HF's BPE; any other newbpe encoder
    (LBPE) works on the same vocabulary."""
    from ..model import Tokenizer
    from ..units import gpt2_byte_order, token_string_to_bytes
    d, file = read_hf_json(path)
    if isinstance(d, dict) and isinstance(d.get("model"), dict) and d["model"].get("type") == "WordPiece":
        return load_wordpiece(d, file, path)
    tokens_by_id, _ = _vocab_bytes(d, file)
    model = d["model"]
    if model.get("continuing_subword_prefix") or model.get("end_of_word_suffix"):
        raise NewbpeError(f"{file}: subword prefixes/suffixes are not supported")
    transforms = _normalizer_transforms(d.get("normalizer"), file)
    from .hf_flags import byte_level_flags
    flags = byte_level_flags(d, file)
    from ..pretokenizers import PreTokenizer
    try:
        pretokenizer = PreTokenizer.from_hf(d.get("pre_tokenizer"))
    except ValueError as e:
        raise NewbpeError(f"{file}: {e}") from None
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
                     options={"ignore_merges": bool(model.get("ignore_merges", False)), **flags},
                     stats={"imported_from": "hf"}, encoder="rank", transforms=transforms,
                     **_roles_and_template(d, path, [special_ids[i] for i in sorted(special_ids)], file))


def _roles_and_template(d, path, specials, file):
    """{"roles", "template"} of an imported tokenizer.json: a TemplateProcessing post-processor of the
    form [bos] $A [eos] (what newbpe exports) becomes the bos/eos template; roles also come from the
    tokenizer_config.json / special_tokens_map.json beside the file. Other templates are refused."""
    roles = _config_roles(path, specials)
    post = d.get("post_processor") or {}
    steps = post.get("processors", []) if post.get("type") == "Sequence" else [post]
    template = {}
    for step in steps:
        if not isinstance(step, dict) or step.get("type") != "TemplateProcessing":
            continue
        single = step.get("single") or []
        seq = [i for i, s in enumerate(single) if "Sequence" in s]
        ok = len(seq) == 1 and seq[0] <= 1 and len(single) - seq[0] <= 2
        names = [s.get("SpecialToken", {}).get("id") for s in single if "SpecialToken" in s]
        if not ok or any(n not in specials for n in names):
            raise NewbpeError(f"{file}: TemplateProcessing other than [bos] $A [eos] with special tokens is not supported")
        if seq[0] == 1:
            roles["bos"], template["add_bos"] = single[0]["SpecialToken"]["id"], True
        if len(single) - seq[0] == 2:
            roles["eos"], template["add_eos"] = single[-1]["SpecialToken"]["id"], True
    return {"roles": roles, "template": template}


def _config_roles(path, specials):
    """Roles from the special_tokens_map.json / tokenizer_config.json beside an imported tokenizer.json
    (bos_token, eos_token, pad_token, unk_token naming one of its special tokens)."""
    folder = path if os.path.isdir(path) else os.path.dirname(os.fspath(path))
    roles = {}
    for name in ("tokenizer_config.json", "special_tokens_map.json"):
        try:
            with open(os.path.join(folder, name), encoding="utf-8") as f:
                conf = json.load(f)
        except (OSError, ValueError):
            continue
        for role in ("bos", "eos", "pad", "unk"):
            token = conf.get(f"{role}_token") if isinstance(conf, dict) else None
            token = token.get("content") if isinstance(token, dict) else token
            if isinstance(token, str) and token in specials:
                roles.setdefault(role, token)
    return roles


def _normalizer_transforms(spec, file):
    """The text transforms of an HF normalizer: none, or NFC (alone or in a Sequence), which newbpe
    runs as its `nfc` transform (preprocessors/nfc.py); any other normalizer is refused."""
    if not spec:
        return []
    steps = spec.get("normalizers", []) if spec.get("type") == "Sequence" else [spec]
    if all(isinstance(s, dict) and s.get("type") == "NFC" for s in steps):
        from ..preprocessors.nfc import NFC
        return [NFC()] if steps else []
    kinds = ", ".join(str(s.get("type")) if isinstance(s, dict) else "?" for s in steps)
    raise NewbpeError(f"{file}: normalizer {kinds} is not supported (newbpe reads NFC only)")


def load_wordpiece(d, file, path=None):
    """A ByteSpan `Tokenizer` from the lossless WordPiece recipe of specs bytespan.md §7 (what
    export/hf.py writes): byte-level strings, continuation tokens behind the prefix, a ByteLevel
    pre-tokenizer; every byte present with both flags. Model ids are HF's ids."""
    from ..model import Tokenizer
    from ..pretokenizers import PreTokenizer
    from ..units import gpt2_byte_order, token_string_to_bytes
    from ..vocab import IDENT_CONTINUATION, IDENT_PLAIN
    model = d["model"]
    prefix = model.get("continuing_subword_prefix")
    vocab = model.get("vocab")
    if not prefix or not isinstance(vocab, dict) or d.get("normalizer") \
            or "ByteLevel" not in json.dumps(d.get("pre_tokenizer")):
        raise NewbpeError(f"{file}: only byte-level WordPiece models with a continuation prefix and no "
                          "normalizer (ByteSpan's export) are supported")
    try:
        pretokenizer = PreTokenizer.from_hf(d.get("pre_tokenizer"))
    except ValueError as e:
        raise NewbpeError(f"{file}: {e}") from None
    specials = {int(a["id"]): a["content"] for a in d.get("added_tokens") or [] if a.get("special")}
    n = len(vocab)
    if sorted(vocab.values()) != list(range(n)):
        raise NewbpeError(f"{file}: token ids are not contiguous from 0")
    keys = {}
    for s, i in vocab.items():
        if i in specials:
            continue
        ident = IDENT_CONTINUATION if s.startswith(prefix) else IDENT_PLAIN
        try:
            keys[i] = (ident, token_string_to_bytes(s[len(prefix):] if ident else s))
        except ValueError as e:
            raise NewbpeError(f"{file}: token {i} {s!r}: {e}") from None
    by_key = {k: i for i, k in keys.items()}
    layout = [(f, bytes([b])) for f in (IDENT_PLAIN, IDENT_CONTINUATION) for b in gpt2_byte_order()]
    missing = [k for k in layout if k not in by_key]
    if missing:
        raise NewbpeError(f"{file}: {len(missing)} of the 512 byte tokens (initial and continuation) are missing")
    order = sorted(specials) + [by_key[k] for k in layout]
    placed = set(order)
    order += [i for i in range(n) if i not in placed]
    internal = {hf: k for k, hf in enumerate(order)}
    tokens = [specials[i].encode("utf-8") if i in specials else keys[i][1] for i in order]
    idents = [IDENT_PLAIN if i in specials else keys[i][0] for i in order]
    return Tokenizer(algo="bytespan", units="bytes", pretokenizer=pretokenizer,
                     special_tokens=[specials[i] for i in sorted(specials)], n_alphabet=512, tokens=tokens,
                     merges=[], model_ids=[internal[i] for i in range(n)], stats={"imported_from": "hf"},
                     encoder="bytespan", idents=idents,
                     **_roles_and_template(d, path or file, [specials[i] for i in sorted(specials)], file))

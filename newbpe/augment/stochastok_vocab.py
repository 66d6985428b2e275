"""Where a StochasTok table's vocabulary comes from: newbpe, HF `tokenizers` and tiktoken objects or
files, and the reference code's own JSON table (specs `stochastok.md` §3, §7.1).

Why a module of its own: each ecosystem numbers and marks its tokens differently, and the table
builder (`stochastok_table.build_split_table`) wants one shape: token bytes by emitted id (None
for an id with no token) plus the ids never to split (special and added tokens). These readers
produce that shape; the `StochasTok` constructors only choose one.
"""
import json
import os

from ..errors import ModelFileError, NewbpeError
from .stochastok_table import table_from_pairs


def vocab_of(tokenizer):
    """(token bytes by emitted id, never-split ids, description) of a tokenizer object."""
    if hasattr(tokenizer, "model_ids") and hasattr(tokenizer, "tokens"):          # newbpe Tokenizer
        vocab = [tokenizer.tokens[i] for i in tokenizer.model_ids]
        never = [m for m, i in enumerate(tokenizer.model_ids) if i < tokenizer.n_specials]
        return vocab, never, f"newbpe {tokenizer.algo} model"
    if hasattr(tokenizer, "_mergeable_ranks"):                                      # tiktoken.Encoding
        vocab, never = tiktoken_vocab(tokenizer)
        return vocab, never, "tiktoken encoding"
    if hasattr(tokenizer, "to_str"):                                                # tokenizers.Tokenizer
        from ..export.hf_load import read_hf_vocab
        vocab, never = read_hf_vocab(json.loads(tokenizer.to_str()))
        return vocab, never, "HF tokenizer"
    raise NewbpeError(f"cannot build a StochasTok table from a {type(tokenizer).__name__}")


def tiktoken_vocab(source, special_tokens=None):
    """(token bytes by id, never-split ids) of a tiktoken rank file (`base64 rank` lines) or a
    `tiktoken.Encoding`. Special tokens (from `special_tokens`, or a newbpe export's
    `NAME.tiktoken.json` beside the file) take ids after the ranks and are never split."""
    if hasattr(source, "_mergeable_ranks"):
        ranks, specials = source._mergeable_ranks, dict(getattr(source, "_special_tokens", {}))
    else:
        from ..export.tiktoken import read_tiktoken_ranks
        if not os.path.isfile(source):
            raise ModelFileError(f"tiktoken file not found: {source}")
        ranks = read_tiktoken_ranks(source)
        specials = {}
        meta = os.fspath(source) + ".json"
        if special_tokens is None and os.path.isfile(meta):
            with open(meta, encoding="utf-8") as f:
                specials = json.load(f).get("special_tokens", {})
    if special_tokens is not None:
        specials = dict(special_tokens)
    n = max([*ranks.values(), *specials.values(), -1]) + 1
    vocab = [None] * n
    for b, r in ranks.items():
        vocab[r] = bytes(b)
    for s, i in specials.items():
        vocab[i] = s.encode("utf-8")
    return vocab, set(specials.values())


def read_reference_table(path_or_dict, vocab_size=None):
    """A table in the reference code's JSON format ({"token_id": [[left, right], ...]}), as
    (split_offset, split_left, split_right, vocab_size): the keys, strings after a JSON round trip,
    are converted to int (the reference then finds no token in its table and silently never
    expands, spec §7.1). Without `vocab_size` the vocabulary is the ids the table uses."""
    d = path_or_dict
    if not isinstance(d, dict):
        try:
            with open(d, encoding="utf-8") as f:
                d = json.load(f)
        except (OSError, json.JSONDecodeError) as e:
            raise ModelFileError(f"{path_or_dict}: not a StochasTok JSON table ({e})") from None
    try:
        table = {int(k): [(int(a), int(b)) for a, b in v] for k, v in d.items()}
    except (TypeError, ValueError) as e:
        raise ModelFileError(f"not a StochasTok JSON table ({e})") from None
    ids = [i for i in table] + [x for v in table.values() for pair in v for x in pair]
    if ids and min(ids) < 0:
        raise ModelFileError("negative token id in StochasTok JSON table")
    n = max(ids, default=-1) + 1
    if vocab_size is not None and n > vocab_size:
        raise ModelFileError(f"StochasTok JSON table uses token id {n - 1}, outside the vocabulary")
    n = max(n, int(vocab_size or 0))
    offs, left, right = table_from_pairs(table, n)
    return offs, left, right, n if vocab_size is None else vocab_size

"""HF ByteLevel flags newbpe honours on import and writes back on export (add_prefix_space,
trim_offsets; use_regex is read by `PreTokenizer.from_hf`). No model import: both the importer
(hf_load.py) and the exporter (hf.py) use it."""
from ..errors import NewbpeError


def byte_level_flags(d, file):
    """The ByteLevel flags of an HF tokenizer.json, honoured or refused in one line:
    - add_prefix_space (pre-tokenizer): honoured where ByteLevel is the whole pre-tokenizer (a space
      is put before each text, and before each stretch between special tokens, that does not start
      with one, as HF does); refused after a Split, where HF adds a space to every piece;
    - use_regex: true (ByteLevel alone: GPT-2's pattern) or false (no split, or after a Split) are
      what `PreTokenizer.from_hf` reads; ByteLevel(use_regex=true) after a Split is refused;
    - trim_offsets (post-processor): honoured in `Encoding` offsets (leading and trailing spaces of a
      token are left out of its span); the pre-tokenizer's and decoder's copies change nothing in HF.
    Returns the model options ({"prefix_space": True, "trim_offsets": True}, only those set; the model
    option is `prefix_space`, not ByteSpan's training option `add_prefix_space`)."""
    pre = d.get("pre_tokenizer") or {}
    steps = pre.get("pretokenizers", []) if pre.get("type") == "Sequence" else [pre]
    levels = [s for s in steps if isinstance(s, dict) and s.get("type") == "ByteLevel"]
    out = {}
    for i, step in enumerate(steps):
        if not (isinstance(step, dict) and step.get("type") == "ByteLevel"):
            continue
        alone = len(steps) == 1
        if step.get("add_prefix_space"):
            if not alone:
                raise NewbpeError(f"{file}: ByteLevel(add_prefix_space=true) after another pre-tokenizer (HF adds "
                                  "a space to every piece) is not supported")
            out["prefix_space"] = True
        if step.get("use_regex", True) and not alone:
            raise NewbpeError(f"{file}: ByteLevel(use_regex=true) after another pre-tokenizer (GPT-2's split "
                              "inside every piece) is not supported")
    if not levels:
        return out
    post = d.get("post_processor") or {}
    posts = post.get("processors", []) if post.get("type") == "Sequence" else [post]
    for p in posts:
        if isinstance(p, dict) and p.get("type") == "ByteLevel" and p.get("trim_offsets"):
            out["trim_offsets"] = True
    return out


def with_byte_level_flags(tok, pre_tokenizer, post):
    """The exported pre-tokenizer and post-processor with a model's imported ByteLevel flags."""
    pre_tokenizer = dict(pre_tokenizer) if pre_tokenizer else pre_tokenizer
    if tok.options.get("prefix_space") and pre_tokenizer and pre_tokenizer.get("type") == "ByteLevel":
        pre_tokenizer["add_prefix_space"] = True
    if post is not None:
        post = dict(post, trim_offsets=bool(tok.options.get("trim_offsets")))
    return pre_tokenizer, post

"""Decoder stages: token bytes → text bytes, undoing what the pre-tokenizer marked.

Each decoder serialises as {"type": ...} in model.json and knows its HF `tokenizer.json` form.
Text transforms (SPLINTER) are inverted after the decoder, by the tokenizer.

- "bytes": the concatenation of the tokens' bytes (every lossless pre-tokenizer);
- "metaspace": the whitespace pre-tokenizer's `▁` (U+2581) word marks become spaces and the first
  one is dropped (SentencePiece's and the Picky reference's setup; lossy by design).
"""
from .errors import NewbpeError
from .units import METASPACE

_HF_BYTE_LEVEL = {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True}
_HF_METASPACE = {"type": "Metaspace", "replacement": METASPACE, "prepend_scheme": "always", "split": False}


class ByteDecoder:
    type = "bytes"

    def decode(self, data):
        return data

    def to_hf(self, byte_level):
        return dict(_HF_BYTE_LEVEL) if byte_level else {"type": "Fuse"}

    def to_dict(self):
        return {"type": self.type}


class MetaspaceDecoder:
    type = "metaspace"

    def decode(self, data):
        data = data.replace(METASPACE.encode(), b" ")
        return data[1:] if data.startswith(b" ") else data

    def to_hf(self, byte_level):
        return {"type": "Sequence", "decoders": [dict(_HF_BYTE_LEVEL), dict(_HF_METASPACE)]} if byte_level \
            else dict(_HF_METASPACE)

    def to_dict(self):
        return {"type": self.type}


DECODERS = {c.type: c for c in (ByteDecoder, MetaspaceDecoder)}


def decoder_from_dict(d):
    if not isinstance(d, dict) or d.get("type") not in DECODERS:
        raise NewbpeError(f"unknown decoder {d!r} (known: {', '.join(DECODERS)})")
    return DECODERS[d["type"]]()

"""NFC: Unicode canonical composition as a model text transform (specs `supertokens.md` §3.2, §3.3).

The TokenAdapt reference trains and saves its tokenizer with an HF ``NFC`` normalizer, so its model
encodes ``NFC(x)``: ``decode(encode(x)) == NFC(x)``, not x. newbpe's supertoken trainer adds this
transform under ``normalizer="nfc"`` (``compat="reference"``); the default is no normalizer
(lossless). `invert` is the identity (composition cannot be undone), and the HF export writes it as
the ``NFC`` normalizer (`hf_normalizer`). Surrogate escapes (invalid UTF-8 bytes) pass through.
"""
import unicodedata

from ..errors import NewbpeError


class NFC:
    """Unicode NFC as a text transform (apply = normalize, invert = identity)."""

    hf_normalizer = {"type": "NFC"}

    def apply(self, text):
        return text if unicodedata.is_normalized("NFC", text) else unicodedata.normalize("NFC", text)

    def invert(self, text):
        return text

    def info(self):
        return {"form": "NFC", "lossless": False}

    def to_dict(self):
        return {"form": "NFC"}

    @classmethod
    def from_dict(cls, d, source="transform"):
        if d not in (None, {}, {"form": "NFC"}):
            raise NewbpeError(f"{source}: an nfc transform has no options other than form NFC, got {str(d)[:60]}")
        return cls()

    def __eq__(self, other):
        return isinstance(other, NFC)

    def __hash__(self):
        return hash("NFC")

    def __repr__(self):
        return "NFC()"

"""Text transforms: applied to text before pre-tokenization and inverted after decoding.

Each transform has `apply(str) -> str`, `invert(str) -> str` and `to_dict()`, and serialises in
model.json as {"type": NAME, "map": to_dict()}. The registry (registry.py, re-exported here) is the one
place that names them.

- `splinter`: SPLINTER (Gazit et al., Findings of ACL 2025) for Hebrew, Arabic and Malay: the transform;
  `splinter_learn` learns its map, `splinter_lang` holds the language tables.
- `nfc`: Unicode NFC (not invertible: `invert` is the identity), the TokenAdapt reference's normalizer
  (`supertokens.md` §3.2); HF expresses it as a normalizer (the transform's `hf_normalizer`).

A transform with an `hf_normalizer` (HF tokenizer.json normalizer JSON) exports exactly to HF; the
others (SPLINTER) make the HF export an inner model.
"""
from .registry import TRANSFORMS, hf_normalizer, transform_from_dict, transform_to_dict, transform_type  # noqa: F401


def __getattr__(name):
    if name == "Splinter":
        from .splinter import Splinter
        return Splinter
    if name == "NFC":
        from .nfc import NFC
        return NFC
    raise AttributeError(name)

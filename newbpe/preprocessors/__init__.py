"""Text transforms: applied to text before pre-tokenization and inverted after decoding.

Each transform has `apply(str) -> str`, `invert(str) -> str` and `to_dict()`, and serialises in
model.json as {"type": NAME, "map": to_dict()}. The registry below is the one place that names them.

- `splinter`: SPLINTER (Gazit et al., Findings of ACL 2025) for Hebrew, Arabic and Malay: the transform;
  `splinter_learn` learns its map, `splinter_lang` holds the language tables.
- `nfc`: Unicode NFC (not invertible: `invert` is the identity), the TokenAdapt reference's normalizer
  (`supertokens.md` §3.2); HF expresses it as a normalizer (the transform's `hf_normalizer`).

A transform with an `hf_normalizer` (HF tokenizer.json normalizer JSON) exports exactly to HF; the
others (SPLINTER) make the HF export an inner model.
"""
import importlib

TRANSFORMS = {"splinter": ("newbpe.preprocessors.splinter", "Splinter"), "nfc": ("newbpe.preprocessors.nfc", "NFC")}


def transform_type(transform):
    for name, (module, cls) in TRANSFORMS.items():
        if type(transform).__name__ == cls and type(transform).__module__.startswith(module):
            return name
    raise ValueError(f"not a registered text transform: {type(transform).__name__}")


def hf_normalizer(transform):
    """The HF normalizer JSON of a transform HF can express (NFC), else None."""
    return getattr(transform, "hf_normalizer", None)


def transform_to_dict(transform):
    return {"type": transform_type(transform), "map": transform.to_dict()}


def transform_from_dict(d, source="transform"):
    """The transform a model.json entry describes; a one-line error names `source` otherwise."""
    from ..errors import NewbpeError
    if not isinstance(d, dict) or d.get("type") not in TRANSFORMS:
        raise NewbpeError(f"{source}: unknown text transform {d.get('type') if isinstance(d, dict) else d!r} "
                          f"(known: {', '.join(TRANSFORMS)})")
    module, cls = TRANSFORMS[d["type"]]
    return getattr(importlib.import_module(module), cls).from_dict(d.get("map"), source)


def __getattr__(name):
    if name == "Splinter":
        from .splinter import Splinter
        return Splinter
    if name == "NFC":
        from .nfc import NFC
        return NFC
    raise AttributeError(name)

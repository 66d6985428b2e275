"""The text-transform registry (name -> class) and the model.json form of a transform. A leaf
module: the classes are imported by name only when a transform is read, so a word-count table or a
count shard can describe its transform without importing SPLINTER (whose learner counts through
the corpus: importing it from counting.py would be a cycle)."""
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

"""Import a model file written by the Picky BPE reference code (pchizhov/picky_bpe, `_dump`; specs
picky.md §6.2) as a newbpe Tokenizer, so the reference's own models can be encoded (and checked)
with newbpe's event-replay encoder.

The reference's layout maps directly: its token ids become our internal ids (special tokens, then
its characters in its own order, then learned tokens in creation order), its merges and splits share
one event index, and `int2id` lists the present tokens in model-id order. Its encoder splits each
line with `str.split()`, prefixes `▁`, maps unknown characters to `<UNK>` and returns a present
whole-word token directly, so the imported model uses the `whitespace` pre-tokenizer, char units,
`unknown_chars="unk"` and `whole_word_shortcut=True`.
"""
import base64
import gzip
import json

from ..errors import ModelFileError
from ..model import Tokenizer


def load_reference(path):
    opener = gzip.open if str(path).endswith(".gz") else open
    try:
        with opener(path, "rt", encoding="utf-8") as f:
            d = json.load(f)
        tokens = sorted(d["tokens"], key=lambda t: t["id"])
        if [t["id"] for t in tokens] != list(range(len(tokens))):
            raise ValueError("token ids are not 0..n-1")
        specials = [t["str"] for t in tokens if t["special"]]
        if [t["str"] for t in tokens[:len(specials)]] != specials:
            raise ValueError("special tokens do not come first")
        n_alphabet = sum(1 for t in tokens[len(specials):] if t["left"] is None)
        events = [(m["id"], ["M", m["pair"][0]["id"], m["pair"][1]["id"], m["new_token"]["id"]]) for m in d["merges"]]
        events += [(s["id"], ["S", s["token"]["id"], [p["id"] for p in s["split"]]]) for s in d["splits"]]
        events = [e for _, e in sorted(events)]
        model_ids = [int(d["int2id"][str(i)]) for i in range(len(d["int2id"]))]
    except (OSError, ValueError, KeyError, TypeError, json.JSONDecodeError) as e:
        raise ModelFileError(f"{path}: not a Picky BPE reference model ({e})") from None
    unk = "<UNK>" if "<UNK>" in specials else None
    return Tokenizer.from_dict({
        "format": "newbpe-model", "format_version": 1, "algo": "picky", "units": "chars",
        "pretokenizer": {"name": "whitespace", "pattern": None}, "special_tokens": specials,
        "n_alphabet": n_alphabet, "encoder": "replay",
        "options": {"unknown_chars": "unk" if unk else "drop", "unk_token": unk, "whole_word_shortcut": True,
                    "compat": "reference", "imported_from": "pchizhov/picky_bpe"},
        "tokens": [base64.b64encode(t["str"].encode("utf-8")).decode("ascii") for t in tokens],
        "merges": [e[1:] for e in events if e[0] == "M"],
        "model_ids": model_ids,
        "flags": [0] * len(tokens),
        "extra": {"events": events},
        "stats": {"merge_events": len(d["merges"]), "removal_events": len(d["splits"])},
    }, source=str(path))

"""Base units and the normative id layout (specs README §2).

Internally every token is a byte string. Ids follow one layout everywhere:

1. special tokens, ids 0 … k-1, in the order the user gave them;
2. the 256 byte tokens in **GPT-2 order** (ascending code point of the GPT-2 printable mapping:
   bytes 33–126, 161–172, 174–255, then 0–32, 127–160, 173) — the order HF's `BpeTrainer` gives
   with `initial_alphabet=ByteLevel.alphabet()`; in char mode: observed characters by code point;
3. learned tokens in creation order.

Tie-breaks are computed on these ids, which is what makes our merges identical to HF's.
"""
from functools import lru_cache


@lru_cache(maxsize=1)
def byte_to_unicode() -> dict:
    """GPT-2's bijection from the 256 bytes to printable characters (used for export only)."""
    printable = list(range(33, 127)) + list(range(161, 173)) + list(range(174, 256))
    mapping = {b: chr(b) for b in printable}
    extra = 0
    for b in range(256):
        if b not in mapping:
            mapping[b] = chr(256 + extra)
            extra += 1
    return mapping


@lru_cache(maxsize=1)
def unicode_to_byte() -> dict:
    return {c: b for b, c in byte_to_unicode().items()}


@lru_cache(maxsize=1)
def gpt2_byte_order() -> tuple:
    """The 256 byte values sorted by the code point of their GPT-2 character."""
    m = byte_to_unicode()
    return tuple(sorted(range(256), key=lambda b: ord(m[b])))


@lru_cache(maxsize=1)
def _latin1_to_gpt2() -> dict:
    return {b: ord(c) for b, c in byte_to_unicode().items()}


def bytes_to_token_string(data: bytes) -> str:
    """A token's bytes as a GPT-2 byte-level string (HF vocab.json / tokenizer.json form).
    Latin-1 decoding maps byte b to code point b; `str.translate` then applies the bijection in C."""
    return bytes(data).decode("latin-1").translate(_latin1_to_gpt2())


def token_string_to_bytes(s: str) -> bytes:
    m = unicode_to_byte()
    try:
        return bytes(m[c] for c in s)
    except KeyError as e:
        raise ValueError(f"character {e.args[0]!r} is not a GPT-2 byte-level symbol") from None


UNITS = ("bytes", "chars")
METASPACE = "\u2581"        # the whitespace pre-tokenizer's word mark (SentencePiece's ▁)

UNITS = ("bytes", "chars")


def byte_counts(data, block=1 << 20):
    """Occurrences of each of the 256 byte values in a uint8 array, in blocks: np.bincount and
    np.unique first copy their input to 8-byte integers (240 MB for a 30 MB word)."""
    import numpy as np
    counts = np.zeros(256, dtype=np.int64)
    for i in range(0, len(data), block):
        counts += np.bincount(data[i:i + block], minlength=256)
    return counts

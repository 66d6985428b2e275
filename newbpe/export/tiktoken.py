"""Export to tiktoken: `NAME.tiktoken` (base64 token, rank per line) and `NAME.json` with `pat_str`
and `special_tokens` (bpe.md §11).

tiktoken ranks a pair by the rank of its *concatenated bytes*, HF by the merge's position; the two
agree iff every learned token, re-encoded tiktoken-style from its bytes with only lower ranks, ends
as exactly the two parts of the merge that created it, and no duplicate-string merges exist. The
exporter checks this and refuses (or, with strict=False, warns) when it fails. Special tokens get the
ids after all ranks, as tiktoken expects; they match our ids only when the model has no specials.
"""
import base64
import binascii
import json
import os
import warnings

from ..errors import ModelFileError, NewbpeError


def _tiktoken_parts(data, rank, limit):
    """tiktoken's byte-pair merge on `data` using only ranks < limit; returns the final parts."""
    parts = [data[i:i + 1] for i in range(len(data))]
    while len(parts) > 1:
        best, best_i = None, -1
        for i in range(len(parts) - 1):
            r = rank.get(parts[i] + parts[i + 1])
            if r is not None and r < limit and (best is None or r < best):
                best, best_i = r, i
        if best is None:
            break
        parts[best_i:best_i + 2] = [parts[best_i] + parts[best_i + 1]]
    return parts


def check_tiktoken(tok):
    """List of problems that make tiktoken's encoding differ from ours (empty if exact)."""
    problems = []
    if tok.units != "bytes" or tok.n_alphabet != 256:
        problems.append("tiktoken needs a byte-level model with all 256 bytes")
        return problems
    v = tok.vocabulary
    if tok.pretokenizer.to_tiktoken() is None:
        problems.append(f"the {tok.pretokenizer.name} pre-tokenizer has no tiktoken equivalent")
    if not v.all_visible:
        problems.append(f"{tok.algo} models hide tokens that tiktoken would use")
    if tok.options.get("prefix_space"):
        problems.append("tiktoken cannot add a prefix space (an imported HF add_prefix_space=true)")
    if any(v.idents) or tok.transforms:
        problems.append("tiktoken has no identity flags or text transforms")
    k = v.n_specials
    rank = {v.tokens[i]: i - k for i in range(k, len(v))}
    n_dup = tok.stats.get("num_duplicate_merges", 0)
    if n_dup:
        problems.append(f"{n_dup} duplicate-string merges")
    for a, b, c in v.merges:
        parts = _tiktoken_parts(v.tokens[c], rank, c - k)
        if parts != [v.tokens[a], v.tokens[b]]:
            problems.append(f"token {c - k} ({v.tokens[c]!r}) would be built as {parts!r}")
            if len(problems) > 5:
                break
    return problems


def save_tiktoken(tok, out_dir, name="newbpe", strict=True):
    problems = check_tiktoken(tok)
    if problems:
        msg = "tiktoken export is not exact: " + "; ".join(problems[:3])
        if strict:
            raise NewbpeError(msg)
        warnings.warn(msg, stacklevel=2)
    v = tok.vocabulary
    k = v.n_specials
    lines = [f"{base64.b64encode(v.tokens[i]).decode('ascii')} {i - k}" for i in range(k, len(v))]
    pat = tok.pretokenizer.to_tiktoken() or r"[\s\S]+"
    n = len(v) - k
    meta = {"name": name, "pat_str": pat, "special_tokens": {s: n + i for i, s in enumerate(tok.special_tokens)},
            "explicit_n_vocab": n + k}
    from ..atomic import write_dir
    files = {f"{name}.tiktoken": "\n".join(lines) + "\n",
             f"{name}.tiktoken.json": json.dumps(meta, ensure_ascii=False, indent=2) + "\n"}
    return write_dir(out_dir, files)        # both files or neither; the rest of out_dir is kept


def read_tiktoken_ranks(path):
    """{token bytes: rank} from a tiktoken rank file (`base64-token rank` per line), the format of
    our export and of tiktoken's own `.tiktoken` files. Malformed lines are a ModelFileError."""
    ranks = {}
    try:
        with open(path, encoding="ascii") as f:
            for n, line in enumerate(f, 1):
                if line.strip():
                    t, r = line.split()
                    ranks[base64.b64decode(t, validate=True)] = int(r)
    except (ValueError, UnicodeDecodeError, binascii.Error) as e:
        raise ModelFileError(f"{path}:{n}: not a tiktoken rank file ({e})") from None
    return ranks


def load_tiktoken_encoding(out_dir, name="newbpe"):
    """A `tiktoken.Encoding` from an export (used by tests and benchmarks)."""
    import tiktoken
    with open(os.path.join(out_dir, f"{name}.tiktoken.json"), encoding="utf-8") as f:
        meta = json.load(f)
    ranks = read_tiktoken_ranks(os.path.join(out_dir, f"{name}.tiktoken"))
    return tiktoken.Encoding(name=meta["name"], pat_str=meta["pat_str"], mergeable_ranks=ranks,
                             special_tokens=meta["special_tokens"])

"""What `newbpe eval` shows and writes from an evaluation result (`EvalResult.to_dict()`, the shape
of evaluation/result.py): the terminal table and the CSV, JSON, Markdown and LaTeX files.

Everything here reads the plain dict, so a saved `--json` file renders exactly like a fresh run.
The terminal table shows the headline metrics that fit in 100 columns (HEADLINE order, then the
remaining metrics in `metric_info` order while they fit); the files carry every metric. Tie-breaks
and orders are those of the result: tokenizers and corpora in the order given on the command line.
Files are written all-or-nothing (io.atomic_write); "-" means standard output.
"""
import csv
import io
import json
import math
import re

# The numbers researchers compare first (issue 18: compression, fertility, Rényi efficiency,
# vocabulary use, words split; names of evaluation/metrics.py), in column order; the rest follow
# in `metric_info` order while they fit.
HEADLINE = ("bytes_per_token", "fertility", "renyi_efficiency", "vocab_utilisation", "split_words",
            "chars_per_token", "shannon_efficiency")
TABLE_WIDTH = 100                     # columns of the terminal table (issue 18: fits a 100-column terminal)
LABEL_WIDTH = 18                      # longest tokenizer/corpus label shown whole in the terminal
KEYS = ("tokenizer", "corpus", "language")
ALL_CORPORA = "(all)"                 # the corpus column of a tokenizer's pooled totals


def as_dict(result):
    """The JSON-ready dict of an EvalResult (or the dict itself, e.g. read back from --json)."""
    return result.to_dict() if hasattr(result, "to_dict") else result


def metric_names(d):
    """Every numeric column of the rows and totals: `metric_info` order first, then first appearance."""
    seen = {}
    for row in list(d.get("rows", ())) + list(d.get("totals", ())):
        for k, v in row.items():
            if k not in KEYS and (v is None or isinstance(v, (int, float))) and not isinstance(v, bool):
                seen.setdefault(k, None)
    info = [k for k in d.get("metric_info", {}) if k in seen]
    return info + [k for k in seen if k not in info]


def headline_order(names):
    """`names` with the HEADLINE metrics first (in HEADLINE order), then the others as given."""
    return [n for n in HEADLINE if n in names] + [n for n in names if n not in HEADLINE]


def table_rows(d):
    """The rows of the main table: one per (tokenizer, corpus) in the result's order, then each
    tokenizer's totals over all corpora (corpus "(all)")."""
    rows = [dict(r) for r in d.get("rows", ())]
    for t in d.get("totals", ()):
        rows.append({"tokenizer": t["tokenizer"], "corpus": ALL_CORPORA, "language": None,
                     **{k: v for k, v in t.items() if k != "tokenizer"}})
    return rows


def number(v):
    """A metric as the tables show it: integers whole, floats to 4 decimals (2 from 10^4 up, 4
    significant digits from 10^7), None and non-finite values as '-'."""
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "-"
    if isinstance(v, int):
        return str(v)
    if abs(v) >= 1e7:
        return f"{v:.4g}"
    return f"{v:.2f}" if abs(v) >= 1e4 else f"{v:.4f}"


def _clip(text, width):
    text = str(text)
    return text if len(text) <= width else text[:width - 1] + "…"


def _aligned(header, body, numeric_from):
    """Lines of a table: first `numeric_from` columns left-aligned, the rest right-aligned."""
    widths = [max(len(c) for c in col) for col in zip(header, *body)]
    out = []
    for cells in [header] + body:
        out.append("  ".join(c.ljust(w) if i < numeric_from else c.rjust(w)
                             for i, (c, w) in enumerate(zip(cells, widths))).rstrip())
        if cells is header:
            out.append("  ".join("-" * w for w in widths))
    return out


def terminal_table(d, width=TABLE_WIDTH):
    """The main table for a terminal: tokenizer, corpus and as many metrics as fit in `width`
    columns, headline metrics first; then the parity, morphology and curve tables when present."""
    rows = table_rows(d)
    keys = [[_clip(r["tokenizer"], LABEL_WIDTH), _clip(r["corpus"], LABEL_WIDTH)] for r in rows]
    used = sum(max([len(h)] + [len(k[i]) for k in keys]) + 2 for i, h in enumerate(("tokenizer", "corpus")))
    chosen = []
    for name in headline_order(metric_names(d)):
        w = max([len(name)] + [len(number(r.get(name))) for r in rows]) + 2
        if used + w - 2 <= width:
            chosen.append(name)
            used += w
    lines = []
    if rows:                            # none when only parallel pairs or morphology files were given
        lines = _aligned(["tokenizer", "corpus"] + chosen,
                         [k + [number(r.get(n)) for n in chosen] for k, r in zip(keys, rows)], 2)
    hidden = len(metric_names(d)) - len(chosen)
    if hidden:
        lines.append(f"({hidden} more metrics in --csv/--json/--markdown/--latex/--html)")
    for title, header, body, text_columns in extra_tables(d):
        lines += ([""] if lines else []) + [title] + _aligned(header, body, text_columns)
    return "\n".join(lines)


def _name(path):
    import os
    return os.path.basename(str(path))


MORPHOLOGY = (("morphscore", "MorphScore (word; word after a space: _space)", ("score", "score_space", "n", "excluded")),
              ("segmentation", "Morpheme-boundary precision / recall / F1 (_space: the word after a space)",
               ("precision", "recall", "f1", "f1_space", "n", "excluded")))


def extra_tables(d):
    """(title, header, rows of strings, number of leading text columns) of the parity, morphology
    and truncated-vocabulary tables that the result holds (each absent when empty); files by their
    names (--json has the paths). Morphology: one table per kind of file; the `_space` columns
    score the word after a space (evaluation/morphology.py)."""
    out = []
    if d.get("parity"):
        out.append(("Parity on parallel text (premium = tokens(other) / tokens(reference))",
                    ["tokenizer", "reference", "other", "premium", "parity_share", "lines"],
                    [[p["tokenizer"], _name(p["reference"]), _name(p["other"]), number(p["premium"]),
                      number(p["parity_share"]), number(p["lines"])] for p in d["parity"]], 3))
    for kind, title, columns in MORPHOLOGY:
        entries = [m for m in d.get("morphology") or () if m.get("kind") == kind]
        if entries:
            out.append((title, ["tokenizer", "file", *columns],
                        [[m["tokenizer"], _name(m["file"])] + [number(m.get(k)) for k in columns] for m in entries], 2))
    if d.get("curves"):
        out.append(("Truncated vocabulary (bytes per token of the first N merges)",
                    ["tokenizer", "merges", "vocab_size", "bytes_per_token"],
                    [[label, number(c["merges"]), number(c["vocab_size"]), number(c["bytes_per_token"])]
                     for label, points in d["curves"].items() for c in points], 1))
    return out


# ---------------------------------------------------------------------------------------------- files
def _finite(v):
    """JSON has no NaN or infinity: such values are written as null."""
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, dict):
        return {k: _finite(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_finite(x) for x in v]
    return v


def json_text(d):
    """The result as JSON, UTF-8 text as is; lone surrogates (bytes of a sample piece that are not
    UTF-8 on their own, surrogate-escaped) as \\udcXX escapes, which json.loads reads back."""
    text = json.dumps(_finite(d), ensure_ascii=False, indent=2) + "\n"
    return re.sub("[\udc80-\udcff]", lambda m: f"\\u{ord(m.group()):04x}", text)


def csv_text(d):
    """The main table, every metric: tokenizer, corpus, language, then one column per metric
    (full precision; empty for a metric a row lacks). Parity and morphology live in the other formats."""
    names = metric_names(d)
    buf = io.StringIO(newline="")
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(list(KEYS) + names)
    for r in table_rows(d):
        w.writerow([("" if r.get(k) is None else r[k]) for k in KEYS]
                   + [("" if _finite(r.get(n)) is None else repr(r[n]) if isinstance(r[n], float) else r[n])
                      for n in names])
    return buf.getvalue()


def _md_cell(text):
    return str(text).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def _md_table(header, body, numeric_from=2):
    lines = ["| " + " | ".join(_md_cell(h) for h in header) + " |",
             "|" + "|".join("---" if i < numeric_from else "---:" for i in range(len(header))) + "|"]
    lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in body]
    return lines


def markdown_text(d):
    """Markdown: the main table (every metric), parity, morphology, curves, and what each metric
    means (title, formula, source, which direction is better)."""
    names = metric_names(d)
    lines = ["# Tokenizer evaluation", "", "## Metrics", ""]
    lines += _md_table(["tokenizer", "corpus", "language"] + names,
                       [[r["tokenizer"], r["corpus"], r.get("language") or ""] + [number(r.get(n)) for n in names]
                        for r in table_rows(d)], 3)
    for title, header, body, text_columns in extra_tables(d):
        lines += ["", f"## {title}", ""] + _md_table(header, body, text_columns)
    info = d.get("metric_info") or {}
    if info:
        lines += ["", "## Definitions", ""]
        lines += _md_table(["metric", "title", "formula", "source", "better"],
                           [[k, v.get("title", ""), v.get("formula", ""), v.get("source", ""), v.get("better") or ""]
                            for k, v in info.items()], 5)
    return "\n".join(lines) + "\n"


LATEX_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
                 "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}


def latex_escape(text):
    return "".join(LATEX_SPECIAL.get(c, c) for c in str(text))


def best_values(d, rows, names):
    """{(corpus, metric): best value among the tokenizers} for metrics whose `metric_info` says
    which direction is better (ties: every tokenizer with that value is best)."""
    info = d.get("metric_info") or {}
    best = {}
    for n in names:
        better = (info.get(n) or {}).get("better")
        if better not in ("higher", "lower"):
            continue
        for r in rows:
            v = r.get(n)
            if v is None or (isinstance(v, float) and not math.isfinite(v)):
                continue
            key = (r["corpus"], n)
            if key not in best or (v > best[key] if better == "higher" else v < best[key]):
                best[key] = v
    return best


def latex_text(d):
    """LaTeX (booktabs): one table per corpus (and the pooled totals) with a row per metric and a
    column per tokenizer, as papers compare tokenizers; the best value of a row is bold where
    `metric_info` says which direction is better. Parity and morphology follow as tables."""
    rows = table_rows(d)
    names = metric_names(d)
    best = best_values(d, rows, names)
    labels = [t["label"] for t in d.get("tokenizers", ())] or list(dict.fromkeys(r["tokenizer"] for r in rows))
    out = ["% newbpe eval: needs \\usepackage{booktabs}"]
    for corpus in dict.fromkeys(r["corpus"] for r in rows):
        by_tok = {r["tokenizer"]: r for r in rows if r["corpus"] == corpus}
        out += ["\\begin{table}[ht]", "\\centering", "\\begin{tabular}{l" + "r" * len(labels) + "}", "\\toprule",
                " & ".join(["metric"] + [latex_escape(x) for x in labels]) + " \\\\", "\\midrule"]
        for n in names:
            cells = []
            for label in labels:
                v = by_tok.get(label, {}).get(n)
                cell = latex_escape(number(v))
                cells.append(f"\\textbf{{{cell}}}" if v is not None and best.get((corpus, n)) == v else cell)
            out.append(" & ".join([latex_escape(n)] + cells) + " \\\\")
        out += ["\\bottomrule", "\\end{tabular}", f"\\caption{{{latex_escape(corpus)}}}", "\\end{table}", ""]
    for title, header, body, text_columns in extra_tables(d):
        out += ["\\begin{table}[ht]", "\\centering",
                "\\begin{tabular}{" + "l" * text_columns + "r" * (len(header) - text_columns) + "}",
                "\\toprule", " & ".join(latex_escape(h) for h in header) + " \\\\", "\\midrule"]
        out += [" & ".join(latex_escape(c) for c in row) + " \\\\" for row in body]
        out += ["\\bottomrule", "\\end{tabular}", f"\\caption{{{latex_escape(title)}}}", "\\end{table}", ""]
    return "\n".join(out)


FORMATS = {"csv": csv_text, "json": json_text, "markdown": markdown_text, "latex": latex_text}


def write_outputs(d, paths, stdout=None):
    """Write each format of `paths` ({format: path}; "-": `stdout`) all-or-nothing; returns the
    paths written."""
    from ..io import atomic_write_text
    written = []
    for fmt, path in paths.items():
        if path is None:
            continue
        text = FORMATS[fmt](d)
        if path == "-":
            stdout.write(text)
        else:
            written.append(atomic_write_text(path, text))
    return written


# ---------------------------------------------------------------------------------------------- segments
def piece_display(piece):
    """(text, raw) of one token piece for display: bytes that are not UTF-8 on their own (a piece
    holding part of a character: surrogate escapes, or bytes) are shown as <xx> hex, raw=True, so
    `show` and the HTML report never print replacement characters for real bytes."""
    if isinstance(piece, (bytes, bytearray)):
        try:
            return bytes(piece).decode("utf-8"), False
        except UnicodeDecodeError:
            piece = bytes(piece).decode("utf-8", "surrogateescape")
    if not any("\udc80" <= c <= "\udcff" for c in piece):
        return piece, False
    return "".join(f"<{ord(c) - 0xdc00:02x}>" if "\udc80" <= c <= "\udcff" else c for c in piece), True

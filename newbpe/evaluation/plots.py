"""Plots of an evaluation result (`newbpe eval --plots DIR`, and inline in `--html`), with
matplotlib: an optional extra (`pip install 'newbpe[plot]'`) imported only here, because a plotting
stack (matplotlib, Pillow, fonttools, kiwisolver) is tens of MB that training and encoding never use.

Figures (each written as NAME.png and NAME.svg; only those the result has data for):
- `bars_<metric>`: the headline metrics (outputs.HEADLINE order, up to MAX_BARS), one group of bars
  per corpus (and the pooled totals), one bar per tokenizer;
- `curve`: bytes per token against the vocabulary size of the first N merges (SuperBPE's
  truncated-vocabulary analysis), one line per rank-BPE tokenizer;
- `token_length`, `tokens_per_word`: the histograms, as shares, one line per tokenizer;
- `parity`: the premium of each parallel pair's other file (its language when it is also a corpus
  given as LANG=FILE), one bar per tokenizer, 1 = parity.

Every figure is FIGSIZE inches at DPI, so a PNG is exactly 800 x 450 pixels (no tight bounding box:
the size is part of the contract the tests check). Outputs are deterministic: figures are built on
`matplotlib.figure.Figure` (no pyplot, no global backend switch), SVG ids are salted with a constant
and dates are left out, so the same result gives byte-identical files.
"""
import io

from ..errors import NewbpeError
from .outputs import ALL_CORPORA, headline_order, metric_names, table_rows

FIGSIZE = (8.0, 4.5)                  # inches
DPI = 100                             # 800 x 450 pixels
MAX_BARS = 4                          # headline metrics drawn as bar charts
RC = {"svg.hashsalt": "newbpe", "svg.fonttype": "path", "font.size": 9}
METADATA = {"png": {"Software": None}, "svg": {"Date": None, "Creator": None}}
PLOT_EXTRA = "plots need matplotlib: pip install 'newbpe[plot]'"


def require_matplotlib():
    """matplotlib's Figure, or a one-line NewbpeError naming the extra."""
    try:
        import matplotlib
        from matplotlib.figure import Figure
    except ImportError:
        raise NewbpeError(PLOT_EXTRA) from None
    return matplotlib, Figure


def available():
    try:
        require_matplotlib()
    except NewbpeError:
        return False
    return True


def bar_metrics(d):
    """The metrics drawn as bar charts: the first MAX_BARS in headline order."""
    return headline_order(metric_names(d))[:MAX_BARS]


def _bars(ax, groups, series, values, ylabel):
    """Grouped bars: one group per entry of `groups`, one bar per series; values[(group index, s)]."""
    width = 0.8 / max(len(series), 1)
    for i, s in enumerate(series):
        xs = [g + (i - (len(series) - 1) / 2) * width for g in range(len(groups))]
        ys = [values.get((g, s)) for g in range(len(groups))]
        ax.bar([x for x, y in zip(xs, ys) if y is not None], [y for y in ys if y is not None], width, label=s)
    ax.set_xticks(range(len(groups)), groups)
    ax.set_ylabel(ylabel)
    if len(series) > 1:
        ax.legend(fontsize="small")


def _lines(ax, series, xlabel, ylabel):
    for label, points in series.items():
        xs = sorted(points)
        ax.plot(xs, [points[x] for x in xs], marker="o", markersize=3, label=label)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if series:
        ax.legend(fontsize="small")


def figures(d):
    """[(name, title, Figure)] of the result `d` (EvalResult.to_dict()), in a fixed order."""
    matplotlib, Figure = require_matplotlib()
    with matplotlib.rc_context(RC):
        return _figures(d, Figure)


def _figures(d, Figure):
    info = d.get("metric_info") or {}
    labels = [t["label"] for t in d.get("tokenizers", ())]
    out = []

    def new(name, title):
        fig = Figure(figsize=FIGSIZE, dpi=DPI, layout="constrained")
        ax = fig.add_subplot()
        ax.set_title(title)
        out.append((name, title, fig))
        return ax

    rows = table_rows(d)
    corpora = list(dict.fromkeys(r["corpus"] for r in rows))
    if len(corpora) == 2 and ALL_CORPORA in corpora:            # one corpus: its totals are the same numbers
        corpora.remove(ALL_CORPORA)
    for metric in bar_metrics(d):
        title = (info.get(metric) or {}).get("title") or metric
        values = {(corpora.index(r["corpus"]), r["tokenizer"]): r.get(metric) for r in rows if r["corpus"] in corpora}
        ax = new(f"bars_{metric}", title)
        _bars(ax, corpora, labels, {k: v for k, v in values.items() if isinstance(v, (int, float))}, metric)
    curves = d.get("curves") or {}
    if curves:
        ax = new("curve", "Bytes per token of the first N merges")
        _lines(ax, {k: {c["vocab_size"]: c["bytes_per_token"] for c in v} for k, v in curves.items()},
               "vocabulary size", "bytes per token")
    for key, title, xlabel in (("token_length", "Token length", "bytes per token"),
                               ("tokens_per_word", "Tokens per word", "tokens in a whitespace word")):
        hist = {label: h[key] for label, h in (d.get("histograms") or {}).items() if h.get(key)}
        if hist:
            ax = new(key, title)
            shares = {}
            for label, counts in hist.items():
                total = sum(counts.values())
                shares[label] = {int(k): v / total for k, v in counts.items()}
            _lines(ax, shares, xlabel, "share")
    if d.get("parity"):
        pairs = list(dict.fromkeys(p["other"] for p in d["parity"]))
        language = {c["path"]: c.get("language") for c in d.get("corpora", ())}
        names = [language.get(p) or _short(p) for p in pairs]      # the language where a corpus names it
        ax = new("parity", "Premium against the reference language (1 = parity)")
        _bars(ax, names, labels, {(pairs.index(p["other"]), p["tokenizer"]): p["premium"] for p in d["parity"]},
              "premium")
        ax.axhline(1.0, color="black", linewidth=0.8)
    return out


def _short(path):
    import os
    return os.path.basename(str(path))


def _save(fig, fmt):
    """The bytes of `fig` as PNG or SVG, deterministic (RC, METADATA)."""
    matplotlib, _ = require_matplotlib()
    buf = io.BytesIO()
    with matplotlib.rc_context(RC):
        fig.savefig(buf, format=fmt, dpi=DPI, metadata=METADATA[fmt])
    return buf.getvalue()


def rendered(d, formats=("png", "svg")):
    """[(name, title, {format: bytes})] of every figure of `d`: drawn once, then saved in each
    format (the CLI passes the same list to write_plots and the HTML report: saving 8 figures
    costs about 1 s per format)."""
    # SVG first: saving a figure as PNG lays it out again and moves the SVG's last digits after it,
    # so the report is the same with or without --plots (a test compares them)
    order = sorted(formats, key=lambda fmt: fmt != "svg")
    return [(name, title, {fmt: _save(fig, fmt) for fmt in order}) for name, title, fig in figures(d)]


def write_plots(d, directory, drawn=None):
    """Write every figure of `d` (or the `rendered` list `drawn`) as DIRECTORY/NAME.png and
    NAME.svg, all of them as one unit (`atomic.write_dir`: a crash leaves the old set or the new,
    never a mix; other files in DIRECTORY are kept); returns the paths."""
    from ..atomic import write_dir
    drawn = rendered(d) if drawn is None else drawn
    return write_dir(directory, {f"{name}.{fmt}": files[fmt] for name, _, files in drawn for fmt in ("png", "svg")})


def inline_svgs(d, drawn=None):
    """[(name, title, svg markup without its XML prologue)] for the HTML report."""
    out = []
    for name, title, files in (rendered(d, ("svg",)) if drawn is None else drawn):
        svg = files["svg"].decode("utf-8")
        out.append((name, title, svg[svg.index("<svg"):]))
    return out

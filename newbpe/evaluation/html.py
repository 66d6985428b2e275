"""`newbpe eval --html REPORT.html`: one self-contained file (no network: inline CSS, inline SVG
plots, one inline script) with the tokenizers and corpora, every table, the plots and the sample
sentences cut into each tokenizer's tokens, side by side, as coloured segments.

Everything from the result is HTML-escaped. A piece that is not UTF-8 on its own (part of a
character) is shown as <xx> hex bytes in a dashed box (outputs.piece_display). Without matplotlib
the report still has the tables and samples and says that plots need `newbpe[plot]`.

The inline script marks `<body data-rendered="...">` once the page has laid out, with the number of
tables and of plots that have a non-empty box, and records script errors in `data-errors`: the
browser test (tests/test_report_browser.py) reads both from headless Chromium's DOM.
"""
import html

from .outputs import extra_tables, metric_names, number, piece_display, table_rows

STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:1.5em;color:#222;max-width:1400px}
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:1.6em;border-bottom:1px solid #ccc}
.scroll{overflow-x:auto}
table{border-collapse:collapse;font-size:.85em;margin:.5em 0}
th,td{border:1px solid #ddd;padding:.2em .5em}th{background:#f3f3f3;text-align:left}
td.n{text-align:right;font-variant-numeric:tabular-nums}td.best{font-weight:bold;background:#eaf6ea}
figure{display:inline-block;margin:.5em;vertical-align:top}figure svg{width:800px;height:450px;max-width:100%}
figcaption{font-size:.85em;color:#555}
.sample{margin:1em 0;border:1px solid #ddd;padding:.5em}
.sample table{width:100%}.sample td.seg{white-space:pre-wrap;font-family:ui-monospace,monospace;line-height:1.9}
.t{border-radius:3px;padding:1px 0}.c0{background:#cde4ff}.c1{background:#ffe2b8}.c2{background:#d6f5d0}
.c3{background:#f5d0ef}.c4{background:#fff3a8}.c5{background:#d9d2f7}
.raw{outline:1px dashed #a00;color:#a00}.note{color:#a00}
"""
COLOURS = 6                           # alternating segment colours (.c0 .. .c5)

SCRIPT = """
window.__errors=[];
window.addEventListener('error',function(e){window.__errors.push(String(e.message));
  document.body&&document.body.setAttribute('data-errors',window.__errors.join(' | '));});
window.addEventListener('load',function(){
  var plots=document.querySelectorAll('figure.plot svg'),ok=0;
  for(var i=0;i<plots.length;i++){var r=plots[i].getBoundingClientRect();
    if(r.width>0&&r.height>0&&plots[i].querySelector('path'))ok++;}
  var tables=0,ts=document.querySelectorAll('table');
  for(var j=0;j<ts.length;j++){if(ts[j].getBoundingClientRect().height>0&&ts[j].rows.length>1)tables++;}
  document.body.setAttribute('data-rendered','tables='+tables+' plots='+ok+'/'+plots.length);
});
"""


def _e(text):
    """Escaped for HTML; bytes that are not UTF-8 (surrogate escapes) as <xx> hex."""
    return html.escape(piece_display(str(text))[0], quote=True)


def _table(header, body, numeric_from=2, classes=None):
    """An HTML table; cells from column `numeric_from` on are right-aligned; classes[(row, col)]
    adds a class to a cell."""
    out = ["<div class='scroll'><table><thead><tr>" + "".join(f"<th>{_e(h)}</th>" for h in header) + "</tr></thead><tbody>"]
    for i, row in enumerate(body):
        cells = []
        for j, c in enumerate(row):
            cls = " ".join(x for x in ("n" if j >= numeric_from else "", (classes or {}).get((i, j), "")) if x)
            cells.append(f"<td class='{cls}'>{_e(c)}</td>" if cls else f"<td>{_e(c)}</td>")
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</tbody></table></div>")
    return "\n".join(out)


def _segments(pieces):
    """Coloured spans of one tokenizer's pieces (a character split across tokens is one piece:
    run.pieces_at_ends); colours alternate so neighbours always differ."""
    out = []
    for i, piece in enumerate(pieces):
        text, raw = piece_display(piece)
        cls = f"t c{i % COLOURS}" + (" raw" if raw else "")
        tip = f"token {i + 1}" + (": bytes that are not UTF-8 on their own" if raw else "")
        out.append(f"<span class='{cls}' title='{_e(tip)}'>{_e(text)}</span>")
    return "".join(out)


def _main_table(d):
    from .outputs import best_values
    rows = table_rows(d)
    names = metric_names(d)
    best = best_values(d, rows, names)
    classes = {(i, 3 + j): "best" for i, r in enumerate(rows) for j, n in enumerate(names)
               if r.get(n) is not None and best.get((r["corpus"], n)) == r.get(n) and len(d.get("tokenizers", ())) > 1}
    return _table(["tokenizer", "corpus", "language"] + names,
                  [[r["tokenizer"], r["corpus"], r.get("language") or ""] + [number(r.get(n)) for n in names]
                   for r in rows], 3, classes)


def render(d, with_plots=True, drawn=None):
    """The report of result `d` (EvalResult.to_dict()) as one HTML string; `drawn`: the figures
    already saved by plots.rendered (else drawn here)."""
    from . import plots
    parts = ["<!DOCTYPE html>", "<html lang='en'><head><meta charset='utf-8'>",
             "<meta name='viewport' content='width=device-width, initial-scale=1'>",
             "<title>newbpe evaluation report</title>", f"<style>{STYLE}</style>",
             f"<script>{SCRIPT}</script></head><body>", "<h1>newbpe evaluation report</h1>"]
    parts += ["<h2>Tokenizers</h2>",
              _table(["label", "kind", "source", "vocab_size"],
                     [[t["label"], t.get("kind", ""), t.get("source", ""), number(t.get("vocab_size"))]
                      for t in d.get("tokenizers", ())], 3)]
    parts += ["<h2>Corpora</h2>",
              _table(["label", "language", "path", "bytes", "chars", "words", "lines"],
                     [[c["label"], c.get("language") or "", c.get("path", "")]
                      + [number(c.get(k)) for k in ("bytes", "chars", "words", "lines")] for c in d.get("corpora", ())], 3)]
    parts += ["<h2>Metrics</h2>", "<p>Bold: the best tokenizer on that corpus where the metric has a better "
              "direction (see Definitions).</p>", _main_table(d)]
    for title, header, body, text_columns in extra_tables(d):
        parts += [f"<h2>{_e(title)}</h2>", _table(header, body, text_columns)]
    parts.append("<h2>Plots</h2>")
    if not with_plots:
        parts.append("<p class='note'>Plots not drawn (--html without plots).</p>")
    elif not plots.available():
        parts.append(f"<p class='note'>{_e(plots.PLOT_EXTRA)}.</p>")
    else:
        for name, title, svg in plots.inline_svgs(d, drawn):
            parts.append(f"<figure class='plot' id='plot-{_e(name)}'>{svg}<figcaption>{_e(title)}</figcaption></figure>")
    samples = d.get("samples") or []
    if samples:
        parts.append("<h2>Samples</h2>")
        for s in samples:
            rows = []
            for label, pieces in s.get("segments", {}).items():
                rows.append(f"<tr><th>{_e(label)}</th><td class='n'>{len(pieces)}</td>"
                            f"<td class='seg'>{_segments(pieces)}</td></tr>")
            parts.append(f"<div class='sample'><div>{_e(s.get('text', ''))}</div><table><thead><tr><th>tokenizer"
                         "</th><th>pieces</th><th>segments</th></tr></thead><tbody>" + "".join(rows)
                         + "</tbody></table></div>")
    info = d.get("metric_info") or {}
    if info:
        parts += ["<h2>Definitions</h2>",
                  _table(["metric", "title", "formula", "source", "better"],
                         [[k, v.get("title", ""), v.get("formula", ""), v.get("source", ""), v.get("better") or ""]
                          for k, v in info.items()], 5)]
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def write_html(d, path, with_plots=True, drawn=None):
    """Write the report all-or-nothing; returns the path."""
    from ..io import atomic_write_text
    return atomic_write_text(path, render(d, with_plots, drawn))

"""`newbpe eval`'s outputs (terminal table, CSV, JSON, Markdown, LaTeX, plots, HTML), its argument
handling (labels, LANG=FILE, --parallel, standard output) and its one-line errors, and `newbpe show`.
The format tests render a result built from real computations (eval_fixture.py) and parse every
file back; the CLI tests run the real engine (newbpe.evaluation.run_eval)."""
import csv
import io
import json
import struct
import sys

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from conftest import cli_error
from eval_fixture import AR, EN, build_result, train_models
from newbpe.cli import main
from newbpe.cli_eval import corpus_arg, parallel_arg, show_line
from newbpe.errors import NewbpeError
from newbpe.evaluation import html, outputs


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    return train_models(tmp_path_factory.mktemp("models"))


@pytest.fixture(scope="module")
def result(models):
    return build_result(models)


def png_size(path):
    data = open(path, "rb").read(24)
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


# ---------------------------------------------------------------------------------------------- formats
def test_files_parse_back(result, tmp_path):
    paths = {fmt: str(tmp_path / f"out.{fmt}") for fmt in outputs.FORMATS}
    assert sorted(outputs.write_outputs(result, paths)) == sorted(paths.values())
    assert json.loads(open(paths["json"], encoding="utf-8").read()) == result
    names = outputs.metric_names(result)
    assert names[:4] == ["bytes_per_token", "tokens_per_word", "renyi_efficiency_2.5", "vocab_used"]
    rows = outputs.table_rows(result)
    assert len(rows) == len(result["rows"]) + len(result["totals"])
    with open(paths["csv"], newline="", encoding="utf-8") as f:
        got = list(csv.DictReader(f))
    assert [(r["tokenizer"], r["corpus"]) for r in got] == [(r["tokenizer"], r["corpus"]) for r in rows]
    for g, r in zip(got, rows):
        for n in names:
            assert (g[n] == "") if r.get(n) is None else float(g[n]) == r[n]      # full precision
    md = [line for line in open(paths["markdown"], encoding="utf-8") if line.startswith("| ")]
    header = [c.strip() for c in md[0].strip().strip("|").split("|")]
    assert header == ["tokenizer", "corpus", "language"] + names
    for line, r in zip(md[1:1 + len(rows)], rows):
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        assert cells[:2] == [r["tokenizer"], r["corpus"]]
        assert cells[3:] == [outputs.number(r.get(n)) for n in names]
    tex = open(paths["latex"], encoding="utf-8").read()
    assert tex.count("\\begin{tabular}") == len(result["corpora"]) + 1 + 2      # corpora, (all), parity, curves
    bpt = [line for line in tex.splitlines() if line.startswith("bytes\\_per\\_token &")]
    en_row = bpt[0].removesuffix(" \\\\").split(" & ")[1:]
    want = {r["tokenizer"]: r["bytes_per_token"] for r in result["rows"] if r["corpus"] == EN.name}
    best = max(want.values())
    assert en_row == [f"\\textbf{{{v:.4f}}}" if v == best else f"{v:.4f}" for v in want.values()]


def test_terminal_table_fits_and_leads_with_headline(result):
    text = outputs.terminal_table(result)
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= outputs.TABLE_WIDTH
    assert lines[0].split()[:4] == ["tokenizer", "corpus", "bytes_per_token", "tokens_per_word"]
    main_rows = lines[2:2 + len(result["rows"]) + len(result["totals"])]
    assert [line.split()[:2] for line in main_rows] == [[r["tokenizer"], r["corpus"]] for r in outputs.table_rows(result)]
    assert "Parity" in text and "Truncated vocabulary" in text
    narrow = outputs.terminal_table(result, width=60)
    assert max(len(line) for line in narrow.splitlines()[:8]) <= 60 and "more metrics" in narrow


def test_json_keeps_bytes_that_are_not_utf8(result):
    d = dict(result, samples=[{"text": "a\udce2b", "segments": {"x": ["a", "\udce2", "b"]}}])
    text = outputs.json_text(d)
    text.encode("utf-8")                                   # writable as UTF-8
    assert json.loads(text)["samples"] == d["samples"]


def test_latex_and_markdown_escape():
    d = {"tokenizers": [{"label": "a_b&c"}], "rows": [{"tokenizer": "a_b&c", "corpus": "x|y%", "language": None,
                                                       "m": 1.0}], "totals": [], "metric_info": {}}
    tex = outputs.latex_text(d)
    assert "a\\_b\\&c" in tex and "x|y\\%" in tex
    assert "| a_b&c | x\\|y% |" in outputs.markdown_text(d)


@given(st.binary(max_size=12))
def test_piece_display_hex_for_bytes_not_utf8(data):
    """Bytes and their surrogate-escaped str show alike: valid UTF-8 as text; otherwise every
    undecodable byte as 4 characters <xx>, the decodable characters kept, raw=True."""
    shown = outputs.piece_display(data)
    assert outputs.piece_display(data.decode("utf-8", "surrogateescape")) == shown
    text, raw = shown
    text.encode("utf-8")                                   # always printable
    kept = data.decode("utf-8", "ignore")
    bad = [ord(c) - 0xdc00 for c in data.decode("utf-8", "surrogateescape") if "\udc80" <= c <= "\udcff"]
    assert raw == bool(bad) and len(text) == len(kept) + 4 * len(bad)
    assert text == kept if not raw else all(f"<{b:02x}>" in text for b in bad)


# ---------------------------------------------------------------------------------------------- plots, html
def test_plots_png_svg_size_and_deterministic(result, tmp_path):
    pytest.importorskip("matplotlib", reason="plots need matplotlib (newbpe[plot])")
    from xml.etree import ElementTree
    from newbpe.evaluation import plots
    written = plots.write_plots(result, tmp_path / "a")
    names = sorted({p.rsplit("/", 1)[1].rsplit(".", 1)[0] for p in written})
    assert names == sorted(["bars_bytes_per_token", "bars_tokens_per_word", "bars_renyi_efficiency_2.5",
                            "bars_vocab_used", "curve", "token_length", "tokens_per_word", "parity"])
    for p in written:
        if p.endswith(".png"):
            assert png_size(p) == (800, 450)
        else:
            root = ElementTree.parse(p).getroot()
            assert root.get("width") == "576pt" and root.get("height") == "324pt"      # 8 x 4.5 in
    again = plots.write_plots(result, tmp_path / "b")
    assert [open(p, "rb").read() for p in written] == [open(p, "rb").read() for p in again]


def test_html_without_matplotlib_still_has_tables(result, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)          # as if newbpe[plot] were not installed
    page = html.render(result)
    assert "newbpe[plot]" in page and "<svg" not in page
    assert page.count("<table") >= 4 and "bpe300" in page


def test_html_escapes_and_marks_raw_bytes(result):
    d = dict(result, samples=[{"text": "<b>&</b>\udce2", "segments": {"bpe300": ["<b>", "&</b>", "\udce2"]}}])
    page = html.render(d, with_plots=False)
    assert "<b>&</b>" not in page and "&lt;b&gt;&amp;&lt;/b&gt;" in page
    assert "class='t c2 raw'" in page and "&lt;e2&gt;" in page
    page.encode("utf-8")


# ---------------------------------------------------------------------------------------------- arguments
def test_corpus_and_parallel_arguments(tmp_path):
    assert corpus_arg("en=" + str(EN)) == (str(EN), "en")
    assert corpus_arg("zh-Hans=x.txt") == ("x.txt", "zh-Hans")
    assert corpus_arg(str(EN)) == (str(EN), None)
    odd = tmp_path / "de=odd.txt"
    odd.write_text("x\n")
    assert corpus_arg(str(odd)) == (str(odd), None)            # an existing file is a path
    colon = tmp_path / "a:b.txt"
    colon.write_text("x\n")
    assert parallel_arg(f"{colon}:{EN}") == (str(colon), str(EN))
    with pytest.raises(NewbpeError, match="missing.txt"):
        parallel_arg(f"{EN}:{tmp_path / 'missing.txt'}")
    with pytest.raises(NewbpeError, match="REFERENCE.txt:OTHER.txt"):
        parallel_arg(str(EN))


def test_cli_errors_before_any_work(models, tmp_path):
    m = str(models[0])
    msg = cli_error(["eval", "-m", m, "-m", m, "--label", "only-one", EN])
    assert "--label given 1 times for 2 -m" in msg
    msg = cli_error(["eval", "-m", m, EN, "--parallel", f"{EN}:{tmp_path / 'nope.txt'}"])
    assert "nope.txt" in msg
    msg = cli_error(["eval", "-m", m, EN, "--json", "-", "--csv", "-"])
    assert "--csv and --json" in msg
    msg = cli_error(["eval", "-m", m, "-"])
    assert "standard input" in msg


def test_cli_plots_without_matplotlib(models, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    msg = cli_error(["eval", "-m", str(models[0]), EN, "--plots", tmp_path / "p"])
    assert "newbpe[plot]" in msg and not (tmp_path / "p").exists()


def test_show_line_colours_and_plain():
    coloured = show_line(["ab", " c", "\n", "\udce2"], colour=True)
    assert coloured.count("\x1b[0m") == 4
    assert "\x1b[30;48;5;153mab" in coloured and "\x1b[30;48;5;223m c" in coloured and "\\n" in coloured
    assert show_line(["ab", " c", "\n", "\udce2"], colour=False) == "ab| c|\\n|<e2>"

"""`newbpe eval`'s outputs (terminal table, CSV, JSON, Markdown, LaTeX, plots, HTML), its argument
handling (labels, LANG=FILE, --parallel, standard output) and its one-line errors, and `newbpe show`.
The format tests render a result built from real computations (eval_fixture.py) and parse every
file back; the CLI tests run the real engine (newbpe.evaluation.run_eval)."""
import csv
import io
import json
import re
import struct
import sys

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from conftest import cli_error
from eval_fixture import AR, EN, build_result, morphology_files, train_models
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
    assert outputs.headline_order(names)[:4] == ["bytes_per_token", "fertility", "renyi_efficiency", "vocab_utilisation"]
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
    assert tex.count("\\begin{tabular}") == len(result["corpora"]) + 1 + 4      # corpora, (all), parity, 2 morphology, curves
    bpt = [line for line in tex.splitlines() if line.startswith("bytes\\_per\\_token &")]
    en_row = bpt[0].removesuffix(" \\\\").split(" & ")[1:]
    want = {r["tokenizer"]: r["bytes_per_token"] for r in result["rows"] if r["corpus"] == EN.name}
    best = max(want.values())
    assert en_row == [f"\\textbf{{{v:.4f}}}" if v == best else f"{v:.4f}" for v in want.values()]


def test_terminal_table_fits_and_leads_with_headline(result):
    text = outputs.terminal_table(result)
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= outputs.TABLE_WIDTH
    assert lines[0].split()[:6] == ["tokenizer", "corpus", "bytes_per_token", "fertility", "renyi_efficiency",
                                    "vocab_utilisation"]
    main_rows = lines[2:2 + len(result["rows"]) + len(result["totals"])]
    assert [line.split()[:2] for line in main_rows] == [[r["tokenizer"], r["corpus"]] for r in outputs.table_rows(result)]
    assert "Parity" in text and "MorphScore" in text and "Morpheme-boundary" in text and "Truncated vocabulary" in text
    assert max(len(line) for line in lines) <= outputs.TABLE_WIDTH             # the extra tables fit too
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
    assert names == sorted(["bars_bytes_per_token", "bars_fertility", "bars_renyi_efficiency",
                            "bars_vocab_utilisation", "curve", "token_length", "tokens_per_word", "parity"])
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


# ---------------------------------------------------------------------------------------------- the CLI on the engine
def run_cli(*args, input=None):
    r = CliRunner().invoke(main, [str(a) for a in args], input=input)
    assert r.exit_code == 0, r.output + r.stderr
    return r


def test_cli_writes_what_the_engine_computes(models, tmp_path):
    from newbpe.evaluation.run import run_eval
    morph, seg = morphology_files(tmp_path)
    out = {fmt: tmp_path / f"r.{fmt}" for fmt in ("csv", "json", "markdown", "latex", "html")}
    r = run_cli("eval", "-m", models[0], "-m", models[1], "--label", "small", "--label", "big",
                f"en={EN}", f"ar={AR}", "--parallel", f"{EN}:{AR}", "--morphscore", morph, "--segmentation", seg,
                "--truncate", 0, "--truncate", 30, *[x for fmt, p in out.items() for x in (f"--{fmt}", p)],
                "--plots", tmp_path / "plots")
    want = run_eval([(str(models[0]), "small"), (str(models[1]), "big")], [(str(EN), "en"), (str(AR), "ar")],
                    parallel=[(str(EN), str(AR))], morphscore=[str(morph)], segmentation=[str(seg)],
                    curve_merges=[0, 30]).to_dict()
    got = json.loads(out["json"].read_text(encoding="utf-8"))
    assert got == json.loads(outputs.json_text(want))
    assert [t["label"] for t in got["tokenizers"]] == ["small", "big"]
    assert [(c["label"], c["language"]) for c in got["corpora"]] == [(EN.name, "en"), (AR.name, "ar")]
    assert r.stdout == outputs.terminal_table(want) + "\n"
    pngs, svgs = sorted((tmp_path / "plots").glob("*.png")), sorted((tmp_path / "plots").glob("*.svg"))
    assert len(pngs) == len(svgs) == 8 and all(png_size(p) == (800, 450) for p in pngs)
    assert sorted(line.split(" ", 1)[1] for line in r.stderr.splitlines()) == sorted(
        [str(p) for p in out.values()] + [str(p) for p in pngs + svgs])
    for fmt in ("csv", "markdown", "latex"):
        assert out[fmt].read_text(encoding="utf-8") == outputs.FORMATS[fmt](want)
    page = out["html"].read_text(encoding="utf-8")
    assert page == html.render(want)                      # the plots drawn once serve both outputs
    # self-contained: nothing fetched (SVG namespace URIs are names; url(#id) is a clip path in the page)
    assert not re.findall(r"(?:src|href)\s*=\s*[\"']?(?:https?:|//)|<link|@import|url\((?!#)", page)
    for svg in svgs:
        text = svg.read_text(encoding="utf-8")
        assert text[text.index("<svg"):] in page


def test_cli_json_to_stdout_and_default_labels(models):
    r = run_cli("eval", "-m", models[0], "-m", models[0], EN, "--json", "-")
    d = json.loads(r.stdout)
    assert [t["label"] for t in d["tokenizers"]] == ["bpe300", "bpe300 (2)"]
    assert d["rows"][0] == dict(d["rows"][1], tokenizer="bpe300")
    assert d["corpora"][0]["language"] is None


def test_cli_reads_jsonl_through_text_column(models, tmp_path):
    lines = EN.read_text(encoding="utf-8").splitlines(keepends=True)[:200]
    plain = tmp_path / "x.txt"
    plain.write_text("".join(lines), encoding="utf-8")
    records = tmp_path / "x.jsonl"
    records.write_text("".join(json.dumps({"body": t.rstrip("\n")}) + "\n" for t in lines), encoding="utf-8")
    a = json.loads(run_cli("eval", "-m", models[0], plain, "--json", "-").stdout)
    b = json.loads(run_cli("eval", "-m", models[0], records, "--text-column", "body", "--json", "-").stdout)
    assert b["corpora"][0]["path"] == str(records) and b["corpora"][0]["label"] == "x.jsonl"
    assert [dict(r, corpus=None) for r in a["rows"]] == [dict(r, corpus=None) for r in b["rows"]]


def test_cli_bad_input_names_the_file(models, tmp_path):
    m = str(models[0])
    bad = tmp_path / "broken.json"
    bad.write_text("{not json")
    assert str(bad) in cli_error(["eval", "-m", bad, EN])
    empty = tmp_path / "empty.txt"
    empty.write_text("\n  \n")
    assert str(empty) in cli_error(["eval", "-m", m, empty])
    cols = tmp_path / "cols.csv"
    cols.write_text("word,pt1\nwalked,walk\n")
    msg = cli_error(["eval", "-m", m, EN, "--morphscore", cols])
    assert str(cols) in msg and "rest" in msg
    short = tmp_path / "short.txt"
    short.write_text("one line\n")
    msg = cli_error(["eval", "-m", m, EN, "--parallel", f"{EN}:{short}"])
    assert str(short) in msg and "line" in msg
    assert "missing.txt" in cli_error(["eval", "-m", m, tmp_path / "missing.txt"])


def test_show_pieces_rebuild_the_text(models, tmp_path):
    text = "Hello wörld — 😀 tabs\there"
    r = run_cli("show", "-m", models[0], "-m", models[1], "--label", "a", "--label", "bb", text, "second")
    lines = r.stdout.splitlines()
    assert len(lines) == 5 and lines[2] == ""
    import newbpe
    for line, model in zip(lines[:2], models):
        label, n, shown = line.split(None, 2)
        assert int(n) == len(newbpe.load(model).encode(text))
        assert shown.replace("|", "") == text.replace("\t", "\\t")
    assert run_cli("show", "-m", models[0], input="from stdin\n").stdout.split()[2].replace("|", "") == "from"


def test_show_and_eval_read_tiktoken_with_pattern(models, tmp_path):
    run_cli("export", "-m", models[1], "--format", "tiktoken", "-o", tmp_path / "tt")
    tt = next((tmp_path / "tt").glob("*.tiktoken"))
    text = "The quick brown fox jumps over the lazy dog's back, 1234 times!"
    ours = run_cli("show", "-m", models[1], "--label", "x", text).stdout
    theirs = run_cli("show", "-m", tt, "--tiktoken-pattern", "gpt2", "--label", "x", text).stdout
    assert ours == theirs
    d = json.loads(run_cli("eval", "-m", models[1], "-m", tt, "--tiktoken-pattern", "gpt2", EN, "--json", "-").stdout)
    assert d["tokenizers"][1]["kind"] == "tiktoken" and d["tokenizers"][1]["label"] == tt.name
    assert d["rows"][0]["tokens"] == d["rows"][1]["tokens"]


def test_outputs_byte_identical_whatever_threads(models, tmp_path):
    """Identical inputs and options give byte-identical files, with 1 or 2 encoding threads."""
    pytest.importorskip("matplotlib", reason="plots need matplotlib (newbpe[plot])")
    runs = []
    for threads in (1, 2):
        out = tmp_path / f"t{threads}"
        run_cli("eval", "-m", models[0], "-m", models[1], f"en={EN}", f"ar={AR}", "--parallel", f"{EN}:{AR}",
                "--threads", threads, "--truncate", 20, *[x for fmt in ("csv", "json", "markdown", "latex", "html")
                                                           for x in (f"--{fmt}", out / f"r.{fmt}")],
                "--plots", out / "plots")
        runs.append({p.relative_to(out): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()})
    assert len(runs[0]) == 5 + 2 * 8 and runs[0] == runs[1]


def test_show_colours_on_a_terminal_only(models):
    """On a terminal (a pty) `show` colours the pieces; --plain and NO_COLOR give '|' separators."""
    import os
    import pty
    import subprocess

    def on_tty(*extra, env=None):
        master, slave = pty.openpty()
        r = subprocess.run([sys.executable, "-m", "newbpe.cli", "show", "-m", str(models[0]), *extra, "ab cd"],
                           stdout=slave, stderr=subprocess.PIPE, env={**os.environ, **(env or {})}, timeout=120)
        os.close(slave)
        out = os.read(master, 1 << 16).decode("utf-8")
        os.close(master)
        assert r.returncode == 0, r.stderr
        return out
    assert "\x1b[30;48;5;153m" in on_tty() and "\x1b[30;48;5;223m" in on_tty()
    for plain in (on_tty("--plain"), on_tty(env={"NO_COLOR": "1"})):
        assert "\x1b[" not in plain and plain.split()[2].replace("|", "") == "ab"


def test_cli_parallel_only(models):
    """No corpus, only a parallel pair: no main table, the parity table alone."""
    r = run_cli("eval", "-m", models[0], "--parallel", f"{EN}:{AR}")
    assert r.stdout.splitlines()[0].startswith("Parity on parallel text") and "corpus" not in r.stdout
    assert "nothing to evaluate on" in cli_error(["eval", "-m", models[0]])


@pytest.mark.parametrize("fail_at", range(1, 8))
def test_plots_are_written_as_one_unit(tmp_path, fail_at):
    """A full disk at any I/O step of write_plots leaves the previous set of plots, never a mix of
    old and new files (atomic.write_dir); the user's other files in the directory stay."""
    import errno
    from newbpe import atomic
    from newbpe.evaluation.plots import write_plots
    out = tmp_path / "plots"
    write_plots(None, out, [(name, name, {"png": b"old " + name.encode(), "svg": b"<svg/>"}) for name in ("a", "b")])
    (out / "notes.txt").write_text("mine")
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    steps = [0]

    def hook(kind):
        steps[0] += 1
        if steps[0] == fail_at:
            raise OSError(errno.ENOSPC, "No space left on device (injected)")
    atomic._fault_hook = hook
    try:
        try:
            write_plots(None, out, [(name, name, {"png": b"new", "svg": b"<svg/>"}) for name in ("a", "b")])
        except OSError:
            pass
    finally:
        atomic._fault_hook = None
    after = {p.name: p.read_bytes() for p in out.iterdir() if not p.name.startswith(".")}
    assert after == before or (after["a.png"] == after["b.png"] == b"new" and after["notes.txt"] == b"mine")

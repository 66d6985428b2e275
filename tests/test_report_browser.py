"""The HTML report in a real browser (issue 18): headless Chromium (Debian's `chromium` package,
installed by .ci/run when it can be) loads the report file; every table and every plot must have
rendered (the report's inline script counts tables and plot SVGs with a non-empty box into
<body data-rendered>, read with --dump-dom), no console message or script error may appear
(--enable-logging=stderr prints them as CONSOLE lines), and a screenshot must not be blank. A page
with a deliberate script error shows that the checks see errors."""
import re
import shutil
import subprocess

import pytest

from eval_fixture import build_result, train_models

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium not installed (Debian: apt-get install "
                                                          "chromium; .ci/run installs it when run as root)")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def chromium(tmp_path, page, *extra):
    """(stdout, stderr) of headless Chromium on `page`, with a fresh profile and console logging."""
    profile = tmp_path / f"profile-{len(list(tmp_path.iterdir()))}"
    r = subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0",
                        *extra, page.as_uri()], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    return r.stdout, r.stderr


def console_lines(stderr):
    return [line for line in stderr.splitlines() if ":CONSOLE" in line]


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    pytest.importorskip("matplotlib", reason="plots need matplotlib (newbpe[plot])")
    from newbpe.evaluation import html, plots
    tmp = tmp_path_factory.mktemp("report")
    d = build_result(train_models(tmp))
    d["samples"].append({"text": "<script>document.title='x'</script> & \udce2",
                         "segments": {"bpe300": ["<script>", "document.title='x'</script> & ", "\udce2"]}})
    path = html.write_html(d, tmp / "report.html")
    return tmp / "report.html", d, len(plots.figures(d)), open(path, encoding="utf-8").read()


def test_tables_and_plots_render_without_errors(report, tmp_path):
    page, d, n_plots, text = report
    assert n_plots >= 7                       # 4 bar charts, the curve, 2 histograms, parity
    dom, err = chromium(tmp_path, page, "--dump-dom")
    body = re.search(r"<body[^>]*>", dom).group(0)
    assert f'data-rendered="tables={text.count("<table")} plots={n_plots}/{n_plots}"' in body, body
    assert "data-errors" not in body
    assert not console_lines(err), console_lines(err)
    assert "<script>document.title" not in dom and "&lt;script&gt;document.title" in dom    # escaped
    assert "&lt;e2&gt;" in dom                  # a byte that is not UTF-8 on its own, as hex


def test_screenshot_is_not_blank(report, tmp_path):
    Image = pytest.importorskip("PIL.Image", reason="Pillow comes with matplotlib (newbpe[plot])")
    page = report[0]
    shot = tmp_path / "shot.png"
    chromium(tmp_path, page, "--window-size=1280,2400", f"--screenshot={shot}")
    im = Image.open(shot).convert("RGB")
    assert im.size == (1280, 2400)
    colours = im.getcolors(maxcolors=1 << 20)
    assert len(colours) > 50                    # text, table shading and plot colours, not a blank page
    white = max(colours)[0] / (im.size[0] * im.size[1])
    assert white < 0.97


def test_checks_see_script_errors(tmp_path):
    page = tmp_path / "broken.html"
    page.write_text("<!DOCTYPE html><html><head><script>window.addEventListener('load',function(){"
                    "undefinedFunction();});</script></head><body>x</body></html>", encoding="utf-8")
    _, err = chromium(tmp_path, page, "--dump-dom")
    assert any("undefinedFunction" in line for line in console_lines(err))


def test_report_without_matplotlib_renders(report, tmp_path, monkeypatch):
    """Without newbpe[plot] the report still renders every table, no plot, and says why."""
    import sys
    from newbpe.evaluation import html
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    page = html.write_html(report[1], tmp_path / "plain.html")
    text = open(page, encoding="utf-8").read()
    dom, err = chromium(tmp_path, tmp_path / "plain.html", "--dump-dom")
    body = re.search(r"<body[^>]*>", dom).group(0)
    assert f'data-rendered="tables={text.count("<table")} plots=0/0"' in body and "newbpe[plot]" in dom
    assert not console_lines(err), console_lines(err)

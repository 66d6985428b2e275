"""Progress: the API takes progress=True / a kind / a callable; when stderr is not a terminal the
default rendering is plain lines (no carriage returns in logs); tqdm bars advance with update()."""
import io
import sys

import pytest
from click.testing import CliRunner

import newbpe
from newbpe.cli import main
from newbpe.progress import _LineProgress, _TqdmProgress, make_progress, resolve_progress

from conftest import BUNDLED

SAMPLE = str(BUNDLED / "en" / "tinyshakespeare.txt")


class FakeClock:
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t


def test_lines_every_interval_and_at_completion(capsys):
    clock = FakeClock()
    p = _LineProgress(every=5.0, clock=clock)
    p("merges", 0, 100)
    for i in range(1, 101):
        clock.t = i * 0.5           # 50 s in all: a line every 5 s (the last one is the completion)
        p("merges", i, 100)
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert "\r" not in err and len(lines) == 10
    assert lines[-1] == "merges: 100/100 (100%), 2 it/s"
    assert lines[0].startswith("merges: 10/100 (10%)")
    p("merges", 100, 100)                                    # completion is reported once
    assert capsys.readouterr().err == ""


def test_tqdm_falls_back_to_lines_off_a_terminal(monkeypatch):
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    assert isinstance(make_progress("tqdm"), _LineProgress)


def test_tqdm_bar_is_advanced_not_set(monkeypatch):
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    p = _TqdmProgress()
    p("count", 0, 1000)
    p("count", 400, 1000)
    p("count", 1000, 1000)
    bar = p.bars["count"]
    assert bar.n == 1000 and bar.format_dict["n"] == 1000
    p("count", 10, 1000)                                     # a restarted stage resets, never goes negative
    assert bar.n == 10
    p.close()


@pytest.mark.parametrize("value", [True, "lines", "json", "none", False, None])
def test_api_accepts_progress_values(value, capsys):
    tok = newbpe.train({"hello": 5, "world": 3}, vocab_size=260, progress=value)
    assert tok.vocab_size == 260
    err = capsys.readouterr().err
    assert "\r" not in err
    if value == "json":
        assert '"stage": "merges"' in err


@pytest.mark.parametrize("value", ["bar", 3, object()])
def test_api_rejects_other_progress_values(value):
    with pytest.raises(newbpe.NewbpeError, match="progress"):
        resolve_progress(value)
    with pytest.raises(newbpe.NewbpeError, match="progress"):
        newbpe.train({"hello": 5}, vocab_size=260, progress=value)


def test_cli_default_progress_in_a_log_is_plain_lines(tmp_path):
    r = CliRunner().invoke(main, ["train", "--vocab-size", "400", "-o", str(tmp_path / "m"), SAMPLE])
    assert r.exit_code == 0, r.output
    assert "\r" not in r.output and "merges: " in r.output

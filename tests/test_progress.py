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


@pytest.fixture(scope="module")
def small_model(tmp_path_factory):
    out = tmp_path_factory.mktemp("m") / "m"
    newbpe.train([SAMPLE], vocab_size=400).save(out)
    return str(out)


@pytest.fixture(scope="module")
def two_mb(tmp_path_factory):
    """More than iter_line_parts' PROGRESS_BYTES, so a mid-file report happens."""
    path = tmp_path_factory.mktemp("t") / "big.txt"
    text = open(SAMPLE, encoding="utf-8").read()
    path.write_text(text * (2 * (1 << 20) // len(text) + 1), encoding="utf-8")
    return str(path)


@pytest.mark.parametrize("command", ["encode", "stochastok"])
def test_read_commands_report_input_bytes_as_json(command, small_model, two_mb, tmp_path):
    import json
    args = [command, "-m", small_model, two_mb, "--progress", "json"]
    if command == "stochastok":
        args += ["-o", str(tmp_path / "ids.npy")]
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 0, r.output
    events = [json.loads(line) for line in r.output.splitlines() if line.startswith('{"stage"')]
    size = len(open(two_mb, "rb").read())
    assert events and all(e["stage"] == command and e["total"] == size for e in events)
    assert [e["current"] for e in events] == sorted(e["current"] for e in events)
    assert events[-1]["current"] == size and len(events) >= 2


@pytest.mark.parametrize("command", ["encode", "stochastok"])
def test_read_commands_are_quiet_by_default_off_a_terminal(command, small_model, tmp_path):
    args = [command, "-m", small_model, SAMPLE]
    if command == "stochastok":
        args += ["-o", str(tmp_path / "ids.npy")]
    r = CliRunner().invoke(main, args)            # r.output holds stderr too
    assert r.exit_code == 0
    assert "B/s" not in r.output and "stochastok:" not in r.output and "encode:" not in r.output


def test_byte_stages_are_shown_in_bytes(capsys):
    p = _LineProgress(every=0.0)
    p("encode", 2_000_000, 4_000_000)
    assert "B/s" in capsys.readouterr().err


def test_a_stage_reported_only_at_its_end_gets_its_real_rate(capsys):
    """A small job reports a stage once, complete: its rate is over the time since the previous
    report (here 2 s), not over the microseconds between two calls (issue 17: '1115.4T B/s')."""
    clock = FakeClock()
    p = _LineProgress(every=5.0, clock=clock)
    clock.t = 2.0
    p("count", 1_000_000, 1_000_000)
    clock.t = 6.0
    p("merges", 400, 400)
    lines = capsys.readouterr().err.splitlines()
    assert lines == ["count: 1.0M/1.0M (100%), 500.0k B/s", "merges: 400/400 (100%), 100 it/s"]


def test_tqdm_rate_of_a_stage_reported_at_its_end(monkeypatch):
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    clock = FakeClock()
    clock.t = 1000.0
    p = _TqdmProgress(clock=clock)
    p("count", 1000, 1000)
    bar = p.bars["count"]
    assert bar.start_t <= 1000.0          # began no later than the progress object (real time is later)
    p.close()

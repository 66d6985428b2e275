"""The CLI end to end, and every bad input: one line, non-zero exit, no traceback, no partial output."""
import json
import subprocess
import sys

import pytest
from click.testing import CliRunner

from newbpe.cli import main

from conftest import BUNDLED

SAMPLE = str(BUNDLED / "en" / "tinyshakespeare.txt")
HELDOUT = str(BUNDLED / "en" / "ud_en_pud_test.txt")


def run(*args, input=None):
    return CliRunner().invoke(main, [str(a) for a in args], input=input, catch_exceptions=False)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "m"
    r = run("train", "--algo", "bpe", "--vocab-size", 800, "--special-tokens", "<s>,</s>", "--progress", "none",
            "-o", out, SAMPLE)
    assert r.exit_code == 0, r.output
    return out


def test_train_writes_model_and_hf(model_dir):
    assert (model_dir / "model.json").exists() and (model_dir / "tokenizer.json").exists()


def test_encode_decode_roundtrip_via_stdin(model_dir):
    text = "Hello there, good sir!\nSecond line 123\n"
    enc = run("encode", "-m", model_dir, input=text)
    assert enc.exit_code == 0
    dec = run("decode", "-m", model_dir, input=enc.output)
    assert dec.exit_code == 0 and dec.output == text
    toks = run("encode", "-m", model_dir, "--tokens", input="Hello there")
    assert "Hello" in toks.output or "ĠHello" in toks.output or "H" in toks.output


def test_info_json_and_eval(model_dir):
    r = run("info", "-m", model_dir, "--json")
    d = json.loads(r.output)
    assert d["algorithm"] == "bpe" and d["vocab_size"] == 800 and d["special_tokens"] == ["<s>", "</s>"]
    r = run("info", "-m", model_dir)
    assert "longest tokens" in r.output
    r = run("eval", "-m", model_dir, "--json", "-", HELDOUT)
    res = json.loads(r.stdout)["rows"][0]
    assert res["bytes_per_token"] > 1.5 and 0 < res["renyi_efficiency_vocab"] < 1 and 0 < res["vocab_utilisation"] <= 1


def test_export_formats(model_dir, tmp_path):
    r = run("export", "-m", model_dir, "--format", "tiktoken", "-o", tmp_path)
    assert r.exit_code == 0 and (tmp_path / "newbpe.tiktoken").exists()
    r = run("export", "-m", model_dir, "--format", "hf", "-o", tmp_path / "hf")
    assert r.exit_code == 0 and (tmp_path / "hf" / "tokenizer.json").exists()


def test_count_then_train_from_counts(tmp_path):
    r = run("count", "--progress", "none", "-o", tmp_path / "c.npz", SAMPLE)
    assert r.exit_code == 0, r.output
    r = run("train", "--vocab-size", 500, "--counts", tmp_path / "c.npz", "--progress", "none", "-o", tmp_path / "a")
    r2 = run("train", "--vocab-size", 500, "--progress", "none", "-o", tmp_path / "b", SAMPLE)
    assert r.exit_code == r2.exit_code == 0
    assert (tmp_path / "a" / "model.json").read_bytes() == (tmp_path / "b" / "model.json").read_bytes()


def test_progress_json_lines(tmp_path):
    r = CliRunner().invoke(main, ["train", "--vocab-size", "300", "--progress", "json", "-o", str(tmp_path / "p"),
                                  SAMPLE])
    stages = {json.loads(l)["stage"] for l in r.stderr.splitlines() if l.startswith("{")}
    assert {"count", "merges"} <= stages


def bad(args, tmp_path, input=None):
    r = CliRunner().invoke(main, [str(a) for a in args], input=input)
    assert r.exit_code != 0
    assert "Traceback" not in r.output + r.stderr
    msg = r.stderr.strip()
    assert msg and len(msg.splitlines()) == 1, msg
    return msg


def test_bad_inputs(tmp_path, model_dir):
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    out = tmp_path / "out"
    assert "not found" in bad(["train", "--vocab-size", 300, "-o", out, tmp_path / "missing.txt"], tmp_path)
    assert "empty" in bad(["train", "--vocab-size", 300, "-o", out, empty], tmp_path)
    assert "not above the base vocabulary" in bad(["train", "--vocab-size", 100, "-o", out, SAMPLE], tmp_path)
    assert "algo" in bad(["train", "--algo", "nope", "--vocab-size", 300, "-o", out, SAMPLE], tmp_path)
    assert "pre-tokenizer" in bad(["train", "--pretokenizer", "(unclosed", "--vocab-size", 300, "-o", out, SAMPLE],
                                  tmp_path)
    assert "not found" in bad(["encode", "-m", tmp_path / "no-model"], tmp_path, input="x")
    corrupt = tmp_path / "corrupt"
    corrupt.mkdir()
    (corrupt / "model.json").write_text('{"format": "newbpe-model", "format_ver')
    assert "corrupt" in bad(["info", "-m", corrupt], tmp_path)
    newer = tmp_path / "newer"
    newer.mkdir()
    d = json.loads((model_dir / "model.json").read_text())
    d["format_version"] = 99
    (newer / "model.json").write_text(json.dumps(d))
    assert "newer" in bad(["info", "-m", newer], tmp_path)
    assert "unknown option" in bad(["train", "--vocab-size", 300, "--option", "bogus=1", "-o", out, SAMPLE], tmp_path)
    assert not out.exists(), "no output may be written when training fails"


def test_console_script_is_fast_and_clean(tmp_path):
    r = subprocess.run([sys.executable, "-m", "newbpe.cli", "train", "--vocab-size", "10", "-o", str(tmp_path / "x"),
                        SAMPLE], capture_output=True, text=True)
    assert r.returncode == 1 and "Traceback" not in r.stderr and r.stderr.count("\n") == 1
    r = subprocess.run([sys.executable, "-c", "import sys, newbpe.cli; print('numba' in sys.modules)"],
                       capture_output=True, text=True)
    assert r.stdout.strip() == "False"


def test_scaffold_and_lbpe_end_to_end(tmp_path):
    out = tmp_path / "sc"
    r = run("train", "--algo", "scaffold", "--encoder", "lbpe", "--vocab-size", 600, "--progress", "none",
            "-o", out, SAMPLE)
    assert r.exit_code == 0, r.output
    info = json.loads(run("info", "-m", out, "--json").output)
    assert info["encoder"] == "lbpe" and info["scaffold_tokens"] > 0 and info["vocab_size"] == 600
    text = "Now is the winter of our discontent\n"
    for enc in ("lbpe", "scaffold"):
        ids = run("encode", "-m", out, "--encoder", enc, input=text)
        assert ids.exit_code == 0
        assert all(int(i) < 600 for i in ids.output.split())
        assert run("decode", "-m", out, input=ids.output).output == text
    assert "expanded" in bad(["export", "-m", out], tmp_path)
    r = run("export", "-m", out, "--expanded", "-o", tmp_path / "hf")
    assert r.exit_code == 0 and (tmp_path / "hf" / "scaffold_demolition.json").exists()
    r = run("export", "-m", out, "--approximate", "--agreement-text", HELDOUT, "-o", tmp_path / "approx")
    assert r.exit_code == 0 and "identical on" in r.output
    assert "does not fit" in bad(["train", "--algo", "bpe", "--encoder", "scaffold", "--vocab-size", 300,
                                  "-o", tmp_path / "x", SAMPLE], tmp_path)
    assert "does not fit" in bad(["encode", "-m", out, "--encoder", "replay"], tmp_path, input="x")


def test_console_script_goes_without_scipy_and_cffi(tmp_path):
    """The `newbpe` command's process hides numba's optional scipy/cffi imports (start-up cost);
    training still works there, and the library (and `main` under CliRunner) hides nothing."""
    code = ("import sys; from newbpe.cli import entry; sys.argv = ['newbpe'] + sys.argv[1:]\n"
            "try:\n    entry()\nexcept SystemExit as e:\n    assert not e.code, e.code\n"
            "print(sorted(m for m in ('scipy', 'cffi') if m in sys.modules))")
    r = subprocess.run([sys.executable, "-c", code, "train", "--vocab-size", "300", "--progress", "none",
                        "-o", str(tmp_path / "m"), SAMPLE], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().splitlines()[-1] == "[]" and (tmp_path / "m" / "model.json").exists()
    from newbpe import _lean
    assert not any(isinstance(f, _lean._Hide) for f in sys.meta_path)


def _commands(group, path=()):
    for name, cmd in group.commands.items():
        if hasattr(cmd, "commands"):
            yield from _commands(cmd, path + (name,))
        else:
            yield path + (name,), cmd


def test_every_option_has_help():
    """Every option of every command says what it is (issue 17: help that teaches)."""
    import click
    missing = [(" ".join(path), p.opts[0]) for path, cmd in _commands(main) for p in cmd.params
               if isinstance(p, click.Option) and not {"--help", "--version"} & set(p.opts)
               and not (p.help or "").strip()]
    assert not missing, missing
    assert len(list(_commands(main))) >= 12


def test_help_options_lists_the_algorithm_keys():
    r = run("train", "--algo", "picky", "--help-options")
    assert r.exit_code == 0 and "threshold" in r.output and "0.9" in r.output
    r = run("train", "--help-options", "--algo", "superbpe")       # either order; no --vocab-size/-o needed
    assert r.exit_code == 0 and "transition" in r.output and "lbpe_ties" in r.output
    assert "--help-options" in run("train", "--help").output


def test_special_token_keeps_commas(tmp_path):
    out = tmp_path / "m"
    r = run("train", "--vocab-size", 300, "--progress", "none", "--special-tokens", "<x>,<y>",
            "--special-token", "a,b", "--special-tokens", "<z>", "-o", out, SAMPLE)
    assert r.exit_code == 0, r.output
    assert json.loads((out / "model.json").read_text())["special_tokens"] == ["<x>", "<y>", "<z>", "a,b"]
    whole = run("count", "--progress", "none", "--special-token", "a,b", "-o", tmp_path / "w.npz", "-",
                input="a,b\n")
    split = run("count", "--progress", "none", "--special-tokens", "a,b", "-o", tmp_path / "v.npz", "-",
                input="a,b\n")
    assert whole.exit_code == 0 and split.exit_code == 0, whole.output + split.output
    assert whole.output.startswith("1 unique pre-tokens, 1 in total")         # the newline only
    assert not split.output.startswith("1 unique pre-tokens, 1 in total")      # "a" and "b" cut out, "," counted


def test_every_option_names_its_default():
    """An option that is not a flag nor required says what happens when it is absent: click's
    [default: …] or the words 'default' in its help (issue 17: help with its default and unit)."""
    import click
    silent = [(" ".join(path), p.opts[0]) for path, cmd in _commands(main) for p in cmd.params
              if isinstance(p, click.Option) and not p.is_flag and not p.required and not p.show_default
              and "default" not in (p.help or "").lower() and not {"--help", "--version"} & set(p.opts)]
    assert not silent, silent

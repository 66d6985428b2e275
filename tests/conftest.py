"""Shared test helpers: where corpora live, and small factories."""
import os
from pathlib import Path

import pytest
from hypothesis import settings

ROOT = Path(__file__).resolve().parents[1]
BUNDLED = ROOT / "corpora"
SHARED = Path(os.environ.get("NEWBPE_SHARED_CORPORA", ROOT.parent / "shared" / "corpora"))

settings.register_profile("ci", deadline=None, max_examples=60, derandomize=True)
settings.register_profile("dev", deadline=None, max_examples=100)
settings.load_profile("ci" if os.environ.get("CI") else "dev")


def shared(rel):
    """Path of a file in ../shared/corpora, or skip the test with the reason."""
    p = SHARED / rel
    if not p.exists():
        pytest.skip(f"{p} not present (shared corpora are needed for this test)")
    return p


def cli_error(args, input=None):
    """Run the CLI in-process; it must fail with one line on stderr and no traceback. Returns the line."""
    from click.testing import CliRunner
    from newbpe.cli import main
    r = CliRunner().invoke(main, [str(a) for a in args], input=input)
    assert r.exit_code not in (0, None), r.output
    assert "Traceback" not in r.output + r.stderr
    # the one-time "compiling kernels" notice of a cold cache may precede the error
    msg = "\n".join(line for line in r.stderr.strip().splitlines()
                    if not line.startswith("newbpe: compiling kernels")).strip()
    assert msg.startswith("newbpe: error: ") and len(msg.splitlines()) == 1, msg
    return msg


def read_prefix(path, n_bytes):
    with open(path, "rb") as f:
        return f.read(n_bytes).decode("utf-8", "ignore")


def lines_of(text):
    parts = text.split("\n")
    return [p + "\n" for p in parts[:-1]] + ([parts[-1]] if parts[-1] else [])


@pytest.fixture(scope="session")
def shakespeare():
    return (BUNDLED / "en" / "tinyshakespeare.txt").read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def heldout_en():
    return (BUNDLED / "en" / "ud_en_pud_test.txt").read_text(encoding="utf-8")

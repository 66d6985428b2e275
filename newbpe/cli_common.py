"""What the `newbpe` commands share (cli.py holds the commands): one-line errors and the broken-pipe
exit, checked number options, the input and source options, and the small readers."""
import contextlib
import os
import sys
import warnings
from functools import wraps

import click


PRETOKENIZER_HELP = ("gpt2, cl100k (gpt4, llama3), o200k, superbpe_stage1, superbpe_stage2, whitespace "
                     "(▁-prefixed words, lossy), none, or regex:PATTERN (a custom regex)")


class Checked(click.ParamType):
    """A number option checked by the library's own check (newbpe.checks.RULES), so the CLI and
    the library give the same message for the same bad value, before any work."""

    def __init__(self, option):
        from .checks import rule_of
        self.option = option
        rule = rule_of(option)
        self.kind = rule[0]
        self.name = "integer" if self.kind == "int" else "float"
        if self.kind == "int":
            self.metavar = f"INTEGER>={rule[1]}" if rule[2] is None else f"INTEGER {rule[1]}..{rule[2]}"
        else:
            low = f"{'(' if rule[3] else '['}{rule[1]:g}"
            self.metavar = f"FLOAT>{'' if rule[3] else '='}{rule[1]:g}" if rule[2] is None else f"FLOAT {low}, {rule[2]:g}]"

    def get_metavar(self, *args, **kwargs):
        return self.metavar

    def convert(self, value, param, ctx):
        from .checks import check
        from .errors import NewbpeError
        if isinstance(value, str):
            try:
                value = int(value) if self.kind == "int" else float(value)
            except ValueError:
                pass                                    # check() names the option and what it takes
        try:
            return check(self.option, value)
        except NewbpeError as e:
            self.fail(str(e), param, ctx)


def _fail(msg, code=1):
    try:
        click.echo(f"newbpe: error: {msg}", err=True)
    except OSError:                 # stderr itself is gone: the exit status still tells
        pass
    sys.exit(code)


SIGPIPE_EXIT = 141                  # 128 + SIGPIPE: what cat, yes, grep ... report when the reader goes away


def _broken_pipe():
    """stdout's reader went away (`newbpe encode ... | head -1`): exit quietly with status 141, as
    the standard tools do when SIGPIPE ends them. Points stdout at /dev/null first, so the
    interpreter's final flush does not complain either."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
    sys.exit(SIGPIPE_EXIT)


def friendly(fn):
    """Turn library errors into one-line messages with a non-zero exit."""
    @wraps(fn)
    def wrapper(*args, **kwargs):
        from .errors import NewbpeError

        def show(message, category, *_a, **_k):
            click.echo(f"newbpe: warning: {message}", err=True)
        warnings.showwarning = show
        try:
            return fn(*args, **kwargs)
        except BrokenPipeError:
            _broken_pipe()
        except NewbpeError as e:
            _fail(str(e).splitlines()[0] if str(e) else type(e).__name__)
        except (OSError, UnicodeError) as e:
            _fail(f"{type(e).__name__}: {e}")
        except ValueError as e:
            _fail(str(e).splitlines()[0])
        except KeyboardInterrupt:
            _fail("interrupted", 130)
    return wrapper


class _Whole(str):
    """A --special-token value: one token, never split at commas."""


class _KeepWhole(click.ParamType):
    """--special-tokens' type: strings as given, so --special-token's _Whole marks survive conversion."""
    name = "text"

    def convert(self, value, param, ctx):
        return value if isinstance(value, str) else str(value)


def _merge_special_token(fn):
    """The command sees one `special_tokens` tuple: --special-tokens' values, then each
    --special-token value marked whole (never split at commas by `_specials`)."""
    @wraps(fn)
    def wrapper(*args, special_token=(), special_tokens=(), **kwargs):
        return fn(*args, special_tokens=tuple(special_tokens) + tuple(_Whole(t) for t in special_token), **kwargs)
    return wrapper


def _specials(values):
    """--special-tokens may repeat or be comma-separated (a lone ',' is itself a token); a
    --special-token value is one token as given."""
    out = []
    for v in values:
        out.extend([str(v)] if isinstance(v, _Whole) or v == "," else [s for s in v.split(",") if s])
    return out


def _option_help(algo):
    """The option keys of ALGO (`newbpe train --algo ALGO --help-options`): its trainer's OPTIONS
    and the encoder options, with defaults and types."""
    from .checks import RULES
    from .encoders import ENCODER_OPTIONS
    from .methods import get_method
    method = get_method(algo)
    rules = {**RULES, **method.option_rules}
    lines = [f"Options of --algo {algo} (give them as --option KEY=VALUE, VALUE in JSON; "
             "some also have their own flag):"]
    for title, opts in (("algorithm", method.options), ("encoder", ENCODER_OPTIONS)):
        lines.append(f"  {title}:")
        width = max(len(k) for k in opts)
        for k, default in opts.items():
            lines.append(f"    {k:<{width}}  default {default!r}  ({_kind(rules.get(k), default)})")
    return "\n".join(lines)


def _kind(rule, default):
    """What an option takes, from its rule (newbpe.checks) or else its default's type."""
    if rule is None:
        return type(default).__name__ if default is not None else "any"
    if rule[0] == "choice":
        return "one of " + "|".join(map(str, rule[1]))
    if rule[0] in ("int", "float") and len(rule) >= 3:
        low, high = rule[1], rule[2]
        return f"{rule[0]} >= {low:g}" if high is None else f"{rule[0]} in {low:g}..{high:g}"
    return rule[0]


def help_options_flag(fn):
    """--help-options: print the chosen --algo's option keys and defaults, then exit 0."""
    def show(ctx, param, value):
        if not value or ctx.resilient_parsing:
            return
        algo = ctx.params.get("algo") or "bpe"
        click.echo(_option_help(algo))
        ctx.exit(0)
    # not eager: --algo is, so it is known here wherever it stands; given, this flag is processed
    # before the required options that are missing
    return click.option("--help-options", is_flag=True, expose_value=False, callback=show,
                        help="Print the option keys of --algo (default bpe) with their defaults and types "
                             "(the keys of --option), then exit.")(fn)


def _load(model_dir):
    import newbpe
    return newbpe.load(model_dir)


def _read_lines(files):
    """(name, line number, line bytes) of FILES, or stdin when none, streamed (io.iter_lines)."""
    from .io import iter_lines
    return iter_lines(list(files) or ["-"])


SPECIALS_HELP = {
    "train": "Special tokens, comma-separated (repeatable): ids 0..k-1, never split, never merged "
             "(default: none). A token with a comma: --special-token.",
    "count": "Special tokens, comma-separated (repeatable): cut out of the text and not counted "
             "(default: none). A token with a comma: --special-token.",
}


def input_options(fn=None, *, command="train"):
    """Options shared by every command that reads a corpus (`count` words --special-tokens for counting)."""
    if fn is None:
        return lambda f: input_options(f, command=command)
    fn = _merge_special_token(fn)
    for option in reversed([
        click.option("--pretokenizer", default="gpt2", show_default=True, help=PRETOKENIZER_HELP),
        click.option("--units", type=click.Choice(["bytes", "chars"]), default="bytes", show_default=True,
                     help="What a symbol is: a byte (byte-level) or a Unicode character."),
        click.option("--special-tokens", multiple=True, type=_KeepWhole(), help=SPECIALS_HELP[command]),
        click.option("--special-token", "special_token", multiple=True, metavar="TOKEN",
                     help="One special token, taken whole (commas included); repeatable. Listed after the "
                          "--special-tokens ones (default: none)."),
        click.option("--split", type=click.Choice(["line", "document"]), default="line", show_default=True,
                     help="Sequences: each line, or each whole document (a text file, a JSON record, a "
                          "dataset row)."),
        click.option("--threads", type=Checked("threads"), default=None,
                     help="Threads/processes (default: all cores)."),
        click.option("--progress", type=click.Choice(["tqdm", "lines", "json", "none"]), default="tqdm", show_default=True,
                     help="tqdm: a bar on a terminal, plain lines when stderr is not one; lines; json: one "
                          "JSON object per update; none."),
    ]):
        fn = option(fn)
    return fn


#: encode/eval/stochastok write data to stdout or a file: by default a bar only where someone watches
#: (stderr is a terminal); logs of pipelines stay clean unless lines or json are asked for.
READ_PROGRESS = click.option(
    "--progress", type=click.Choice(["auto", "tqdm", "lines", "json", "none"]), default="auto", show_default=True,
    help="Progress over the input bytes on stderr. auto: a bar when stderr is a terminal, nothing otherwise; "
         "tqdm: a bar, or plain lines when stderr is not a terminal; lines; json: one JSON object per update; none.")


@contextlib.contextmanager
def read_progress(kind):
    """The progress callback of READ_PROGRESS's choice (None: silent), closed (a bar cleared)
    however the command ends."""
    from .progress import make_progress
    if kind == "auto":
        isatty = getattr(sys.stderr, "isatty", None)
        kind = "tqdm" if isatty is not None and isatty() else "none"
    prog = make_progress(kind)
    try:
        yield prog
    finally:
        if prog is not None and hasattr(prog, "close"):
            prog.close()


TEXT_COLUMN = click.option("--text-column", default="text", show_default=True,
                           help="The field of JSON records (a dotted path for nested ones) or the column of "
                                "Parquet files and --dataset.")


def source_options(fn):
    """Where the corpus comes from besides FILES, and which of its documents to read."""
    for option in reversed([
        TEXT_COLUMN,
        click.option("--dataset", default=None, metavar="NAME_OR_PATH",
                     help="Read a `datasets` dataset (a save_to_disk directory, a local data directory, or "
                          "a cached or hub name) instead of FILES (default: none)."),
        click.option("--dataset-split", default=None, help="--dataset: the split (default: the only one, or train)."),
        click.option("--dataset-config", default=None, help="--dataset: the configuration name (default: none, the dataset's default)."),
        click.option("--max-bytes", type=Checked("max_bytes"), default=None,
                     help="Read documents until N bytes of text (the last one is read to its end; default: "
                          "no limit)."),
        click.option("--sample", type=Checked("sample"), default=None,
                     help="Keep each document with probability P (a hash of the seed and its index; default: "
                          "keep all)."),
        click.option("--sample-seed", "--seed", "sample_seed", type=Checked("sample_seed"), default=0,
                     show_default=True, help="Seed of --sample."),
    ]):
        fn = option(fn)
    return fn


def _source(files, source):
    """(training source, keyword arguments of newbpe.count/train) from FILES and source_options."""
    from .errors import NewbpeError
    name = source.get("dataset")
    if name is not None and files:
        raise NewbpeError("give either FILES or --dataset, not both")
    if name is None and (source.get("dataset_split") or source.get("dataset_config")):
        raise NewbpeError("--dataset-split and --dataset-config need --dataset")
    kwargs = dict(column=source["text_column"], max_bytes=source["max_bytes"], sample=source["sample"],
                  sample_seed=source["sample_seed"])
    if name is None:
        from .sources import check_inputs
        check_inputs(files)                     # FILES are files: a missing one is not text to train on
        return list(files), kwargs
    from .sources import load_dataset
    return load_dataset(name, source.get("dataset_split"), source.get("dataset_config")), kwargs

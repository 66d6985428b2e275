"""The `newbpe` command line: parse, call the library, print.

Errors from bad input are one line on stderr and a non-zero exit, never a traceback. Heavy modules
(numpy, numba) load inside the commands, so `newbpe --help` is instant.
"""
import json
import os
import sys

import click

from .cli_common import (
    READ_PROGRESS, TEXT_COLUMN, Checked, _broken_pipe, _fail, _load, _read_lines, _source,
    PRETOKENIZER_HELP, _specials, friendly, help_options_flag, input_options, read_progress,
    source_options)
from .cli_counts import count_merge, save_counts, stats_lines
from .cli_eval import eval_, show
from .cli_roles import role_options
from .encoders import ENCODERS
from .methods import METHODS

class OneLineErrors(click.Group):
    """Usage errors (bad option values, missing arguments) as one line, like every other error."""

    def main(self, *args, **kwargs):
        kwargs["standalone_mode"] = False
        try:
            rv = super().main(*args, **kwargs)
            sys.stdout.flush()
        except BrokenPipeError:
            _broken_pipe()
        except click.exceptions.Abort:
            _fail("aborted", 1)
        except click.ClickException as e:
            hint = f" (see 'newbpe {e.ctx.info_name} --help')" if getattr(e, "ctx", None) and e.ctx.parent else ""
            _fail(e.format_message().replace("\n", " ") + hint, e.exit_code)
        except click.exceptions.Exit as e:
            sys.exit(e.exit_code)
        sys.exit(rv if isinstance(rv, int) else 0)


@click.group(cls=OneLineErrors, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="newbpe")
def main():
    """Train, use and export BPE-family tokenizers."""


# ---------------------------------------------------------------------------------------------- count
@main.command()
@click.argument("files", nargs=-1)
@click.option("-o", "--output", required=True, help="Output: a .npz word-count file (default), or a count "
              "shard when it ends in .parquet or is a directory (DIR/counts.parquet).")
@click.option("--stats", is_flag=True, help="Also print the table's size and memory and the projected "
              "training memory.")
@input_options(command="count")
@source_options
@friendly
def count(files, output, stats, pretokenizer, units, special_tokens, split, threads, progress, **source):
    """Count the pre-tokens of FILES ('-': stdin) or --dataset into a reusable word-count table."""
    import newbpe
    from .errors import NewbpeError
    from .progress import make_progress
    data, kwargs = _source(files, source)
    if not data and not source.get("dataset"):
        raise NewbpeError("no input: give FILES ('-' for standard input) or --dataset")
    prog = make_progress(progress)
    with _announce_compiles(progress, prog):
        wc = newbpe.count(data, pretokenizer, units, _specials(special_tokens), split, threads=threads,
                          progress=prog, **kwargs)
    output = save_counts(wc, output)
    click.echo(f"{len(wc)} unique pre-tokens, {wc.total()} in total -> {output}")
    if stats:
        click.echo("\n".join(stats_lines(wc)))


main.add_command(count_merge)


# ---------------------------------------------------------------------------------------------- train
@main.command()
@click.argument("files", nargs=-1)
@click.option("--algo", type=click.Choice(sorted(METHODS)), default="bpe", show_default=True, is_eager=True,
              help="The training algorithm (--help-options lists its options).")
@help_options_flag
@click.option("--vocab-size", type=Checked("vocab_size"), required=True,
              help="Target vocabulary size in tokens (base alphabet + special tokens + merges).")
@click.option("-o", "--output", required=True, help="Output directory (model.json, tokenizer.json).")
@click.option("--counts", "counts_file", default=None, help="Train on a saved word-count table instead of FILES: an .npz, a count shard "
              "(.parquet) or a directory of shards (merged on load) (default: none, count FILES).")
@input_options
@source_options
@click.option("--min-frequency", type=Checked("min_frequency"), default=None,
              help="Stop when the best pair occurs fewer than N times (default: the algorithm's, 0 for bpe).")
@click.option("--max-token-length", type=Checked("max_token_length"), default=None,
              help="No token longer than L units (bytes or characters, see --units; default: no limit).")
@click.option("--max-token-length-mode", type=click.Choice(["exact", "hf"]), default=None,
              help="exact: no token longer than L (default); hf: HF's rule (initial pairs never "
                   "filtered, merged pairs capped with a strict <).")
@click.option("--byte-alphabet", type=click.Choice(["full", "observed"]), default=None,
              help="Byte units: the base vocabulary is all 256 bytes (full, default) or the observed ones.")
@click.option("--limit-alphabet", type=Checked("limit_alphabet"), default=None,
              help="Char units: keep the N most frequent characters (default: all).")
@click.option("--coverage", type=Checked("coverage"), default=None, help="Char units: share of character "
              "occurrences the alphabet covers, in (0, 1] (Picky style; default 1.0).")
@click.option("--threshold", type=Checked("threshold"), default=None, help="Picky: IoS threshold T (default 0.9).")
@click.option("--reference-compat", is_flag=True,
              help="Reproduce the method's reference code (all quirks; default: off).")
@click.option("--transition", type=Checked("transition"), default=None,
              help="SuperBPE: transition point t, a vocabulary size in tokens; inherits t - 1 stage-1 merges "
                   "(the reference's count; default: none).")
@click.option("--stage1", default=None, help="SuperBPE: extend this stage-1 tokenizer (newbpe model or tokenizer.json; default: none, train stage 1 first).")
@click.option("--signal", type=click.Choice(["entropy", "surprisal"]), default=None,
              help="ByteSpan: the byte LM signal (default entropy).")
@click.option("--constraint", type=click.Choice(["monotonic", "combined", "global"]), default=None,
              help="ByteSpan: span constraint (default combined).")
@click.option("--threshold-percentile", type=Checked("threshold_percentile"), default=None,
              help="ByteSpan: θ of the combined constraint as a percentile of the signals (default 30).")
@click.option("--proportion-bytespan", type=Checked("proportion_bytespan"), default=None,
              help="ByteSpan: share p of the vocabulary seeded from spans, BPE completes (0 = BPE-WP; "
                   "default: absent = the frequency variant).")
@click.option("--lm", default=None, help="ByteSpan: 'ngram' (default) or the path of an HF causal byte LM.")
@click.option("--encoder", type=click.Choice(ENCODERS), default=None,
              help="Default encoder of the model (default: the algorithm's own; lbpe fits every algorithm).")
@click.option("--lbpe-ties", type=click.Choice(["leftmost", "rank"]), default=None,
              help="LBPE: equal-length matches by position (default) or by BPE rank.")
@click.option("--option", "extra", multiple=True, metavar="KEY=VALUE",
              help="Any other algorithm option (VALUE in JSON, else a string; repeatable). "
                   "`--algo X --help-options` lists the keys and defaults.")
@click.option("--splinter", "splinter_lang", type=click.Choice(["he", "ar", "ms"]), default=None,
              help="Run SPLINTER first (map learned from FILES) for this language; the model applies and "
                   "inverts it (default: off).")
@click.option("--splinter-map", default=None, help="Use a SPLINTER map from 'newbpe splinter learn' instead (default: none).")
@role_options
@friendly
def train(files, algo, vocab_size, output, counts_file, pretokenizer, units, special_tokens, split, threads,
          min_frequency, max_token_length, max_token_length_mode, byte_alphabet, limit_alphabet, coverage,
          threshold, reference_compat, transition, stage1, signal, constraint, threshold_percentile,
          proportion_bytespan, lm, encoder, lbpe_ties, extra, progress, splinter_lang, splinter_map, **more):
    """Train a tokenizer on FILES ('-': stdin), --dataset or --counts and write it to OUTPUT."""
    from .errors import NewbpeError
    from .progress import make_progress
    from .roles import specials_with_roles
    from .cli_roles import roles_from_args
    role_args = {k: more.pop(k) for k in list(more) if k.startswith("role_") or k in ("add_bos", "add_eos")}
    source = more                                # source_options
    roles, template = roles_from_args(role_args)
    special_tokens = specials_with_roles(_specials(special_tokens), roles)
    options = {k: v for k, v in dict(min_frequency=min_frequency, max_token_length=max_token_length,
                                      max_token_length_mode=max_token_length_mode, byte_alphabet=byte_alphabet,
                                      limit_alphabet=limit_alphabet, coverage=coverage, threshold=threshold,
                                      compat="reference" if reference_compat else None,
                                      lbpe_ties=lbpe_ties, transition=transition, stage1=stage1, signal=signal,
                                      constraint=constraint, threshold_percentile=threshold_percentile,
                                      proportion_bytespan=proportion_bytespan, lm=lm).items()
               if v is not None}
    for kv in extra:
        if "=" not in kv:
            raise NewbpeError(f"--option takes KEY=VALUE, got {kv!r}")
        k, v = kv.split("=", 1)
        try:
            options[k.replace("-", "_")] = json.loads(v)
        except json.JSONDecodeError:
            options[k.replace("-", "_")] = v
    from .modelfile import check_model_dir_path
    check_model_dir_path(output)                # before training, not after
    data, kwargs = _source(files, source)
    if counts_file and (files or source.get("dataset")):
        raise NewbpeError("give either FILES, --dataset or --counts, not both")
    if counts_file and source.get("cluster"):
        raise NewbpeError("--cluster counts FILES: a --counts table is already counted")
    if not counts_file and not files and not source.get("dataset"):
        raise NewbpeError("no input: give FILES ('-' for standard input), --dataset or --counts")
    splinter = _splinter_arg(splinter_lang, splinter_map)
    if splinter is not None and counts_file:
        raise NewbpeError("--splinter needs FILES (a word-count table was counted without the transform)")
    prog = make_progress(progress)
    try:
        with _announce_compiles(progress, prog):
            tok = _train(data, counts_file, algo, vocab_size, pretokenizer, units, special_tokens, split,
                         threads, prog, options, encoder, splinter, kwargs)
    finally:
        if hasattr(prog, "close"):
            prog.close()
    if roles or template:
        tok.set_roles(roles, **template)
    written = tok.save(output)
    info = tok.info()
    click.echo(f"trained {algo}: vocab {info['vocab_size']}, {info['num_merges']} merges -> "
               + ", ".join(os.path.basename(p) for p in written) + f" in {output}")


def _announce_compiles(progress, prog):
    """A context: one line on stderr when the first kernel compile starts in it (first run after an
    install)."""
    from ._jit import announce_compiles
    from .progress import _TqdmProgress

    def write(line):
        if progress == "json":
            line = json.dumps({"notice": line})
        if isinstance(prog, _TqdmProgress) and prog.bars:
            from tqdm import tqdm
            tqdm.write(line, file=sys.stderr)
        else:
            sys.stderr.write(line + "\n")
            sys.stderr.flush()
    return announce_compiles(write)


def _splinter_arg(lang, map_path):
    """--splinter LANG learns the map from FILES; --splinter-map MAP uses a saved one: one or the other."""
    if map_path is None:
        return lang
    if lang is not None:
        from .errors import NewbpeError
        raise NewbpeError(f"give --splinter {lang} (learn the map from FILES) or --splinter-map {map_path} "
                          "(use a saved map), not both")
    from .preprocessors.splinter_source import load_map
    return load_map(map_path)


def _train(data, counts_file, algo, vocab_size, pretokenizer, units, special_tokens, split, threads, prog,
           options, encoder=None, splinter=None, source_kwargs=None):
    """SPECIAL_TOKENS: the final list (train split --special-tokens already)."""
    import newbpe
    source_kwargs = source_kwargs or {}
    method = newbpe._precheck(algo, vocab_size, units, special_tokens, options, encoder)
    if splinter is not None or (method.needs_text and not counts_file):   # the trainer counts the text
        return newbpe.train(data, algo, vocab_size, pretokenizer=pretokenizer, units=units,
                            special_tokens=special_tokens, split=split, threads=threads,
                            progress=prog, encoder=encoder, splinter=splinter, **source_kwargs, **options)
    if counts_file:
        source = newbpe.WordCounts.load(counts_file)
    else:
        source = newbpe.count(data, pretokenizer, units, special_tokens, split, threads=threads,
                              progress=prog, **source_kwargs)
    return newbpe.train(source, algo, vocab_size, pretokenizer=pretokenizer, units=units,
                        special_tokens=special_tokens, split=split, threads=threads,
                        progress=prog, encoder=encoder, **options)


# ---------------------------------------------------------------------------------------------- encode/decode
@main.command()
@click.argument("files", nargs=-1)
@click.option("-m", "--model", "model_dir", required=True, help="Model directory (or model.json).")
@click.option("--ids/--tokens", default=True, help="Print ids (default) or token strings.")
@click.option("--encoder", type=click.Choice(ENCODERS), default=None, help="Encoder (default: the model's).")
@click.option("--allowed-special", default="", help="'all' or comma-separated special tokens to recognise in text (default: none, "
              "they stay text).")
@TEXT_COLUMN
@READ_PROGRESS
@friendly
def encode(files, model_dir, ids, encoder, allowed_special, text_column, progress):
    """Encode FILES (or stdin) line by line: one line of output per input line."""
    tok = _load(model_dir)
    allowed = "all" if allowed_special == "all" else [s for s in allowed_special.split(",") if s]
    out = sys.stdout
    with read_progress(progress) as prog:
        _write_encoded(out, tok, _encoded_line_parts(tok, files, allowed, encoder, column=text_column,
                                                     progress=prog), ids)


def _write_encoded(out, tok, parts, ids):
    for seq, started, line_end in parts:
        for i in range(0, len(seq), 1 << 16):           # one piece can be long: bounded strings
            if started or i:
                out.write(" ")
            part = seq[i:i + (1 << 16)].tolist()
            out.write(" ".join(map(str, part)) if ids else " ".join(tok.token_strings(part)))
        if line_end:
            out.write("\n")


def _encoded_line_parts(tok, files, allowed, encoder=None, split="line", column="text", progress=None):
    """(model ids array, whether its line already has ids, whether the line ends here) for the lines
    of FILES (or stdin; split="document": whole files), read in parts cut at the pre-tokenizer's safe
    points (io.iter_line_parts): memory follows the longest piece, not the longest line."""
    from collections import deque
    from .cuts import CutRule
    from .io import iter_line_parts
    allowed = tok._allowed(allowed)
    rule = CutRule.for_pretokenizer(tok.pretokenizer, allowed)
    ends = deque()

    def parts():
        for _, _, part, end in iter_line_parts(list(files) or ["-"], rule, split, column=column,
                                               progress=progress, stage="encode"):
            ends.append(end)
            yield part
    started = False
    for _, seq, last in tok.iter_encoded(parts(), allowed_special=allowed, encoder=encoder):
        line_end = last and ends[0]
        if last:
            ends.popleft()
        yield seq, started, line_end
        started = False if line_end else started or len(seq) > 0


@main.command()
@click.argument("files", nargs=-1)
@click.option("-m", "--model", "model_dir", required=True, help="Model directory (or model.json).")
@friendly
def decode(files, model_dir):
    """Decode lines of ids (as printed by `newbpe encode`) from FILES or stdin; writes the exact bytes."""
    from .errors import NewbpeError
    tok = _load(model_dir)
    out = sys.stdout.buffer
    for name, n, line in _read_lines(files):
        where = "<stdin>" if name == "-" else name
        try:
            seq = [int(x) for x in line.split()]
        except ValueError:
            raise NewbpeError(f"{where}:{n}: not a line of integer ids") from None
        try:
            out.write(tok.decode_bytes(seq))
        except NewbpeError as e:
            raise NewbpeError(f"{where}:{n}: {e}") from None
    out.flush()


# ---------------------------------------------------------------------------------------------- export/info (eval, show: cli_eval.py)
@main.command()
@click.option("-m", "--model", "model_dir", required=True, help="Model directory (or model.json).")
@click.option("--format", "fmt", type=click.Choice(["hf", "tiktoken", "transformers"]), default="hf", show_default=True,
              help="transformers: a directory AutoTokenizer loads exactly for every method (save_pretrained).")
@click.option("-o", "--output", default=None, help="Output directory (default: the model directory).")
@click.option("--approximate", is_flag=True, help="Allow an approximate HF export for methods HF cannot express.")
@click.option("--agreement-text", multiple=True, help="With --approximate: text files on which to measure "
              "how closely the HF export reproduces newbpe's ids (repeatable; default: none, not measured).")
@click.option("--expanded", is_flag=True, help="Scaffold-BPE: the expanded vocabulary plus "
              "scaffold_demolition.json (exact after applying the table).")
@click.option("--name", default="newbpe", show_default=True, help="tiktoken encoding name.")
@click.option("--inner", is_flag=True, help="SPLINTER models: export the inner model (it expects transformed "
              "text; splinter.json is written next to it).")
@friendly
def export(model_dir, fmt, output, approximate, agreement_text, expanded, name, inner):
    """Export a model to HF tokenizer.json or tiktoken."""
    tok = _load(model_dir)
    output = output or (model_dir if os.path.isdir(model_dir) else os.path.dirname(model_dir))
    if fmt == "hf":
        from .export.hf import TRANSFORM_NOTE, hf_exact, save_hf
        got = None
        if approximate and not expanded and not hf_exact(tok) and agreement_text:
            from .metrics import agreement
            tok.to_hf(approximate=True)                 # refuse what cannot be exported before measuring
            from .cuts import CutRule         # compared per pre-token: lines in parts cut at safe points
            from .io import read_documents
            got = agreement(tok, read_documents(list(agreement_text), "line",
                                                CutRule.for_pretokenizer(tok.pretokenizer)))
        paths = save_hf(tok, output, approximate=approximate, agreement=got, expanded=expanded, inner=inner)
        if inner and tok.transforms:
            from .preprocessors import transform_type
            for transform in tok.transforms:
                click.echo("note: " + TRANSFORM_NOTE.format(name=transform_type(transform)))
        if approximate and not expanded and not hf_exact(tok):
            click.echo("approximate HF export: " + (
                f"identical on {got['words']:.2%} of {got['n_words']} pre-tokens and {got['tokens']:.2%} of "
                f"{got['n_tokens']} tokens" if got else "agreement not measured (pass --agreement-text FILE)"))
    elif fmt == "transformers":
        paths = tok.save_pretrained(output)
    else:
        from .export.tiktoken import save_tiktoken
        paths = save_tiktoken(tok, output, name=name)
    click.echo("wrote " + ", ".join(paths))


@main.command()
@click.option("-m", "--model", "model_dir", required=True, help="Model directory (or model.json).")
@click.option("--json", "as_json", is_flag=True, help="Print tok.info() as JSON.")
@click.option("--examples", type=click.IntRange(min=0), default=10, show_default=True,
              help="How many longest tokens to show.")
@friendly
def info(model_dir, as_json, examples):
    """Summarise a model's vocabulary and training."""
    tok = _load(model_dir)
    d = tok.info()
    if as_json:
        click.echo(json.dumps(d, ensure_ascii=False, indent=2))
        return
    for k, v in d.items():
        if k != "options":
            click.echo(f"{k:32s} {v}")
    click.echo("options: " + ", ".join(f"{k}={v}" for k, v in d["options"].items()))
    lengths = sorted(range(tok.vocab_size), key=lambda i: (-len(tok.vocab[i]), i))[:examples]
    click.echo("longest tokens: " + " ".join(repr(s) for s in tok.token_strings(lengths)))
    v = tok.vocabulary
    hidden = v.hidden_ids()
    if hidden:
        from .units import bytes_to_token_string
        show = [v.tokens[i].decode("utf-8", "replace") if tok.units == "chars" else bytes_to_token_string(v.tokens[i])
                for i in hidden[:examples]]
        click.echo(f"tokens not in the vocabulary ({len(hidden)}, e.g. removed by Picky): "
                   + " ".join(repr(s) for s in show))


@main.command()
@click.argument("files", nargs=-1, required=True)
@click.option("--pretokenizer", default="gpt2", show_default=True, help=PRETOKENIZER_HELP)
@click.option("--signal", type=click.Choice(["entropy", "surprisal"]), default="entropy", show_default=True,
              help="The byte LM signal.")
@click.option("--constraint", type=click.Choice(["monotonic", "combined"]), default="combined", show_default=True,
              help="The span constraint.")
@click.option("--threshold-percentile", type=Checked("threshold_percentile"), default=30.0, show_default=True,
              help="θ of the combined constraint, as a percentile (0..100) of the signals.")
@click.option("--lm", default="ngram", show_default=True, help="'ngram' or the path of an HF causal byte LM.")
@click.option("--lm-fit", type=click.Choice(["crossfit", "same"]), default="crossfit", show_default=True,
              help="crossfit: the LM scores text it was not fitted on; same: fitted on all of it.")
@click.option("--split", type=click.Choice(["line", "document"]), default="line", show_default=True,
              help="Documents: each line, or each whole file.")
@friendly
def signals(files, pretokenizer, signal, constraint, threshold_percentile, lm, lm_fit, split):
    """ByteSpan: per-byte LM signals and spans of FILES ('-': stdin; tab-separated: doc, pos, byte,
    entropy, surprisal, boundary, span tag B/I/-)."""
    from .sources import check_inputs
    from .trainers.bytespan.inspect import format_rows, inspect
    check_inputs(files)                         # FILES ('-': stdin) are files, before the LM is fitted
    docs, theta = inspect(list(files), pretokenizer, signal, constraint, threshold_percentile, lm, lm_fit, split=split)
    if theta is not None:
        click.echo(f"# theta {theta:.6f} (percentile {threshold_percentile:g} of the {signal} signals)")
    for line in format_rows(docs):
        click.echo(line)


# ---------------------------------------------------------------------------------------------- stochastok
@main.command()
@click.argument("files", nargs=-1, required=True)
@click.option("-m", "--model", "model_dir", required=True, help="Model directory (or model.json).")
@click.option("-o", "--output", required=True,
              help="OUT.npy or OUT.bin (flat uint16/uint32 ids + OUT.idx: int64 document offsets) or OUT.jsonl.")
@click.option("--p", "p", type=Checked("p"), default=0.1, show_default=True, help="Attempts per original token.")
@click.option("--seed", type=Checked("seed"), default=0, show_default=True, help="Global seed (document d uses (seed, d)).")
@click.option("--max-num-to-expand", type=Checked("max_num_to_expand"), default=None,
              help="Cap on successful splits per document, in splits (default: no cap).")
@click.option("--epoch", type=Checked("epoch"), default=None,
              help="Per-epoch resampling: seed documents from (seed, epoch, d) (default: no epoch).")
@click.option("--split", type=click.Choice(["line", "document"]), default="line", show_default=True,
              help="Documents: each line with its newline, or each whole file.")
@click.option("--allowed-special", default="", help="'all' or comma-separated special tokens to recognise in text (default: none, "
              "they stay text).")
@click.option("--append-special", default=None, help="Append this special token to every document (e.g. <|endoftext|>; default: none).")
@click.option("--table", default=None, help="A saved split table (.npz, or the reference's .json) to use (default: none, built from the model).")
@click.option("--threads", type=Checked("threads"), default=None,
              help="Threads (default: all cores); output is the same for any.")
@TEXT_COLUMN
@READ_PROGRESS
@friendly
def stochastok(files, model_dir, output, p, seed, max_num_to_expand, epoch, split, allowed_special,
               append_special, table, threads, text_column, progress):
    """StochasTok: encode FILES with the model, split random tokens (lossless), write the ids.

    Documents are numbered across FILES in order (line by line, or one per file with --split
    document); document d's expansion depends only on (seed, [epoch,] d), its ids, --p and the cap.
    """
    from .augment.stochastok import StochasTok, check_output_path, expand_files
    check_output_path(output)
    if table:
        tok = _load(model_dir)
        st = StochasTok.load(table, tokenizer=tok)
    else:
        tok, st = StochasTok.for_model(model_dir)
    allowed = "all" if allowed_special == "all" else [s for s in allowed_special.split(",") if s]
    with read_progress(progress) as prog:
        n_docs, n_in, n_out, n_split, written = expand_files(
            tok, st, list(files) or ["-"], output, p, seed=seed, max_num_to_expand=max_num_to_expand, epoch=epoch,
            split=split, allowed_special=allowed, append_special=append_special, threads=threads,
            column=text_column, progress=prog)
    click.echo(f"{n_docs} documents: {n_in} -> {n_out} tokens ({n_split} splits), wrote " + ", ".join(written))


# ---------------------------------------------------------------------------------------------- splinter
@main.group()
def splinter():
    """SPLINTER: learn a reduction map; apply or invert the transform (Hebrew, Arabic, Malay)."""


@splinter.command(name="learn")
@click.argument("files", nargs=-1)
@click.option("--lang", type=click.Choice(["he", "ar", "ms"]), required=True,
              help="Language: Hebrew, Arabic or Malay.")
@click.option("--word-counts", default=None, help="A word<TAB>count file instead of FILES (default: none).")
@click.option("--wordfreq", "use_wordfreq", is_flag=True, help="Use the wordfreq package's list (optional dependency).")
@click.option("--wordlist", default="best", show_default=True, help="wordfreq list name.")
@click.option("-o", "--output", required=True, help="Output map (JSON).")
@click.option("--letters", default="all", show_default=True, help="all, servile (Hebrew subset), or a string of letters.")
@click.option("--min-count", type=click.IntRange(min=0), default=10, show_default=True,
              help="Ignore words counted fewer than N times (occurrences).")
@click.option("--iterations", type=click.Choice(["1", "2"]), default="2", show_default=True,
              help="Learning iterations (1: the type-count map; 2: the reference's).")
@click.option("--no-final-letters", is_flag=True, help="Hebrew: do not swap final/regular forms of the last letter.")
@click.option("--keep-diacritics-in-counts", is_flag=True, help="Count FILES without removing diacritics.")
@click.option("--diacritics", type=click.Choice(["keep", "strip"]), default="keep", show_default=True,
              help="Transform: keep diacritics losslessly, or strip them like the reference (lossy).")
@click.option("--segmentation", type=click.Choice(["letter_runs", "reference"]), default="letter_runs",
              show_default=True, help="Words the transform rewrites: runs of the language's letters, or "
                                      "words cut at the reference's delimiters.")
@click.option("--on-reserved", type=click.Choice(["escape", "error"]), default="escape", show_default=True,
              help="An input character of the reserved symbol block: escape it, or stop with an error.")
@click.option("--split", type=click.Choice(["line", "document"]), default="line", show_default=True,
              help="Documents of FILES: each line, or each whole file.")
@friendly
def splinter_learn(files, lang, word_counts, use_wordfreq, wordlist, output, letters, min_count, iterations,
                   no_final_letters, keep_diacritics_in_counts, diacritics, segmentation, on_reserved, split):
    """Learn a SPLINTER reduction map from FILES, a word-count file, or wordfreq."""
    from .errors import NewbpeError
    from .preprocessors.splinter import Splinter
    from .preprocessors.splinter_learn import read_word_counts
    if sum([bool(files), word_counts is not None, use_wordfreq]) != 1:
        raise NewbpeError("give exactly one of FILES, --word-counts FILE, --wordfreq")
    source = read_word_counts(word_counts) if word_counts else "wordfreq" if use_wordfreq else list(files)
    sp = Splinter.learn(source, lang, letters=letters, min_count=min_count, iterations=int(iterations),
                        final_letters=not no_final_letters, strip_diacritics=not keep_diacritics_in_counts,
                        split=split, wordlist=wordlist, diacritics=diacritics, segmentation=segmentation,
                        on_reserved=on_reserved)
    sp.save(output)
    lengths = sorted(n for n in sp.map if n > 1)
    click.echo(f"SPLINTER {lang}: {sp.stats.get('kept_words', 0)} words, reductions for lengths "
               f"{lengths[0] if lengths else '-'}..{lengths[-1] if lengths else '-'}, {len(sp.keys)} symbols -> {output}")


def _splinter_io(files, map_path, output, method):
    import time
    from .io import atomic_write
    from .preprocessors.splinter_source import load_map
    sp = load_map(map_path)
    t0, n = time.perf_counter(), 0
    transform = getattr(sp, method)

    # line by line (lines end in '\n', which SPLINTER never touches), a long line in parts cut before
    # a space that follows a non-space: SPLINTER rewrites letter runs (or words) only, never across a
    # space; its inverse also pairs its escape character with the next one, hence `avoid`
    from .cuts import CutRule
    from .io import iter_line_parts
    rule = CutRule(avoid=sp.esc)

    def write(f):
        nonlocal n
        for _, _, raw, _ in iter_line_parts(list(files) or ["-"], rule):
            n += len(raw)
            f.write(transform(raw.decode("utf-8", "surrogateescape")).encode("utf-8", "surrogateescape"))
    if output:
        atomic_write(output, write, binary=True)
    else:
        write(sys.stdout.buffer)
        sys.stdout.buffer.flush()
    dt = time.perf_counter() - t0
    click.echo(f"splinter {method}: {n / 1e6:.2f} MB in {dt:.2f} s ({n / 1e6 / max(dt, 1e-9):.2f} MB/s)", err=True)


def _splinter_transform_command(method, doc):
    """`newbpe splinter apply` and `newbpe splinter invert`: the same options, one direction each."""
    @splinter.command(name=method, help=doc)
    @click.argument("files", nargs=-1)
    @click.option("--map", "map_path", required=True, help="SPLINTER map (splinter.json) or a SPLINTER model directory.")
    @click.option("-o", "--output", default=None, help="Output file (default: stdout).")
    @friendly
    def command(files, map_path, output):
        _splinter_io(files, map_path, output, method)
    return command


splinter_apply = _splinter_transform_command(
    "apply", "Transform FILES (or stdin) with SPLINTER; everything but letter runs passes through.")
splinter_invert = _splinter_transform_command("invert", "Undo `newbpe splinter apply` exactly.")


main.add_command(eval_)
main.add_command(show)


def entry():
    """The `newbpe` console script: the command's own process, so it may go without numba's
    optional scipy/cffi support (see newbpe/_lean.py); `main` itself (CliRunner, embedding) does not."""
    from ._lean import hide_optional_numba_imports
    hide_optional_numba_imports()
    main()


if __name__ == "__main__":
    entry()

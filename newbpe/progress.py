"""One progress callback, four renderings: a tqdm bar on a terminal, plain periodic lines when stderr
is not a terminal (logs, CI: no carriage returns), HF-style JSON lines
(`{"stage": "merges", "current": 500, "total": 32000}`, for notebooks and log parsers), or nothing.
The library is silent unless asked (`progress=` a callable, True, "tqdm", "lines" or "json")."""
import json
import sys
import time

KINDS = ("tqdm", "lines", "json", "none")
LINE_EVERY = 5.0           # seconds between two plain progress lines of one stage


def make_progress(kind):
    """The callback(stage, current, total) for a rendering kind; "tqdm" falls back to plain lines
    when stderr is not a terminal (a bar's carriage returns make a log unreadable)."""
    if kind in (None, "none", "silent"):
        return None
    if kind == "json":
        def emit(stage, current, total):
            sys.stderr.write(json.dumps({"stage": stage, "current": int(current), "total": int(total)}) + "\n")
        return emit
    if kind == "tqdm":
        isatty = getattr(sys.stderr, "isatty", None)
        return _TqdmProgress() if isatty is not None and isatty() else _LineProgress()
    if kind == "lines":
        return _LineProgress()
    raise ValueError(f"unknown progress kind {kind!r} ({', '.join(KINDS)})")


def resolve_progress(progress):
    """What the API's `progress=` argument may be: None/False (silent), True (a bar on a terminal,
    plain lines otherwise), a kind name (KINDS), or a callable(stage, current, total)."""
    from .errors import NewbpeError
    if progress is None or progress is False:
        return None
    if progress is True:
        return make_progress("tqdm")
    if isinstance(progress, str):
        if progress not in KINDS:
            raise NewbpeError(f"unknown progress kind {progress!r} (use one of {', '.join(KINDS)}, "
                              "True, or a callable(stage, current, total))")
        return make_progress(progress)
    if not callable(progress):
        raise NewbpeError(f"progress must be True, a kind ({', '.join(KINDS)}), a callable(stage, current, "
                          f"total) or None, not {type(progress).__name__}")
    return progress


#: stages whose progress is counted in input bytes (the others count merges, items, documents)
BYTE_STAGES = ("count", "read", "encode", "eval", "stochastok")


def _unit(stage):
    return "B" if stage in BYTE_STAGES else "it"


class _TqdmProgress:
    """A tqdm bar per stage. The bar is advanced with update() (never by setting `n`), so tqdm's
    rate is the real rate."""

    def __init__(self, clock=time.time):
        self.bars = {}
        self.clock = clock
        self.mark = clock()             # when the last report came: the earliest a new stage began

    def __call__(self, stage, current, total):
        from tqdm import tqdm
        bar = self.bars.get(stage)
        if bar is None:
            for other in self.bars.values():
                other.close()
            bar = self.bars[stage] = tqdm(total=total, desc=stage, unit=_unit(stage), unit_scale=True,
                                          file=sys.stderr, leave=False)
            bar.start_t = min(bar.start_t, self.mark)    # a stage first reported at its end: a real rate
        self.mark = self.clock()
        if total != bar.total:
            bar.total = total
        if current >= bar.n:
            bar.update(current - bar.n)
        else:                               # a stage that restarted: start its rate afresh
            bar.reset(total=total)
            bar.update(current)

    def close(self):
        for bar in self.bars.values():
            bar.close()


class _LineProgress:
    """Plain lines ("merges: 16000/32000 (50%), 8123 it/s") every LINE_EVERY seconds per stage and
    when a stage completes."""

    def __init__(self, every=LINE_EVERY, clock=time.monotonic):
        self.every, self.clock = every, clock
        self.stage, self.start, self.last, self.done = None, 0.0, 0.0, False
        self.mark = clock()             # when the last report came: the earliest a new stage began

    def __call__(self, stage, current, total):
        now = self.clock()
        if stage != self.stage:
            # the stage began after the previous report: a stage reported only at its end (a small
            # job) gets its real duration, not the microseconds between two calls (issue 17)
            self.stage, self.start, self.last, self.done = stage, self.mark, now, False
        self.mark = now
        finished = total and current >= total
        if (finished and not self.done) or now - self.last >= self.every:
            self.last, self.done = now, bool(finished)
            elapsed = max(now - self.start, 1e-9)
            pct = f" ({100 * current / total:.0f}%)" if total else ""
            sys.stderr.write(f"{stage}: {_human(current, stage)}/{_human(total, stage)}{pct}, "
                             f"{_human(current / elapsed, stage)} {_unit(stage)}/s\n")

    def close(self):
        pass


def _human(x, stage):
    x = float(x)
    for suffix in ("", "k", "M", "G", "T"):
        if abs(x) < 1000 or suffix == "T":
            return f"{x:.0f}{suffix}" if suffix == "" else f"{x:.1f}{suffix}"
        x /= 1000

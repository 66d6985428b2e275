"""One progress callback, three renderings: a tqdm bar on stderr, HF-style JSON lines on stderr
(`{"stage": "merges", "current": 500, "total": 32000}`, for notebooks and logs), or nothing.
The library is silent unless a callback is passed."""
import json
import sys


def make_progress(kind):
    if kind in (None, "none", "silent"):
        return None
    if kind == "json":
        def emit(stage, current, total):
            sys.stderr.write(json.dumps({"stage": stage, "current": int(current), "total": int(total)}) + "\n")
        return emit
    if kind == "tqdm":
        return _TqdmProgress()
    raise ValueError(f"unknown progress kind {kind!r} (tqdm, json, none)")


class _TqdmProgress:
    def __init__(self):
        self.bars = {}

    def __call__(self, stage, current, total):
        from tqdm import tqdm
        bar = self.bars.get(stage)
        if bar is None:
            for other in self.bars.values():
                other.close()
            unit = "B" if stage == "count" else "it"
            bar = self.bars[stage] = tqdm(total=total, desc=stage, unit=unit, unit_scale=True,
                                          file=sys.stderr, leave=False)
        bar.total = total
        bar.n = current
        bar.refresh()

    def close(self):
        for bar in self.bars.values():
            bar.close()

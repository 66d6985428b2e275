"""One way to bound numba's parallel regions (counting, scanning, encoding)."""
import numba


class threads_limit:
    """Run numba parallel regions on at most n threads inside the block."""

    def __init__(self, n):
        self.n = max(1, min(int(n), numba.config.NUMBA_NUM_THREADS))

    def __enter__(self):
        self.previous = numba.get_num_threads()
        numba.set_num_threads(self.n)

    def __exit__(self, *exc):
        numba.set_num_threads(self.previous)

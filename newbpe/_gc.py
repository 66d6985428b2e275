"""Pausing Python's cyclic garbage collector around bulk list building.

numba leaves ~100k long-lived objects in the process; every collection that building a 32k-entry
merge or vocabulary list triggers walks them all (~40 ms per training, as much again per save).
Nothing in those steps creates reference cycles, so the collector is paused for their duration."""
import gc


class gc_paused:
    def __enter__(self):
        self.was_enabled = gc.isenabled()
        gc.disable()

    def __exit__(self, *exc):
        if self.was_enabled:
            gc.enable()

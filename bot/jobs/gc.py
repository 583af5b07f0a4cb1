"""The cyclic garbage collector paused around a job's batches (process control, not scoring)."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collector_paused() -> Iterator[None]:
    """The cyclic garbage collector off for a block that makes (almost) no reference cycles.

    With a large plan cache in memory every full collection walks millions of objects; a block
    that allocates a lot (scoring, the rows of a batch) would trigger several of them."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()

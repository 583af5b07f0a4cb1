"""A progress bar for long CLI work (import, rescore) on a terminal; nothing when stderr is not one.

rich draws it on stderr, so stdout keeps only the command's result (a pipe or a log gets no bar
and no escape codes), and it is loaded only by the commands that show one.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager


def shown() -> bool:
    """A person is watching: stderr is a terminal."""
    return sys.stderr.isatty()


@contextmanager
def progress(description: str, *, total: int | None) -> Iterator[Callable[[int], None]]:
    """`advance(n)`: n more units done of `total` (None: unknown, a spinner and a count)."""
    if not shown():
        yield lambda n: None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    columns = [SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn()]
    with Progress(
        *columns,
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=True,  # the result line stays, the bar goes
    ) as bar:
        task = bar.add_task(description, total=total)
        yield lambda n: bar.advance(task, n)

"""Progress bars (rich) for long work: replaying a long log, importing many documents.

A bar shows on standard error only when it is a terminal and the command was
not asked for `--json`; otherwise nothing is drawn and the output is exactly
what it is without a bar. `make_console` is the one place the console is made,
so a test can hand in a console of its own (rich's, forced to a terminal).
"""
from __future__ import annotations

import sys


def make_console():
    from rich.console import Console

    return Console(stderr=True)


def progress_bar(label: str, total: int, *, enabled: bool = True, minimum: int = 1):
    """A rich `Progress` with one task to advance (`bar.advance(bar.task_ids[0])`), or None
    when no bar should be drawn: not enabled (--json), fewer than `minimum` steps, or
    standard error is not a terminal. Use it as a context manager around the work."""
    if not enabled or total < minimum:
        return None
    console = make_console()
    if not console.is_terminal:
        return None
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    # Lines the command prints while the bar is up go above it: what goes to stderr
    # always (the bar's own stream), what goes to stdout only when stdout is the
    # terminal too, so that a pipe still receives every line it would without a bar.
    bar = Progress(TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                   console=console, transient=True,
                   redirect_stdout=sys.stdout.isatty(), redirect_stderr=True)
    bar.add_task(label, total=total)
    return bar


def advance(bar) -> None:
    if bar is not None:
        bar.advance(bar.task_ids[0])

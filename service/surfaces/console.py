"""Terminal output of the command line: progress bars on a terminal, one flushed line per step in pipes and logs.

On a terminal, a rich progress bar per stage. Anywhere else (a pipe, ``make``, a log file, CI), nothing is
redrawn or wrapped: each stage prints a line when it starts and ends, ``analyse`` and ``fetch`` every tenth of
their work (every fork with ``--verbose``), and a model run names each fork it writes for, all with the elapsed
time, flushed at once so a log shows where a long run is.
"""

from __future__ import annotations

import sys
import threading
import time
from contextlib import AbstractContextManager, nullcontext
from typing import IO, TYPE_CHECKING, Any, cast

if TYPE_CHECKING:  # rich loads when something is printed: a quiet run that prints only its report never needs it
    from rich.console import Console
    from rich.progress import TaskID

WIDE = 10_000
"""Width for consoles that are not terminals: tables and lines are never wrapped."""


def make_console(stderr: bool = False) -> Console:
    """A console that wraps to the terminal, or never wraps when the output is not a terminal."""
    from rich.console import Console

    probe = Console(stderr=stderr)
    if probe.is_terminal:
        return probe
    return Console(stderr=stderr, width=WIDE, soft_wrap=True, highlight=False)


class _Deferred:
    """A console made on first use (see :func:`deferred_console`)."""

    def __init__(self, stderr: bool):
        self._stderr = stderr
        self._console: Console | None = None

    def __getattr__(self, name: str) -> Any:
        if self._console is None:
            self._console = make_console(self._stderr)
        return getattr(self._console, name)


def deferred_console(stderr: bool = False) -> Console:
    """:func:`make_console`, made when first used: a command that never prints to it never imports rich (~25 ms of
    a warm ``summarize -q``'s start-up, issue 24)."""
    return cast("Console", _Deferred(stderr))


class Bars:
    """One progress bar per stage, fed from worker threads (terminals)."""

    def __init__(self, console: Console):
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.progress = Progress(
            TextColumn("{task.description:<8}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.fields[detail]}"),
            console=console,
            transient=False,
        )
        self.tasks: dict[str, TaskID] = {}

    def __call__(self, stage: str, event: str, total: int | None, detail: str | None = None) -> None:
        if event == "start":
            self.tasks[stage] = self.progress.add_task(stage, total=total or 0, detail=detail or "")
        elif event == "advance" and stage in self.tasks:
            self.progress.advance(self.tasks[stage])
            if detail:
                self.progress.update(self.tasks[stage], detail=detail)
        elif event == "done" and stage in self.tasks:
            t = self.progress.tasks[self.tasks[stage]]
            self.progress.update(self.tasks[stage], completed=t.total, detail="")


class Lines:
    """Progress as plain lines (pipes and logs): ``[  12.3s] analyse 30/120``."""

    def __init__(self, stream: IO[str] | None = None, verbose: bool = False):
        self.stream = stream or sys.stderr
        self.verbose = verbose
        self.t0 = time.monotonic()
        self.totals: dict[str, int | None] = {}
        self.done: dict[str, int] = {}
        self.started: dict[str, float] = {}
        self._lock = threading.Lock()

    def _say(self, text: str) -> None:
        self.stream.write(f"[{time.monotonic() - self.t0:7.1f}s] {text}\n")
        self.stream.flush()

    def __call__(self, stage: str, event: str, total: int | None, detail: str | None = None) -> None:
        with self._lock:
            if event == "start":
                self.totals[stage], self.done[stage], self.started[stage] = total, 0, time.monotonic()
                self._say(
                    f"{stage} started"
                    + (f": {total} to do" if total is not None else "")
                    + (f" ({detail})" if detail else "")
                )
            elif event == "advance":
                n = self.done[stage] = self.done.get(stage, 0) + 1
                total = self.totals.get(stage)
                step = max(1, (total or 0) // 10)
                if detail or self.verbose or n % step == 0 or n == total:
                    of = f"/{total}" if total else ""
                    self._say(f"{stage} {n}{of}" + (f" {detail}" if detail else ""))
            elif event == "done":
                took = time.monotonic() - self.started.get(stage, self.t0)
                n = self.done.get(stage, 0)
                self._say(f"{stage} done" + (f": {n} in {took:.1f}s" if n else f" in {took:.1f}s"))


def progress_for(
    console: Console, *, quiet: bool, verbose: bool = False
) -> tuple[Bars | Lines | None, AbstractContextManager]:
    """The progress reporter for this output (None when quiet) and the context it runs in."""
    if quiet:
        return None, nullcontext()
    if console.is_terminal:
        bars = Bars(console)
        return bars, bars.progress
    return Lines(console.file, verbose=verbose), nullcontext()

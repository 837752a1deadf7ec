"""How the product's log lines look: one line each, plain text, no tracebacks.

A runner reads these on a terminal, in a pipe or in the journal, so every problem is one
line naming what went wrong. The Bluetooth stack beneath (Bumble) logs its own view of what
our code already reports in the runner's words (a sensor lost, a transport gone), in colour
and with tracebacks: it is heard only with -v. An error escaping a callback on the event
loop is one line too, never the loop's traceback: every loop is run by `run`.
"""

from __future__ import annotations

import asyncio
import logging
import re
import sys
import traceback
from collections.abc import Coroutine
from typing import Any, TypeVar

ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")  # colour and cursor codes
QUIET_BELOW = {"bumble": logging.CRITICAL}  # below -v, what these libraries say is not shown

log = logging.getLogger("companion")
T = TypeVar("T")


class OneLine(logging.Formatter):
    """`companion: LEVEL: message`, with an exception as its type and text, no colour codes.
    `verbose` keeps tracebacks, for a report of a bug."""

    def __init__(self, verbose: bool = False):
        super().__init__()
        self.verbose = verbose

    def text(self, record: logging.LogRecord) -> str:
        """The record's message, with its exception if any, as plain text."""
        text = ANSI.sub("", record.getMessage()).strip()
        if record.exc_info and record.exc_info[1] is not None:
            err = record.exc_info[1]
            text = f"{text.rstrip(':')}: {type(err).__name__}: {ANSI.sub('', str(err))}"
            if self.verbose:
                text += "\n" + "".join(traceback.format_exception(*record.exc_info)).rstrip()
        return text

    def format(self, record: logging.LogRecord) -> str:
        return f"companion: {record.levelname}: {self.text(record)}"


def _loop_error(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """An exception no task or callback of ours caught: one line, in the log of whoever
    raised it (a Bumble callback's goes to Bumble's log)."""
    err = context.get("exception")
    where = "companion"
    if err is not None and err.__traceback__ is not None:
        frames = traceback.extract_tb(err.__traceback__)
        if frames and "bumble" in frames[-1].filename:
            where = "bumble"
    logging.getLogger(where).error(
        "%s", context.get("message", "error on the event loop"), exc_info=err
    )


def run(main: Coroutine[Any, Any, T]) -> T:
    """`asyncio.run(main)`, on a loop that reports stray errors in one line: the one way
    the product runs its event loop."""
    with asyncio.Runner() as runner:
        runner.get_loop().set_exception_handler(_loop_error)
        return runner.run(main)


def setup(verbose: bool = False) -> None:
    """Log to stderr in single plain lines: warnings and up, or everything with `verbose`."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(OneLine(verbose))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO if verbose else logging.WARNING)
    for name, level in QUIET_BELOW.items():
        logging.getLogger(name).setLevel(logging.INFO if verbose else level)

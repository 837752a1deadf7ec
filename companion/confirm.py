"""The one way the product asks the runner a yes-or-no question: on the terminal, "[y/N]"."""

from __future__ import annotations

import sys


class NotConfirmed(Exception):
    """Not done: the runner said no, or there was no terminal to ask on (said in one line)."""


def confirm(question: str, *, unasked: str, declined: str) -> None:
    """Ask `question` on the terminal and return on "y" or "yes"; anything else, an empty
    line or end of input raises NotConfirmed(`declined`). Without a terminal (a pipe, a
    script, CI) nothing is asked and NotConfirmed(`unasked`) is raised: that message names
    the option that does it without asking. An answer from a pipe is never taken: a
    stray `yes |` or a script's leftover input would then destroy what the question
    protects, which only an option written out on the command line may do."""
    if not sys.stdin.isatty():
        raise NotConfirmed(unasked)
    sys.stderr.write(f"{question} [y/N] ")  # stderr: seen even when stdout is redirected
    sys.stderr.flush()
    answer = sys.stdin.readline()
    if not answer.endswith("\n"):
        sys.stderr.write("\n")  # Ctrl-D: end the question's line
    if answer.strip().lower() not in ("y", "yes"):
        raise NotConfirmed(declined)

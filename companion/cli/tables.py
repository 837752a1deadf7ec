"""Tables that cut nothing a runner types or reads, whatever the terminal's width.

What a runner types or reads (ids, names, dates, run numbers, the numbers themselves)
stays whole, on one line; text wraps between its words. The widths are worked out here,
not left to rich, which squeezes columns below their longest word and then cuts them
("hip-mobility-stre…"). When even the least that fits is too wide (80 columns, a
phone's terminal), the least needed columns are left out, and the table says which.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rich.cells import cell_len
from rich.console import Console
from rich.measure import Measurement
from rich.table import Table


@dataclass(frozen=True)
class Column:
    header: str
    whole: bool = True  # kept on one line; False: text, wrapped between its words
    right: bool = False  # numbers: aligned on the right
    keep: int = 0  # 0: always shown; else left out when it does not fit, lowest first


def _span(column: Column, cells: Sequence[str]) -> tuple[int, int]:
    """The least and the most width the column's text takes."""
    texts = [column.header, *cells]
    lines = [line for text in texts for line in text.splitlines()] or [""]
    most = max(cell_len(line) for line in lines)
    if column.whole:
        return most, most
    words = [word for line in lines for word in line.split()] or [""]
    return max(cell_len(word) for word in words), most


def _table(
    columns: Sequence[Column],
    widths: Sequence[int | None],
    rows: Sequence[Sequence[str]],
    footer: Sequence[Sequence[str]],
    options: dict[str, Any],
) -> Table:
    table = Table(**options)
    for column, width in zip(columns, widths, strict=True):
        table.add_column(
            column.header,
            justify="right" if column.right else "left",
            no_wrap=column.whole,
            overflow="fold",  # never "…"; the widths leave nothing to fold but a long word
            width=width,
        )
    for row in rows:
        table.add_row(*row)
    if footer:
        table.add_section()
        for row in footer:
            table.add_row(*row, style="bold")
    return table


def _laid_out(
    console: Console,
    columns: Sequence[Column],
    rows: Sequence[Sequence[str]],
    footer: Sequence[Sequence[str]],
    options: dict[str, Any],
) -> Table | None:
    """The table with widths that cut nothing, or None if even the least is too wide."""
    spans = [_span(c, [row[i] for row in (*rows, *footer)]) for i, c in enumerate(columns)]
    probe = _table(columns, [1] * len(columns), (), (), options)  # its borders and padding
    room = console.width - (Measurement.get(console, console.options, probe).maximum - len(columns))
    least = sum(lo for lo, _ in spans)
    if least > room:
        return None
    widths = [lo for lo, _ in spans]
    spare = room - least
    wants = [hi - lo for lo, hi in spans]
    while spare > 0 and any(wants):  # the room left, to the text columns that want more
        share = max(1, spare // sum(1 for w in wants if w))
        for i, want in enumerate(wants):
            give = min(want, share, spare)
            widths[i] += give
            wants[i] -= give
            spare -= give
    return _table(columns, widths, rows, footer, options)


def fitted(
    console: Console,
    columns: Sequence[Column],
    rows: Sequence[Sequence[str]],
    **options: Any,
) -> Table:
    """A table of `rows` (one text per column) that fits `console` with nothing cut:
    columns that may be left out are, lowest `keep` first, until it fits; a caption says
    which."""
    shown = list(range(len(columns)))
    droppable = sorted((i for i, c in enumerate(columns) if c.keep), key=lambda i: columns[i].keep)
    left_out: list[str] = []
    while True:
        caption = f"(for want of width, not shown: {', '.join(left_out)})" if left_out else None
        kept = [columns[i] for i in shown]
        cells = [[row[i] for i in shown] for row in rows]
        table = _laid_out(console, kept, cells, (), {**options, "caption": caption})
        if table is not None:
            return table
        if not droppable:  # too narrow for even the ids: as rich lays it out
            return _table(kept, [None] * len(kept), cells, (), options)
        i = droppable.pop(0)
        shown.remove(i)
        left_out.append(columns[i].header.replace("\n", " "))


def in_parts(
    console: Console,
    first: Sequence[Column],
    rest: Sequence[Column],
    rows: Sequence[Sequence[str]],
    footer: Sequence[Sequence[str]] = (),
    **options: Any,
) -> list[Table]:
    """Tables of `rows` (and a bold `footer` below a line) that each fit `console`: the
    `first` columns in every one, the `rest` shared out among them in order, as many to a
    table as fit. The title comes with the first."""
    lead = len(first)

    def part(start: int, end: int) -> Table | None:
        def cut(lines: Sequence[Sequence[str]]) -> list[list[str]]:
            return [[*row[:lead], *row[lead + start : lead + end]] for row in lines]

        return _laid_out(console, [*first, *rest[start:end]], cut(rows), cut(footer), options)

    tables: list[Table] = []
    start = 0
    while start < len(rest) or not tables:
        end = start + 1
        while end < len(rest) and part(start, end + 1) is not None:
            end += 1
        end = min(end, len(rest))
        table = part(start, end)
        if table is None:  # one column too many for the terminal: as rich lays it out
            cells = [[*row[:lead], *row[lead + start : lead + end]] for row in rows]
            table = _table(
                [*first, *rest[start:end]], [None] * (lead + end - start), cells, (), options
            )
        tables.append(table)
        options = {k: v for k, v in options.items() if k != "title"}
        start = end
    return tables

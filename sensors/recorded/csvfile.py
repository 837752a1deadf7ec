"""A CSV file of numbers read whole: its text, its header and the columns asked for.

Everything that can be wrong with the file itself (missing, empty, binary, not UTF-8, not
comma-separated, a cell that is not a number) is a `RecordingError` naming the file and
where in it: the byte offset, or the line and the column.
"""

from __future__ import annotations

import csv
import gzip
import io
import lzma
import warnings
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sensors.samples import FloatArray

_MAX_LISTED = 12  # columns named in a message before "…"
_PACKED = {  # what a file holds when it starts so
    b"\x1f\x8b": "gzip-compressed (name it .csv.gz)",
    b"\xfd7zXZ\x00": "xz-compressed (name it .csv.xz)",
    b"PK\x03\x04": "a zip archive (a spreadsheet? save it as CSV)",
}


class RecordingError(ValueError):
    """A recording file that cannot be read, with the file and what is wrong in it."""

    def __init__(self, path: Path | str, problem: str):
        super().__init__(f"{path}: {problem}")
        self.path = Path(path)
        self.problem = problem


def _read_bytes(path: Path) -> bytes:
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as fh:
                return fh.read()
        if path.suffix == ".xz":
            with lzma.open(path, "rb") as fh:
                return fh.read()
        return path.read_bytes()
    except gzip.BadGzipFile:
        problem = "it is named .gz but is not gzip-compressed"
    except (EOFError, zlib.error, lzma.LZMAError):
        problem = f"its {path.suffix[1:]}-compressed data is cut short or damaged"
    except OSError as err:
        problem = (err.strerror or str(err)).lower()
    raise RecordingError(path, f"cannot read the file: {problem}")


def read_text(path: Path) -> str:
    """The file's text (decompressed), with its newlines made plain ``\\n``."""
    data = _read_bytes(path)
    where = " of its uncompressed data" if path.suffix in (".gz", ".xz") else ""
    if not data.strip():
        raise RecordingError(path, "the file is empty")
    for magic, what in _PACKED.items():
        if data.startswith(magic):
            raise RecordingError(path, f"not a CSV text file: it is {what}")
    bad = data.find(b"\0")  # no text file holds a NUL
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        bad = err.start if bad < 0 else min(bad, err.start)
    if bad >= 0:
        raise RecordingError(
            path, f"not a CSV text file: byte {bad}{where} (0x{data[bad]:02x}) is not UTF-8 text"
        )
    return text.replace("\r\n", "\n").replace("\r", "\n")


def listed(names: list[str]) -> str:
    """Column names for a message, the first dozen of them."""
    shown = ", ".join(names[:_MAX_LISTED])
    return shown + (", …" if len(names) > _MAX_LISTED else "") if names else "none"


def _number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class CsvTable:
    """A CSV file's text and header; `read` gives its columns as numbers."""

    path: Path
    text: str
    header: list[str]

    @classmethod
    def open(cls, path: Path, example: str) -> CsvTable:
        """Read `path`; `example` is a header line of the layout expected, for messages."""
        text = read_text(path)
        first = text.split("\n", 1)[0]
        header = [h.strip() for h in next(csv.reader([first]), [])]
        if len(header) < 2:
            for sep, name in ((";", "semicolons"), ("\t", "tabs")):
                if sep in first:
                    raise RecordingError(
                        path, f"its columns are separated by {name}: a CSV file uses commas"
                    )
            raise RecordingError(
                path, f"not a CSV file: its first line is not a header like {example!r}"
            )
        if all(_number(h) for h in header if h):
            raise RecordingError(
                path, f"its first line holds numbers: a header like {example!r} must come first"
            )
        return cls(path, text, header)

    def find(self, name: str) -> str | None:
        """The header's spelling of column `name`: exact, else the one that differs only
        in case."""
        if name in self.header:
            return name
        same = [h for h in self.header if h.lower() == name.lower()]
        return same[0] if len(same) == 1 else None

    def line_of(self, row: int) -> int:
        """The line of the file (1 = the header) that holds data row `row` (0 = the first);
        blank lines hold no row."""
        seen = -1
        for line, text in enumerate(self.text.split("\n")[1:], start=2):
            if text.strip():
                seen += 1
                if seen == row:
                    return line
        return 0

    def read(self, names: list[str]) -> dict[str, FloatArray]:
        """The columns `names` as float arrays, one value a row; an empty cell is NaN."""
        cols = [self.header.index(n) for n in names]
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)  # "no data": said by the caller
                data = np.loadtxt(
                    io.StringIO(self.text),
                    delimiter=",",
                    skiprows=1,
                    usecols=cols,
                    ndmin=2,
                    comments=None,
                    dtype=np.float64,
                )
        except ValueError:  # empty cells, quotes, short rows: row by row, naming what is wrong
            data = self._read_slowly(cols)
        return {name: data[:, i] for i, name in enumerate(names)}

    def _read_slowly(self, cols: list[int]) -> FloatArray:
        rows: list[list[float]] = []
        lines = self.text.split("\n")
        for line, row in enumerate(csv.reader(lines[1:]), start=2):
            if not any(cell.strip() for cell in row):
                continue
            values = []
            for c in cols:
                cell = row[c].strip() if c < len(row) else ""
                try:
                    values.append(float(cell) if cell else np.nan)
                except ValueError:
                    raise RecordingError(
                        self.path,
                        f"line {line}, column {self.header[c]!r}: {cell!r} is not a number",
                    ) from None
            rows.append(values)
        return np.array(rows, dtype=np.float64).reshape(-1, len(cols))

"""The one error a decoder raises."""

from __future__ import annotations


class DecodeError(ValueError):
    """A payload that does not hold what its characteristic promises."""

    def __init__(self, what: str, data: bytes, problem: str):
        super().__init__(f"{what}: {problem} (payload {data.hex(' ') or 'empty'})")
        self.what = what
        self.data = bytes(data)
        self.problem = problem


def need(what: str, data: bytes, size: int, field: str) -> None:
    """Raise unless `data` holds at least `size` bytes, naming the missing field."""
    if len(data) < size:
        raise DecodeError(what, data, f"too short for {field}: {len(data)} of {size} bytes")

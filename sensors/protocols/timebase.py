"""Putting a sensor's own sample clock on the run clock.

A sensor stamps its samples with a steady clock of its own that starts anywhere (and may
wrap); packets reach us on the run clock, late by a varying radio and scheduling delay. A
sample cannot arrive before it was taken, so the smallest gap between arrival and device
time seen lately is the best estimate of the offset between the two clocks: it follows the
device clock's slow drift and ignores delays. Sample spacing then comes from the device,
not from when packets happened to arrive.

A device clock that jumps (a Polar H10 resets its clock about a minute after it leaves the
strap, and a phone may set it) is told apart from a delay: device time and arrival time
then disagree about the time between two packets by more than `jump_s`. The offsets seen
before no longer hold, and the clock starts afresh from the packet that jumped.
"""

from __future__ import annotations

from collections import deque


class DeviceClock:
    def __init__(
        self,
        ticks_per_s: float,
        wrap_ticks: int | None = None,
        window_s: float = 60.0,
        jump_s: float = 5.0,
    ):
        self.ticks_per_s = ticks_per_s
        self.wrap_ticks = wrap_ticks
        self.window_s = window_s
        self.jump_s = jump_s
        self.jumps = 0  # how often the device clock jumped
        self._last_raw: int | None = None
        self._unwrapped = 0
        self._offsets: deque[tuple[float, float]] = deque()  # (arrival, offset)
        self._last: tuple[float, float] | None = None  # (device, arrival) of the last packet

    def unwrap(self, raw: int) -> int:
        """Device ticks counted from the first frame seen, across wraps."""
        if self._last_raw is None:
            self._last_raw, self._unwrapped = raw, raw
            return raw
        step = raw - self._last_raw
        if self.wrap_ticks is not None and step < -self.wrap_ticks // 2:
            step += self.wrap_ticks
        self._last_raw = raw
        self._unwrapped += step
        return self._unwrapped

    def seconds(self, raw: int) -> float:
        return self.unwrap(raw) / self.ticks_per_s

    def place(self, device_s: float, arrival_s: float) -> float:
        """The run-clock offset to add to device seconds, given a sample that arrived at
        `arrival_s`: the smallest arrival-minus-device gap within the last `window_s`."""
        last, self._last = self._last, (device_s, arrival_s)
        if last is not None and abs((device_s - last[0]) - (arrival_s - last[1])) > self.jump_s:
            self.jumps += 1
            self._offsets.clear()
        offset = arrival_s - device_s
        while self._offsets and self._offsets[-1][1] >= offset:
            self._offsets.pop()  # a later, smaller gap makes older larger ones irrelevant
        self._offsets.append((arrival_s, offset))
        while self._offsets[0][0] < arrival_s - self.window_s:
            self._offsets.popleft()
        return self._offsets[0][1]

    def reset(self) -> None:
        """The sensor reconnected: its clock may have restarted."""
        self._last_raw = None
        self._last = None
        self._offsets.clear()

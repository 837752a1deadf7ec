"""A coached run: a sensor source through the engine, cues rendered and played, events shown.

The only asynchronous part. Samples come from the source on the event loop; speech
rendering and audio playback run on their own threads behind futures and queues.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Protocol

from companion.coaching.events import CueSpoken, Event, MetronomeTicks, Summary
from companion.coaching.summary import RunStats, spoken_summary
from cues.speaker import Speaker
from sensors.clock import Clock
from sensors.source import SensorSource

if TYPE_CHECKING:
    from companion.coaching.engine import RunEngine
    from companion.form.record import RunInfo

log = logging.getLogger(__name__)

AHEAD_EVERY_S = 10.0  # of running: how often the words coming up are rendered ahead


class Frontend(Protocol):
    """Something that shows the run: the terminal timeline, JSON lines, later the daemon."""

    def show(self, event: Event) -> None: ...


class Session:
    """One coached run: what the engine says is shown on every frontend and spoken.

    `hold_for_speech` is for replays faster than real time: the run waits while a cue is
    heard, so that what is shown and what is said stay together. A live run never waits.
    The daemon also acts on a running session from outside (a pause asked for, a
    check-in on schedule): it passes what the engine answered to `handle`.
    """

    def __init__(
        self,
        engine: RunEngine,
        speaker: Speaker,
        frontends: Sequence[Frontend],
        markers: Iterable[Event] = (),
        hold_for_speech: bool = False,
        speak_summary: bool = True,
        earlier: Sequence[RunInfo] = (),
    ):
        self.engine = engine
        self.earlier = earlier  # the runs before, which the summary compares this one with
        self.speaker = speaker
        self.frontends = list(frontends)
        self.hold_for_speech = hold_for_speech
        self.speak_summary = speak_summary
        self._markers = sorted(markers, key=lambda e: e.t)
        self._clock: Clock | None = None
        self._ahead_at = 0.0
        self._ahead: set[str] = set()

    def now(self) -> float:
        """The run's time: a live run's clock, or how far a replay has got (a replay that
        holds still while a cue is heard is not moved on by the wall clock meanwhile)."""
        return self._clock.now() if self._clock is not None else self.engine.now

    def _show(self, event: Event) -> None:
        while self._markers and self._markers[0].t <= event.t:
            marker = self._markers.pop(0)
            for f in self.frontends:
                f.show(marker)
        for f in self.frontends:
            f.show(event)

    async def handle(self, events: list[Event]) -> None:
        """Show `events`, speaking the cues and playing the ticks among them."""
        for event in events:
            if isinstance(event, CueSpoken):
                audio = await self.speaker.say(event.text, event.id, event.t)
                self._show(replace(event, audio=str(audio) if audio else None))
                if self.hold_for_speech:
                    await self.speaker.heard()
            elif isinstance(event, MetronomeTicks):
                ticks = self.speaker.ticks(event.spm, event.beats, event.t)
                self._show(replace(event, audio=str(ticks) if ticks else None))
            else:
                self._show(event)
        self._render_ahead()

    def _render_ahead(self) -> None:
        """The words the engine expects to say soon (a split's, the heart rate's), rendered
        now in the background: an announcement never waits on rendering."""
        if self.engine.running_s < self._ahead_at:
            return
        self._ahead_at = self.engine.running_s + AHEAD_EVERY_S
        new = [text for text in self.engine.upcoming() if text not in self._ahead]
        self._ahead.update(new)
        self.speaker.renderer.prepare(new)

    async def run(
        self,
        source: SensorSource,
        stop: asyncio.Event | None = None,
        clock: Clock | None = None,
    ) -> tuple[RunStats, Summary]:
        """Coach from `source` until it ends or `stop` is set. Given the run's `clock`, the
        coach also gets to speak while no samples come (a sensor lost)."""
        engine = self.engine
        self._clock = clock

        async def consume() -> None:
            async for sample in source.stream():
                await self.handle(engine.feed(sample))

        async def tick() -> None:
            assert clock is not None
            while True:
                await asyncio.sleep(1.0)
                await self.handle(engine.coach_tick(clock.now()))

        await self.handle(engine.start(clock.now() if clock else 0.0))
        reader = asyncio.create_task(consume())
        stopper = asyncio.create_task(stop.wait()) if stop is not None else None
        ticker = asyncio.create_task(tick()) if clock is not None else None
        helpers = [t for t in (stopper, ticker) if t is not None]
        await asyncio.wait(
            [reader] + ([stopper] if stopper else []), return_when=asyncio.FIRST_COMPLETED
        )
        for task in (reader, *helpers):
            task.cancel()
        await asyncio.gather(reader, *helpers, return_exceptions=True)
        failure = reader.exception() if reader.done() and not reader.cancelled() else None
        if failure is not None:
            raise failure
        end_events, stats = engine.finish(clock.now() if clock else None)
        await self.handle(end_events)
        text = spoken_summary(stats, self.earlier)
        audio = (
            await self.speaker.say(text, "summary", stats.duration_s, priority=100)
            if self.speak_summary
            else None
        )
        summary = Summary(
            t=stats.duration_s,
            text=text,
            stats=stats.to_dict(),
            audio=str(audio) if audio else None,
        )
        self._show(summary)
        return stats, summary


async def run_session(
    source: SensorSource,
    engine: RunEngine,
    speaker: Speaker,
    frontends: Sequence[Frontend],
    markers: Iterable[Event] = (),
    hold_for_speech: bool = False,
    stop: asyncio.Event | None = None,
    clock: Clock | None = None,
) -> tuple[RunStats, Summary]:
    """Coach one run from `source` until it ends or `stop` is set (see `Session`)."""
    session = Session(engine, speaker, frontends, markers, hold_for_speech)
    return await session.run(source, stop, clock)

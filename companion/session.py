"""A coached run: a sensor source through the engine, cues rendered and played, events shown.

The only asynchronous part. Samples come from the source on the event loop; speech
rendering and audio playback run on their own threads behind futures and queues.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Protocol

from companion.engine import RunEngine
from companion.events import CueSpoken, Event, MetronomeTicks, Summary
from companion.summary import RunStats, summary_text
from cues.audio import AudioSink, Clip
from cues.earcons import earcon_file, metronome_file
from cues.speech import SpeechError, SpeechRenderer
from sensors.clock import Clock
from sensors.source import SensorSource

log = logging.getLogger(__name__)


class Frontend(Protocol):
    """Something that shows the run: the terminal timeline, JSON lines, later the daemon."""

    def show(self, event: Event) -> None: ...


class Speaker:
    """Turns text into sound: the cached rendering, then the audio sink."""

    def __init__(self, renderer: SpeechRenderer, sink: AudioSink):
        self.renderer = renderer
        self.sink = sink
        self.failed: str | None = None

    async def say(self, text: str, label: str, t: float, priority: int = 50) -> Path | None:
        """Queue `text` to be heard; the rendered file, or None if speech is broken (then
        the attention chime is heard in its place, so the runner still knows)."""
        try:
            path = await asyncio.wrap_future(self.renderer.render(text))
        except SpeechError as err:
            if self.failed is None:  # say it once, then carry on with chimes
                self.failed = str(err)
                log.error("speech failed, cues will be shown and chimed: %s", err)
            try:
                chime = earcon_file("attention", self.renderer.cache_dir)
            except OSError:
                return None  # the cache cannot be written either: shown only
            self.sink.play(Clip(path=chime, label=f"{label}-chime", t=t, priority=priority))
            return None
        self.sink.play(Clip(path=path, label=label, t=t, priority=priority))
        return path

    def ticks(self, spm: float, beats: int, t: float) -> Path | None:
        """Queue `beats` metronome ticks at `spm`, after whatever is being said."""
        try:
            path = metronome_file(spm, beats, self.renderer.cache_dir)
        except OSError:
            return None
        self.sink.play(Clip(path=path, label="metronome", t=t, priority=0))
        return path

    async def heard(self) -> None:
        """Return once everything queued has been played."""
        while self.sink.pending():
            await asyncio.sleep(0.05)


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
    """Coach one run from `source` until it ends or `stop` is set; `markers` are extra
    timed events to show.

    `hold_for_speech` is for replays faster than real time: the run waits while a cue is
    heard, so that what is shown and what is said stay together. A live run never waits;
    given its `clock`, the coach also gets to speak while no samples come (a sensor lost).
    """
    pending = sorted(markers, key=lambda e: e.t)

    def show(event: Event) -> None:
        while pending and pending[0].t <= event.t:
            for f in frontends:
                f.show(pending[0])
            pending.pop(0)
        for f in frontends:
            f.show(event)

    async def handle(events: list[Event]) -> None:
        for event in events:
            if isinstance(event, CueSpoken):
                audio = await speaker.say(event.text, event.id, event.t)
                event = replace(event, audio=str(audio) if audio else None)
                show(event)
                if hold_for_speech:
                    await speaker.heard()
                continue
            if isinstance(event, MetronomeTicks):
                ticks = speaker.ticks(event.spm, event.beats, event.t)
                show(replace(event, audio=str(ticks) if ticks else None))
                continue
            show(event)

    async def consume() -> None:
        async for sample in source.stream():
            await handle(engine.feed(sample))

    async def tick() -> None:
        assert clock is not None
        while True:
            await asyncio.sleep(1.0)
            await handle(engine.coach_tick(clock.now()))

    await handle(engine.start(clock.now() if clock else 0.0))
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
    await handle(end_events)
    text = summary_text(stats)
    audio = await speaker.say(text, "summary", stats.duration_s, priority=100)
    summary = Summary(
        t=stats.duration_s, text=text, stats=stats.to_dict(), audio=str(audio) if audio else None
    )
    show(summary)
    return stats, summary

"""Drill sessions out loud: played mark by mark through the speaker, or written to one file.

`timed` renders every phrase first, so the timeline is built on how long each one really
takes to say and its total length is known before the first word. `DrillPlayer` walks the
timeline on the event loop and hands each mark to the speaker at its second; the runner
can pause, resume, skip a step, go back, or repeat one. `write_session` lays the whole
session into one WAV, OGG or MP3 file to take on a phone.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable

import numpy as np
import soundfile
from scipy import signal

from companion.coaching.coach import estimate_duration
from companion.drills.timeline import Mark, Timeline, build_timeline
from companion.outputs import OutputError, Target, writing
from cues.audio import Clip
from cues.drills import Session
from cues.earcons import RATE, earcon_file
from cues.speaker import Speaker
from cues.speech import SpeechRenderer
from cues.wavfile import read_wav

FORMATS = {".wav": "WAV", ".ogg": "OGG", ".mp3": "MP3", ".flac": "FLAC"}
WRITE_BLOCK = 1 << 15  # samples written to a sound file at a time
BACK_WITHIN_S = 5.0  # "back" this soon into a step goes to the step before


def timed(session: Session, renderer: SpeechRenderer) -> Timeline:
    """The session's timeline on its phrases as rendered (blocking: call off the loop)."""
    draft = build_timeline(session)
    renderer.render_all(m.what for m in draft.marks if m.kind == "say")

    def duration_of(text: str) -> float:
        return renderer.duration(text) or estimate_duration(text)

    return build_timeline(session, duration_of)


class DrillPlayer:
    """One session being played. Its position is session seconds; pausing stops it."""

    def __init__(
        self,
        timeline: Timeline,
        speaker: Speaker,
        speed: float = 1.0,  # session seconds per second: faster for a quick listen, or tests
        monotonic: Callable[[], float] = time.monotonic,
    ):
        self.timeline = timeline
        self.speaker = speaker
        self.speed = speed
        self._monotonic = monotonic
        self._at = 0.0  # session seconds when the clock was last anchored
        self._since: float | None = None  # wall time of that anchor; None while paused
        self._moved = asyncio.Event()  # a pause, a resume or a jump: look again
        self._jumped_to: float | None = None  # where a skip, back or repeat went
        self.finished = False

    # Where we are ---------------------------------------------------------------------

    @property
    def paused(self) -> bool:
        return self._since is None and not self.finished

    def position(self) -> float:
        if self._since is None:
            return self._at
        return self._at + (self._monotonic() - self._since) * self.speed

    def step(self) -> int:
        return self.timeline.step_at(self.position())

    # The runner's controls ------------------------------------------------------------

    def pause(self) -> None:
        self._at, self._since = self.position(), None
        self._moved.set()

    def resume(self) -> None:
        if self._since is None:
            self._since = self._monotonic()
            self._moved.set()

    def _jump(self, step: int) -> None:
        starts = self.timeline.step_starts
        if step >= len(starts):  # past the last step: its closing words
            ending = (m.t for m in self.timeline.marks if m.step >= len(starts))
            self._at = next(ending, self.timeline.total_s)
        else:
            self._at = starts[max(0, step)]
        if self._since is not None:
            self._since = self._monotonic()
        self._jumped_to = self._at
        self._moved.set()

    def skip(self) -> None:
        self._jump(self.step() + 1)

    def back(self) -> None:
        now, step = self.position(), self.step()
        starts = self.timeline.step_starts
        into = now - starts[step] if step >= 0 else 0.0
        self._jump(step - 1 if into < BACK_WITHIN_S else step)

    def repeat(self) -> None:
        self._jump(max(0, self.step()))

    # Playing --------------------------------------------------------------------------

    async def play(self) -> None:
        """Say the session from the start (or where it was put) to its end."""
        if self._since is None:
            self._since = self._monotonic()
        marks = self.timeline.marks
        i = 0
        while i < len(marks):
            self._moved.clear()
            now = self.position()
            if self._jumped_to is not None:  # carry on from the first mark there
                to, self._jumped_to = self._jumped_to, None
                i = next((k for k, m in enumerate(marks) if m.t >= to - 1e-6), len(marks))
                continue
            wait = None if self.paused else marks[i].t - now
            if wait is None or wait > 0:
                with contextlib.suppress(TimeoutError):  # the mark's time, or a control
                    await asyncio.wait_for(
                        self._moved.wait(), None if wait is None else wait / self.speed
                    )
                continue
            await self._sound(marks[i])
            i += 1
        self.finished = True
        await self.speaker.heard()

    async def _sound(self, mark: Mark) -> None:
        if mark.kind == "say":
            await self.speaker.say(mark.what, f"drill-{mark.label}", mark.t, priority=70)
        else:
            renderer = self.speaker.renderer
            chime = earcon_file(mark.what, renderer.cache_dir, renderer.voice.loudness)
            self.speaker.sink.play(Clip(path=chime, label=mark.label, t=mark.t, priority=70))


def write_session(timeline: Timeline, renderer: SpeechRenderer, target: Target) -> float:
    """The whole session as one sound file (its format from the suffix) by the rule of
    companion/outputs.py; its seconds."""
    kind = FORMATS.get(target.path.suffix.lower())
    if kind is None:
        raise ValueError(f"{target.path}: write .wav, .ogg, .mp3 or .flac")
    audio = np.zeros(int((timeline.total_s + 0.5) * RATE), dtype=np.float32)
    for mark in timeline.marks:
        if mark.kind == "say":
            path = renderer.render(mark.what).result(timeout=60)
        else:
            path = earcon_file(mark.what, renderer.cache_dir, renderer.voice.loudness)
        data, rate = read_wav(path)
        if rate != RATE:
            data = signal.resample_poly(data, RATE, rate).astype(np.float32)
        start = int(mark.t * RATE)
        end = min(len(audio), start + len(data))
        audio[start:end] += data[: end - start]
    np.clip(audio, -1.0, 1.0, out=audio)
    # In blocks: libsndfile's Vorbis encoder overflows its stack on one long write
    # (python-soundfile issues 233 and 396; measured here: a segfault at five minutes).
    with writing(target) as f:
        try:
            with soundfile.SoundFile(f, "w", RATE, 1, format=kind) as sound:
                for start in range(0, len(audio), WRITE_BLOCK):
                    sound.write(audio[start : start + WRITE_BLOCK])
        except soundfile.SoundFileRuntimeError as err:  # a full disk, as libsndfile says it
            raise OutputError(f"cannot write {target.path}: {err}") from None
    return len(audio) / RATE

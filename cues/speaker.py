"""Turning text into sound during a run or a session: the cached rendering, then the sink."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from cues.audio import AudioSink, Clip
from cues.earcons import earcon_file, metronome_file
from cues.speech import SpeechError, SpeechRenderer

log = logging.getLogger(__name__)


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
                chime = earcon_file(
                    "attention", self.renderer.cache_dir, self.renderer.voice.loudness
                )
            except OSError:
                return None  # the cache cannot be written either: shown only
            self.sink.play(Clip(path=chime, label=f"{label}-chime", t=t, priority=priority))
            return None
        self.sink.play(Clip(path=path, label=label, t=t, priority=priority))
        return path

    def ticks(self, spm: float, beats: int, t: float) -> Path | None:
        """Queue `beats` metronome ticks at `spm`, after whatever is being said."""
        try:
            r = self.renderer
            path = metronome_file(spm, beats, r.cache_dir, r.voice.loudness)
        except OSError:
            return None
        self.sink.play(Clip(path=path, label="metronome", t=t, priority=0))
        return path

    async def heard(self) -> None:
        """Return once everything queued has been played."""
        while self.sink.pending():
            await asyncio.sleep(0.05)

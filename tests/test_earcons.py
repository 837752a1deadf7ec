"""Earcons made in code: what they sound like, heard through the real sink, and in place of
speech when speech fails."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest

from companion.outputs import write_new
from cues.audio import WavFileSink
from cues.earcons import (
    EARCONS,
    RATE,
    earcon_file,
    earcon_seconds,
    metronome,
    metronome_file,
    synthesize,
)
from cues.loudness import Loudness, integrated, normalised, true_peak_db
from cues.speaker import Speaker
from cues.speech import SpeechRenderer, VoiceSettings
from cues.wavfile import read_wav
from tests.pulse import PulseSink
from tests.test_audio import play_and_record


def peak_hz(x: np.ndarray, rate: int = RATE) -> float:
    spectrum = np.abs(np.fft.rfft(x * np.hanning(x.size)))
    return float(np.fft.rfftfreq(x.size, 1 / rate)[np.argmax(spectrum)])


@pytest.mark.parametrize("name", sorted(EARCONS))
def test_each_earcon_is_short_soft_and_clickless(name: str) -> None:
    x = synthesize(name)
    assert 0.03 < x.size / RATE < 0.6
    assert np.abs(x).max() < 0.4
    # Faded in and out: no step at either end, which would click.
    edge = int(0.001 * RATE)
    assert abs(x[0]) < 0.01 and abs(x[-1]) < 0.01
    ramp = 0.25 * np.abs(x).max()  # within a millisecond, at most a quarter of the way up
    assert np.abs(x[:edge]).max() < ramp and np.abs(x[-edge:]).max() < ramp


def test_the_notes_are_the_ones_written() -> None:
    x = synthesize("attention")
    first = int(EARCONS["attention"][0].seconds * RATE)
    assert peak_hz(x[:first]) == pytest.approx(880.0, abs=10)
    assert peak_hz(x[first + int(0.02 * RATE) :]) == pytest.approx(1318.5, abs=10)

    def notes(name: str) -> list[float]:
        y, out, start = synthesize(name), [], 0
        for note in EARCONS[name]:
            n = int(note.seconds * RATE)
            out.append(peak_hz(y[start : start + n]))
            start += n + int(0.02 * RATE)
        return out

    assert notes("start") == sorted(notes("start"))  # rising
    assert notes("end") == sorted(notes("end"), reverse=True)  # falling


def test_files_are_written_once_and_read_back(tmp_path: Path) -> None:
    path = earcon_file("tick", tmp_path)
    stamp = path.stat().st_mtime_ns
    assert earcon_file("tick", tmp_path) == path and path.stat().st_mtime_ns == stamp
    data, rate = read_wav(path)
    # The tick itself, brought to the loudness of speech.
    assert rate == RATE
    assert np.allclose(data, normalised(synthesize("tick"), RATE, Loudness()), atol=1e-4)


@pytest.mark.parametrize("name", sorted(EARCONS))
def test_each_earcon_file_is_as_loud_as_speech(name: str, tmp_path: Path) -> None:
    x, rate = read_wav(earcon_file(name, tmp_path))
    assert true_peak_db(x, rate) <= -1.0 + 0.2
    if earcon_seconds(name) < 0.3:
        return  # a tick is too short to reach the target under the peak ceiling
    assert integrated(x, rate) == pytest.approx(Loudness().lufs, abs=0.5)
    quiet, _ = read_wav(earcon_file(name, tmp_path, Loudness(-26.0)))
    assert integrated(quiet, rate) == pytest.approx(-26.0, abs=0.5)


@pytest.mark.audio
def test_the_chime_is_heard_through_the_sink(pulse: PulseSink, tmp_path: Path) -> None:
    done, heard = play_and_record(pulse, tmp_path, [earcon_file("attention", tmp_path)])
    assert done.returncode == 0 and "played" in done.stdout, done.stderr
    loud = np.flatnonzero(np.abs(heard) > 0.05)
    assert loud.size, "nothing reached the sink"
    first_note = heard[loud[0] : loud[0] + int(0.1 * 22050)]
    assert peak_hz(first_note, 22050) == pytest.approx(880.0, abs=15)


def test_when_speech_fails_the_chime_is_heard_instead(tmp_path: Path) -> None:
    # A voice espeak-ng does not have, and no stand-in: real speech, really failing.
    voice = VoiceSettings("pyttsx3", "no-such-voice")
    renderer = SpeechRenderer(tmp_path / "cache", voice, fallback=False)
    sink = WavFileSink(tmp_path / "out", write_new)
    speaker = Speaker(renderer, sink)
    try:
        said = asyncio.run(speaker.say("Ribs down.", "ribs-down", 600.0))
    finally:
        renderer.close()
    assert said is None and speaker.failed and "no voice 'no-such-voice'" in speaker.failed
    (written,) = sink.written
    assert written.name.endswith("ribs-down-chime.wav")
    assert written.read_bytes() == earcon_file("attention", renderer.cache_dir).read_bytes()


def test_the_metronome_ticks_once_a_step(tmp_path: Path) -> None:
    x = metronome(158.0, 16)
    loud = np.abs(x) > 0.01
    onsets = np.flatnonzero(loud[1:] & ~loud[:-1]) + 1
    starts = onsets[np.diff(np.concatenate([[-RATE], onsets])) > 0.1 * RATE]  # one per tick
    assert starts.size == 16
    assert np.diff(starts) == pytest.approx(RATE * 60 / 158, abs=2)
    assert np.abs(x).max() < 0.2  # softer than speech
    assert metronome_file(158.04, 16, tmp_path) == metronome_file(157.96, 16, tmp_path)

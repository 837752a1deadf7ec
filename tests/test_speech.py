"""Speech with the real espeak-ng through pyttsx3: WAV files that hold speech, cached."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cues.audio import read_wav
from cues.catalogue import EXAMPLES, Category, load_catalogue
from cues.speech import SpeechError, SpeechRenderer, VoiceSettings, wav_duration
from sensors.profiles import SPOKEN_NAMES
from tests.conftest import assert_speech


def test_a_phrase_becomes_a_wav_file_of_speech(renderer: SpeechRenderer) -> None:
    path = renderer.render("Ribs down. Squeeze your glutes.").result(timeout=30)
    assert_speech(path)
    assert path.stat().st_mode & 0o777 == 0o600
    assert renderer.duration("Ribs down. Squeeze your glutes.") == pytest.approx(wav_duration(path))


def test_each_phrase_is_rendered_once(renderer: SpeechRenderer) -> None:
    first = renderer.render("Run tall.").result(timeout=30)
    stamp = first.stat().st_mtime_ns
    again = renderer.render("Run tall.").result(timeout=30)
    assert again == first and again.stat().st_mtime_ns == stamp
    # A longer text is a longer file: the cache is keyed by what is said.
    longer = renderer.render("Run tall. Ribs over hips. Glutes on.").result(timeout=30)
    assert longer != first and wav_duration(longer) > wav_duration(first) + 0.5


def test_voice_rate_and_volume_are_part_of_the_key(tmp_path: Path) -> None:
    slow = SpeechRenderer(tmp_path, VoiceSettings(rate=120, volume=0.5))
    fast = SpeechRenderer(tmp_path, VoiceSettings(rate=220))
    try:
        a = slow.render("Quick, light steps.").result(timeout=30)
        b = fast.render("Quick, light steps.").result(timeout=30)
        assert a != b and wav_duration(a) > 1.4 * wav_duration(b)
        quiet, _ = read_wav(a)
        loud, _ = read_wav(b)
        assert np.abs(quiet).max() < 0.8 * np.abs(loud).max()
    finally:
        slow.close()
        fast.close()


def test_the_whole_catalogue_is_speech_and_form_cues_are_short(renderer: SpeechRenderer) -> None:
    catalogue = load_catalogue()
    fills = {name: [example] for name, example in EXAMPLES.items()} | {"sensor": SPOKEN_NAMES}
    rendered = renderer.render_all(catalogue.texts(fills))
    for cue in catalogue:
        limit = 2.6 if cue.category in (Category.FORM, Category.CONFIRMATION) else 3.5
        if cue.id in ("split", "split-time"):
            limit = 5.0  # distance, time and pace: numbers take their time
        for wording in cue.say + cue.escalate:
            for text in {wording.format(**(EXAMPLES | {"sensor": s})) for s in SPOKEN_NAMES}:
                assert_speech(rendered[text])
                assert wav_duration(rendered[text]) <= limit, text


def test_unknown_voice_is_a_clear_error(tmp_path: Path) -> None:
    r = SpeechRenderer(tmp_path, VoiceSettings(voice="klingon/xx"))
    try:
        with pytest.raises(SpeechError, match="unknown voice 'klingon/xx'"):
            r.render("Hello.").result(timeout=30)
    finally:
        r.close()


def test_rendering_prints_nothing_on_stdout(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    r = SpeechRenderer(tmp_path)
    try:
        r.render("Nothing on stdout, please.").result(timeout=30)
    finally:
        r.close()
    assert capfd.readouterr().out == ""


def test_an_unusable_cache_is_a_quick_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    r = SpeechRenderer(blocker / "speech")
    with pytest.raises(SpeechError, match="cannot use the speech cache"):
        r.render("Hello.").result(timeout=5)
    # and the speech thread still serves everyone else
    assert SpeechRenderer(tmp_path / "ok").render("Hello.").result(timeout=30).exists()


def test_a_render_nobody_waits_for_any_more_leaves_speech_working(tmp_path: Path) -> None:
    """A run or the daemon stopping cancels the renders it was waiting for; the one speech
    thread of the process must go on serving the rest (it once died of it)."""
    r = SpeechRenderer(tmp_path, VoiceSettings(rate=231))
    queued = [r.render(f"Cancelled phrase number {i}.") for i in range(6)]
    cancelled = [f for f in queued[1:] if f.cancel()]  # those not started yet
    assert cancelled  # five phrases take long enough for some to wait
    after = r.render("Still speaking.").result(timeout=60)
    assert_speech(after)
    assert queued[0].result(timeout=60).exists()

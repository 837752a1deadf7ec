"""Audio out: the WAV file sink, and real playback through PortAudio into a PulseAudio null
sink, recorded back from its monitor."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from scipy import signal

from companion.outputs import write_new
from cues.audio import Clip, WavFileSink
from cues.soundserver import pactl
from cues.speech import SpeechRenderer
from cues.wavfile import read_wav, wav_duration
from tests.conftest import need, speech_level
from tests.pulse import PulseSink, start_pulse

# Runs in a child process so that PortAudio starts with the test server in its environment.
PLAYER = """
import os
import sys
from pathlib import Path
from companion.outputs import write_new
from cues.audio import Clip, DevicePlayer, WavFileSink, output_device_problem
problem = output_device_problem()
if problem:
    sys.exit("no device: " + problem)
pre_roll = float(os.environ.get("PRE_ROLL_S", "0.3"))
player = DevicePlayer(lambda: WavFileSink(Path(sys.argv[1]), write_new), pre_roll_s=pre_roll)
for i, path in enumerate(sys.argv[2:]):
    player.play(Clip(path=Path(path), label=f"clip{i}", t=float(i)))
player.close()
print("fallback" if player.fallback else "played")
"""


def test_file_sink_writes_numbered_private_files(renderer: SpeechRenderer, tmp_path: Path) -> None:
    clip = renderer.render("That's it. Hold that.").result(timeout=30)
    sink = WavFileSink(tmp_path / "out", write_new)
    sink.play(Clip(path=clip, label="well-done", t=725.4))
    sink.play(Clip(path=clip, label="Summary!", t=1500.0))
    sink.close()
    names = [p.name for p in sink.written]
    assert names == ["001-12m05s-well-done.wav", "002-25m00s-summary.wav"]
    assert (tmp_path / "out").stat().st_mode & 0o777 == 0o700
    assert all(p.stat().st_mode & 0o777 == 0o600 for p in sink.written)
    assert [p.read_bytes() for p in sink.written] == [clip.read_bytes()] * 2  # the clip itself


def play_and_record(
    pulse: PulseSink, tmp_path: Path, clips: list[Path], pre_roll_s: float = 0.3
) -> tuple[subprocess.CompletedProcess[str], np.ndarray]:
    """Play `clips` with the DevicePlayer in a child process; what the sink heard."""
    rec = pulse.recording(tmp_path / "monitor.raw")
    done = subprocess.run(
        [sys.executable, "-c", PLAYER, str(tmp_path / "fallback"), *map(str, clips)],
        env={**pulse.env, "PRE_ROLL_S": str(pre_roll_s)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    return done, rec.stop()


# The -60 dBFS pre-roll noise shows above this; the digital silence of an idle stream does not.
PRE_ROLL_SEEN = 2e-4


def onset(heard: np.ndarray, clip: np.ndarray) -> tuple[float, float]:
    """Where in the recording the clip starts (seconds), and how alike it is there (0-1):
    normalised cross-correlation, so a loud stretch does not win by loudness alone.

    Only stretches holding at least half the clip's energy are candidates: in the digital
    silence before playback both sums are rounding noise, and their ratio is anything."""
    corr = signal.correlate(heard, clip, mode="valid", method="fft")
    energy = np.convolve(heard**2, np.ones(clip.size), mode="valid")
    clip_energy = float((clip.astype(np.float64) ** 2).sum())
    score = np.where(
        energy >= clip_energy / 2, corr / np.sqrt(np.maximum(energy, 1e-12) * clip_energy), 0.0
    )
    best = int(np.argmax(score))
    return best / 22050, float(score[best])


@pytest.mark.audio
def test_clips_are_heard_in_order_without_overlap(
    renderer: SpeechRenderer, pulse: PulseSink, tmp_path: Path
) -> None:
    short = renderer.render("Ribs down.").result(timeout=30)
    long = renderer.render("Land under your hips. Quick steps.").result(timeout=30)
    done, heard = play_and_record(pulse, tmp_path, [short, long])
    assert done.returncode == 0 and done.stdout.strip() == "played", done.stderr
    voiced, _ = speech_level(heard, 22050)
    expected = sum(speech_level(read_wav(p)[0], 22050)[0] for p in (short, long))
    assert voiced == pytest.approx(expected, rel=0.25)  # all of it, and not twice
    # The short clip first, then the long one once it has finished: in order, no overlap.
    (a, match_a), (b, match_b) = onset(heard, read_wav(short)[0]), onset(heard, read_wav(long)[0])
    # Each clip is there, unchanged, to its last syllable: a player that stopped its stream
    # with the tail still in the server lost the last quarter second, and scored under 0.92.
    assert match_a > 0.95 and match_b > 0.95
    end_a = a + wav_duration(short)
    assert end_a <= b + 0.01
    # And promptly: the long clip went on in the stream the short one had opened, waiting
    # for no timeout. A stream opened anew (after the player's idle timeout, or one per
    # clip) begins with its pre-roll, and that faint noise would lie between the two; what
    # is there instead is nothing at all: no sound (back to back), or the digital silence
    # of a player thread that a busy machine kept waiting, however long that was.
    between = heard[round(end_a * 22050) : round(b * 22050)]
    assert not np.any(np.abs(between) > PRE_ROLL_SEEN), np.abs(between).max()


# The product's choice of output (`auto`), in a child process for the same reason as PLAYER.
AUTO_PLAYER = """
import sys
from pathlib import Path
from companion.outputs import write_new
from cues.audio import Clip, open_sink
sink, problem = open_sink("auto", Path(sys.argv[1]), write_new)
print(problem)
for i, path in enumerate(sys.argv[2:]):
    sink.play(Clip(path=Path(path), label=f"Clip {i}!", t=61.0 * i))
sink.close()
print(sink.description)
"""


@pytest.mark.audio
def test_no_server_means_no_device_and_cues_go_to_files(
    renderer: SpeechRenderer, pulse: PulseSink, tmp_path: Path
) -> None:
    short = renderer.render("Ribs down.").result(timeout=30)
    long = renderer.render("Land under your hips. Quick steps.").result(timeout=30)
    clips = [short, long, short]
    folder = tmp_path / "cues"
    env = {**pulse.env, "PULSE_SERVER": f"unix:{tmp_path / 'nobody-here'}"}
    done = subprocess.run(
        [sys.executable, "-c", AUTO_PLAYER, str(folder), *map(str, clips)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    problem, description = done.stdout.splitlines()
    assert problem.startswith("no usable audio output") and description == f"WAV files in {folder}"
    # Every cue, in the order played, named for its time and label, and the clip itself.
    written = sorted(folder.iterdir())
    assert [p.name for p in written] == [
        "001-00m00s-clip-0.wav",
        "002-01m01s-clip-1.wav",
        "003-02m02s-clip-2.wav",
    ]
    assert [p.read_bytes() for p in written] == [c.read_bytes() for c in clips]


def test_a_folder_that_cannot_be_written_costs_the_clips_not_the_run(
    renderer: SpeechRenderer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    clip = renderer.render("Ribs down.").result(timeout=30)
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    sink = WavFileSink(blocker / "out", write_new)
    for t in (1.0, 2.0):
        sink.play(Clip(path=clip, label="ribs-down", t=t))
    assert sink.written == [] and sink.lost == 2
    assert len([r for r in caplog.records if "cannot write cue audio" in r.message]) == 1


@pytest.mark.audio
def test_a_bad_clip_is_skipped_and_the_queue_goes_on(
    renderer: SpeechRenderer, pulse: PulseSink, tmp_path: Path
) -> None:
    bogus = tmp_path / "not-audio.wav"
    bogus.write_bytes(b"RIFF????WAVEfmt nonsense")
    good = renderer.render("Ribs down.").result(timeout=30)
    done, heard = play_and_record(pulse, tmp_path, [bogus, good])
    assert done.returncode == 0 and done.stdout.strip() == "played", done.stderr
    assert "cannot play" in done.stderr and "not-audio.wav" in done.stderr
    assert onset(heard, read_wav(good)[0])[1] > 0.95  # all of it


@pytest.mark.audio
@pytest.mark.long
def test_a_pre_roll_wakes_the_headphones_before_the_first_word(
    pulse: PulseSink, renderer: SpeechRenderer, tmp_path: Path
) -> None:
    clip = renderer.render("Ribs down.").result(timeout=30)

    def lead(pre_roll_s: float) -> float:
        """Seconds of sound from the first sound of any kind to the first loud one: what
        was played, not how long it took (a player thread kept waiting on a busy machine
        adds digital silence, which is not sound)."""
        folder = tmp_path / f"pre{pre_roll_s}"
        folder.mkdir()
        done, heard = play_and_record(pulse, folder, [clip], pre_roll_s)
        assert done.returncode == 0 and "played" in done.stdout, done.stderr
        faint = np.flatnonzero(np.abs(heard) > PRE_ROLL_SEEN)
        loud = np.flatnonzero(np.abs(heard) > 0.05)
        assert faint.size and loud.size
        frames = heard[faint[0] : loud[0]]
        frames = frames[: frames.size // 110 * 110].reshape(-1, 110)  # 5 ms each
        return float((np.sqrt((frames**2).mean(axis=1)) > PRE_ROLL_SEEN / 2).sum() * 110 / 22050)

    with_pre_roll, without = lead(0.5), lead(0.0)
    # Half a second of inaudible sound comes before the word, and only when asked for.
    assert with_pre_roll - without == pytest.approx(0.5, abs=0.08)


HEADPHONES_PLAYER = """
import sys
from pathlib import Path
from companion.outputs import write_new
from cues.audio import Clip, DevicePlayer, WavFileSink
player = DevicePlayer(lambda: WavFileSink(Path(sys.argv[1]), write_new), headphones_only=True)
player.play(Clip(path=Path(sys.argv[2]), label="cue", t=0.0))
player.close()
print(f"withheld={player.withheld}")
"""


@pytest.mark.audio
def test_only_through_headphones_when_asked(
    pulse: PulseSink, renderer: SpeechRenderer, tmp_path: Path
) -> None:
    clip = renderer.render("Ribs down.").result(timeout=30)

    def play() -> tuple[str, np.ndarray]:
        rec = pulse.recording(tmp_path / "monitor.raw")
        done = subprocess.run(
            [sys.executable, "-c", HEADPHONES_PLAYER, str(tmp_path / "files"), str(clip)],
            env=pulse.env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout.strip(), rec.stop()

    # The test sink is a plain null sink: a loudspeaker, as far as anyone can tell.
    said, heard = play()
    assert said == "withheld=1" and np.abs(heard).max() < 0.01

    # Headphones plugged in: a sink that says so becomes the default.
    module = pactl(
        "load-module", "module-null-sink", "sink_name=phones",
        "sink_properties=device.form_factor=headphone", env=pulse.env,
    ).strip()  # fmt: skip
    try:
        pactl("set-default-sink", "phones", env=pulse.env)
        said, _ = play()
        assert said == "withheld=0"
    finally:
        pactl("set-default-sink", "coach", env=pulse.env)
        pactl("unload-module", module, env=pulse.env)


COMMANDED_PLAYER = """
import sys, time
from pathlib import Path
from companion.outputs import write_new
from cues.audio import Clip, DevicePlayer, WavFileSink
out, retry_s = Path(sys.argv[1]), float(sys.argv[2])
player = DevicePlayer(lambda: WavFileSink(out, write_new), pre_roll_s=0.0, retry_s=retry_s)
for i, line in enumerate(sys.stdin):
    player.play(Clip(path=Path(line.strip()), label=f"clip{i}", t=float(i)))
    while player.pending():
        time.sleep(0.01)
    files = len(player.fallback.written) if player.fallback else 0
    print(f"files={files}", flush=True)
player.close()
"""


@pytest.mark.audio
@pytest.mark.long
def test_headphones_gone_mid_run_cost_no_cue_and_are_used_again_when_back(
    renderer: SpeechRenderer, tmp_path: Path
) -> None:
    need(shutil.which("pulseaudio") is not None, "PulseAudio is not installed (make setup)")
    clip = renderer.render("Ribs down.").result(timeout=30)
    server = start_pulse(tmp_path / "pulse")
    retry_s = 0.5  # after the device failed, the player tries it again this much later
    player = subprocess.Popen(
        [sys.executable, "-c", COMMANDED_PLAYER, str(tmp_path / "files"), str(retry_s)],
        env=server.env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert player.stdin is not None and player.stdout is not None

    def play() -> str:
        assert player.stdin is not None and player.stdout is not None
        player.stdin.write(f"{clip}\n")
        player.stdin.flush()
        return player.stdout.readline().strip()

    def answers(server: PulseSink) -> bool:
        info = subprocess.run(["pactl", "info"], env=server.env, capture_output=True, timeout=30)
        return info.returncode == 0

    def heard_once(server: PulseSink, recording: Path) -> tuple[str, float]:
        """What the player says of a clip played on `server`, and how alike the clip is
        to what the sink heard (0-1)."""
        rec = server.recording(recording)
        said = play()
        return said, onset(rec.stop(), read_wav(clip)[0])[1]

    try:
        said, match = heard_once(server, tmp_path / "first.raw")
        assert said == "files=0" and match > 0.9  # heard
        server.kill()  # the headphones are gone: the sound server with them
        deadline = time.monotonic() + 60
        while answers(server):  # `pulseaudio --kill` only asks it to go
            assert time.monotonic() < deadline, "the sound server did not go"
            time.sleep(0.05)
        assert play() == "files=1"  # kept in a file, no crash
        # The player rests the device from its failure (before that answer) for retry_s.
        rested = time.monotonic() + retry_s
        server = start_pulse(tmp_path / "pulse")  # back (and answering)
        time.sleep(max(0.0, rested - time.monotonic()))
        said, match = heard_once(server, tmp_path / "again.raw")
        assert said == "files=1" and match > 0.9  # heard again, not written
        assert [p.read_bytes() for p in sorted((tmp_path / "files").iterdir())] == [
            clip.read_bytes()
        ]  # the one clip the device missed
    finally:
        player.stdin.close()
        player.wait(timeout=30)
        server.kill()


RUN_DRY = """
import sys, time
import numpy as np
import sounddevice as sd
if sys.argv[1] == "ours":
    from cues.audio import output_device_problem
    assert output_device_problem() is None  # what the product does before it plays
stream = sd.OutputStream(samplerate=22050, channels=1, dtype="float32")
stream.start()
stream.write(np.zeros((2205, 1), np.float32))
time.sleep(0.5)  # the stream runs dry, as a starved player thread's would
stream.write(np.zeros((2205, 1), np.float32))
stream.close()
"""


@pytest.mark.audio
def test_what_alsa_says_goes_to_the_log_not_the_terminal(pulse: PulseSink) -> None:
    """An underrun on a busy machine is ALSA's business: it prints one on stderr itself,
    unless the product has taken its messages."""
    said = {
        who: subprocess.run(
            [sys.executable, "-c", RUN_DRY, who], env=pulse.env, capture_output=True, text=True
        )
        for who in ("alsa", "ours")
    }
    assert all(done.returncode == 0 for done in said.values()), said
    assert "underrun occurred" in said["alsa"].stderr  # the stream really ran dry
    assert said["ours"].stderr == ""

"""Audio out: clips played one after another on the default device, or written to files.

`DevicePlayer` plays through PortAudio (sounddevice) on its own thread; `WavFileSink` is the
same interface writing numbered WAV files, used where no output device exists (a server, CI)
and by the player while the device is gone mid-run (headphones unplugged), so no cue is
lost; the player goes back to the device once it works again.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import itertools
import logging
import queue
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol

import numpy as np
import numpy.typing as npt

from cues.ducking import Ducker
from cues.soundserver import headphones_in_use
from cues.wavfile import read_wav

if TYPE_CHECKING:
    import sounddevice as sd

log = logging.getLogger(__name__)

AudioMode = Literal["auto", "device", "files"]


@dataclass(frozen=True)
class Clip:
    """A rendered phrase to be heard at run time `t`; higher priority goes first."""

    path: Path
    label: str
    t: float
    priority: int = 50


class AudioSink(Protocol):
    description: str

    def play(self, clip: Clip) -> None:
        """Queue a clip; returns at once."""
        ...

    def pending(self) -> int:
        """Clips queued or still being heard."""
        ...

    def close(self) -> None:
        """Finish everything queued, then stop."""
        ...


# Writes `data` as the new file `path`, never over anything: FileExistsError when the name
# is taken (companion.outputs.write_new, which holds the rule for files the runner asks for).
SaveNew = Callable[[Path, bytes], None]


def _make_private(folder: Path) -> None:
    """`folder`, and any folder missing above it, made readable by this user only."""
    missing = []
    while not folder.is_dir():
        missing.append(folder)
        folder = folder.parent
    for made in reversed(missing):
        made.mkdir(exist_ok=True, mode=0o700)


class WavFileSink:
    """Writes each clip into `folder` as ``NNN-MMmSSs-label.wav``, in the order played,
    through `save`. Numbers go on from the highest already in the folder: a second run
    into the same folder adds its files after the first one's and replaces none."""

    def __init__(self, folder: Path, save: SaveNew):
        self.folder = folder
        self.written: list[Path] = []
        self.lost = 0  # clips that could not be written (disk full, folder not writable)
        self.description = f"WAV files in {folder}"
        self._save = save
        self._next: int | None = None  # the next file's number, once the folder is read
        self._lock = threading.Lock()

    def _first_number(self) -> int:
        numbers = (re.match(r"(\d+)-", p.name) for p in self.folder.iterdir())
        return 1 + max((int(m[1]) for m in numbers if m), default=0)

    def play(self, clip: Clip) -> None:
        with self._lock:
            minutes, seconds = divmod(int(clip.t), 60)
            label = re.sub(r"[^a-z0-9-]+", "-", clip.label.lower()).strip("-")[:40]
            name = f"{minutes:02d}m{seconds:02d}s-{label}.wav"
            try:
                data = clip.path.read_bytes()
                _make_private(self.folder)
                if self._next is None:
                    self._next = self._first_number()
                while True:
                    target = self.folder / f"{self._next:03d}-{name}"
                    self._next += 1
                    try:
                        self._save(target, data)
                        break
                    except FileExistsError:
                        continue  # taken since: the next number
            except OSError as err:
                # A full disk costs this clip, never the run; say so once.
                if not self.lost:
                    log.error(
                        "cannot write cue audio to %s (%s); the run goes on without it",
                        self.folder,
                        err.strerror or err,
                    )
                self.lost += 1
                return
            self.written.append(target)

    def pending(self) -> int:
        return 0  # written at once

    def close(self) -> None:
        pass


class NoSoundDevice(RuntimeError):
    """The device was asked for and there is none that works (the reason as its message)."""


# ALSA's own error handler, replaced for the process; kept here so it is never collected.
_alsa_handler: object | None = None


def _alsa_to_log() -> None:
    """Send what ALSA says to the debug log rather than to the runner's terminal.

    libasound prints each underrun ("ALSA lib pcm.c: ... underrun occurred") on stderr
    itself: on a busy machine the player thread may be late now and then, and that line
    means nothing to a runner. Only on Linux, where PortAudio speaks to ALSA."""
    global _alsa_handler
    if _alsa_handler is not None or not sys.platform.startswith("linux"):
        return
    name = ctypes.util.find_library("asound")
    try:
        alsa = ctypes.CDLL(name or "libasound.so.2")
    except OSError:
        return  # no ALSA: nothing to quieten
    # void handler(const char *file, int line, const char *function, int err, const char *fmt, ...)
    kind = ctypes.CFUNCTYPE(
        None, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p
    )

    def told(file: bytes, line: int, function: bytes, err: int, fmt: bytes) -> None:
        log.debug("ALSA %s: %s", function.decode(errors="replace"), fmt.decode(errors="replace"))

    _alsa_handler = kind(told)
    alsa.snd_lib_error_set_handler(_alsa_handler)


def output_device_problem() -> str | None:
    """Why sound cannot be played here, or None if the default output device works."""
    try:
        import sounddevice as sd
    except OSError as err:  # the PortAudio library itself is missing
        return f"PortAudio is not installed ({err})"
    _alsa_to_log()
    try:
        sd.query_devices(kind="output")
        with sd.OutputStream(samplerate=22050, channels=1, dtype="float32"):
            pass
    except (sd.PortAudioError, ValueError) as err:
        return f"no usable audio output device ({err})"
    return None


class DevicePlayer:
    """Plays clips on the default output device, one at a time, on a player thread.

    Clips go back to back into one output stream, kept open while clips keep coming and
    closed after `idle_close_s` of quiet: a stream per clip would hand each clip's tail to
    the sound server while the next stream already plays, and they would overlap.

    Each time the stream opens, `pre_roll_s` of near-silence (-60 dBFS noise) goes first:
    Bluetooth headphones that sleep in the quiet wake up on sound and would otherwise
    swallow the first syllable.
    """

    PRE_ROLL_LEVEL = 0.001  # -60 dBFS: inaudible, but not digital silence
    FEED_S = 0.02  # while the stream idles open, it is checked this often and kept fed
    # The device's buffer: room for the player thread to be late on a busy machine (a
    # clip starts at once all the same: only silence is ever queued ahead of it, and little).
    BUFFER_S = 0.25

    def __init__(
        self,
        fallback: Callable[[], AudioSink],
        idle_close_s: float = 2.0,
        pre_roll_s: float = 0.3,
        ducker: Ducker | None = None,
        headphones_only: bool = False,
        retry_s: float = 5.0,
    ):
        self.description = "the default audio output"
        self.fallback: AudioSink | None = None
        self.idle_close_s = idle_close_s
        self.pre_roll_s = pre_roll_s
        self.ducker = ducker  # other audio is turned down while the stream is open
        self.headphones_only = headphones_only  # say nothing out of a loudspeaker
        self.withheld = 0  # clips not played because the output was not headphones
        self.retry_s = retry_s  # after the device failed, try it again this much later
        self._down_since: float | None = None  # when the device last failed
        self._said_unknown = False
        self._make_fallback = fallback
        # Entries are (-priority, arrival, clip): highest priority first, then in order.
        self._queue: queue.PriorityQueue[tuple[int, int, Clip | None]] = queue.PriorityQueue()
        self._arrivals = itertools.count()
        self._played_by = 0.0  # when the stream will have played what it was given
        self._thread = threading.Thread(target=self._work, name="audio", daemon=True)
        self._thread.start()

    def play(self, clip: Clip) -> None:
        self._queue.put((-clip.priority, next(self._arrivals), clip))

    def pending(self) -> int:
        return self._queue.unfinished_tasks

    def close(self) -> None:
        self._queue.join()  # everything queued has been played (or handed on)
        self._queue.put((sys.maxsize, next(self._arrivals), None))
        self._thread.join(timeout=10)
        if self.ducker is not None:
            self.ducker.close()
        if self.fallback is not None:
            self.fallback.close()

    def _may_speak(self) -> bool:
        """With `headphones_only`, whether the output is headphones right now (asked each
        time the stream opens: they may be put on or taken off during a run)."""
        if not self.headphones_only:
            return True
        try:
            on = headphones_in_use()
        except (OSError, subprocess.SubprocessError, ValueError) as err:
            if not self._said_unknown:
                self._said_unknown = True
                log.warning("cannot tell whether headphones are the output (%s): speaking", err)
            return True
        if not on and not self.withheld:
            log.warning("the output is not headphones: cues are shown, not spoken")
        return on

    def _pre_roll(self, rate: int) -> npt.NDArray[np.float32]:
        n = int(self.pre_roll_s * rate)
        noise = np.random.default_rng(0).uniform(-1.0, 1.0, (n, 1)) * self.PRE_ROLL_LEVEL
        return noise.astype(np.float32)

    def _write(self, stream: sd.OutputStream, data: npt.NDArray[np.float32]) -> None:
        """Write `data` and note when the stream will have played all it was given."""
        start = max(self._played_by, time.monotonic())
        stream.write(data.reshape(-1, 1))
        self._played_by = start + len(data) / stream.samplerate

    def _keep_fed(self, stream: sd.OutputStream) -> None:
        """Top the idle stream up with silence before it runs dry: a stream left to run dry
        underruns, and ALSA prints each underrun on the terminal. Only a little is queued,
        so the next clip is not kept waiting behind it. (The time is counted here: the ALSA
        PulseAudio plugin does not tell reliably what is still queued.)"""
        left = self._played_by - time.monotonic()
        if left < 2 * self.FEED_S:
            frames = int((3 * self.FEED_S - max(left, 0.0)) * stream.samplerate)
            self._write(stream, np.zeros(frames, np.float32))

    def _play_out(self, stream: sd.OutputStream) -> None:
        """Wait until what was written has been heard. Stopping drops what the sound server
        still holds (through the ALSA PulseAudio plugin, up to a buffer's worth): the last
        clip's last syllable, when the player closes right after it. Silence pushes it out."""
        heard_by = self._played_by
        self._write(
            stream, np.zeros(int((self.BUFFER_S + self.FEED_S) * stream.samplerate), np.float32)
        )
        time.sleep(max(0.0, heard_by - time.monotonic()))

    def _work(self) -> None:
        import sounddevice as sd

        _alsa_to_log()
        stream: sd.OutputStream | None = None

        def finish() -> None:
            nonlocal stream
            if stream is not None:
                with contextlib.suppress(sd.PortAudioError):
                    self._play_out(stream)
                    stream.stop()
                    stream.close()
                stream = None
                if self.ducker is not None:
                    self.ducker.restore()

        idle_since = 0.0
        try:
            while True:
                try:
                    _, _, clip = self._queue.get(timeout=self.FEED_S if stream else None)
                except queue.Empty:
                    assert stream is not None
                    if time.monotonic() - idle_since >= self.idle_close_s:
                        finish()
                    else:
                        try:
                            self._keep_fed(stream)
                        except sd.PortAudioError:
                            finish()  # gone: the next clip finds out and falls back
                    continue
                try:
                    if clip is None:
                        return
                    down = self._down_since
                    resting = down is not None and time.monotonic() - down < self.retry_s
                    if self.fallback is not None and resting:
                        self.fallback.play(clip)
                        continue
                    if stream is None and not self._may_speak():
                        self.withheld += 1
                        continue
                    try:
                        data, rate = read_wav(clip.path)
                        if stream is not None and stream.samplerate != rate:
                            finish()
                        if stream is None:
                            if self.ducker is not None:
                                self.ducker.duck()
                            stream = sd.OutputStream(
                                samplerate=rate, channels=1, dtype="float32", latency=self.BUFFER_S
                            )
                            stream.start()
                            self._write(stream, self._pre_roll(rate))
                        self._write(stream, data)
                        if self._down_since is not None:
                            self._down_since = None
                            log.warning("audio output is back; cues are heard again")
                    except (sd.PortAudioError, OSError) as err:
                        # The device went away (headphones unplugged ...): keep every cue in
                        # files meanwhile, and try the device again now and then.
                        stream = None
                        if self.ducker is not None:
                            self.ducker.restore()
                        if self.fallback is None:
                            self.fallback = self._make_fallback()
                        if self._down_since is None:
                            log.warning(
                                "audio output failed (%s); writing %s until it is back",
                                err,
                                self.fallback.description,
                            )
                        self._down_since = time.monotonic()
                        self.fallback.play(clip)
                    except Exception as err:  # one bad clip must not silence the rest
                        log.error("cannot play %s: %s", clip.path, err)
                finally:
                    idle_since = time.monotonic()
                    self._queue.task_done()
        finally:
            finish()


def open_sink(
    mode: AudioMode,
    folder: Path,
    save: SaveNew,
    pre_roll_s: float = 0.3,
    duck_level: float | None = 0.3,
    headphones_only: bool = False,
) -> tuple[AudioSink, str | None]:
    """The sink for `mode`, and why the device was not used when it falls back to files in
    `folder` (written through `save`). Other audio is turned down to `duck_level` of its
    volume while cues play (None: not). NoSoundDevice when "device" has none."""
    if mode == "files":
        return WavFileSink(folder, save), None
    problem = output_device_problem()
    if problem is None:
        ducker = Ducker(duck_level) if duck_level is not None else None
        player = DevicePlayer(
            lambda: WavFileSink(folder, save),
            pre_roll_s,
            ducker=ducker,
            headphones_only=headphones_only,
        )
        return player, None
    if mode == "device":
        raise NoSoundDevice(problem)
    return WavFileSink(folder, save), problem

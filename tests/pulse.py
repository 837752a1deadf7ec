"""A private PulseAudio server with a null sink, for the tests and the audio benchmarks:
what is played into it is recorded back from its monitor with `parec`."""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

RATE = 22050  # what the monitor is recorded at: mono s16


@dataclass
class Recording:
    """`parec` recording the null sink's monitor into `path` since `started` (monotonic)."""

    proc: subprocess.Popen[bytes]
    path: Path
    started: float

    def stop(self, after_s: float = 0.5, timeout_s: float = 60.0) -> np.ndarray:
        """Everything the sink played up to now and `after_s` beyond, as floats.

        The null sink plays in real time, silence too, and parec began capturing no sooner
        than `started`: once the file holds as many seconds as have passed since then (and
        `after_s` more), it holds all the sink played until now, however late parec is
        with it on a busy machine."""
        wanted = 2 * int((time.monotonic() - self.started + after_s) * RATE)
        deadline = time.monotonic() + timeout_s
        while self.path.stat().st_size < wanted:
            if time.monotonic() > deadline or self.proc.poll() is not None:
                self.proc.kill()
                raise RuntimeError("parec did not record what the null sink played")
            time.sleep(0.02)
        self.proc.terminate()
        self.proc.wait(timeout=5)
        return np.fromfile(self.path, dtype="<i2").astype(np.float64) / 32768.0


@dataclass
class PulseSink:
    """A private PulseAudio server whose default sink is a null sink named `coach`."""

    server: str
    env: dict[str, str]

    def record(self, path: Path) -> subprocess.Popen[bytes]:
        """Start recording the sink's monitor (22050 Hz mono s16) into `path`."""
        proc = subprocess.Popen(
            [
                "parec",
                "--device=coach.monitor",
                "--rate=22050",
                "--channels=1",
                "--format=s16le",
                "--raw",
                "--latency-msec=20",
                str(path),
            ],
            env=self.env,
        )
        # parec writes silence too once it is capturing: wait for that, not a guess.
        deadline = time.monotonic() + 10
        while not (path.exists() and path.stat().st_size >= 2 * 22050 // 10):
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                raise RuntimeError("parec did not start recording the null sink's monitor")
            time.sleep(0.02)
        return proc

    def recording(self, path: Path) -> Recording:
        """`record`, as a `Recording` whose `stop` waits for what was played, not a guess."""
        started = time.monotonic()
        return Recording(self.record(path), path, started)

    @staticmethod
    def stop(proc: subprocess.Popen[bytes], path: Path) -> np.ndarray:
        time.sleep(0.5)  # what the player wrote last is still on its way through the server
        proc.terminate()
        proc.wait(timeout=5)
        return np.fromfile(path, dtype="<i2").astype(np.float64) / 32768.0

    def kill(self) -> None:
        subprocess.run(["pulseaudio", "--kill"], env=self.env, capture_output=True, timeout=20)


def start_pulse(run: Path) -> PulseSink:
    """Start the server with its files in `run`; its default sink is the null sink `coach`."""
    socket = run / "native"
    env = {
        **os.environ,
        "PULSE_RUNTIME_PATH": str(run),
        "PULSE_STATE_PATH": str(run),
        "PULSE_SERVER": f"unix:{socket}",
    }
    subprocess.run(
        [
            "pulseaudio",
            "--daemonize=yes",
            "--exit-idle-time=-1",
            "-n",
            "--use-pid-file=yes",
            f"--load=module-native-protocol-unix socket={socket} auth-anonymous=1",
            "--load=module-null-sink sink_name=coach",
            "--log-target=stderr",
            "--log-level=error",
        ],
        env=env,
        check=True,
        capture_output=True,
        timeout=20,
    )
    for _ in range(50):
        if subprocess.run(["pactl", "info"], env=env, capture_output=True).returncode == 0:
            return PulseSink(f"unix:{socket}", env)
        time.sleep(0.1)
    raise RuntimeError("the PulseAudio server did not start")

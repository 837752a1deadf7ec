"""Ducking: other audio (music) turned down while a cue plays, and back up afterwards.

Through `pactl`, which speaks to PulseAudio and to PipeWire's PulseAudio service alike:
every playback stream that is not this process's own is set to `level` times its volume,
and set back when the cues are done. The original volumes are first handed to a guard
process (`python -m cues.duckguard`), which puts them back itself should this process die
before it could (a crash, SIGKILL): the guard notices when its pipe closes.
"""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import sys
from typing import IO

from cues.soundserver import Volumes, other_streams, set_volumes

log = logging.getLogger(__name__)


class Ducker:
    """Turns other streams down on `duck()` and back on `restore()`; does nothing where
    there is no pactl or no sound server (said once)."""

    def __init__(self, level: float = 0.3, env: dict[str, str] | None = None):
        self.level = level
        self.env = env
        self._ducked: Volumes = {}
        self._guard: subprocess.Popen[str] | None = None
        self.disabled = shutil.which("pactl") is None
        if self.disabled:
            log.info("no pactl here: other audio is not turned down during cues")

    def duck(self) -> None:
        if self.disabled or self._ducked:
            return
        try:
            volumes = other_streams(self.env)
            if not volumes:
                return
            self._tell_guard({"ducked": volumes})
            self._ducked = volumes
            set_volumes(
                {i: [round(v * self.level) for v in ch] for i, ch in volumes.items()}, self.env
            )
        except (OSError, subprocess.SubprocessError, ValueError, KeyError) as err:
            self.disabled = True
            log.warning("cannot turn other audio down during cues: %s", err)

    def restore(self) -> None:
        if not self._ducked:
            return
        try:
            set_volumes(self._ducked, self.env)
        except (OSError, subprocess.SubprocessError) as err:
            log.warning("cannot turn other audio back up: %s", err)
        self._ducked = {}
        self._tell_guard({"ducked": {}})

    def close(self) -> None:
        self.restore()
        if self._guard is not None and self._guard.stdin is not None:
            self._guard.stdin.close()  # the guard ends: nothing left to restore
            self._guard.wait(timeout=5)
            self._guard = None

    def _tell_guard(self, message: dict[str, Volumes]) -> None:
        if self._guard is None:
            self._guard = subprocess.Popen(
                [sys.executable, "-m", "cues.duckguard"],
                stdin=subprocess.PIPE,
                text=True,
                env=self.env,
            )
        stdin: IO[str] | None = self._guard.stdin
        assert stdin is not None
        stdin.write(json.dumps(message) + "\n")
        stdin.flush()

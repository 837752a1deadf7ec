"""What the sound server (PulseAudio, or PipeWire's PulseAudio service) says and does, through
`pactl`: the other playback streams and their volumes, and whether the output is headphones.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
from typing import Any

# Form factors and buses that mean the sound goes to the runner's ears only.
HEADPHONE_FORM_FACTORS = {"headphone", "headset", "hands-free", "earbuds"}


Volumes = dict[str, list[int]]  # sink input index -> raw volume per channel


def pactl(*args: str, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        ["pactl", *args], capture_output=True, text=True, timeout=5, env=env, check=True
    )
    return done.stdout


def other_streams(env: dict[str, str] | None = None, own_pid: int | None = None) -> Volumes:
    """The raw volumes of every playback stream but this process's own."""
    own = str(own_pid or os.getpid())
    streams: list[dict[str, Any]] = json.loads(pactl("-f", "json", "list", "sink-inputs", env=env))
    out: Volumes = {}
    for s in streams:
        if s.get("properties", {}).get("application.process.id") == own:
            continue
        out[str(s["index"])] = [int(ch["value"]) for ch in s["volume"].values()]
    return out


def set_volumes(volumes: Volumes, env: dict[str, str] | None = None) -> None:
    for index, channels in volumes.items():
        # A stream that ended meanwhile has nothing to set.
        with contextlib.suppress(subprocess.CalledProcessError):
            pactl("set-sink-input-volume", index, *map(str, channels), env=env)


def headphones_in_use(env: dict[str, str] | None = None) -> bool:
    """Whether the default output is headphones (a headphone or headset form factor, a
    Bluetooth device, or an active headphones port)."""
    default = pactl("get-default-sink", env=env).strip()
    sinks: list[dict[str, Any]] = json.loads(pactl("-f", "json", "list", "sinks", env=env))
    for sink in sinks:
        if sink.get("name") != default:
            continue
        props = sink.get("properties", {})
        port = str(sink.get("active_port") or "").lower()
        return (
            props.get("device.form_factor") in HEADPHONE_FORM_FACTORS
            or props.get("device.bus") == "bluetooth"
            or "headphone" in port
            or "headset" in port
        )
    return False

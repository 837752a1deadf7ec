"""The runner's configuration: one TOML file at the platform's config path, checked by a schema.

Every setting has a default, so the file holds only what the runner wants otherwise. A file
that cannot be used is refused with the file, the line and the field; the product reads it
and never writes it.
"""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from companion.paths import config_path
from cues.datafile import DataFileError, line_of
from cues.speech.voice import Engine, engine_for
from cues.words import field_name, plain
from sensors.bluetooth.transport import Transport


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class SpeechConfig(_Section):
    engine: Engine | None = None  # "piper" or "pyttsx3"; none: the voice's, else Piper
    voice: str | None = None  # a Piper voice file (.onnx) or an espeak-ng voice; none: default
    rate: int = Field(default=175, ge=80, le=400)  # words a minute
    volume: float = Field(default=1.0, ge=0.0, le=1.0)  # of the loudness target
    clarity: bool = False  # speech shaped to carry over loud traffic (cues.speech.clarity)
    worker_idle_s: float = Field(default=60.0, ge=1.0, le=3600.0)  # then the voice is unloaded

    @model_validator(mode="after")
    def _engine_speaks_voice(self) -> SpeechConfig:
        engine_for(self.voice, self.engine)  # a Piper file for espeak-ng: refused, with why
        return self


class SoundConfig(_Section):
    audio: Literal["auto", "device", "files"] = "auto"
    pre_roll_s: float = Field(default=0.3, ge=0.0, le=3.0)  # to wake Bluetooth headphones
    duck_level: float = Field(default=0.3, ge=0.0, le=1.0)  # other audio during a cue; 1: off
    headphones_only: bool = False
    metronome_beats: int = Field(default=0, ge=0, le=64)  # after an overstriding cue; 0: off
    loudness_lufs: float = Field(default=-16.0, ge=-40.0, le=-6.0)  # every cue and earcon
    true_peak_db: float = Field(default=-1.0, ge=-12.0, le=0.0)  # dBTP ceiling


class CoachConfig(_Section):
    warmup_s: float = Field(default=60.0, ge=0.0, le=3600.0)  # running not judged
    baseline_s: float = Field(default=120.0, gt=0.0, le=3600.0)  # running learned from, after it
    cues: Path | None = None  # a cue catalogue instead of the bundled one
    rules: Path | None = None  # drift rules instead of the bundled ones

    @field_validator("cues", "rules")
    @classmethod
    def _beside_the_file(cls, path: Path | None, info: ValidationInfo) -> Path | None:
        """A relative path is read from the configuration file's folder, as most tools do,
        so that it means the same whichever folder a command is started in."""
        if path is None:
            return None
        path = path.expanduser()
        folder = (info.context or {}).get("folder")
        return folder / path if folder is not None and not path.is_absolute() else path


class ScheduleConfig(_Section):
    checkin_min: float = Field(
        default=5.0, ge=0.0
    )  # a posture check-in every N run minutes; 0: off
    split_min: float = Field(default=0.0, ge=0.0)  # time and cadence every N run minutes; 0: off
    split_km: float = Field(default=1.0, ge=0.0)  # distance and pace every N km (footpod); 0: off
    heart_rate_min: float = Field(default=0.0, ge=0.0)  # heart rate every N minutes; 0: off
    # Times of day ("07:30") for a drill reminder between runs; two or three a day is ideal.
    drill_reminders: tuple[str, ...] = ()

    @field_validator("drill_reminders")
    @classmethod
    def _times_of_day(cls, times: tuple[str, ...]) -> tuple[str, ...]:
        for text in times:
            if not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", text):
                raise ValueError(f'{text!r} is not a time of day such as "07:30"')
        if len(set(times)) != len(times):
            raise ValueError("a time is given twice")
        return tuple(sorted(times))


class DaemonConfig(_Section):
    transport: str = "system"  # the BLE stack: "system", or "bumble:<transport>"
    speak_summary: bool = True  # at the end of each run
    auto_start: bool = False  # start a run when the paired footpod shows running cadence
    auto_start_spm: float = Field(default=140.0, ge=60.0, le=250.0)

    @field_validator("transport")
    @classmethod
    def _transport(cls, spec: str) -> str:

        return Transport.parse(spec).spec


class HistoryConfig(_Section):
    # Runs older than this many days keep their totals, drifts and cues but drop their
    # seconds, steps and raw notifications, each one logged; 0 keeps everything.
    keep_detail_days: int = Field(default=0, ge=0)


class Config(_Section):
    speech: SpeechConfig = SpeechConfig()
    sound: SoundConfig = SoundConfig()
    coach: CoachConfig = CoachConfig()
    schedule: ScheduleConfig = ScheduleConfig()
    daemon: DaemonConfig = DaemonConfig()
    history: HistoryConfig = HistoryConfig()


class ConfigError(DataFileError):
    """A configuration file that cannot be used, with the file, line and field."""


def load_config(path: Path | None = None) -> Config:
    """The configuration in `path` (default: the platform's); the defaults if it is absent."""
    path = path or config_path()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Config()
    except OSError as err:
        raise ConfigError(f"{path}: cannot read the file: {err.strerror}") from None
    except UnicodeDecodeError as err:
        raise ConfigError(f"{path}: not UTF-8 text (at byte {err.start})") from None
    try:
        data: dict[str, Any] = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{path}: not valid TOML: {err}") from None
    try:
        return Config.model_validate(data, context={"folder": path.parent.absolute()})
    except ValidationError as err:
        problems = []
        for e in err.errors():
            loc = tuple(e["loc"])
            line = line_of(text, loc)
            where = f"line {line}, " if line else ""
            words = plain(e, Config, noun="setting")
            problems.append(f"{where}field {field_name(loc)}: {words}")
        raise ConfigError(f"{path}: " + "; ".join(problems)) from None


def as_toml(config: Config) -> str:
    """The settings in effect, as a file a runner could start from."""
    lines = []
    for section, model in config:
        lines.append(f"[{section}]")
        for key, value in model:
            if value is None:
                lines.append(f"# {key} = (not set)")
            elif isinstance(value, bool):
                lines.append(f"{key} = {'true' if value else 'false'}")
            elif isinstance(value, int | float):
                lines.append(f"{key} = {value}")
            elif isinstance(value, tuple):
                lines.append(f"{key} = {json.dumps(list(value))}")
            else:
                lines.append(f"{key} = {json.dumps(str(value))}")
        lines.append("")
    return "\n".join(lines)

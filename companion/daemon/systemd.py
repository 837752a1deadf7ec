"""The daemon as a systemd user service, started with the runner's session and restarted if
it ever fails: the unit, installing and removing it, and log lines for journald."""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import ClassVar

from companion import logs

UNIT = "posture-companion.service"

UNIT_TEXT = """\
[Unit]
Description=posture-companion: a running-form voice coach
# Speak through the user's sound server once it is there.
After=pipewire-pulse.service pulseaudio.service

[Service]
Type=notify
NotifyAccess=main
ExecStart={exec_start}
ExecReload=/bin/kill -HUP $MAINPID
WatchdogSec=30
Restart=on-failure
RestartSec=5
# Ending a run speaks its summary: give it time before being killed.
TimeoutStopSec=60
# Files the daemon makes are the runner's alone.
UMask=0077
NoNewPrivileges=yes

[Install]
WantedBy=default.target
"""


def unit_dir() -> Path:
    """Where systemd looks for the user's own units."""
    config = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config) / "systemd" / "user"


def unit_text() -> str:
    """The unit, starting this installation's `companion` with this Python."""
    return UNIT_TEXT.format(exec_start=f"{sys.executable} -m companion daemon")


def _systemctl(*args: str) -> tuple[bool, str]:
    """Run `systemctl --user ARGS`; whether it worked, and what it said."""
    if shutil.which("systemctl") is None:
        return False, "systemctl is not installed here"
    done = subprocess.run(
        ["systemctl", "--user", *args], capture_output=True, text=True, check=False
    )
    return done.returncode == 0, (done.stderr or done.stdout).strip()


def _steps(*steps: tuple[str, ...]) -> str | None:
    """Run each `systemctl --user` step in turn; at the first that fails, what went wrong."""
    for step in steps:
        ok, said = _systemctl(*step)
        if not ok:
            return f"systemctl --user {' '.join(step)} did not work ({said or 'no reason given'})"
    return None


def install(path: Path, no_start: bool) -> str | None:
    """Write the unit and enable it; at a failure, why, with everything put back as it was:
    no unit, link or folder of ours left behind (a unit there before is restored)."""
    wants = path.parent / "default.target.wants" / UNIT
    made = [p for p in (wants.parent, path.parent, *path.parent.parents) if not p.exists()]
    before = path.read_bytes() if path.exists() else None
    linked = wants.is_symlink()
    enable = ("enable", UNIT) if no_start else ("enable", "--now", UNIT)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(unit_text(), encoding="utf-8")
    except OSError as err:
        failed: str | None = f"cannot write {path} ({err.strerror or err})"
    else:
        failed = _steps(("daemon-reload",), enable)
    if failed is None:
        return None
    if not linked and wants.is_symlink():  # enabled, then failed to start
        _steps(("disable", UNIT))
        wants.unlink(missing_ok=True)
    with contextlib.suppress(OSError):
        if before is None:
            path.unlink(missing_ok=True)
        else:
            path.write_bytes(before)
    for folder in made:  # deepest first; only those left empty
        with contextlib.suppress(OSError):
            folder.rmdir()
    _steps(("daemon-reload",))
    return failed


def uninstall(path: Path) -> str | None:
    """Disable, stop and remove the installed unit at `path`; what failed, if anything (the
    file and its enable link are gone all the same)."""
    failed = _steps(("disable", "--now", UNIT))
    # What `enable` linked, gone even when systemd could not be asked.
    (path.parent / "default.target.wants" / UNIT).unlink(missing_ok=True)
    path.unlink()
    reloaded = _steps(("daemon-reload",))
    return failed or reloaded


class JournalFormatter(logs.OneLine):
    """Lines for journald: each with its priority as a "<N>" prefix (sd-daemon(3)), so that
    `journalctl -p warning` finds the warnings; journald adds the time and the unit."""

    PRIORITY: ClassVar[dict[int, int]] = {
        logging.DEBUG: 7,
        logging.INFO: 6,
        logging.WARNING: 4,
        logging.ERROR: 3,
    }

    def format(self, record: logging.LogRecord) -> str:
        priority = self.PRIORITY.get(record.levelno, 2)
        return f"<{priority}>{self.text(record)}"


def to_journal() -> bool:
    """Whether stderr goes to journald (systemd says so in JOURNAL_STREAM)."""
    device, _, inode = os.environ.get("JOURNAL_STREAM", "").partition(":")
    try:
        stat = os.fstat(2)
    except OSError:
        return False
    return f"{stat.st_dev}:{stat.st_ino}" == f"{device}:{inode}"

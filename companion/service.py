"""`companion daemon`, and `companion service install|uninstall`: the daemon as a systemd
user service, started with the runner's session and restarted if it ever fails."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

from rich.console import Console

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


def cmd_service(args: argparse.Namespace, console: Console) -> int:
    path = unit_dir() / UNIT
    if args.action == "install":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(unit_text(), encoding="utf-8")
        console.print(f"Wrote {path}")
        steps = [("daemon-reload",), ("enable", "--now", UNIT)]
        if args.no_start:
            steps = [("daemon-reload",), ("enable", UNIT)]
    else:
        steps = [("disable", "--now", UNIT)]
        if path.exists():
            path.unlink()
            console.print(f"Removed {path}")
        else:
            console.print(f"{path} was not installed")
        steps.append(("daemon-reload",))
    for step in steps:
        ok, said = _systemctl(*step)
        if not ok:
            console.print(
                f"[yellow]systemctl --user {' '.join(step)} did not work ({said or 'no reason'})."
            )
            console.print(
                "Without a systemd user session, start the daemon yourself: `companion daemon`"
                if args.action == "install"
                else "Stop a daemon you started yourself with Ctrl-C or `kill`."
            )
            return 0
    if args.action == "install":
        verb = "enabled" if args.no_start else "enabled and started"
        console.print(f"{UNIT} {verb}; `journalctl --user -u {UNIT}` shows its log")
    return 0


def cmd_daemon(args: argparse.Namespace, console: Console) -> int:
    from companion.daemon import Daemon  # the service's imports, only when it runs

    # A service's log: what it did at INFO (journald adds the time), -v for every detail.
    logging.getLogger().setLevel(logging.DEBUG if args.verbose else logging.INFO)
    if not args.verbose:
        logging.getLogger("apscheduler").setLevel(logging.WARNING)
    daemon = Daemon()  # a broken configuration is refused here, before anything listens
    return asyncio.run(daemon.main())


def add_service_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    daemon = sub.add_parser(
        "daemon",
        help="run the coach as a service: `companion start`, `stop`, `status` talk to it",
        description="The long-running coach. It listens on a socket for the runner's "
        "commands (for the same user only), runs the schedules and coaches the runs. "
        "SIGTERM ends a run cleanly; SIGHUP reloads the configuration.",
    )
    daemon.set_defaults(handler=cmd_daemon)
    service = sub.add_parser(
        "service", help="install or remove the daemon as a systemd user service"
    )
    service.add_argument("action", choices=("install", "uninstall"))
    service.add_argument(
        "--no-start", action="store_true", help="install and enable, but do not start it now"
    )
    service.set_defaults(handler=cmd_service)

"""`companion daemon`, and `companion service install|uninstall`: the daemon run here, or
as a systemd user service (companion/daemon/systemd.py)."""

from __future__ import annotations

import argparse
import logging
import sys

from rich.console import Console

from companion import logs
from companion.daemon.systemd import (
    UNIT,
    JournalFormatter,
    install,
    to_journal,
    uninstall,
    unit_dir,
)


def cmd_service(args: argparse.Namespace, console: Console) -> int:
    path = unit_dir() / UNIT
    if args.action == "install":
        failed = install(path, args.no_start)
        if failed is not None:
            print(
                f"companion: the service is not installed: {failed}; without a systemd user "
                "session, start the daemon yourself: `companion daemon`",
                file=sys.stderr,
            )
            return 1
        verb = "enabled" if args.no_start else "enabled and started"
        console.print(f"Wrote {path}; {UNIT} {verb}; `journalctl --user -u {UNIT}` shows its log")
        return 0
    if not path.exists():
        console.print(f"{path} was not installed")
        return 0
    failed = uninstall(path)
    console.print(f"Removed {path}")
    if failed is not None:
        console.print(f"[yellow]{failed}. Stop a daemon you started yourself with Ctrl-C or kill.")
    return 0 if failed is None else 1


def cmd_daemon(args: argparse.Namespace, console: Console) -> int:
    from companion.daemon.service import Daemon  # the service's imports, only when it runs

    # A service's log: what it did at INFO, -v for every detail.
    root = logging.getLogger()
    root.setLevel(logging.DEBUG if args.verbose else logging.INFO)
    if to_journal():
        for handler in root.handlers:
            handler.setFormatter(JournalFormatter(args.verbose))
    if not args.verbose:
        logging.getLogger("apscheduler").setLevel(logging.WARNING)
    from companion.daemon.control_socket import SocketInUse

    daemon = Daemon()  # a broken configuration is refused here, before anything listens
    try:
        return logs.run(daemon.main())
    except SocketInUse as err:
        print(f"companion: {err}", file=sys.stderr)
        return 2


def add_service_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    daemon = sub.add_parser(
        "daemon",
        help="run the coach as a service: `companion start`, `stop`, `status` talk to it",
        description="The long-running coach. It listens on a socket for the runner's "
        "commands (for the same user only), runs the schedules and coaches the runs. "
        "SIGTERM ends a run cleanly; SIGHUP reloads the configuration.",
    )
    daemon.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        default=argparse.SUPPRESS,  # `companion -v daemon` says the same
        help="log every detail",
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

"""The sensor commands: scan, pair, unpair, sensors, simulate.

The Bluetooth stack and the simulator are imported by the commands that use them, so that
the rest of `companion` (the daemon above all) starts without them.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

from companion import logs, paths
from companion.cli.arguments import SECONDS_TO_LISTEN, number
from companion.cli.tables import Column, fitted
from cues.words import counted
from sensors.bluetooth import pairing
from sensors.bluetooth.transport import Transport
from sensors.profiles import ROLE_SERVICES, PairedSensor, Role, offered

TRANSPORT_HELP = (
    "the BLE stack: 'system' (BlueZ on Linux), 'bumble:usb:0' for a USB dongle without "
    "BlueZ, or 'bumble:tcp-client:127.0.0.1:9001' for `companion simulate` "
    "(default: $COMPANION_TRANSPORT, else system)"
)


def add_transport(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--transport",
        type=Transport.parse,
        default=Transport.parse(os.environ.get("COMPANION_TRANSPORT", "system")),
        help=TRANSPORT_HELP,
    )


def cmd_scan(args: argparse.Namespace, console: Console) -> int:
    from bleak.exc import BleakError

    from sensors.bluetooth.live import scan

    transport: Transport = args.transport
    transport.activate()
    with Progress(
        TextColumn("Scanning"),
        BarColumn(),
        TextColumn("{task.fields[found]} found"),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as progress:
        task = progress.add_task("scan", total=args.seconds, found=0)
        try:
            found = logs.run(
                scan(
                    transport,
                    args.seconds,
                    lambda t, n: progress.update(task, completed=t, found=n),
                )
            )
        except (BleakError, OSError) as err:
            raise SystemExit(f"companion: {transport.explain(err)}") from None
    paired = {s.address: s for s in pairing.load(paths.paired_sensors())}
    shown = [f for f in found if args.all or f.profiles]
    if args.json:
        for f in shown:
            print(
                json.dumps(
                    {
                        "address": f.address,
                        "name": f.name,
                        "rssi": f.rssi,
                        "profiles": f.profiles,
                        "paired": f.address in paired,
                    }
                )
            )
        return 0
    rows = [
        (
            f.address,
            f.name or "?",
            f"{f.rssi} dBm" if f.rssi is not None else "?",
            ", ".join(f.profiles) or "-",
            paired[f.address].role.value if f.address in paired else "",
        )
        for f in shown
    ]
    columns = (
        Column("address"),
        Column("name", whole=False, keep=3),
        Column("signal", right=True, keep=1),
        Column("offers", whole=False, keep=2),
        Column("paired as", keep=4),
    )
    title = f"{counted(len(shown), 'sensor')} heard in {args.seconds:g} s"
    title += "" if args.all else " (--all for every device)"
    console.print(fitted(console, columns, rows, title=title))
    if shown:
        console.print("Pair one with: companion pair ADDRESS --role footpod|chest|pelvis|hr")
    return 0


def cmd_pair(args: argparse.Namespace, console: Console) -> int:
    from bleak.exc import BleakError

    from sensors.bluetooth.live import inspect

    address = pairing.normalise(args.address)
    role = Role(args.role)
    name = args.name or ""
    if not args.no_check:
        transport: Transport = args.transport
        transport.activate()
        console.print(f"Connecting to {address} to see what it offers…")
        try:
            heard_name, services = logs.run(inspect(transport, address, args.seconds))
        except (BleakError, OSError, TimeoutError) as err:
            raise SystemExit(f"companion: {transport.explain(err)}") from None
        if not set(services) & ROLE_SERVICES[role]:
            has = ", ".join(offered(services)) or "nothing we speak"
            raise SystemExit(
                f"companion: {address} cannot be the {role.value} sensor: it offers {has}"
            )
        name = name or heard_name or ""
    sensors, replaced = pairing.pair(paths.paired_sensors(), PairedSensor(address, role, name))
    if replaced is not None and replaced.address != address:
        console.print(f"{replaced.label} ({replaced.address}) is no longer the {role.value}.")
    console.print(
        f"Paired {name or address} as the {role.value}. The coach connects only to "
        f"paired sensors ({len(sensors)} now)."
    )
    return 0


def cmd_unpair(args: argparse.Namespace, console: Console) -> int:
    gone = pairing.unpair(paths.paired_sensors(), pairing.normalise(args.address))
    console.print(f"Unpaired {gone.label} ({gone.address}, {gone.role.value}).")
    return 0


def cmd_sensors(args: argparse.Namespace, console: Console) -> int:
    sensors = pairing.load(paths.paired_sensors())
    if not sensors:
        console.print("No sensors paired. Find them with `companion scan`.")
        return 0
    rows = [(s.role.value, s.name or "?", s.address) for s in sensors]
    columns = (Column("role"), Column("name", whole=False, keep=1), Column("address"))
    console.print(fitted(console, columns, rows, title="Paired sensors"))
    return 0


SECONDS_IN = number(float, ge=0)  # a time into the recording
_LASTING = number(float, gt=0)


def _dropout(text: str) -> tuple[float, float]:
    at, sep, lasting = text.partition(":")
    if not sep:
        raise argparse.ArgumentTypeError(f"expected AT:FOR in seconds, got {text!r}")
    try:
        return SECONDS_IN(at), _LASTING(lasting)
    except argparse.ArgumentTypeError as err:
        raise argparse.ArgumentTypeError(f"AT:FOR in seconds {text!r}: {err}") from None


def cmd_simulate(args: argparse.Namespace, console: Console) -> int:
    from companion.run.demo import DEMO_RECORDING
    from companion.run.simulate import SimulateOptions, simulate
    from sensors.recorded.recording import load_recording

    recording = load_recording(args.recording or DEMO_RECORDING)
    options = SimulateOptions(
        port=args.port,
        speed=args.speed,
        start_s=args.start,
        dropouts=tuple(args.dropout),
        battery=args.battery,
        strides=args.strides,
        compressed=args.compressed,
        imu_board=args.imu,
    )
    spec = f"bumble:tcp-client:127.0.0.1:{args.port}"

    def ready(sensors: list[tuple[str, str, str]], notes: list[str]) -> None:
        console.rule(f"Virtual sensors playing {recording.name} at {args.speed:g}x")
        for note in notes:
            console.print(f"[yellow]{note}")
        for address, name, role in sensors:
            console.print(
                f"  {name:18} {address}   pair as: companion pair {address} "
                f"--role {'footpod' if 'Footpod' in name else role} --transport {spec}"
            )
        console.print(f"\nThen, in another terminal: companion run --transport {spec}")
        console.print(
            "Stop this with Ctrl-C and start it again: the run finds its sensors "
            "again. Listening on 127.0.0.1 only.",
            style="dim",
        )

    try:
        logs.run(simulate(recording, options, ready))
    except OSError as err:
        raise SystemExit(f"companion: cannot serve on 127.0.0.1:{args.port}: {err}") from None
    return 0


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("scan", help="list nearby sensors and which of our profiles they offer")
    p.add_argument(
        "--seconds", type=SECONDS_TO_LISTEN, default=8.0, help="how long to listen (default 8)"
    )
    p.add_argument("--all", action="store_true", help="also devices that offer nothing we use")
    p.add_argument("--json", action="store_true", help="one JSON object per device")
    add_transport(p)
    p.set_defaults(handler=cmd_scan)

    p = sub.add_parser(
        "pair", help="remember a sensor in a role (the coach connects only to paired sensors)"
    )
    p.add_argument("address")
    p.add_argument("--role", required=True, choices=[r.value for r in Role])
    p.add_argument("--name", help="a name of your own for it")
    p.add_argument(
        "--seconds", type=SECONDS_TO_LISTEN, default=10.0, help="how long to look for it"
    )
    p.add_argument("--no-check", action="store_true", help="do not connect to check what it offers")
    add_transport(p)
    p.set_defaults(handler=cmd_pair)

    p = sub.add_parser("unpair", help="forget a paired sensor")
    p.add_argument("address")
    p.set_defaults(handler=cmd_unpair)

    p = sub.add_parser("sensors", help="list the paired sensors")
    p.set_defaults(handler=cmd_sensors)

    p = sub.add_parser(
        "simulate",
        help="virtual sensors that play a recording over a virtual "
        "Bluetooth controller, for a live run beside it",
    )
    p.add_argument("--recording", type=Path, help="a recording (default: the bundled run)")
    p.add_argument(
        "--port",
        type=number(int, ge=1, le=65535),
        default=9001,
        help="TCP port on 127.0.0.1 (default 9001)",
    )
    p.add_argument(
        "--speed",
        type=number(float, gt=0, le=1000),
        default=1.0,
        help="playback speed (default real time)",
    )
    p.add_argument("--start", type=SECONDS_IN, default=0.0, help="start this many seconds in")
    p.add_argument(
        "--dropout",
        type=_dropout,
        action="append",
        default=[],
        metavar="AT:FOR",
        help="the strap goes out of reach at AT seconds for FOR seconds",
    )
    p.add_argument(
        "--battery",
        type=number(int, ge=0, le=100),
        default=85,
        help="battery percent (default 85)",
    )
    p.add_argument("--strides", action="store_true", help="the footpod counts strides per minute")
    p.add_argument(
        "--compressed", action="store_true", help="send delta-compressed accelerometer frames"
    )
    p.add_argument("--imu", action="store_true", help="also a board on the plain IMU profile")
    p.set_defaults(handler=cmd_simulate)

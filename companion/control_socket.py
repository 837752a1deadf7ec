"""The control socket: a Unix socket in the user's runtime directory, for the same user only.

The folder is the user's alone (0700), the socket file too (0600), and each connection's
peer is checked to be the same user (SO_PEERCRED) before a word is read. Nothing listens
on the network.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import struct
import warnings
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import platformdirs

from companion.control import (
    MAX_MESSAGE,
    AnyRequest,
    ProtocolError,
    decode_reply,
    decode_request,
    encode_request,
    error_reply,
)
from companion.paths import APP

Handler = Callable[[AnyRequest], Awaitable[bytes]]


class NoDaemon(RuntimeError):
    """No daemon answers on the control socket."""


def socket_path() -> Path:
    with warnings.catch_warnings():
        # Without XDG_RUNTIME_DIR it falls back to a folder in /tmp, and says so each time;
        # `serve` makes sure the folder is ours alone either way.
        warnings.simplefilter("ignore")
        return platformdirs.user_runtime_path(APP) / "control.sock"


def _peer_uid(sock: socket.socket) -> int:
    creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    return int(struct.unpack("3i", creds)[1])


class SocketInUse(RuntimeError):
    """The socket's place is taken: another daemon answers there, or another user owns it."""


def claim(path: Path) -> None:
    """Make `path`'s folder ours alone and clear a socket a killed daemon left behind;
    `SocketInUse` if a daemon answers there or the folder is another user's."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if path.parent.stat().st_uid != os.getuid():
        # In a shared place such as /tmp, another user could have made it first.
        raise SocketInUse(f"{path.parent} belongs to another user; not listening there")
    path.parent.chmod(0o700)
    if path.exists():
        try:
            request(path, "status", timeout=1.0)
        except NoDaemon:
            path.unlink()  # left by a daemon that was killed
        else:
            raise SocketInUse(f"a daemon already answers on {path}")


async def serve(path: Path, handle: Handler) -> asyncio.Server:
    """Listen on `path` (refusing if another daemon already answers there)."""
    claim(path)

    async def client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            sock = writer.get_extra_info("socket")
            if _peer_uid(sock) != os.getuid():
                writer.write(error_reply("this daemon answers its own user only"))
                return
            while True:
                try:
                    line = await reader.readline()
                except ValueError:  # longer than the limit: the rest cannot be trusted
                    writer.write(error_reply(f"message too long (at most {MAX_MESSAGE} bytes)"))
                    return
                if not line:
                    return
                try:
                    answer = await handle(decode_request(line))
                except ProtocolError as err:
                    answer = error_reply(str(err))
                writer.write(answer)
                await writer.drain()
        except ConnectionError:
            return  # the client went away; nothing to answer
        finally:
            with contextlib.suppress(OSError):
                await writer.drain()
            writer.close()

    old = os.umask(0o177)  # the socket is born private, not made private after
    try:
        server = await asyncio.start_unix_server(client, path, limit=MAX_MESSAGE)
    finally:
        os.umask(old)
    path.chmod(0o600)
    return server


def request(path: Path, cmd: str, timeout: float = 5.0, **fields: Any) -> dict[str, Any]:
    """Send one request and return the daemon's reply (blocking: for the command line)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        try:
            sock.connect(str(path))
        except (FileNotFoundError, ConnectionRefusedError):
            raise NoDaemon(
                f"no daemon is running (nothing answers on {path}); "
                "start one with `companion daemon`"
            ) from None
        sock.sendall(encode_request(cmd, **fields))
        with sock.makefile("rb") as answers:
            line = answers.readline(MAX_MESSAGE * 4)
    if not line:
        raise NoDaemon(f"the daemon on {path} closed the connection without a reply")
    return decode_reply(line)

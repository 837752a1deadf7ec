"""The control socket: a Unix socket in the user's runtime directory, for the same user only.

The folder is the user's alone (0700), the socket file too (0600), and each connection's
peer is checked to be the same user (SO_PEERCRED) before a word is read. Nothing listens
on the network.

A broken or hostile client gets the protocol's error reply, whatever it sends, and cannot
hold the daemon: a connection that sends no whole request for `IDLE_S` (or does not take
its replies) is closed, and at most `MAX_CLIENTS` are served at once.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import struct
import warnings
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import platformdirs

from companion.daemon.control import (
    IDLE_S,
    MAX_CLIENTS,
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
log = logging.getLogger(__name__)


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


async def _answer(handle: Handler, line: bytes) -> bytes:
    """The reply to one line: the handler's, or an error reply saying what was wrong."""
    try:
        return await handle(decode_request(line))
    except ProtocolError as err:
        return error_reply(str(err))
    except Exception as err:  # a mistake of ours: the client still gets its one reply line
        log.exception("a control request failed")
        return error_reply(f"the daemon could not do that: {err}")


async def _converse(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, handle: Handler, busy: bool
) -> None:
    """Answer one connection's requests, line by line, until it is done or must end."""
    if _peer_uid(writer.get_extra_info("socket")) != os.getuid():
        writer.write(error_reply("this daemon answers its own user only"))
        return
    if busy:
        writer.write(error_reply(f"busy: {MAX_CLIENTS} connections are open already"))
        return
    while True:
        try:
            line = await asyncio.wait_for(reader.readline(), IDLE_S)
        except ValueError:  # longer than the limit: the rest cannot be trusted
            writer.write(error_reply(f"message too long (at most {MAX_MESSAGE} bytes)"))
            return
        except TimeoutError:  # nothing, or half a line (slowly): others may be waiting
            writer.write(error_reply(f"no request within {IDLE_S:g} s: connection closed"))
            return
        if not line:  # the client is done sending (closed, or half-closed)
            return
        # A last line without its newline, at the end of input, is answered too.
        writer.write(await _answer(handle, line))
        await asyncio.wait_for(writer.drain(), IDLE_S)


async def serve(path: Path, handle: Handler) -> asyncio.Server:
    """Listen on `path` (refusing if another daemon already answers there)."""
    claim(path)
    clients = 0

    async def client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal clients
        clients += 1
        try:
            await _converse(reader, writer, handle, busy=clients > MAX_CLIENTS)
            await asyncio.wait_for(writer.drain(), IDLE_S)  # the last reply, then the end
            writer.close()
        except (ConnectionError, TimeoutError):
            writer.transport.abort()  # gone away, or not reading its replies: dropped
        except asyncio.CancelledError:
            # The daemon is stopping mid-request. Ended quietly: asyncio's streams log a
            # connection task that ends cancelled as an error (Python 3.11).
            writer.transport.abort()
        finally:
            clients -= 1  # nothing awaited here: it also runs when the loop is gone

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

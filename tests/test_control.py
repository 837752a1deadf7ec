"""The control protocol (pure) and the control socket (a real Unix socket, same user only)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import pytest

from companion.control import (
    MAX_MESSAGE,
    ProtocolError,
    Say,
    Status,
    decode_request,
    reply,
)
from companion.control_socket import NoDaemon, request, serve, socket_path
from tests.conftest import need
from tests.test_cli import companion

Seen = list[object]


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        (b"status\n", "not JSON"),
        (b"[1, 2]\n", "not a JSON object"),
        (b'{"cmd": "dance"}\n', "unknown command 'dance'"),
        (b'{"cmd": "say"}\n', "say: text: Field required"),
        (b'{"cmd": "say", "text": ""}\n', "say: text: String should have at least 1"),
        (b'{"cmd": "status", "verbose": true}\n', "status: verbose: Extra inputs"),
        (b'{"cmd": "say", "text": "' + b"a" * MAX_MESSAGE + b'"}\n', "message too long"),
    ],
)
def test_bad_requests_say_what_is_wrong(line: bytes, problem: str) -> None:
    with pytest.raises(ProtocolError, match=problem):
        decode_request(line)


def test_good_requests() -> None:
    assert decode_request(b'{"cmd": "status"}\n') == Status(cmd="status")
    assert decode_request(b'{"cmd": "say", "text": "Ribs down."}') == Say(
        cmd="say", text="Ribs down."
    )


@contextlib.contextmanager
def served(path: Path, handle: Callable[[object], Awaitable[bytes]]) -> Iterator[None]:
    """A real control socket at `path`, served from an event loop thread."""
    loop = asyncio.new_event_loop()
    server = loop.run_until_complete(serve(path, handle))
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield
    finally:

        async def shut() -> None:
            server.close()
            await server.wait_closed()

        asyncio.run_coroutine_threadsafe(shut(), loop).result(timeout=5)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=5)
        loop.close()


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[tuple[Path, Seen]]:
    """A socket whose handler notes each request (and is slow to say things)."""
    path = tmp_path / "run" / "control.sock"
    seen: Seen = []

    async def handle(req: object) -> bytes:
        seen.append(req)
        if isinstance(req, Say):
            await asyncio.sleep(0.3)  # speaking takes a while; others must not wait on it
        return reply(cmd=getattr(req, "cmd", None), state="idle")

    with served(path, handle):
        yield path, seen


def test_the_socket_is_the_users_alone(daemon: tuple[Path, Seen]) -> None:
    path, _ = daemon
    assert path.stat().st_mode & 0o777 == 0o600
    assert path.parent.stat().st_mode & 0o777 == 0o700


def test_requests_get_replies(daemon: tuple[Path, Seen]) -> None:
    path, seen = daemon
    assert request(path, "status") == {"ok": True, "cmd": "status", "state": "idle"}
    assert request(path, "say", text="Ribs down.")["ok"] is True
    assert seen == [Status(cmd="status"), Say(cmd="say", text="Ribs down.")]
    answer = request(path, "dance")
    assert answer["ok"] is False and "unknown command 'dance'" in answer["error"]


def test_two_clients_at_once(daemon: tuple[Path, Seen]) -> None:
    path, _ = daemon
    slow, quick = socket.socket(socket.AF_UNIX), socket.socket(socket.AF_UNIX)
    with slow, quick:
        slow.connect(str(path))
        quick.connect(str(path))
        slow.sendall(b'{"cmd": "say", "text": "Run tall."}\n')
        time.sleep(0.05)
        started = time.monotonic()
        quick.sendall(b'{"cmd": "status"}\n')
        assert json.loads(quick.makefile("rb").readline())["cmd"] == "status"
        assert time.monotonic() - started < 0.25  # not held up by the other client's cue
        assert json.loads(slow.makefile("rb").readline())["cmd"] == "say"


def test_an_oversized_message_gets_an_error_and_the_connection_ends(
    daemon: tuple[Path, Seen],
) -> None:
    path, seen = daemon
    with socket.socket(socket.AF_UNIX) as sock:
        sock.connect(str(path))
        sock.sendall(b'{"cmd": "say", "text": "' + b"x" * (4 * MAX_MESSAGE) + b'"}\n')
        answer = json.loads(sock.makefile("rb").readline())
    assert answer["ok"] is False and "message too long" in answer["error"]
    assert seen == []


def test_no_daemon_says_so_and_how_to_start_one(tmp_path: Path) -> None:
    with pytest.raises(NoDaemon, match=r"no daemon is running.*companion daemon"):
        request(tmp_path / "control.sock", "status")


def test_a_stale_socket_is_replaced_but_a_live_one_is_not(
    daemon: tuple[Path, Seen], tmp_path: Path
) -> None:
    live, _ = daemon
    with pytest.raises(RuntimeError, match="already answers"):
        asyncio.run(serve(live, lambda req: asyncio.sleep(0, b"")))
    stale = tmp_path / "old" / "control.sock"
    stale.parent.mkdir(mode=0o700)
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(stale))  # a daemon killed without cleaning up leaves this behind

    async def replace_it() -> None:
        server = await serve(stale, lambda req: asyncio.sleep(0, reply()))
        server.close()
        await server.wait_closed()

    asyncio.run(replace_it())


@pytest.fixture
def runtime_daemon() -> Iterator[tuple[dict[str, str], Seen]]:
    """A socket where the command line looks for the daemon (the test's own runtime
    folder, set by conftest)."""
    seen: Seen = []

    async def handle(req: object) -> bytes:
        seen.append(req)
        return reply(state="idle", last_cue=None)

    with served(socket_path(), handle):
        yield dict(os.environ), seen


def test_the_command_line_talks_to_the_daemon(
    runtime_daemon: tuple[dict[str, str], Seen],
) -> None:
    env, seen = runtime_daemon
    done = companion("status", "--json", env=env)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"state": "idle", "last_cue": None}
    done = companion("say", "Ribs", "down.", env=env)
    assert done.returncode == 0, done.stderr
    assert seen == [Status(cmd="status"), Say(cmd="say", text="Ribs down.")]


def test_without_a_daemon_the_command_line_says_how_to_start_one() -> None:
    done = companion("pause")
    assert done.returncode == 3
    assert "no daemon is running" in done.stderr and "companion daemon" in done.stderr


def test_a_folder_another_user_made_is_not_listened_in(tmp_path: Path) -> None:
    need(os.geteuid() == 0, "only root can make a folder belong to another user")
    folder = tmp_path / "shared" / "posture-companion"
    folder.mkdir(parents=True)
    os.chown(folder, 65534, 65534)  # nobody
    with pytest.raises(RuntimeError, match="belongs to another user"):
        asyncio.run(serve(folder / "control.sock", lambda req: asyncio.sleep(0, reply())))

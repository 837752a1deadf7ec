"""The control protocol (pure) and the control socket (a real Unix socket, same user only)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import pwd
import socket
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from companion.daemon.control import (
    IDLE_S,
    MAX_CLIENTS,
    MAX_MESSAGE,
    ProtocolError,
    Say,
    Status,
    decode_request,
    encode_request,
    reply,
)
from companion.daemon.control_socket import NoDaemon, request, serve, socket_path
from tests.conftest import need
from tests.test_cli import companion
from tests.test_daemon import HIP_RUN, running_daemon, write_config

Seen = list[object]


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        (b"status\n", "not JSON"),
        (b"[1, 2]\n", "not a JSON object"),
        (b'{"cmd": "dance"}\n', "unknown command 'dance'"),
        (b'{"cmd": "say"}\n', "say: text: is missing"),
        (b'{"cmd": "say", "text": ""}\n', "say: text: must be at least 1 character$"),
        (b'{"cmd": "status", "verbose": true}\n', "status: verbose: unknown field 'verbose'"),
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
            # And let each connection's handler see its client gone and finish (a loop
            # closed under one leaves its last drain() never awaited).
            handlers = asyncio.all_tasks() - {asyncio.current_task()}
            if handlers:
                await asyncio.wait(handlers, timeout=5)

        asyncio.run_coroutine_threadsafe(shut(), loop).result(timeout=5)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=5)
        loop.close()


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[tuple[Path, Seen]]:
    """A socket whose handler notes each request."""
    path = tmp_path / "run" / "control.sock"
    seen: Seen = []

    async def handle(req: object) -> bytes:
        seen.append(req)
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


def test_two_clients_at_once(tmp_path: Path) -> None:
    """A client whose request takes a while holds up no other: its cue is not said until
    the other client has had its answer, so that answer cannot have waited on it."""
    path = tmp_path / "run" / "control.sock"
    seen: Seen = []
    said = threading.Event()  # set once the quick client has its answer

    async def handle(req: object) -> bytes:
        seen.append(req)
        if isinstance(req, Say):  # speaking takes as long as the other client's turn
            assert await asyncio.to_thread(said.wait, 60), "the other client never got its answer"
        return reply(cmd=getattr(req, "cmd", None), state="idle")

    with served(path, handle):
        slow, quick = socket.socket(socket.AF_UNIX), socket.socket(socket.AF_UNIX)
        with slow, quick:
            for sock in (slow, quick):
                sock.settimeout(60)
                sock.connect(str(path))
            slow.sendall(b'{"cmd": "say", "text": "Run tall."}\n')
            deadline = time.monotonic() + 60
            while not seen:  # the say is being handled
                assert time.monotonic() < deadline, "the say request was never handled"
                time.sleep(0.01)
            try:
                quick.sendall(b'{"cmd": "status"}\n')
                assert json.loads(quick.makefile("rb").readline())["cmd"] == "status"
            finally:
                said.set()
            assert json.loads(slow.makefile("rb").readline())["cmd"] == "say"
    assert seen == [Say(cmd="say", text="Run tall."), Status(cmd="status")]


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


def as_user(user: pwd.struct_passwd, folder: Path, data: bytes) -> tuple[int, str]:
    """What `user` gets, in a child process of its own (forked, then its groups and ids
    dropped to that user's), on connecting to `folder`/control.sock and sending `data`: its
    uid and every reply line, or the error it met. The child enters `folder` while still
    root, so the folders above it (pytest's, private to root) need not be opened to it."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: nothing but this, then out without pytest's clean-up
        status = 1
        try:
            os.close(read)
            os.chdir(folder)
            os.setgroups([])
            os.setgid(user.pw_gid)
            os.setuid(user.pw_uid)
            try:
                with socket.socket(socket.AF_UNIX) as sock:
                    sock.settimeout(60)
                    sock.connect("control.sock")
                    # A refusal may come before the request is sent, or read.
                    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                        sock.sendall(data)
                        sock.shutdown(socket.SHUT_WR)  # one request: then the reply, and out
                    replies = b""
                    with contextlib.suppress(ConnectionResetError):
                        while chunk := sock.recv(MAX_MESSAGE):
                            replies += chunk
                said = replies.decode()
            except OSError as err:
                said = f"{type(err).__name__}: {err.strerror}"
            os.write(write, json.dumps([os.getuid(), said]).encode())
            status = 0
        finally:
            os._exit(status)
    os.close(write)
    with os.fdopen(read, "rb") as child:
        out = child.read()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0 and out, "the child failed before asking"
    uid, said = json.loads(out)
    return uid, said


def test_another_user_is_refused_by_the_socket_itself(tmp_path: Path) -> None:
    """The socket answers its own user only, by the peer's credentials (SO_PEERCRED), not
    just because its folder is closed: the folder and socket are opened to user nobody here,
    so that only the check of the peer stands between nobody and the daemon."""
    need(os.geteuid() == 0, "only root can connect as another user (nobody)")
    try:
        nobody = pwd.getpwnam("nobody")
    except KeyError:
        pytest.skip("there is no user nobody to connect as")
    write_config("")
    start = encode_request("start", replay=str(HIP_RUN), speed=40.0)
    with running_daemon(tmp_path) as (proc, _, log):
        path = socket_path()
        # As the daemon made them: nobody cannot even reach the socket.
        assert as_user(nobody, path.parent, start) == (
            nobody.pw_uid,
            "PermissionError: Permission denied",
        )
        # Opened to everyone: nobody reaches the socket, and the daemon refuses it.
        path.parent.chmod(0o711)
        path.chmod(0o666)
        assert as_user(nobody, path.parent, start) == (
            nobody.pw_uid,
            json.dumps({"ok": False, "error": "this daemon answers its own user only"}) + "\n",
        )
        status = request(path, "status")
        assert status["ok"] is True and status["state"] == "idle", status
        assert "run started" not in log.read_text()
        # The same request from the daemon's own user, on the same opened socket: done.
        uid, said = as_user(pwd.getpwuid(os.getuid()), path.parent, start)
        answer = json.loads(said)
        assert (uid, answer["ok"]) == (os.getuid(), True) and answer["state"] != "idle", answer
        assert request(path, "status")["state"] != "idle"
        assert log.read_text().count("run started") == 1
        assert proc.poll() is None
    assert "Traceback" not in log.read_text()


def exchange(path: Path, data: bytes, half_close: bool = False) -> list[dict[str, Any]]:
    """Send `data` on a connection of its own and read every reply line until the daemon
    closes it (or, with `half_close`, after saying nothing more is coming)."""
    with socket.socket(socket.AF_UNIX) as sock:
        sock.settimeout(IDLE_S + 30)
        sock.connect(str(path))
        sock.sendall(data)
        if half_close:
            sock.shutdown(socket.SHUT_WR)
        with sock.makefile("rb") as answers:
            return [json.loads(line) for line in answers]


def errors_of(replies: list[dict[str, Any]]) -> list[str]:
    assert all(r["ok"] is False for r in replies), replies
    return [r["error"] for r in replies]


HOSTILE = [
    (b"[" * 2000 + b"]" * 2000 + b"\n", "nested too deeply"),
    (b'{"cmd": "say", "text": ' + b"[" * 900 + b"]" * 900 + b"}\n", "nested too deeply"),
    (b'{"cmd": "start", "speed": ' + b"9" * 3000 + b"}\n", "more than 20 digits"),
    (b'{"cmd": "start", "speed": 1e999}\n', "start: speed: must be a finite number"),
    (b'{"cmd": "start", "speed": NaN}\n', "not JSON"),
    (b'{"cmd": "say", "text": "\\ud800"}\n', "lone surrogate"),
    (b'{"cmd": "say", "cmd": "stop"}\n', "the key 'cmd' is given twice"),
    (b'{"cmd": {"nested": true}}\n', "the command must be text"),
    (b'{"cmd": "say", "text": 5}\n', "say: text: must be text"),
    (b"\xff\xfe\n", "not JSON"),
    (b"\n", "not JSON"),
]


def test_a_hostile_client_gets_error_replies_and_the_daemon_goes_on(tmp_path: Path) -> None:
    write_config("")
    with running_daemon(tmp_path) as (proc, _, log):
        sock = socket_path()
        # Each bad line gets its error reply, in order, on one connection that stays open.
        lines = b"".join(line for line, _ in HOSTILE) + b'{"cmd": "status"}\n'
        replies = exchange(sock, lines, half_close=True)
        assert len(replies) == len(HOSTILE) + 1
        for (line, problem), answer in zip(HOSTILE, replies, strict=False):
            assert answer["ok"] is False and problem in answer["error"], (line[:40], answer)
        assert replies[-1]["ok"] is True and replies[-1]["state"] == "idle"
        # A last request without its newline is answered once the client says it is done.
        (answer,) = exchange(sock, b'{"cmd": "status"}', half_close=True)
        assert answer["ok"] is True
        # A line longer than the limit: its error, and the connection ends.
        assert errors_of(exchange(sock, b"x" * (MAX_MESSAGE + 10))) == [
            f"message too long (at most {MAX_MESSAGE} bytes)"
        ]
        # A client that goes away before its reply leaves nothing behind.
        with socket.socket(socket.AF_UNIX) as gone:
            gone.connect(str(sock))
            gone.sendall(b'{"cmd": "say", "text": "Ribs down."}\n')
        assert request(sock, "status")["state"] == "idle"
        assert proc.poll() is None
    assert "Traceback" not in log.read_text()


@pytest.mark.long
def test_idle_connections_are_closed_and_only_so_many_are_served(tmp_path: Path) -> None:
    write_config("")
    with running_daemon(tmp_path) as (proc, _, log):
        path = socket_path()
        held = [socket.socket(socket.AF_UNIX) for _ in range(MAX_CLIENTS)]
        try:
            for sock in held:
                sock.connect(str(path))
            held[0].sendall(b'{"cmd": "sta')  # half a line, then nothing
            assert request(path, "status") == {
                "ok": False,
                "error": f"busy: {MAX_CLIENTS} connections are open already",
            }
            # Each held connection is told why it is closed, then closed: after the 10 s
            # docs/control-protocol.md promises (the timeout leaves room for a busy machine,
            # not for a longer limit).
            for sock in held:
                sock.settimeout(40)
                with sock.makefile("rb") as answers:
                    assert [json.loads(line) for line in answers] == [
                        {"ok": False, "error": "no request within 10 s: connection closed"}
                    ]
        finally:
            for sock in held:
                sock.close()
        assert request(path, "status")["state"] == "idle"  # served again
        assert proc.poll() is None
    assert "Traceback" not in log.read_text()

"""The control protocol: what a command-line client and the daemon say to each other.

JSON lines over a Unix socket: each request is one JSON object on one line, and each gets
one reply line. Pure (bytes in, typed requests out; replies out as bytes) so that it tests
without a socket, as h11 does for HTTP. See docs/control-protocol.md.

Request:  {"cmd": "status"}            {"cmd": "say", "text": "Ribs down."}
Reply:    {"ok": true, ...fields}      {"ok": false, "error": "what was wrong"}
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

MAX_MESSAGE = 4096  # bytes in one line, newline included: a request is a few words
COMMANDS = ("status", "start", "stop", "pause", "resume", "say", "drill", "skip", "back", "repeat")


class ProtocolError(ValueError):
    """A request that cannot be understood; its text is the error reply's."""


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Status(_Request):
    cmd: Literal["status"]


class Start(_Request):
    cmd: Literal["start"]
    replay: str | None = None  # an absolute path: coach a recording instead of the sensors
    speed: float = Field(default=1.0, ge=0.0, le=10000.0)  # a replay's run seconds per second


class Stop(_Request):
    cmd: Literal["stop"]


class Pause(_Request):
    cmd: Literal["pause"]


class Resume(_Request):
    cmd: Literal["resume"]


class Say(_Request):
    cmd: Literal["say"]
    text: str = Field(min_length=1, max_length=200)


class Drill(_Request):
    """Lead a drill session: a bundled one's name, or a session file's absolute path."""

    cmd: Literal["drill"]
    name: str = Field(min_length=1, max_length=1000)


class Skip(_Request):
    cmd: Literal["skip"]


class Back(_Request):
    cmd: Literal["back"]


class Repeat(_Request):
    cmd: Literal["repeat"]


AnyRequest = Status | Start | Stop | Pause | Resume | Say | Drill | Skip | Back | Repeat
Request = Annotated[AnyRequest, Field(discriminator="cmd")]
_REQUEST: TypeAdapter[AnyRequest] = TypeAdapter(Request)


def decode_request(line: bytes) -> AnyRequest:
    """One request line (with or without its newline), checked."""
    if len(line) > MAX_MESSAGE:
        raise ProtocolError(f"message too long: {len(line)} bytes (at most {MAX_MESSAGE})")
    try:
        data = json.loads(line)
    except (ValueError, UnicodeDecodeError):
        raise ProtocolError("not JSON: send one JSON object per line") from None
    if not isinstance(data, dict):
        raise ProtocolError('not a JSON object: send {"cmd": ...}')
    if data.get("cmd") not in COMMANDS:
        raise ProtocolError(
            f"unknown command {data.get('cmd')!r} (commands: {', '.join(COMMANDS)})"
        )
    try:
        return _REQUEST.validate_python(data)
    except ValidationError as err:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'][1:]) or 'request'}: {e['msg']}"
            for e in err.errors()
        )
        raise ProtocolError(f"{data['cmd']}: {problems}") from None


def encode_request(cmd: str, **fields: Any) -> bytes:
    return json.dumps({"cmd": cmd, **fields}).encode() + b"\n"


def reply(**fields: Any) -> bytes:
    """A successful reply line."""
    return json.dumps({"ok": True, **fields}).encode() + b"\n"


def error_reply(message: str) -> bytes:
    return json.dumps({"ok": False, "error": message}).encode() + b"\n"


def decode_reply(line: bytes) -> dict[str, Any]:
    data = json.loads(line)
    if not isinstance(data, dict) or "ok" not in data:
        raise ProtocolError("the daemon's reply was not understood")
    return data

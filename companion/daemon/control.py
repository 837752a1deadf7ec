"""The control protocol: what a command-line client and the daemon say to each other.

JSON lines over a Unix socket: each request is one JSON object on one line, and each gets
one reply line. Pure (bytes in, typed requests out; replies out as bytes) so that it tests
without a socket, as h11 does for HTTP. See docs/control-protocol.md.

Request:  {"cmd": "status"}            {"cmd": "say", "text": "Ribs down."}
Reply:    {"ok": true, ...fields}      {"ok": false, "error": "what was wrong"}
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from cues.words import counted, field_name, plain

MAX_MESSAGE = 4096  # bytes in one line, newline included: a request is a few words
MAX_DEPTH = 4  # arrays and objects inside each other; a request's values are plain ones
IDLE_S = 10.0  # a connection that sends no whole request for this long is closed
MAX_CLIENTS = 16  # connections at once; the command line opens one per command


class ProtocolError(ValueError):
    """A request that cannot be understood; its text is the error reply's."""


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


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
_REQUESTS: dict[str, type[AnyRequest]] = {
    "status": Status,
    "start": Start,
    "stop": Stop,
    "pause": Pause,
    "resume": Resume,
    "say": Say,
    "drill": Drill,
    "skip": Skip,
    "back": Back,
    "repeat": Repeat,
}
COMMANDS = tuple(_REQUESTS)
MAX_DIGITS = 20  # in a whole number: larger ones are no count or speed a request has


def _depth(line: bytes) -> int:
    """How deep arrays and objects nest in a JSON text, strings skipped: measured before
    parsing, which would otherwise recurse once per level."""
    depth = deepest = 0
    in_string = escaped = False
    for byte in line:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in b"[{":
            depth += 1
            deepest = max(deepest, depth)
        elif byte in b"]}":
            depth -= 1
    return deepest


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")  # json.loads would take NaN and Infinity


def _whole(text: str) -> int:
    if len(text.lstrip("-")) > MAX_DIGITS:
        raise ProtocolError(f"a number of more than {MAX_DIGITS} digits")
    return int(text)


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """An object whose keys are each given once (json.loads would keep the last)."""
    data: dict[str, Any] = {}
    for key, value in pairs:
        if key in data:
            raise ProtocolError(f"the key {key[:40]!r} is given twice")
        data[key] = value
    return data


def _plain_text(value: Any) -> bool:
    """No lone surrogates (\\ud800), which JSON can write but no text can hold."""
    if isinstance(value, str):
        try:
            value.encode()
        except UnicodeEncodeError:
            return False
        return True
    if isinstance(value, dict):
        return all(_plain_text(k) and _plain_text(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_plain_text(v) for v in value)
    return True


def decode_request(line: bytes) -> AnyRequest:
    """One request line (with or without its newline), checked. Anything else a client
    can send, a `ProtocolError` saying what is wrong."""
    if len(line) > MAX_MESSAGE:
        raise ProtocolError(f"message too long: {len(line)} bytes (at most {MAX_MESSAGE})")
    if _depth(line) > MAX_DEPTH:
        raise ProtocolError(
            f"nested too deeply: at most {counted(MAX_DEPTH, 'level')} of arrays and objects"
        )
    try:
        data = json.loads(
            line, object_pairs_hook=_object, parse_constant=_no_constant, parse_int=_whole
        )
    except ProtocolError:
        raise
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise ProtocolError("not JSON: send one JSON object per line") from None
    if not isinstance(data, dict):
        raise ProtocolError('not a JSON object: send {"cmd": ...}')
    if not _plain_text(data):
        raise ProtocolError("not text: a string holds a lone surrogate (such as \\ud800)")
    cmd = data.get("cmd")
    model = _REQUESTS.get(cmd) if isinstance(cmd, str) else None
    if model is None:
        if "cmd" not in data:
            what = 'no "cmd"'
        elif not isinstance(cmd, str):
            what = "the command must be text"
        else:
            what = f"unknown command {cmd[:40]!r}"
        raise ProtocolError(f"{what} (commands: {', '.join(COMMANDS)})")
    try:
        return model.model_validate(data)
    except ValidationError as err:
        problems = "; ".join(
            f"{field_name(e['loc']) or 'request'}: {plain(e, model)}" for e in err.errors()
        )
        raise ProtocolError(f"{cmd}: {problems}") from None


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

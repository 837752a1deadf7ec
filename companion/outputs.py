"""The files the runner names: one rule for every command that writes them.

`export`, `report`, `drills render` and `cues render` write files the runner names; `demo`,
`replay`, `run`, `cues say` and `summary --speak` write WAV files into the `--out` folder
the runner names. For all of them:

- Never the product's own data (`companion.paths.own_data`: the history and its -wal and
  -shm, the raw logs, the events, the reminders, the paired sensors, the speech cache,
  the configuration file), nor a file in its folders. Judged by what the path is, not how
  it is spelled: through symbolic links, `..`, hard links and other mounts of a folder.
- Never over anything but a regular file: a folder, a link, a named pipe, a device or a
  socket is refused for what it is (found with lstat: a pipe is never opened).
- An existing file is replaced only when the runner says so: asked on a terminal
  (`confirm`), `--force` where there is none. WAV files written into a folder
  never take a name in use (`write_new`); the ones `cues render` names itself are asked
  about once for the folder.
- The folder a file goes into must exist; a `--out` folder that does not is made (0700)
  when its own folder exists.
- Written readable by this user only (0600), beside the target and moved into place once
  written whole: a failed write leaves no half file, and a file that appeared meanwhile
  is never replaced.

`confirm` is the one way the product asks the runner a yes-or-no question, "[y/N]" on the
terminal: here, because replacing a file is what it asks most; `delete` asks with it too.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from companion.paths import RUN_FILES, own_data

MISSING = "the folder {} does not exist; make it first, or choose another"


class NotConfirmed(Exception):
    """Not done: the runner said no, or there was no terminal to ask on (said in one line)."""


def confirm(question: str, *, unasked: str, declined: str) -> None:
    """Ask `question` on the terminal and return on "y" or "yes"; anything else, an empty
    line or end of input raises NotConfirmed(`declined`). Without a terminal (a pipe, a
    script, CI) nothing is asked and NotConfirmed(`unasked`) is raised: that message names
    the option that does it without asking. An answer from a pipe is never taken: a
    stray `yes |` or a script's leftover input would then destroy what the question
    protects, which only an option written out on the command line may do."""
    if not sys.stdin.isatty():
        raise NotConfirmed(unasked)
    sys.stderr.write(f"{question} [y/N] ")  # stderr: seen even when stdout is redirected
    sys.stderr.flush()
    answer = sys.stdin.readline()
    if not answer.endswith("\n"):
        sys.stderr.write("\n")  # Ctrl-D: end the question's line
    if answer.strip().lower() not in ("y", "yes"):
        raise NotConfirmed(declined)


class OutputError(Exception):
    """An output that is not written, said in one line naming the file and why."""


@dataclass(frozen=True)
class Target:
    """A file vetted for writing. `replaces`: the (device, inode) of the regular file there
    that the runner agreed to replace; None for a new file."""

    path: Path
    replaces: tuple[int, int] | None = None


def _identity(st: os.stat_result) -> tuple[int, int]:
    return st.st_dev, st.st_ino


def _kind(path: Path, mode: int) -> str | None:
    """What something that is not a regular file is, in words; None for a regular file."""
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISLNK(mode):
        try:
            return f"a symbolic link to {path.readlink()}"
        except OSError:
            return "a symbolic link"
    kinds = (
        (stat.S_ISDIR, "a folder"),
        (stat.S_ISFIFO, "a named pipe"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISCHR, "a device"),
        (stat.S_ISBLK, "a device"),
    )
    return next((what for test, what in kinds if test(mode)), "not a regular file")


def _real(path: Path) -> Path:
    """`path` through its links; as it is spelled where they go round in a loop."""
    try:
        return path.resolve()
    except (OSError, RuntimeError):
        return path.absolute()


def _described(spot: Path, place: Path, what: str) -> str:
    """`spot`, which is `place` or lies in it, in words."""
    if spot == place:
        return what
    if place.name == "runs":
        for suffix, run_file in RUN_FILES.items():
            if spot.name.endswith(suffix):
                return run_file
    return f"in {what}"


def _own(path: Path) -> str | None:
    """What of the product's own data `path` is or lies in (a file or a folder, there or
    not yet), in words; None when it is none of it."""
    places = [(_real(place), what) for place, what in own_data()]
    # The file through any links, and its name in its folder (a link in a product folder
    # is the product's too).
    spots = {_real(path), _real(path.parent) / path.name}
    for spot in spots:  # by name: also what is not there yet, such as the next -wal
        for place, what in places:
            if spot == place or place in spot.parents:
                return _described(spot, place, what)
    known: dict[tuple[int, int], tuple[Path, str]] = {}
    for place, what in places:
        with contextlib.suppress(OSError):
            known.setdefault(_identity(place.stat()), (place, what))
    for spot in spots:  # by identity: the same file or folder mounted or linked elsewhere
        for at in (spot, *spot.parents):
            try:
                found = known.get(_identity(at.stat()))
            except OSError:
                continue
            if found is not None:
                return _described(found[0] / spot.relative_to(at), *found)
    try:
        st = path.stat()
    except OSError:
        return None
    if stat.S_ISREG(st.st_mode) and st.st_nlink > 1:  # a hard link: is another one ours?
        for place, what in places:
            for file in _files(place):
                with contextlib.suppress(OSError):
                    if _identity(file.lstat()) == _identity(st):
                        return _described(file, place, what)
    return None


def _files(place: Path) -> Iterator[Path]:
    if place.is_dir():
        for root, _, names in os.walk(place):
            yield from (Path(root) / name for name in names)
    elif place.exists():
        yield place


def _refuse_own(path: Path, what: str | None) -> None:
    if what is not None:
        raise OutputError(
            f"will not write {path}: that is posture-companion's own data ({what}); "
            "choose another place"
        )


def _folder_of(path: Path) -> None:
    folder = path.parent
    if not folder.is_dir():
        if os.path.lexists(folder):
            raise OutputError(f"cannot write {path}: {folder} is not a folder")
        raise OutputError(f"cannot write {path}: " + MISSING.format(folder))


def vet_files(paths: Sequence[Path], force: bool) -> list[Target]:
    """`paths` checked for writing by the rule above, the runner asked once about those
    that exist (unless `force`). Raises OutputError, or NotConfirmed when not agreed."""
    targets: list[Target] = []
    seen: dict[Path, Path] = {}
    for path in paths:
        _refuse_own(path, _own(path))
        _folder_of(path)
        try:
            st: os.stat_result | None = path.lstat()
        except FileNotFoundError:
            st = None
        except OSError as err:
            raise OutputError(f"cannot write {path}: {err.strerror or err}") from None
        if st is not None and (kind := _kind(path, st.st_mode)) is not None:
            raise OutputError(f"will not write {path}: it is {kind}, not a regular file")
        same = _real(path)
        if same in seen:
            raise OutputError(f"{seen[same]} and {path} are the same file: give each its own")
        seen[same] = path
        targets.append(Target(path, None if st is None else _identity(st)))
    existing = [t.path for t in targets if t.replaces is not None]
    if existing and not force:
        _ask_to_replace(existing)
    return targets


def vet_file(path: Path, force: bool) -> Target:
    (target,) = vet_files([path], force)
    return target


def _ask_to_replace(existing: list[Path]) -> None:
    folders = {p.parent for p in existing}
    if len(existing) == 1:
        names, it, was, exist = str(existing[0]), "it", "is kept as it was", "exists"
    else:
        names = (
            f"the {len(existing)} files of the same names in {folders.pop()}"
            if len(folders) == 1 and len(existing) > 3
            else ", ".join(map(str, existing))
        )
        it, was, exist = "them", "are kept as they were", "exist"
    confirm(
        f"Replace {names}?",
        unasked=f"{names} {exist} already; --force replaces {it}",
        declined=f"nothing written: {names} {was}",
    )


def vet_folder(path: Path) -> Path:
    """`path` checked as a folder to write new files into, and made (readable by this user
    only) when it is missing and its own folder exists. Raises OutputError."""
    _refuse_own(path, _own(path))
    try:
        st = path.stat()  # through a link: a folder reached by one is still a folder
    except FileNotFoundError:
        if not os.path.lexists(path):
            _folder_of(path)
            try:
                path.mkdir(mode=0o700)
            except OSError as err:
                raise OutputError(f"cannot make the folder {path}: {err.strerror}") from None
            return path
        st = path.lstat()
    except OSError as err:
        raise OutputError(f"cannot write into {path}: {err.strerror or err}") from None
    if not stat.S_ISDIR(st.st_mode):
        kind = _kind(path, st.st_mode) or "a file"
        raise OutputError(f"cannot write into {path}: it is {kind}, not a folder")
    return path


# Writing ---------------------------------------------------------------------------------


def _commit(part: Path, path: Path, replaces: tuple[int, int] | None) -> None:
    """Move the written `part` to `path`. FileExistsError, leaving `path` as it is, when
    it is taken and was not agreed to be replaced, or changed since it was agreed."""
    if replaces is not None:
        try:
            st: os.stat_result | None = path.lstat()
        except FileNotFoundError:
            st = None
        if st is not None and (not stat.S_ISREG(st.st_mode) or _identity(st) != replaces):
            raise FileExistsError(errno.EEXIST, "changed while it was written", str(path))
        part.replace(path)
        return
    try:
        path.hardlink_to(part)  # a link, unlike a rename, never goes over anything
    except FileExistsError:
        raise
    except OSError as err:
        if err.errno not in (errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EMLINK):
            raise
        # A file system without hard links (FAT, as on a watch or a card): look, then move.
        if os.path.lexists(path):
            raise FileExistsError(errno.EEXIST, "taken while it was written", str(path)) from None
        part.replace(path)


@contextmanager
def _beside(path: Path, replaces: tuple[int, int] | None, sync: bool = True) -> Iterator[BinaryIO]:
    fd, part = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:  # mkstemp makes it 0600, whatever was there before
        with os.fdopen(fd, "wb") as f:
            yield f
            if sync:
                f.flush()
                os.fsync(f.fileno())  # whole on the disk before it takes the name
        _commit(Path(part), path, replaces)
    finally:
        Path(part).unlink(missing_ok=True)


@contextmanager
def writing(target: Target) -> Iterator[BinaryIO]:
    """The file to write `target` into; it takes the target's name once closed whole.
    Raises OutputError (naming the file) when it cannot be written."""
    path = target.path
    try:
        with _beside(path, target.replaces) as f:
            yield f
    except FileExistsError:
        raise OutputError(
            f"will not write {path}: a file took that name while it was written, and is left "
            "as it is"
        ) from None
    except OSError as err:
        raise OutputError(f"cannot write {path}: {err.strerror or err}") from None


def write_file(target: Target, data: bytes) -> None:
    with writing(target) as f:
        f.write(data)


def write_new(path: Path, data: bytes) -> None:
    """`data` as the new file `path` in a vetted folder, by the rule above, never over
    anything: FileExistsError when the name is taken (the caller picks another). Not
    synced to the disk: a run's cue files are written as it goes, and can be made again."""
    with _beside(path, None, sync=False) as f:
        f.write(data)

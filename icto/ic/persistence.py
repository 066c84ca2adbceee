"""Saving a whole simulated IC to a file and loading it back, without ever running code on load.

A file is three lines of ASCII::

    {"format": "icto-world", "version": 1}
    <payload: one JSON document, see ``icto.ic.codec``>
    sha256 <hex digest of the first two lines, newlines included>

The payload holds the world (every canister record and its state, the timer queue, the clock, the
id and ``raw_rand`` counters) and the settings the IC needs to continue identically (``seed``,
``max_call_depth``, whether tracing is on). The trace and armed faults are test instruments and
are not saved. Loading checks the header, then the checksum, then decodes: any failure raises a
``PersistenceError`` and builds nothing. Saving writes a temporary file in the target's
directory, flushes and ``fsync``\\ s it, then renames it over the target, so the target is either
the old file or the complete new one.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, Final, Protocol

import immutables

from icto.collections.vector import Vector
from icto.ic.argcheck import is_int
from icto.ic.canister import MUTABLE_TYPES, Canister
from icto.ic.codec import (
    Decoder,
    ForbiddenClass,
    InvalidPayload,
    MissingClass,
    PersistenceError,
    Unserializable,
    VersionChanged,
    encode,
)
from icto.ic.cycles import MAX_CYCLES
from icto.ic.principal import Principal
from icto.ic.timers import Timer, TimerQueue
from icto.ic.world import (
    DELETED,
    MAX_TIME,
    RUNNING,
    STOPPED,
    CanisterLog,
    CanisterRecord,
    World,
)

FORMAT: Final = "icto-world"
VERSION: Final = 1

__all__ = [
    "FORMAT",
    "VERSION",
    "CorruptFile",
    "ForbiddenClass",
    "InvalidPayload",
    "MissingClass",
    "PersistenceError",
    "Unserializable",
    "UnsupportedVersion",
    "VersionChanged",
    "load_world",
    "save_ic",
    "save_world",
]


class CorruptFile(PersistenceError):
    """The file is not a complete, intact world file (bad header, truncated, checksum wrong)."""


class UnsupportedVersion(PersistenceError):
    """The file was written by a format version this code does not read."""


@contextlib.contextmanager
def _without_gc() -> Iterator[None]:
    """Cyclic GC paused: encoding and decoding allocate millions of acyclic objects, and each
    full collection would walk the whole world again (quadratic time overall)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


class Saveable(Protocol):
    """What ``save_ic`` reads of an IC: its world and the settings that continue it."""

    seed: int

    @property
    def max_call_depth(self) -> int: ...

    @property
    def trace(self) -> Any: ...

    def snapshot(self) -> World: ...


def save_ic(ic: Saveable, path: str | os.PathLike[str]) -> None:
    """Write an IC's world and settings to ``path`` (``IC.save``)."""
    settings = {"seed": ic.seed, "max_call_depth": ic.max_call_depth, "trace": ic.trace.enabled}
    save_world(ic.snapshot(), settings, path)


def save_world(world: World, settings: dict[str, Any], path: str | os.PathLike[str]) -> None:
    """Write a world and the IC settings needed to continue it to ``path`` atomically (see the
    module docstring).

    Raises ``Unserializable`` (and leaves ``path`` untouched) if some state cannot be written.
    """
    header = json.dumps({"format": FORMAT, "version": VERSION}).encode("ascii") + b"\n"
    try:
        with _without_gc():
            payload = {"settings": settings, "world": encode(world)}
            body = json.dumps(payload, separators=(",", ":")).encode("ascii") + b"\n"
            del payload
    except RecursionError as exc:
        raise Unserializable("the state is nested too deeply to save") from exc
    digest = hashlib.sha256(header + body).hexdigest()
    _write_atomically(Path(path), (header, body, f"sha256 {digest}\n".encode("ascii")))


def _write_atomically(target: Path, chunks: Iterable[bytes]) -> None:
    """Write ``chunks`` to a temporary file beside ``target`` and rename it over ``target``;
    the file gets the permissions a new file would (``mkstemp`` makes it owner-only)."""
    directory = target.parent if str(target.parent) else Path(".")
    fd, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=directory)
    try:
        os.chmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as out:
            for chunk in chunks:
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    with contextlib.suppress(OSError):  # make the rename itself durable where supported
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def _umask() -> int:
    """The process's umask (read by setting it and setting it back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def load_world(
    path: str | os.PathLike[str], allow: Iterable[str] = ()
) -> tuple[World, dict[str, Any]]:
    """The world saved at ``path`` and the settings saved with it.

    ``allow`` names the module prefixes (besides ``icto``) whose classes the file may name,
    typically the modules defining your own canisters and records. Raises ``CorruptFile``,
    ``UnsupportedVersion``, ``ForbiddenClass``, ``MissingClass``, ``VersionChanged`` or
    ``InvalidPayload``; nothing is built when it does.
    """
    decoder = Decoder(allow)
    body = _checked_body(Path(path).read_bytes())
    try:
        with _without_gc():
            payload = json.loads(body, object_hook=decoder.hook)
    except RecursionError as exc:
        raise InvalidPayload("the payload is nested too deeply") from exc
    except ValueError as exc:
        raise InvalidPayload(f"the payload is not valid JSON: {exc}") from exc
    if not isinstance(payload, dict):
        raise InvalidPayload("the payload is not an object")
    world, settings = payload.get("world"), payload.get("settings")
    if not isinstance(world, World) or not isinstance(settings, dict):
        raise InvalidPayload("the payload holds no world and settings")
    problem = world_problem(world)
    if problem is not None:
        raise InvalidPayload(f"not a valid world: {problem}")
    return world, settings


def _is_nat(value: object, top: int | None = None) -> bool:
    return is_int(value) and value >= 0 and (top is None or value <= top)  # type: ignore[operator]


def world_problem(world: World) -> str | None:
    """What makes ``world`` something no IC could be in (``None`` if nothing): a file edited
    to pass its checksum is refused here, before anything is built. O(canisters + timers)."""
    canisters: object = world.canisters
    if not isinstance(canisters, immutables.Map):
        return "its canisters are not a map"
    for key, record in canisters.items():
        problem = _record_problem(key, record)
        if problem is not None:
            return f"canister {key!r}: {problem}"
    timers: object = world.timers
    if not isinstance(timers, TimerQueue) or not isinstance(timers.live, immutables.Map):
        return "its timers are not a timer queue"
    if not _is_nat(timers.next_id):
        return f"its next timer id {timers.next_id!r} is not a non-negative int"
    for timer_id, timer in timers.live.items():
        if not isinstance(timer, Timer) or timer.canister_id not in canisters:
            return f"timer {timer!r} belongs to no canister"
        if not _is_nat(timer.deadline) or not isinstance(timer.method, str):
            return f"timer {timer!r} has no deadline or method"
        if timer_id != timer.timer_id or not _is_nat(timer_id) or timer_id >= timers.next_id:
            return f"timer {timer!r} does not have an id the queue gave out"
        if timer_id not in canisters[timer.canister_id].timer_ids:
            return f"timer {timer_id} is not among its canister's timers"
    if sum(len(record.timer_ids) for record in canisters.values()) != len(timers.live):
        return "its canisters list timers the queue does not hold"
    if not _is_nat(world.time, MAX_TIME):
        return f"time {world.time!r} is not a nat64 of nanoseconds"
    if not (_is_nat(world.next_canister_index) and _is_nat(world.rand_counter)):
        return "its counters are not non-negative ints"
    return None


def _record_problem(key: object, record: object) -> str | None:
    if not isinstance(key, Principal) or not key.is_canister:
        return "it is not a canister id (u64 big-endian followed by 01 01)"
    if not isinstance(record, CanisterRecord) or record.canister_id != key:
        return "its record is not the canister's"
    code = record.code
    if code is not None and not (isinstance(code, type) and issubclass(code, Canister)):
        return f"its code {code!r} is not a Canister class"
    if record.status not in (RUNNING, STOPPED, DELETED):
        return f"its status {record.status!r} is none of running, stopped, deleted"
    if not _is_nat(record.cycles, MAX_CYCLES):
        return f"its cycles {record.cycles!r} are not a u128"
    controllers: object = record.controllers
    if not isinstance(controllers, tuple) or not all(
        isinstance(controller, Principal) for controller in controllers
    ):  # fmt: skip
        return f"its controllers {controllers!r} are not a tuple of principals"
    if isinstance(record.state, MUTABLE_TYPES):
        return f"its state is a mutable {type(record.state).__name__}"
    timer_ids: object = record.timer_ids
    log: object = record.log
    if not isinstance(timer_ids, immutables.Map) or not isinstance(log, CanisterLog):
        return "its timers or log are malformed"
    if not isinstance(log.records, Vector) or not _is_nat(log.next_idx):
        return "its log's records or next index are malformed"
    if not _is_nat(record.generation):
        return f"its generation {record.generation!r} is not a non-negative int"
    return None


def _checked_body(data: bytes) -> bytes:
    """The payload line of a file, once its header and checksum are checked."""
    first_newline = data.find(b"\n")
    header = _header(data[:first_newline] if first_newline >= 0 else data)
    version = header.get("version")
    if type(version) is not int or version < 1:
        raise CorruptFile(f"invalid format version {version!r}")
    if version > VERSION:
        raise UnsupportedVersion(
            f"the file is in {FORMAT} format version {version}; this icto reads up to {VERSION}"
        )
    signed, _, trailer = data[:-1].rpartition(b"\n")
    if not data.endswith(b"\n") or not trailer.startswith(b"sha256 ") or first_newline < 0:
        raise CorruptFile("the file has no checksum line (truncated?)")
    signed += b"\n"
    if hashlib.sha256(signed).hexdigest().encode("ascii") != trailer[len(b"sha256 ") :]:
        raise CorruptFile("the checksum does not match: the file is damaged or truncated")
    return signed[first_newline + 1 :]


def _header(line: bytes) -> dict[str, Any]:
    try:
        header = json.loads(line)
    except ValueError as exc:
        raise CorruptFile(f"not an {FORMAT} file: unreadable header") from exc
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise CorruptFile(f"not an {FORMAT} file")
    return header

"""Walking a folder of person folders (`ROOT/<name>/**/photo`) without trusting anything in it.

Folders are walked breadth first, one open at a time, each component opened by descriptor with
O_NOFOLLOW, to a bounded depth and file count (no recursion: no depth exhausts the stack or the
descriptors). Only entries listed as regular files are opened, with O_NONBLOCK | O_NOCTTY, and
checked again with fstat (type, links, size) before any read. Nothing outside ROOT can be
reached: symbolic links are reported and never followed, hard links reported and not read.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field

from kiosk.errors import Refused
from kiosk.names import utf8_problem, validate_person_name
from kiosk.util import printable
from kiosk.vision.images import PHOTO_SUFFIXES


@dataclass(frozen=True)
class Skipped:
    """A file or folder that was not imported, and why (shown to the operator)."""
    file: str
    reason: str
    person: str = ""  # whose folder it is in, when known


@dataclass(frozen=True)
class Photo:
    """One readable regular file from a person's folder, with its bytes."""
    person: str
    file: str  # path relative to ROOT, for reports
    data: bytes


@dataclass
class PersonFolder:
    name: str
    photo_files: list[str] = field(default_factory=list)  # names relative to ROOT


@dataclass(frozen=True)
class WalkLimits:
    """How far a walk goes: folders below a person's folder, and files in one import."""
    max_depth: int = 8
    max_files: int = 10000


def scan_people(root: str | os.PathLike, limits: WalkLimits = WalkLimits()) -> tuple[list[PersonFolder], list[Skipped]]:
    """List person folders and their candidate photo files, and everything skipped on the way.

    Raises FileNotFoundError / NotADirectoryError for a missing root and Refused for an unreadable
    one (usage errors); anything below it that cannot be read is reported and skipped.
    """
    people: list[PersonFolder] = []
    skipped: list[Skipped] = []
    try:
        root_fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except PermissionError:
        raise Refused(f"{root}: cannot be read (permission denied); nothing was imported") from None
    try:
        with os.scandir(root_fd) as entries:
            top_entries = sorted(entries, key=lambda e: e.name)
        for entry in top_entries:
            shown = printable(entry.name)
            if entry.is_symlink():
                skipped.append(Skipped(shown, "symbolic link, not followed"))
            elif not entry.is_dir(follow_symlinks=False):
                skipped.append(Skipped(shown, "hidden (name starts with a dot), not read" if entry.name.startswith(".")
                                       else "not inside a person folder"))
            else:
                try:
                    name = validate_person_name(entry.name)
                except ValueError as exc:
                    skipped.append(Skipped(shown + "/", str(exc)))
                    continue
                person = PersonFolder(name)
                found = sum(len(p.photo_files) for p in people)
                readable = _scan_person(root_fd, entry.name, person, skipped, limits, found)
                if person.photo_files:
                    people.append(person)
                elif readable:
                    skipped.append(Skipped(shown + "/", "no photos in this folder"))
    finally:
        os.close(root_fd)
    return people, skipped


def _scan_person(root_fd: int, folder: str, person: PersonFolder, skipped: list[Skipped], limits: WalkLimits,
                 found: int) -> bool:
    """Collect the photo files of one person's folder, breadth first, one folder open at a time
    (no recursion, so no depth can exhaust the stack or the file descriptors). FOUND: photo files
    of the people before, toward the import's limit. False when the folder itself cannot be read."""
    max_depth, max_files = limits.max_depth, limits.max_files
    queue = [(folder, 0)]
    while queue:
        relative_dir, depth = queue.pop(0)
        try:
            dir_fd = _open_folder(root_fd, relative_dir.split("/"))
            try:
                with os.scandir(dir_fd) as scan:
                    entries = sorted((e.name, e.is_dir(follow_symlinks=False), e.is_symlink(),
                                      e.is_file(follow_symlinks=False)) for e in scan)
            finally:
                os.close(dir_fd)
        except (OSError, ValueError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) else str(exc).removeprefix("cannot open: ")
            skipped.append(Skipped(printable(relative_dir) + "/", f"folder cannot be read: {reason}", person.name))
            if relative_dir == folder:
                return False
            continue
        for name, is_dir, is_link, is_file in entries:
            relative = f"{relative_dir}/{name}"
            if name.startswith("."):  # .DS_Store, ._IMG_0001.jpg, .Trashes: what other systems leave
                skipped.append(Skipped(printable(relative) + "/" * is_dir, "hidden (name starts with a dot), "
                                       "not read", person.name))
                continue
            if problem := utf8_problem(name):
                skipped.append(Skipped(printable(relative), problem, person.name))
            elif is_link:
                skipped.append(Skipped(printable(relative), "symbolic link, not followed", person.name))
            elif is_dir:
                if depth + 1 > max_depth:
                    skipped.append(Skipped(printable(relative) + "/", f"folder nested more than {max_depth} "
                                           "levels deep, not searched (enrollment.max_depth)", person.name))
                else:
                    queue.append((relative, depth + 1))
            elif not is_file:  # never opened: opening a device can have effects of its own
                skipped.append(Skipped(printable(relative), "not a regular file (a device, pipe or socket)",
                                       person.name))
            elif os.path.splitext(name)[1].lower() not in PHOTO_SUFFIXES:
                suffix = os.path.splitext(name)[1].lower()
                skipped.append(Skipped(printable(relative), f"not a photo file type ({suffix or 'no extension'})",
                                       person.name))
            elif found + len(person.photo_files) >= max_files:
                skipped.append(Skipped(printable(relative), f"more than {max_files} photos in one import, "
                                       "not read (enrollment.max_files)", person.name))
            else:
                person.photo_files.append(relative)
    return True


def _open_folder(root_fd: int, parts: list[str]) -> int:
    """A descriptor of the folder ROOT/parts..., every component opened without following links."""
    dir_fd = os.dup(root_fd)
    try:
        for part in parts:
            next_fd = _open_nofollow(part, os.O_RDONLY | os.O_DIRECTORY, dir_fd)
            os.close(dir_fd)
            dir_fd = next_fd
    except BaseException:
        os.close(dir_fd)
        raise
    return dir_fd


def read_photo(root: str | os.PathLike, relative: str, max_bytes: int) -> bytes:
    """Read ROOT/relative without following any symlink; raise ValueError with a reason.

    Every path component is opened with O_NOFOLLOW relative to its parent's descriptor, so a
    symlink or '..' planted anywhere in the path cannot lead outside ROOT.
    """
    parts = relative.split("/")
    if any(part in ("", ".", "..") for part in parts):
        raise ValueError("path leaves the photo folder")
    try:
        root_fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as exc:
        raise ValueError(f"photo folder unreadable: {exc.strerror} (drive removed?)") from None
    try:
        dir_fd = _open_folder(root_fd, parts[:-1])
    finally:
        os.close(root_fd)
    try:
        fd = _open_nofollow(parts[-1], os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY, dir_fd)
    finally:
        os.close(dir_fd)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ValueError("not a regular file")
        if info.st_size == 0:
            raise ValueError("empty file")
        if info.st_nlink > 1:  # the same file under another name, possibly outside the folder
            raise ValueError(f"hard link (the file has {info.st_nlink} names), not read")
        if info.st_size > max_bytes:
            raise ValueError(f"file too large ({info.st_size / 1e6:.1f} MB, limit {max_bytes / 1e6:.1f} MB)")
        chunks = []
        remaining = info.st_size + 1  # read one byte more to notice a file still growing
        while remaining > 0:
            try:
                chunk = os.read(fd, min(remaining, 1 << 20))
            except OSError as exc:  # EIO when a USB stick is pulled mid-read
                raise ValueError(f"read error: {exc.strerror} (drive removed?)") from None
            if not chunk:
                break
            chunks.append(chunk)
            remaining -= len(chunk)
        data = b"".join(chunks)
        if len(data) > max_bytes:
            raise ValueError("file too large")
        return data
    finally:
        os.close(fd)


def _open_nofollow(name: str, flags: int, dir_fd: int) -> int:
    try:
        return os.open(name, flags | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise ValueError("symbolic link, not followed") from None
        if exc.errno == errno.ENOTDIR:
            raise ValueError("folder replaced by something else (symbolic link?), not followed") from None
        if exc.errno == errno.ENOENT:
            raise ValueError("file disappeared (drive removed?)") from None
        raise ValueError(f"cannot open: {exc.strerror}") from None


def iter_photos(root: str | os.PathLike, people: list[PersonFolder], max_bytes: int) -> Iterator[Photo | Skipped]:
    """Read each candidate photo in turn, yielding its bytes or the reason it was skipped."""
    for person in people:
        for relative in person.photo_files:
            try:
                yield Photo(person.name, printable(relative), read_photo(root, relative, max_bytes))
            except ValueError as exc:
                yield Skipped(printable(relative), str(exc), person.name)

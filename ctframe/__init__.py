"""ctframe: topic and counter-terrorism framing of Arabic news paragraphs.

This module holds the project-wide items every layer shares: the error type, the project's paths and
the one atomic-write helper. ``ctframe.features`` (text → vectors, from ``features/``) and
``ctframe.train`` (the training spine and its front ends, from ``train/``) build on it.
"""
from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from contextlib import contextmanager
from pathlib import Path

__version__ = "0.2.0"

PROJECT_ROOT = Path(__file__).resolve().parent.parent
LABELS_DIR = PROJECT_ROOT / "labels"
# Where the champion is exported and read by default (``$CTFRAME_CHAMPION`` points elsewhere).
CHAMPION_DIR = Path(os.environ.get("CTFRAME_CHAMPION") or PROJECT_ROOT / "models" / "champion")


class CtframeError(Exception):
    """Bad input or configuration, with a message that names what and where; the CLI prints it and
    exits with status 2, the servers answer it with HTTP 400."""


def write_temporary(path: str | os.PathLike, lines: Iterable[str]) -> Path:
    """Write ``lines`` to a new fsynced temporary file beside ``path``; → its path (rename it onto ``path``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=path.parent, prefix=f".{path.name}.",
                                         suffix=".tmp", delete=False)
    try:
        with handle:
            for line in lines:
                handle.write(line + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(handle.name, 0o644)
    except BaseException:
        Path(handle.name).unlink(missing_ok=True)
        raise
    return Path(handle.name)


def write_atomically(path: str | os.PathLike, lines: Iterable[str]) -> Path:
    """Write ``lines`` to ``path`` through a temporary file, fsync and a rename: never half-written."""
    temporary = write_temporary(path, lines)
    try:
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return Path(path)


@contextmanager
def locked(path: str | os.PathLike, timeout: float, what: str):
    """Hold an exclusive lock file (across the processes of this machine; re-entrant within one) for the
    ``with`` block; one clear CtframeError, naming ``what`` it guards, if another process holds it for
    longer than ``timeout`` s."""
    from filelock import FileLock, Timeout

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(path, timeout=timeout, is_singleton=True)
    try:
        lock.acquire()
    except Timeout:
        raise CtframeError(f"another command has held the lock on {what} ({path}) for over {timeout:.0f} s; "
                           "try again when it is done") from None
    try:
        yield
    finally:
        lock.release()

"""Writing a file so that it appears complete or not at all.

Everything ``svrnn_lite`` writes for a user (deblurred images, checkpoints, a run's ``log.csv`` and
``config.json``, evaluation results, synthetic datasets) is
first written to a temporary file in the destination folder and then renamed over the
destination, which the operating system does in one step: an interrupted or failed write
(Ctrl-C, a full disk) leaves the previous file, if any, untouched and no partial file behind.
Explained in chapter *Training*.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Give a temporary path next to ``path``; rename it to ``path`` when the block succeeds.

    Write to the temporary path with an explicit format (its name ends in ``.tmp``). The file
    gets the permissions of any new file (``0o666`` minus the umask), not the private
    ``0o600`` of :func:`tempfile.mkstemp`. If the block raises, the temporary file is removed
    and ``path`` is left as it was. A failed rename (``path`` is a folder, say) raises an
    ``OSError`` whose message names ``path``.

    Examples
    --------
    >>> folder = Path(tempfile.mkdtemp())
    >>> with atomic_path(folder / "result.txt") as tmp:
    ...     _ = tmp.write_text("done")
    >>> (folder / "result.txt").read_text(), [p.name for p in folder.iterdir()]
    ('done', ['result.txt'])
    """
    path = Path(path)
    # a hidden name ending in .tmp: never taken for an image or a checkpoint if a crash leaves it
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        os.chmod(tmp, 0o666 & ~_umask())
        yield Path(tmp)
        try:
            os.replace(tmp, path)
        except OSError as error:
            raise type(error)(f"cannot write {path}: {error.strerror or error}") from error
    finally:
        Path(tmp).unlink(missing_ok=True)


def _umask() -> int:
    """The process's umask (reading it means setting it, so it is set back at once)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask

"""Files only their owner may read (secret key, key rings, demo credentials), written once.

Standard library only: ``config/settings/env.py`` writes the development
secret key with it while settings load, before any Django app exists.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

OWNER_ONLY = 0o600


def file_write_owner_only(path: Path, text: str, *, exclusive: bool = False) -> None:
    """Write ``text`` to ``path`` with mode 0600, whatever the umask.

    By default the file is replaced atomically: written to a 0600 sibling
    (``mkstemp``, unique per writer, so two writers cannot mix their bytes),
    then renamed over ``path``, so a reader sees the old content or the new,
    never half of it or a moment of wider permissions. With ``exclusive``
    the file is created only if it does not exist (``FileExistsError``
    otherwise): for a value that must be generated once, like the dev secret key.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if exclusive:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, OWNER_ONLY)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        return
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")  # created 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise

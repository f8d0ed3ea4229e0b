"""Key ring files: a JSON list of {"kid", "pem"}, newest first, readable by the owner only.

Shared by the JWT signing keys (bouncer/tokens/jwt/keys.py) and the OpenID
Connect id_token keys (bouncer/oauth/keys.py), which differ in algorithm and
in how they are loaded, not in how they are stored.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from bouncer.core.files import file_write_owner_only


def key_ring_file_read(path: Path) -> list[dict]:
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else []


def key_ring_file_write(path: Path, entries: list[dict]) -> None:
    """Replace the file atomically, readable by the owner only."""
    file_write_owner_only(path, json.dumps(entries))


def key_ring_file_identity(path: Path | str) -> tuple[int, int, int] | None:
    """What tells a rewritten ring from the one already loaded: (mtime in ns, inode, size), None when absent.

    One ``stat``. A rotation replaces the file (a new inode, a new mtime), so a
    process that compares this with what it loaded sees the change at its next
    request, even on a filesystem with coarse timestamps.
    """
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return (st.st_mtime_ns, st.st_ino, st.st_size)

"""Key ring files: a JSON list of {"kid", "pem"}, newest first, readable by the owner only.

Shared by the JWT signing keys (bouncer/tokens/jwt/keys.py) and the OpenID
Connect id_token keys (bouncer/oauth/keys.py), which differ in algorithm and
in how they are loaded, not in how they are stored.
"""

from __future__ import annotations

import json
import os
from pathlib import Path


def key_ring_file_read(path: Path) -> list[dict]:
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else []


def key_ring_file_write(path: Path, entries: list[dict]) -> None:
    """Replace the file atomically (write a 0600 sibling, then rename over it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(entries, handle)
    os.replace(tmp, path)

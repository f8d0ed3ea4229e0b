"""The one form in which two usernames (or emails) are compared.

Used by the user model's unique normalised columns and lookups, and by every
per-account counter (throttle, lockout), so that spellings a sign-in treats as
one account (``alice``, ``ALICE``, fullwidth ``ａｌｉｃｅ``) also share one
counter. Standard library only.
"""

from __future__ import annotations

import unicodedata


def identifier_normalize(value: str) -> str:
    """NFKC, then casefold (Unicode's caseless matching for identifiers)."""
    return unicodedata.normalize("NFKC", value).casefold()

"""What allauth does not keep: the provider proofs Bouncer accepted, so each is accepted once.

A row per redeemed authorization code and per accepted id_token, keyed by a
digest (the proof itself is a credential and never stored) and kept until the
proof could no longer be used anyway. The unique column is the single-use
rule (STYLE.md rule 6): two nodes, or two workers with caches of their own,
cannot both insert it.
"""

from __future__ import annotations

from django.db import models


class SpentProof(models.Model):
    #: SHA-256 of the kind and the proof's identity (tokens.py says which parts).
    digest = models.CharField(max_length=64, unique=True)
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        verbose_name = "spent provider proof"

    def __str__(self) -> str:
        return f"Spent proof #{self.pk}"

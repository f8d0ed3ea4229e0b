"""simplejwt tokens of a stock Django project: counted, not imported (docs/migrating.md).

simplejwt signs with HS256 under the old project's ``SECRET_KEY`` and its
tokens carry no issuer, audience, ``kid`` or sign-in family. Accepting them
would mean keeping the old secret as a verification key and a second token
format beside Bouncer's (ES256 from the key ring, families with reuse
detection) for as long as any old refresh token lives. The honest move is
the short one: an old access token expires within its lifetime (tutorial
000: 30 minutes), and a JWT client signs in again once, at ``/api/token/``,
with the same username and password. Even where ``token_blacklist`` kept
``OutstandingToken`` rows, those hold raw refresh tokens of that format, so
they are counted for the report and left where they are.
"""

from __future__ import annotations

from bouncer.core.imports import ImportContext

ITEM = "simplejwt refresh tokens"
TABLE = "token_blacklist_outstandingtoken"


class SimpleJwtNotice:
    order = 30
    name = "simplejwt"

    def run(self, *, context: ImportContext, skip_collisions: bool) -> None:
        report = context.report
        if not context.source.has_table(TABLE):
            report.notes.append(
                "simplejwt tokens are not imported (no token_blacklist table to count them): "
                "JWT clients sign in again at /api/token/ once their old access token expires"
            )
            return
        (live,) = context.source.rows(f"SELECT COUNT(*) AS n FROM {TABLE} WHERE expires_at > %s", (context.source.datetime_param(context.now),))[0].values()
        report.count(ITEM, "not imported (clients sign in again)", live)
        report.notes.append(
            f"{live} live simplejwt refresh token(s) not imported: JWT clients sign in again at /api/token/"
        )

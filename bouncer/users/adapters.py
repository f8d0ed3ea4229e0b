"""The only glue to allauth's account extension points (mail, signup rules).

Bouncer's own pages and API serve every account flow; allauth's account
views are not mounted. What allauth still does through this adapter: render
and send the mails of its email-address machinery.
"""

from __future__ import annotations

import logging

from allauth.account.adapter import DefaultAccountAdapter

logger = logging.getLogger("bouncer.mail")


class BouncerAccountAdapter(DefaultAccountAdapter):
    def send_mail(self, template_prefix, email, context) -> None:
        """A failure to send is logged and never reaches the person's answer (it would tell them too much)."""
        try:
            super().send_mail(template_prefix, email, context)
        except Exception:  # noqa: BLE001 - any SMTP or socket error
            logger.exception("mail_send_failed", extra={"template": template_prefix})

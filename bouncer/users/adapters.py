"""The only glue to allauth's account extension points (mail, signup rules).

Bouncer's own pages and API serve every account flow; allauth's account
views are not mounted. What allauth still does through this adapter: render
the mails (its ``render_mail``: subject prefix, from address, templates
under ``account/email/``, which bouncer/users/templates/ overrides).
"""

from __future__ import annotations

import logging

from allauth.account.adapter import DefaultAccountAdapter

logger = logging.getLogger("bouncer.mail")


class BouncerAccountAdapter(DefaultAccountAdapter):
    def send_mail(self, template_prefix, email, context) -> None:
        """Render now, send off the request path (bouncer/users/email/outbox.py).

        A failure to render or send is logged and never reaches the person's
        answer (it would tell them too much). Unlike allauth's own, no
        ``current_site`` lookup: Bouncer has no sites framework; the context
        carries the site's name and the links.
        """
        from bouncer.users.email.outbox import outbox_send

        message = self.mail_render(template_prefix, email, context)
        if message is not None:
            outbox_send(message)

    def mail_render(self, template_prefix, email, context):
        """The message, or None when it cannot be rendered (logged)."""
        try:
            return self.render_mail(template_prefix, email, {"email": email, "site_name": "Bouncer", **context})
        except Exception:  # noqa: BLE001 - a template error must not become an answer either
            logger.exception("mail_render_failed", extra={"event": "mail_render_failed", "template": template_prefix})
            return None

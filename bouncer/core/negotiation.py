"""Content negotiation without parsing ``Accept`` when there is nothing to choose.

DRF's ``DefaultContentNegotiation`` parses and ranks the ``Accept`` header on
every request: about a tenth of the CPU of a cached, authenticated GET. Every
API view here has one renderer (JSON), and clients send no ``Accept``, ``*/*``
or ``application/json``; for exactly those the answer cannot be anything but
that renderer, so it is returned at once. Anything else (another media type,
``?format=``, a format suffix, several renderers) goes through DRF's full
negotiation, so a ``406`` is still a ``406``.
"""

from __future__ import annotations

from rest_framework.negotiation import DefaultContentNegotiation


class SingleRendererNegotiation(DefaultContentNegotiation):
    def select_renderer(self, request, renderers, format_suffix=None):
        if len(renderers) == 1 and not format_suffix:
            renderer = renderers[0]
            accept = request.META.get("HTTP_ACCEPT", "*/*")
            if accept in ("*/*", "", renderer.media_type) and self.settings.URL_FORMAT_OVERRIDE not in request.query_params:
                return renderer, renderer.media_type
        return super().select_renderer(request, renderers, format_suffix)

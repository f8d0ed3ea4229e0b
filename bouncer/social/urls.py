"""``/api/auth/social/`` and ``/api/auth/<provider>/`` (mounted under ``api/auth/`` in config/urls.py)."""

app_name = "social"

urlpatterns: list = []

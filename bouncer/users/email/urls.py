"""dj-rest-auth's paths under ``/api/auth/``: password reset, email verification."""

app_name = "email"

urlpatterns: list = []

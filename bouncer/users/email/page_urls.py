"""Email pages under ``/accounts/``: sign up, forgot password, set a new password, verify email."""

urlpatterns: list = []

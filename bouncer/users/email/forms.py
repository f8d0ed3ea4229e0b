"""Forms of the email pages: the same limits as the API's serializers."""

from __future__ import annotations

from django import forms
from django.contrib.auth.validators import UnicodeUsernameValidator


class SignUpForm(forms.Form):
    username = forms.CharField(
        max_length=150, validators=[UnicodeUsernameValidator()], widget=forms.TextInput(attrs={"autocomplete": "username", "autofocus": True})
    )
    email = forms.EmailField(max_length=254, widget=forms.EmailInput(attrs={"autocomplete": "email"}))
    password = forms.CharField(
        max_length=4096, strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text="At least 8 characters, not too common, not like your name or address.",
    )


class EmailForm(forms.Form):
    """Forgot password, and send the verification link again."""

    email = forms.EmailField(max_length=254, widget=forms.EmailInput(attrs={"autocomplete": "email", "autofocus": True}))


class SetPasswordForm(forms.Form):
    new_password1 = forms.CharField(
        label="New password", max_length=4096, strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "new-password", "autofocus": True})
    )
    new_password2 = forms.CharField(
        label="New password (again)", max_length=4096, strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "new-password"})
    )

"""The forms of the second-step, enrolment, step-up and Security pages (WebAuthn answers arrive as JSON in a hidden field)."""

from __future__ import annotations

from django import forms

from bouncer.multifactor.serializers import CREDENTIAL_MAX_BYTES
from bouncer.multifactor.webauthn import NAME_MAX

TOKEN_MAX = 128


class CodeForm(forms.Form):
    """A TOTP code or a recovery code (the second step, a step-up)."""

    code = forms.CharField(
        label="Code",
        max_length=64,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "autofocus": True, "autocapitalize": "off", "spellcheck": "false"}
        ),
    )


class WebAuthnAnswerForm(forms.Form):
    """A security key's answer to ``navigator.credentials.get()``, put here by the page's script."""

    credential = forms.CharField(max_length=CREDENTIAL_MAX_BYTES, widget=forms.HiddenInput)
    step_up_id = forms.CharField(max_length=TOKEN_MAX, required=False, widget=forms.HiddenInput)


class TotpConfirmForm(forms.Form):
    setup_id = forms.CharField(max_length=TOKEN_MAX, widget=forms.HiddenInput)
    code = forms.CharField(
        label="Code from the app",
        max_length=16,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autocapitalize": "off", "spellcheck": "false"}),
    )


class WebAuthnRegisterForm(forms.Form):
    registration_id = forms.CharField(max_length=TOKEN_MAX, widget=forms.HiddenInput)
    credential = forms.CharField(max_length=CREDENTIAL_MAX_BYTES, widget=forms.HiddenInput)
    name = forms.CharField(label="Name", max_length=NAME_MAX, help_text="So you can tell your keys apart, for example “Work laptop” or “Blue key”.")


class FactorRenameForm(forms.Form):
    name = forms.CharField(label="New name", max_length=NAME_MAX)


class PasskeySigninForm(forms.Form):
    passkey_token = forms.CharField(max_length=TOKEN_MAX, widget=forms.HiddenInput)
    credential = forms.CharField(max_length=CREDENTIAL_MAX_BYTES, widget=forms.HiddenInput)

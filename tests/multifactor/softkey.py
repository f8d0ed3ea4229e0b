"""A software WebAuthn authenticator (browser + authenticator in one) for tests.

Why our own: the PyPI package soft-webauthn (0.1.4) requires ``fido2<2``,
and django-allauth's ``mfa`` app runs on python-fido2 2.x here. ``SoftKey``
speaks the WebAuthn JSON form (what ``PublicKeyCredential.toJSON()`` gives in
a browser and what fido2 2.x's ``RegistrationResponse.from_dict`` /
``AuthenticationResponse.from_dict`` read): options in, response dicts out,
every binary value a base64url string without padding.

    key = SoftKey()
    options, state = server.register_begin(user, ...)
    credential = key.create(json.loads(json.dumps(dict(options))), "http://localhost:8000")
    server.register_complete(state, credential)

It plays the browser too, but a careless or hostile one: it checks nothing
about the origin or the RP ID (a real browser refuses an RP ID the origin
does not own), so a test can send what an attacker would. The knobs:

- another origin: pass it as ``origin``;
- another RP ID: ``rp_id="evil.example"`` signs that RP ID's hash (the
  credential is still found by the options' ``allowCredentials`` or RP ID);
- a replayed or old challenge: pass the old options;
- a cloned key: ``copy.deepcopy(key)``; both copies hold the same private
  keys and carry on from the same counter, each on its own;
- a bad signature: ``get(..., tamper=True)`` (a well-formed ECDSA signature
  over other bytes);
- the flags: ``user_present=False``, ``user_verified=False``;
- someone else's user handle: ``get(..., user_handle=b"...")``, or
  ``user_handle=None`` to send none.

The signature counter is one per authenticator (like most security keys):
``sign_count`` is the value of the last signature, each ``get`` adds
``counter_step`` first. ``counter_step=0`` keeps it at 0, as most passkey
providers (synced passkeys) do. ``create`` reports the current value without
adding to it.

Attestation is always "none" (no statement); the AAGUID is all zeros unless
given.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from fido2.cose import ES256
from fido2.utils import sha256, websafe_decode, websafe_encode
from fido2.webauthn import (
    Aaguid,
    AttestationObject,
    AttestedCredentialData,
    AuthenticationExtensionsClientOutputs,
    AuthenticationResponse,
    AuthenticatorAssertionResponse,
    AuthenticatorAttestationResponse,
    AuthenticatorData,
    CollectedClientData,
    RegistrationResponse,
)

__all__ = ["SoftKey", "SoftKeyError", "StoredCredential"]

FLAG = AuthenticatorData.FLAG
_KEEP: Any = object()  # "the stored user handle", for get(user_handle=...)


class SoftKeyError(Exception):
    """What a browser would reject with a DOMException; ``name`` is that exception's name."""

    def __init__(self, name: str, message: str):
        super().__init__(f"{name}: {message}")
        self.name = name


@dataclass
class StoredCredential:
    """One credential the key holds."""

    credential_id: bytes
    rp_id: str
    user_handle: bytes
    private_key: ec.EllipticCurvePrivateKey
    resident: bool

    @property
    def public_key(self) -> ES256:
        return ES256.from_cryptography_key(self.private_key.public_key())


def _public_key_options(options: Mapping[str, Any]) -> Mapping[str, Any]:
    """The ``publicKey`` member of ``{"publicKey": {...}}``, or the options themselves."""
    if not isinstance(options, Mapping):
        options = dict(options)  # a fido2 CredentialCreationOptions / CredentialRequestOptions
    inner = options.get("publicKey", options)
    return inner if isinstance(inner, dict) else dict(inner)


def _host(origin: str) -> str:
    return urlsplit(origin).hostname or ""


class SoftKey:
    """A software authenticator that signs with ES256 (P-256), attestation "none"."""

    def __init__(
        self,
        *,
        sign_count: int = 0,
        counter_step: int = 1,
        transports: Sequence[str] = ("internal",),
        attachment: str | None = "platform",
        aaguid: bytes = Aaguid.NONE,
        backup_eligible: bool = False,
        backed_up: bool = False,
    ):
        self.sign_count = sign_count
        self.counter_step = counter_step
        self.transports = list(transports)
        self.attachment = attachment
        self.aaguid = Aaguid(aaguid)
        self.backup_eligible = backup_eligible
        self.backed_up = backed_up
        self.credentials: dict[bytes, StoredCredential] = {}

    # -- registration ---------------------------------------------------------

    def create(
        self,
        options: Mapping[str, Any],
        origin: str,
        *,
        resident: bool = True,
        user_verified: bool = True,
        user_present: bool = True,
        rp_id: str | None = None,
    ) -> dict:
        """``navigator.credentials.create({publicKey})``: a new credential, as a RegistrationResponse JSON dict.

        ``options`` is the JSON form of the creation options (``{"publicKey": {...}}``
        or the inner dict). Refuses, as an authenticator does, when it already holds
        one of ``excludeCredentials`` (``InvalidStateError``) or ES256 is not among
        ``pubKeyCredParams`` (``NotSupportedError``).
        """
        opts = _public_key_options(options)
        algs = [p.get("alg") for p in opts.get("pubKeyCredParams") or []]
        if ES256.ALGORITHM not in algs:
            raise SoftKeyError("NotSupportedError", f"ES256 (-7) not among pubKeyCredParams {algs}")
        for excluded in opts.get("excludeCredentials") or []:
            if websafe_decode(excluded["id"]) in self.credentials:
                raise SoftKeyError("InvalidStateError", "the authenticator already holds an excluded credential")

        options_rp_id = (opts.get("rp") or {}).get("id") or _host(origin)
        credential = StoredCredential(
            credential_id=os.urandom(32),
            rp_id=options_rp_id,
            user_handle=websafe_decode(opts["user"]["id"]),
            private_key=ec.generate_private_key(ec.SECP256R1()),
            resident=resident,
        )
        self.credentials[credential.credential_id] = credential

        credential_data = AttestedCredentialData.create(self.aaguid, credential.credential_id, credential.public_key)
        auth_data = AuthenticatorData.create(
            sha256((rp_id or options_rp_id).encode()),
            self._flags(user_present=user_present, user_verified=user_verified) | FLAG.AT,
            self.sign_count,
            credential_data,
        )
        client_data = CollectedClientData.create(
            type=CollectedClientData.TYPE.CREATE, challenge=opts["challenge"], origin=origin,
        )
        extensions = {}
        if (opts.get("extensions") or {}).get("credProps"):
            extensions["credProps"] = {"rk": resident}
        response = dict(RegistrationResponse(
            raw_id=credential.credential_id,
            response=AuthenticatorAttestationResponse(
                client_data=client_data,
                attestation_object=AttestationObject.create("none", auth_data, {}),
            ),
            authenticator_attachment=self.attachment,
            client_extension_results=AuthenticationExtensionsClientOutputs(extensions),
        ))
        # The members of AuthenticatorAttestationResponseJSON that fido2 does not model.
        public_key_der = credential.private_key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo,
        )
        response["response"].update(
            transports=list(self.transports),
            authenticatorData=websafe_encode(auth_data),
            publicKey=websafe_encode(public_key_der),
            publicKeyAlgorithm=ES256.ALGORITHM,
        )
        return response

    # -- authentication -------------------------------------------------------

    def get(
        self,
        options: Mapping[str, Any],
        origin: str,
        *,
        user_verified: bool = True,
        user_present: bool = True,
        rp_id: str | None = None,
        tamper: bool = False,
        user_handle: bytes | None = _KEEP,
    ) -> dict:
        """``navigator.credentials.get({publicKey})``: an assertion, as an AuthenticationResponse JSON dict.

        Picks the first of ``allowCredentials`` the key holds; with none listed,
        the first discoverable (resident) credential for the options' RP ID.
        ``NotAllowedError`` when there is none. Adds ``counter_step`` to
        ``sign_count`` and signs that value.
        """
        opts = _public_key_options(options)
        options_rp_id = opts.get("rpId") or _host(origin)
        credential = self._pick(opts, options_rp_id)

        self.sign_count += self.counter_step
        auth_data = AuthenticatorData.create(
            sha256((rp_id or options_rp_id).encode()),
            self._flags(user_present=user_present, user_verified=user_verified),
            self.sign_count,
        )
        client_data = CollectedClientData.create(
            type=CollectedClientData.TYPE.GET, challenge=opts["challenge"], origin=origin,
        )
        signed = bytes(auth_data) + client_data.hash
        if tamper:
            signed = b"tampered:" + signed
        signature = credential.private_key.sign(signed, ec.ECDSA(hashes.SHA256()))
        return dict(AuthenticationResponse(
            raw_id=credential.credential_id,
            response=AuthenticatorAssertionResponse(
                client_data=client_data,
                authenticator_data=auth_data,
                signature=signature,
                user_handle=credential.user_handle if user_handle is _KEEP else user_handle,
            ),
            authenticator_attachment=self.attachment,
        ))

    # -- helpers --------------------------------------------------------------

    def credential(self, credential_id: bytes | str | None = None) -> StoredCredential:
        """One held credential by id (bytes or base64url); with no id, the only (or last) one."""
        if credential_id is None:
            return list(self.credentials.values())[-1]
        if isinstance(credential_id, str):
            credential_id = websafe_decode(credential_id)
        return self.credentials[credential_id]

    def _pick(self, opts: Mapping[str, Any], rp_id: str) -> StoredCredential:
        allowed = opts.get("allowCredentials") or []
        for descriptor in allowed:
            credential = self.credentials.get(websafe_decode(descriptor["id"]))
            if credential is not None:
                return credential
        if not allowed:
            for credential in self.credentials.values():
                if credential.resident and credential.rp_id == rp_id:
                    return credential
        raise SoftKeyError("NotAllowedError", f"no credential for rp id {rp_id!r} among those allowed")

    def _flags(self, *, user_present: bool, user_verified: bool) -> AuthenticatorData.FLAG:
        flags = FLAG(0)
        if user_present:
            flags |= FLAG.UP
        if user_verified:
            flags |= FLAG.UV
        if self.backup_eligible:
            flags |= FLAG.BE
        if self.backed_up:
            flags |= FLAG.BS
        return flags

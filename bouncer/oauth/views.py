"""The /o/ views: django-oauth-toolkit's, with Bouncer's changes.

Each class changes only what its docstring says. The HTML pages (consent,
device code, application management) still use the toolkit's templates
through ``templates/oauth/``, the place for Bouncer's own pages.
"""

from __future__ import annotations

import json

from django.db import OperationalError
from django.forms.models import modelform_factory
from django.http import HttpResponseRedirect, JsonResponse
from django.utils.decorators import method_decorator
from django.views.decorators.csrf import csrf_exempt
from django.views.generic import View
from oauth2_provider import views as dot_views
from oauth2_provider.models import get_access_token_model, get_application_model
from oauth2_provider.signals import app_authorized
from oauth2_provider.views.mixins import OAuthLibMixin

from bouncer.core import assurance
from bouncer.core.digests import sha256_hex
from bouncer.core.exceptions import oauth_error
from bouncer.oauth import services
from bouncer.oauth.forms import APPLICATION_FIELDS, BouncerApplicationForm
from bouncer.oauth.throttling import client_credentials_presented, throttle_client_requests, throttle_token_requests
from bouncer.users.signin import signin_entry_point

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


class AuthorizationView(dot_views.AuthorizationView):
    """Consent page. Errors that cannot go back to the client (unknown client,
    unregistered redirect URI) answer RFC 6749 JSON instead of an HTML page;
    an explicit "allow" is audited. ``skip_authorization`` on the application
    skips this page for trusted first-party clients (the toolkit's own switch)."""

    template_name = "oauth/authorize.html"

    def error_response(self, error, application, **kwargs):
        redirect, response = OAuthLibMixin.error_response(self, error, **kwargs)
        if redirect:
            return self.redirect(response["url"], application)
        oauthlib_error = response["error"]
        return oauth_error(oauthlib_error.error, oauthlib_error.description or "", oauthlib_error.status_code)

    def create_authorization_response(self, request, scopes, credentials, allow):
        # How the authorizing session signed in travels with the code (oauthlib sets
        # each credential on its request; validators.save_authorization_code keeps it).
        # Both ways to a code pass here: the consent form and a skipped consent page.
        amr = assurance.amr_or_password(request.session.get(assurance.SESSION_AMR_KEY))
        return super().create_authorization_response(request, scopes, {**credentials, "bouncer_amr": amr}, allow)

    def form_valid(self, form):
        response = super().form_valid(form)
        location = response.get("Location", "") if response.status_code in (301, 302, 303) else ""
        if form.cleaned_data.get("allow") and "code=" in location and "error=" not in location:
            application = get_application_model().objects.get(client_id=form.cleaned_data["client_id"])
            services.oauth_consent_given_record(
                request=self.request, application=application, scopes=form.cleaned_data.get("scope", "")
            )
        return response


@signin_entry_point("oauth2")
@method_decorator(throttle_token_requests, name="dispatch")
class TokenView(dot_views.TokenView):
    """/o/token/: throttled per client address (the password grant also goes
    through the sign-in flow, in the validator); purges expired rows now and
    then; device-flow issuance sends ``app_authorized`` like the other grants
    (the toolkit sends it only for those), so one receiver audits them all."""

    def post(self, request, *args, **kwargs):
        if request.POST.get("grant_type") == DEVICE_GRANT and not request.POST.get("device_code"):
            # The toolkit reads the parameter unchecked (a KeyError, a 500).
            return oauth_error("invalid_request", "Missing device_code parameter.", 400)
        response = self._post_deadlock_retried(request, *args, **kwargs)
        if response.status_code == 200:
            services.oauth_purge_expired()
        return response

    def _post_deadlock_retried(self, request, *args, **kwargs):
        """The toolkit's token response, run again when PostgreSQL chose it as a deadlock's victim.

        A refresh racing a revocation of the same family (a password change,
        a deactivation, a sign-out everywhere) locks rows the toolkit's way
        while the revocation locks them Bouncer's; PostgreSQL breaks the rare
        deadlock by aborting one side, which rolled its transaction back
        entirely, so the request is simply run again (its retry then sees the
        revocation and answers ``invalid_grant``). Never a 500: after the last
        attempt, 503 ``temporarily_unavailable``.
        """
        for attempt in range(services.DEADLOCK_ATTEMPTS):
            try:
                return super().post(request, *args, **kwargs)
            except OperationalError as exc:
                if not services.is_deadlock(exc):
                    raise
        return oauth_error("temporarily_unavailable", "Try again.", 503)

    def authorization_flow_token_response(self, request, *args, **kwargs):
        try:
            return super().authorization_flow_token_response(request, *args, **kwargs)
        except get_access_token_model().DoesNotExist:
            # The toolkit reads the issued access token back after its
            # transaction committed (to send app_authorized). A concurrent
            # refresh-token reuse may revoke the family in between, deleting
            # it: the pair is dead, so the answer says so instead of a 500.
            return oauth_error("invalid_grant", "Refresh token already used.", 400)

    def device_flow_token_response(self, request, device_code, *args, **kwargs):
        response = super().device_flow_token_response(request, device_code, *args, **kwargs)
        if response.status_code == 404:
            # The toolkit answers an unknown device code 404 {"error": "device_not_found"};
            # RFC 8628 3.5 keeps RFC 6749's errors, where a bad grant is invalid_grant.
            return oauth_error("invalid_grant", "Unknown device code.", 400)
        if response.status_code == 200:
            access = json.loads(response.content).get("access_token")
            if access:
                checksum = sha256_hex(access)
                token = get_access_token_model().objects.select_related("application", "user").get(token_checksum=checksum)
                app_authorized.send(sender=self, request=request, token=token)
        return response


class DeviceAuthorizationView(dot_views.DeviceAuthorizationView):
    """RFC 8628 device authorization, the toolkit's; a request without a
    ``Content-Type`` gets oauthlib's ``invalid_request`` (oauthlib reads the
    header unchecked: a KeyError, a 500)."""

    def post(self, request, *args, **kwargs):
        if not request.META.get("CONTENT_TYPE"):
            return oauth_error("invalid_request", "Content-Type must be application/x-www-form-urlencoded", 400)
        return super().post(request, *args, **kwargs)


def _confidential_secret_presented(request) -> bool:
    """A non-empty secret for a confidential client: the only callers that may introspect.

    A public client's stored secret is the hash of "", so the toolkit's
    client authentication accepts a public client id with no secret at all.
    """
    client_id, secret = client_credentials_presented(request)
    if not client_id or not secret:
        return False
    return get_application_model().objects.filter(client_id=client_id, client_type="confidential").exists()


@signin_entry_point("oauth_client")
@method_decorator(throttle_client_requests, name="dispatch")
@method_decorator(csrf_exempt, name="dispatch")  # as the toolkit's: overriding dispatch drops it
class IntrospectTokenView(dot_views.IntrospectTokenView):
    """RFC 7662 introspection for authenticated confidential clients only.

    The toolkit also lets any Bearer token with an ``introspection`` scope in;
    Bouncer asks for client credentials (Basic or form body) of a confidential
    client and nothing else, and takes the token from the POST body only (a
    token in a URL leaks). Failed client authentications are throttled per
    address and per client id (``throttle_client_requests``)."""

    http_method_names = ["post", "options"]

    def dispatch(self, request, *args, **kwargs):
        if request.method == "POST":
            if not _confidential_secret_presented(request):
                services.oauth_client_auth_failed(request=request, client_id=client_credentials_presented(request)[0][:100])
                return self._client_auth_failed()
            if not self.authenticate_client(request):
                return self._client_auth_failed()
        # Skip ClientProtectedResourceMixin.dispatch, whose Bearer fallback is refused above.
        return View.dispatch(self, request, *args, **kwargs)

    @staticmethod
    def _client_auth_failed():
        response = oauth_error("invalid_client", "Client authentication failed.", 401)
        response["WWW-Authenticate"] = 'Basic realm="bouncer"'
        return response


@signin_entry_point("oauth_client")
@method_decorator(throttle_client_requests, name="dispatch")
class RevokeTokenView(dot_views.RevokeTokenView):
    """RFC 7009 revocation, the toolkit's; failed client authentications throttled like introspection's."""


class ConnectDiscoveryInfoView(dot_views.ConnectDiscoveryInfoView):
    """OpenID discovery; id_tokens are RS256 only (HS256 needs a plaintext
    client secret, and Bouncer hashes them), so only RS256 is advertised."""

    def get(self, request, *args, **kwargs):
        response = super().get(request, *args, **kwargs)
        data = json.loads(response.content)
        data["id_token_signing_alg_values_supported"] = ["RS256"]
        data["grant_types_supported"] = [
            "authorization_code", "refresh_token", "client_credentials", "password",
            "urn:ietf:params:oauth:grant-type:device_code",
        ]
        data["revocation_endpoint"] = self._get_endpoint_url(request, "revoke-token", required=True)
        data["introspection_endpoint"] = self._get_endpoint_url(request, "introspect", required=True)
        data["device_authorization_endpoint"] = self._get_endpoint_url(request, "device-authorization", required=True)
        fixed = JsonResponse(data)
        for header in ("Access-Control-Allow-Origin",):
            if header in response:
                fixed[header] = response[header]
        return fixed


class RPInitiatedLogoutView(dot_views.RPInitiatedLogoutView):
    """RP-initiated logout; refused requests answer JSON, not an HTML page; the logout is audited."""

    def do_logout(self, application=None, post_logout_redirect_uri=None, state=None, token_user=None):
        user = token_user or self.request.user
        response = super().do_logout(application, post_logout_redirect_uri, state, token_user)
        services.oauth_rp_logout_record(request=self.request, user=user, application=application)
        return response

    def error_response(self, error):
        return oauth_error(error.error or "invalid_request", getattr(error, "description", "") or "", error.status_code)


def application_form_class(request):
    """The application form for this user: ``skip_authorization`` for staff only.

    An application that skips the consent page receives authorization codes
    for anyone sent to ``/o/authorize/`` with its client id, so letting any
    signed-in user tick it would let anyone build a consent bypass. For other
    users the field is not on the form at all, so a smuggled value is ignored
    and an existing application keeps the value staff gave it.
    """
    fields = APPLICATION_FIELDS if request.user.is_staff else tuple(f for f in APPLICATION_FIELDS if f != "skip_authorization")
    return modelform_factory(get_application_model(), form=BouncerApplicationForm, fields=fields)


class ApplicationRegistrationView(dot_views.ApplicationRegistration):
    """/o/applications/register/: no implicit or hybrid flows, RS256 only, secrets hashed, consent kept."""

    def get_form_class(self):
        return application_form_class(self.request)


class ApplicationUpdateView(dot_views.ApplicationUpdate):
    def get_form_class(self):
        return application_form_class(self.request)


class AuthorizedTokenDeleteView(dot_views.AuthorizedTokenDeleteView):
    """Withdrawing consent ends every token the user gave that application, audited."""

    def form_valid(self, form):
        services.oauth_consent_withdraw(request=self.request, user=self.request.user, application=self.object.application)
        return HttpResponseRedirect(self.get_success_url())

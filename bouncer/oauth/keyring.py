"""The id_token key ring kept current in a running process: a rotation needs no restart.

django-oauth-toolkit takes its signing keys as settings
(``OAUTH2_PROVIDER["OIDC_RSA_PRIVATE_KEY"]`` and ``..._INACTIVE``), which
config/settings/oauth.py reads from the key-ring file once, when the settings
load. ``manage.py oidc_rotate_keys`` replaces that file; each process notices
at its next ``/o/`` request (one ``stat``, compared with what it loaded) and
loads the new ring into the toolkit's settings, the way the toolkit itself
reloads them when a setting changes (``oauth2_settings.reload()``). So every
node signs with the new key and publishes it in its JWKS from the first
request after the rotation, and the previous keys stay published for the
id_tokens they signed.

A ring file that no longer reads (a bad edit) is not loaded: the keys in use
stay, and the error is logged once per change of the file.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from oauth2_provider.settings import oauth2_settings

from bouncer.core.keyfiles import key_ring_file_identity, key_ring_file_read
from bouncer.oauth.keys import oidc_key_id

logger = logging.getLogger(__name__)

_lock = threading.Lock()
#: (file, identity) of the ring this process last loaded or tried, once it has looked itself.
_seen: tuple[str, tuple | None] | None = None


def oidc_keys_refresh() -> bool:
    """Load the ring again if its file changed since this process read it; True when it did."""
    global _seen
    conf = settings.BOUNCER_OAUTH
    if conf["OIDC_SINGLE_KEY"]:
        return False  # one key from the environment: nothing to rotate
    path = conf["OIDC_KEYS_FILE"]
    identity = key_ring_file_identity(path)
    seen = _seen if _seen is not None and _seen[0] == path else (path, conf.get("OIDC_KEYS_LOADED"))
    if identity == seen[1] or identity is None:
        return False  # unchanged, or gone (kept: the keys in memory are the last good ring)
    with _lock:
        if _seen is not None and _seen == (path, identity):
            return False  # another thread loaded it meanwhile
        _seen = (path, identity)
        try:
            pems = [entry["pem"] for entry in key_ring_file_read(Path(path))]
            for pem in pems:
                oidc_key_id(pem)
        except (ValueError, KeyError, TypeError, ImproperlyConfigured) as exc:
            logger.error("OIDC key ring %s not loaded, the previous keys stay in use: %s", path, exc)
            return False
        if not pems:
            return False
        settings.OAUTH2_PROVIDER = {
            **settings.OAUTH2_PROVIDER, "OIDC_RSA_PRIVATE_KEY": pems[0], "OIDC_RSA_PRIVATE_KEYS_INACTIVE": pems[1:],
        }
        oauth2_settings.reload()
    logger.info("OIDC key ring %s loaded: %d key(s)", path, len(pems))
    return True

/* Bouncer's WebAuthn pages: security keys and passkeys, with no inline script.
 *
 * A form with data-webauthn="get" | "create" | "passkey" has a button with
 * data-webauthn-start (hidden until this script knows the browser can do
 * WebAuthn). Pressing it runs the ceremony, puts the browser's answer as JSON
 * into the form's hidden "credential" field and submits the form: the server
 * checks everything. The options come from the page, in a
 * <script type="application/json"> element named by data-options (never
 * executed), or, for "passkey", from POST data-begin (which also gives the
 * passkey_token the form sends back).
 */
(function () {
  "use strict";

  function toBytes(value) {
    var text = value.replace(/-/g, "+").replace(/_/g, "/");
    while (text.length % 4) text += "=";
    var binary = atob(text);
    var bytes = new Uint8Array(binary.length);
    for (var i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
    return bytes.buffer;
  }

  function toText(buffer) {
    if (!buffer) return null;
    var bytes = new Uint8Array(buffer);
    var binary = "";
    for (var i = 0; i < bytes.length; i++) binary += String.fromCharCode(bytes[i]);
    return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function descriptors(list) {
    return (list || []).map(function (item) {
      return Object.assign({}, item, { id: toBytes(item.id) });
    });
  }

  function creationOptions(options) {
    var key = Object.assign({}, options.publicKey || options);
    key.challenge = toBytes(key.challenge);
    key.user = Object.assign({}, key.user, { id: toBytes(key.user.id) });
    key.excludeCredentials = descriptors(key.excludeCredentials);
    return { publicKey: key };
  }

  function requestOptions(options) {
    var key = Object.assign({}, options.publicKey || options);
    key.challenge = toBytes(key.challenge);
    key.allowCredentials = descriptors(key.allowCredentials);
    return { publicKey: key };
  }

  /* The answer as the WebAuthn JSON form (what PublicKeyCredential.toJSON() gives). */
  function answer(credential) {
    var response = credential.response;
    var json = {
      id: credential.id,
      rawId: toText(credential.rawId),
      type: credential.type,
      authenticatorAttachment: credential.authenticatorAttachment || null,
      clientExtensionResults: credential.getClientExtensionResults ? credential.getClientExtensionResults() : {},
      response: { clientDataJSON: toText(response.clientDataJSON) },
    };
    if (response.attestationObject) {
      json.response.attestationObject = toText(response.attestationObject);
      json.response.transports = response.getTransports ? response.getTransports() : [];
    } else {
      json.response.authenticatorData = toText(response.authenticatorData);
      json.response.signature = toText(response.signature);
      json.response.userHandle = toText(response.userHandle);
    }
    return json;
  }

  function pageOptions(form) {
    var element = document.getElementById(form.dataset.options);
    return JSON.parse(element.textContent);
  }

  function say(form, message) {
    var box = form.querySelector("[data-webauthn-error]");
    if (!box) return;
    box.textContent = message;
    box.hidden = !message;
  }

  function explain(error) {
    if (error && error.name === "NotAllowedError") return "Nothing was signed: the request was cancelled or timed out. Try again.";
    if (error && error.name === "InvalidStateError") return "This security key or passkey is already registered.";
    if (error && error.name === "SecurityError") return "This page's address cannot use security keys. Open the site at its usual address.";
    return "The security key or passkey could not be used here. Try again, or use another way.";
  }

  function begin(form) {
    var url = form.dataset.begin;
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: "{}",
    }).then(function (reply) {
      if (!reply.ok) throw new Error("begin " + reply.status);
      return reply.json();
    }).then(function (body) {
      form.querySelector('[name="passkey_token"]').value = body.passkey_token;
      return body.options;
    });
  }

  function run(form, button) {
    var kind = form.dataset.webauthn;
    // A name to give the new key, and any other visible field, first.
    if (kind === "create" && !form.reportValidity()) return;
    say(form, "");
    button.disabled = true;
    var ceremony;
    if (kind === "create") {
      ceremony = navigator.credentials.create(creationOptions(pageOptions(form)));
    } else if (kind === "passkey") {
      ceremony = begin(form).then(function (options) { return navigator.credentials.get(requestOptions(options)); });
    } else {
      ceremony = navigator.credentials.get(requestOptions(pageOptions(form)));
    }
    ceremony.then(function (credential) {
      form.querySelector('[name="credential"]').value = JSON.stringify(answer(credential));
      form.submit();
    }, function (error) {
      button.disabled = false;
      say(form, explain(error));
    });
  }

  var supported = !!(window.PublicKeyCredential && navigator.credentials && window.isSecureContext);
  document.querySelectorAll("form[data-webauthn]").forEach(function (form) {
    var button = form.querySelector("[data-webauthn-start]");
    if (!button) return;
    if (!supported) {
      var note = form.querySelector("[data-webauthn-unsupported]");
      if (note) note.hidden = false;
      return;
    }
    button.hidden = false;
    button.addEventListener("click", function () { run(form, button); });
  });
})();

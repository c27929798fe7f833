"""HMAC-signed values for the local stage: expiring URLs and ID tokens.

The secret comes from LOCAL_SECRET, or from LOCAL_SECRET_FILE (created with
32 random bytes and mode 0600 on first use), so tokens and URLs survive
restarts of the local server.
"""
import base64
import hashlib
import hmac
import json
import os
import secrets
import threading
import time

from chalicelib import settings

_lock = threading.Lock()


def secret():
    value = os.environ.get("LOCAL_SECRET")
    if value:
        return value.encode("utf-8")
    path = settings.local_path("LOCAL_SECRET_FILE")
    with _lock:
        if not os.path.exists(path):
            os.makedirs(os.path.dirname(path), exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_hex(32))
    with open(path) as f:
        return f.read().strip().encode("utf-8")


def sign(*parts):
    message = "\n".join(str(p) for p in parts).encode("utf-8")
    return hmac.new(secret(), message, hashlib.sha256).hexdigest()


def check(signature, *parts):
    return isinstance(signature, str) and hmac.compare_digest(sign(*parts), signature)


def expired(expires, now=None):
    try:
        return int(expires) < (now or time.time())
    except (TypeError, ValueError):
        return True


# ---- JWT (HS256), the same claims shape as a Cognito ID token ---------------------------------

def _b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def encode_jwt(claims):
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    payload = _b64(json.dumps(claims, separators=(",", ":")).encode())
    signature = hmac.new(secret(), ("%s.%s" % (header, payload)).encode(), hashlib.sha256).digest()
    return "%s.%s.%s" % (header, payload, _b64(signature))


def decode_jwt(token):
    """The claims of a token signed with our secret, or ValueError saying why not."""
    try:
        header_b64, payload_b64, signature_b64 = token.split(".")
        header = json.loads(_unb64(header_b64))
        claims = json.loads(_unb64(payload_b64))
        signature = _unb64(signature_b64)
    except (ValueError, AttributeError):
        raise ValueError("malformed token")
    if header.get("alg") != "HS256":
        raise ValueError("unsupported token algorithm")
    expected = hmac.new(secret(), ("%s.%s" % (header_b64, payload_b64)).encode(), hashlib.sha256).digest()
    if not hmac.compare_digest(expected, signature):
        raise ValueError("bad signature")
    if not isinstance(claims, dict):
        raise ValueError("malformed claims")
    return claims

"""HMAC-signed values for the local stage: expiring URLs and ID tokens (PyJWT).

The secret comes from LOCAL_SECRET, or from LOCAL_SECRET_FILE (created with
32 random bytes and mode 0600 on first use), so tokens and URLs survive
restarts of the local server.
"""
import hashlib
import hmac
import os
import secrets
import threading
import time

import jwt

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


# ---- JWT (HS256, PyJWT), the same claims shape as a Cognito ID token ----------------------------

# Tokens are signed with a key derived from the secret for this one purpose, so a token and
# a signed URL never share a key (and the key is always 32 bytes, as HS256 wants).
_JWT_PURPOSE = b"photo-search local ID tokens"


def _jwt_key():
    return hmac.new(secret(), _JWT_PURPOSE, hashlib.sha256).digest()


def encode_jwt(claims):
    return jwt.encode(claims, _jwt_key(), algorithm="HS256")


def decode_jwt(token, issuer=None):
    """The claims of a token signed with our key (HS256 only, `exp` required and checked, and
    `iss` when given), or ValueError saying why not."""
    try:
        return jwt.decode(token, _jwt_key(), algorithms=["HS256"], issuer=issuer,
                          options={"require": ["exp", "sub"] + (["iss"] if issuer else [])})
    except jwt.ExpiredSignatureError:
        raise ValueError("expired")
    except jwt.InvalidIssuerError:
        raise ValueError("wrong issuer")
    except jwt.InvalidSignatureError:
        raise ValueError("bad signature")
    except jwt.InvalidAlgorithmError:
        raise ValueError("unsupported token algorithm")
    except jwt.InvalidTokenError as e:      # malformed, missing claims, not yet valid...
        raise ValueError("malformed token (%s)" % e)

"""Who is calling.

On AWS (AUTH_MODE=cognito), API Gateway's Cognito user pool authorizer
verifies the token and passes its claims in the request context.  `chalice
local` and the chalice test client do NOT verify anything (they decode the
token and let requests without one through), so the app itself refuses a
request that carries no claims, and every query is scoped to the caller's
``sub``.

In the local stage (AUTH_MODE=local) nothing in front of the app checks
tokens, so the app verifies them itself: HS256 tokens issued by
``python -m chalicelib.cli token NAME``, with a Cognito ID token's claims
(sub, cognito:username, token_use, iss, exp).  Unsigned, expired, wrongly
signed or wrong-issuer tokens are refused with 401.
"""
import re
import time
import uuid
from collections import namedtuple

from chalicelib import settings, signing
from chalicelib.errors import Unauthorized

Caller = namedtuple("Caller", "sub username")

# Cognito subs are UUIDs; anything usable as one key segment is accepted.
_SUB = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$")


def caller_from_context(context):
    claims = ((context or {}).get("authorizer") or {}).get("claims") or {}
    sub = claims.get("sub")
    if not isinstance(sub, str) or not _SUB.match(sub):
        raise Unauthorized("a valid Cognito token is required in the Authorization header")
    if claims.get("token_use") not in (None, "id", "access"):
        raise Unauthorized("unsupported token type")
    return Caller(sub, claims.get("cognito:username") or claims.get("username") or sub)


def caller(request):
    if settings.get("AUTH_MODE") == "local":
        return caller_from_local_token((request.headers or {}).get("authorization"))
    return caller_from_context(request.context)


def local_sub(username):
    """A stable sub per user name and issuer (a UUID, like Cognito's)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "photo-search:%s:%s" % (settings.get("LOCAL_ISSUER"), username)))


def issue_local_token(username, hours=None):
    if not isinstance(username, str) or not re.match(r"^[A-Za-z0-9._@-]{1,64}$", username):
        raise ValueError("a user name is 1-64 letters, digits or ._@-")
    hours = hours or settings.get_float("LOCAL_TOKEN_HOURS", minimum=0.001)
    now = int(time.time())
    return signing.encode_jwt({"sub": local_sub(username), "cognito:username": username, "token_use": "id",
                               "iss": settings.get("LOCAL_ISSUER"), "iat": now, "exp": now + int(hours * 3600)})


def caller_from_local_token(header):
    if not header:
        raise Unauthorized("a token is required in the Authorization header")
    token = header[7:].strip() if header.lower().startswith("bearer ") else header.strip()
    try:
        claims = signing.decode_jwt(token)
    except ValueError as e:
        raise Unauthorized("invalid token: %s" % e)
    if claims.get("iss") != settings.get("LOCAL_ISSUER"):
        raise Unauthorized("invalid token: wrong issuer")
    if claims.get("token_use") != "id":
        raise Unauthorized("invalid token: not an ID token")
    if not isinstance(claims.get("exp"), int) or claims["exp"] < time.time():
        raise Unauthorized("invalid token: expired")
    return caller_from_context({"authorizer": {"claims": claims}})

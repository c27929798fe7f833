"""Who is calling.

On AWS, API Gateway's Cognito user pool authorizer verifies the token and
passes its claims in the request context.  `chalice local` and the chalice
test client do NOT verify anything (they decode the token and let requests
without one through), so the app itself refuses a request that carries no
claims, and every query is scoped to the caller's ``sub``.
"""
import re
from collections import namedtuple

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

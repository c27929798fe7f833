"""Who is calling, and signing in.

AUTH_MODE says who verifies the token in the Authorization header:

- ``cognito`` (AWS behind API Gateway): API Gateway's Cognito user pool authorizer verifies
  it and passes its claims in the request context.  `chalice local` and the chalice test
  client do NOT verify anything (they decode the token and let requests without one
  through), so the app itself refuses a request that carries no claims.
- ``jwks`` (a Cognito user pool, but no API Gateway authorizer in front, e.g. a Lambda
  function URL or `chalice local` against a real pool): the app verifies the Cognito ID token
  itself with PyJWT against the pool's published keys (JWKS): RS256 signature, issuer (the
  pool of USER_POOL_ARN), audience (COGNITO_CLIENT_ID), ``token_use`` "id" and expiry.
- ``local`` (the local stage): HS256 tokens the app issues itself (PyJWT, chalicelib.signing)
  with a Cognito ID token's claims (sub, cognito:username, token_use, iss, exp): from
  ``POST /auth/signin`` with a local account's password (chalicelib.accounts), or from
  ``./dev token NAME`` on the machine that holds the secret.  Unsigned, expired, wrongly
  signed and wrong-issuer tokens are refused with 401.

Every query is scoped to the caller's ``sub``.

Signing in (``sign_in``): the local stage checks the password of a local account; the Cognito
stages ask the user pool (InitiateAuth, USER_PASSWORD_AUTH, with the app client
COGNITO_CLIENT_ID, which has no secret) on the page's behalf, so the page talks only to its
own origin and holds no secret.
"""
import hmac
import re
import threading
import time
import uuid
from collections import namedtuple

import jwt
from botocore.exceptions import ClientError

from chalicelib import settings, signing
from chalicelib.errors import BackendUnavailable, BadRequest, ConfigurationError, Unauthorized

Caller = namedtuple("Caller", "sub username")

# Cognito subs are UUIDs; anything usable as one key segment is accepted.
_SUB = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$")
_POOL_ARN = re.compile(r"^arn:aws[a-z-]*:cognito-idp:(?P<region>[a-z0-9-]+):\d{12}:userpool/(?P<pool>[\w-]+_\w+)$")
MODES = ("cognito", "jwks", "local")


def mode():
    value = settings.get("AUTH_MODE")
    if value not in MODES:
        raise ConfigurationError("AUTH_MODE=%r: choose %s" % (value, ", ".join(MODES)))
    return value


def caller_from_context(context):
    claims = ((context or {}).get("authorizer") or {}).get("claims") or {}
    return _caller(claims)


def _caller(claims):
    sub = claims.get("sub")
    if not isinstance(sub, str) or not _SUB.match(sub):
        raise Unauthorized("a valid Cognito token is required in the Authorization header")
    if claims.get("token_use") not in (None, "id", "access"):
        raise Unauthorized("unsupported token type")
    return Caller(sub, claims.get("cognito:username") or claims.get("username") or sub)


def caller(request):
    chosen = mode()
    if chosen == "local":
        return caller_from_local_token((request.headers or {}).get("authorization"))
    if chosen == "jwks":
        return caller_from_cognito_token((request.headers or {}).get("authorization"))
    return caller_from_context(request.context)


def _bearer(header):
    if not header:
        raise Unauthorized("a token is required in the Authorization header")
    return header[7:].strip() if header.lower().startswith("bearer ") else header.strip()


# ---- the local stage's own tokens -------------------------------------------------------

def local_sub(username):
    """A stable sub per user name and issuer (a UUID, like Cognito's); after an account of this
    name was removed, another one (accounts.generation)."""
    from chalicelib.accounts import generation
    name = "photo-search:%s:%s" % (settings.get("LOCAL_ISSUER"), username)
    times = generation(username)
    return str(uuid.uuid5(uuid.NAMESPACE_URL, name + (":%d" % times if times else "")))


# When the token was issued, to the microsecond ("iat" has whole seconds): a password changed in
# the same second as a sign-in must not revoke the token that sign-in gave.
ISSUED_CLAIM = "photo-search:issued"


def issue_local_token(username, hours=None, issued=None):
    """A local ID token; `issued` (default now) is when the password was checked, if it was."""
    if not isinstance(username, str) or not re.match(r"^[A-Za-z0-9._@-]{1,64}$", username):
        raise ValueError("a user name is 1-64 letters, digits or ._@-")
    hours = hours or settings.get_float("LOCAL_TOKEN_HOURS", minimum=0.001)
    issued = time.time() if issued is None else issued
    now = int(issued)
    return signing.encode_jwt({"sub": local_sub(username), "cognito:username": username, "token_use": "id",
                               "iss": settings.get("LOCAL_ISSUER"), "iat": now, "exp": now + int(hours * 3600),
                               ISSUED_CLAIM: issued})


def caller_from_local_token(header):
    try:
        claims = signing.decode_jwt(_bearer(header), issuer=settings.get("LOCAL_ISSUER"))
    except ValueError as e:
        raise Unauthorized("invalid token: %s" % e)
    if claims.get("token_use") != "id":
        raise Unauthorized("invalid token: not an ID token")
    found = _caller(claims)
    from chalicelib.accounts import revoked_before
    before = revoked_before(found.username)
    issued = claims.get(ISSUED_CLAIM, claims.get("iat"))
    if before is not None and (not isinstance(issued, (int, float)) or issued < before):
        raise Unauthorized("this token was revoked (a new password or a removed account): sign in again")
    return found


# ---- Cognito ID tokens verified by the app (AUTH_MODE=jwks) ------------------------------

def user_pool():
    """(region, pool id) of USER_POOL_ARN."""
    match = _POOL_ARN.match(settings.get("USER_POOL_ARN"))
    if not match:
        raise ConfigurationError("USER_POOL_ARN=%r is not a Cognito user pool ARN" % settings.get("USER_POOL_ARN"))
    return match.group("region"), match.group("pool")


def cognito_issuer():
    region, pool = user_pool()
    return "https://cognito-idp.%s.amazonaws.com/%s" % (region, pool)


_jwks_lock = threading.Lock()
_jwks_clients = {}


def _jwks_client():
    """One PyJWKClient per JWKS URL and process: the keys are fetched once and kept for an
    hour (a token signed with a key it has not seen makes it fetch again, at most every 30 s)."""
    url = settings.get("COGNITO_JWKS_URL") or cognito_issuer() + "/.well-known/jwks.json"
    with _jwks_lock:
        if url not in _jwks_clients:
            _jwks_clients[url] = jwt.PyJWKClient(url, cache_keys=True, lifespan=3600, timeout=5)
        return _jwks_clients[url]


def verify_cognito_token(token):
    """The claims of a Cognito ID token of this pool and app client, or Unauthorized."""
    client_id = settings.require("COGNITO_CLIENT_ID")
    if not jwt.algorithms.has_crypto:       # fail closed, and say why
        raise ConfigurationError("AUTH_MODE=jwks verifies RS256 tokens and needs the cryptography package: "
                                 "add cryptography==50.0.2 to requirements.txt")
    try:
        key = _jwks_client().get_signing_key_from_jwt(token)
    except jwt.PyJWKClientConnectionError as e:
        raise BackendUnavailable("the user pool's keys could not be read (%s)" % e)
    except (jwt.PyJWKClientError, jwt.InvalidTokenError) as e:
        raise Unauthorized("invalid token: %s" % e)
    try:
        claims = jwt.decode(token, key.key, algorithms=["RS256"], issuer=cognito_issuer(), audience=client_id,
                            options={"require": ["exp", "iat", "iss", "aud", "sub", "token_use"]})
    except jwt.ExpiredSignatureError:
        raise Unauthorized("invalid token: expired")
    except jwt.InvalidTokenError as e:
        raise Unauthorized("invalid token: %s" % e)
    if claims.get("token_use") != "id":
        raise Unauthorized("invalid token: not an ID token")
    return claims


def caller_from_cognito_token(header):
    return _caller(verify_cognito_token(_bearer(header)))


# ---- signing in -------------------------------------------------------------------------

# The local server (chalicelib.localhttp) puts the connection's peer address in this header,
# replacing any the client sent, signed with the local secret (so a client that reaches the app
# some other way cannot choose its own address); chalice local's own request context always says
# 127.0.0.1.  Behind a proxy (TRUSTED_PROXY=on) the peer is the proxy, so the address is the last
# one the proxy added to X-Forwarded-For.
PEER_HEADER = "x-photo-search-peer"


def peer_header(connection_address, forwarded_for=None):
    """The PEER_HEADER value the local server sends for a connection."""
    from chalicelib import baseurl
    address = connection_address
    if forwarded_for and baseurl.trusted_proxy():
        address = forwarded_for.split(",")[-1].strip() or connection_address
    return "%s %s" % (address, signing.sign("peer", address)[:32])


def client_address(request):
    """The address sign-in attempts are counted against."""
    value = (request.headers or {}).get(PEER_HEADER) or ""
    address, _, mark = value.rpartition(" ")
    if mode() == "local" and address and hmac.compare_digest(mark, signing.sign("peer", address)[:32]):
        return address
    return (((request.context or {}).get("identity") or {}).get("sourceIp")) or "?"


def sign_in(body, address=None, cognito=None):
    """{"token", "expires_at", "username"} for a right password (or, on Cognito, a
    {"challenge": "NEW_PASSWORD_REQUIRED", "session"} to answer with `new_password`).
    Never a token without a password."""
    if not isinstance(body, dict):
        raise BadRequest('send a JSON object: {"username": "alice", "password": "..."}')
    username, password = body.get("username"), body.get("password")
    if mode() == "local":
        from chalicelib import accounts
        name, checked = accounts.sign_in(username, password, address)
        token = issue_local_token(name, issued=checked)
        return {"token": token, "username": name, "expires_at": signing.decode_jwt(token)["exp"]}
    return _cognito_sign_in(cognito, body)


def _cognito_sign_in(client, body):
    client_id = settings.require("COGNITO_CLIENT_ID")
    if client is None:      # InitiateAuth is a public call: unsigned, no IAM permission needed
        from botocore import UNSIGNED
        from chalicelib import components
        client = components.boto_client("cognito-idp", signature_version=UNSIGNED)
    username = body.get("username")
    if not isinstance(username, str) or not username or len(username) > 256:
        raise BadRequest("send a user name")
    try:
        if body.get("session") is not None:
            new = body.get("new_password")
            if not isinstance(new, str) or not new or not isinstance(body["session"], str):
                raise BadRequest("send the new password and the session of the challenge")
            answer = client.respond_to_auth_challenge(
                ClientId=client_id, ChallengeName="NEW_PASSWORD_REQUIRED", Session=body["session"],
                ChallengeResponses={"USERNAME": username, "NEW_PASSWORD": new})
        else:
            password = body.get("password")
            if not isinstance(password, str) or not password:
                raise BadRequest("send a user name and a password")
            answer = client.initiate_auth(ClientId=client_id, AuthFlow="USER_PASSWORD_AUTH",
                                          AuthParameters={"USERNAME": username, "PASSWORD": password})
    except ClientError as e:
        code = e.response.get("Error", {}).get("Code", "")
        if code in ("NotAuthorizedException", "UserNotFoundException"):
            raise Unauthorized("wrong user name or password")
        if code in ("InvalidPasswordException", "InvalidParameterException", "CodeMismatchException"):
            raise BadRequest(e.response["Error"].get("Message") or code)
        if code in ("TooManyRequestsException", "TooManyFailedAttemptsException", "LimitExceededException"):
            from chalicelib.accounts import TooManyAttempts
            raise TooManyAttempts("too many sign-in attempts; try again in a minute", 60)
        if code == "UserNotConfirmedException":
            raise Unauthorized("this account is not confirmed yet")
        raise BackendUnavailable("the user pool did not answer (%s)" % code)
    if answer.get("ChallengeName") == "NEW_PASSWORD_REQUIRED":
        return {"challenge": "NEW_PASSWORD_REQUIRED", "session": answer["Session"], "username": username}
    if answer.get("ChallengeName"):
        raise BadRequest("this account needs a sign-in step the page does not offer (%s)" % answer["ChallengeName"])
    token = answer["AuthenticationResult"]["IdToken"]
    claims = jwt.decode(token, options={"verify_signature": False})   # from Cognito itself, over TLS
    return {"token": token, "username": claims.get("cognito:username") or username, "expires_at": claims.get("exp")}

"""Signing in and tokens: PyJWT local tokens, local accounts (scrypt, limits), the sign-in route,
Cognito ID tokens verified against the user pool's JWKS (moto's real user pool and its JWKS
endpoint over HTTP), and the page's headers, through the chalice test client."""
import gzip
import io
import json
import os
import stat
import time

import boto3
import jwt
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.conftest import REGION, app_client


def post(client, path, body, headers=None):
    return client.http.post(path, headers=dict({"Content-Type": "application/json"}, **(headers or {})),
                            body=json.dumps(body))


# ---- the local stage: PyJWT tokens and accounts -----------------------------------------------

@pytest.fixture
def local(monkeypatch, tmp_path):
    from chalicelib import components
    for name, value in {"AUTH_MODE": "local", "STORAGE_BACKEND": "disk", "INDEX_BACKEND": "sqlite",
                        "PHOTO_BUCKET": "local", "LOCAL_STORAGE_DIR": str(tmp_path / "bucket"),
                        "SQLITE_PATH": str(tmp_path / "index.sqlite3"), "LOCAL_SECRET": "a" * 64,
                        "LOCAL_ACCOUNTS_PATH": str(tmp_path / "accounts.sqlite3")}.items():
        monkeypatch.setenv(name, value)
    components.reset()
    yield tmp_path
    components.reset()


def test_local_tokens_are_pyjwt_hs256_with_cognito_claims(local):
    from chalicelib import auth, signing
    token = auth.issue_local_token("alice", hours=1)
    header = jwt.get_unverified_header(token)
    assert header == {"alg": "HS256", "typ": "JWT"}
    claims = signing.decode_jwt(token, issuer="photo-search-local")
    assert claims["cognito:username"] == "alice" and claims["token_use"] == "id"
    assert claims["sub"] == auth.local_sub("alice") and 3590 <= claims["exp"] - time.time() <= 3600
    assert auth.caller_from_local_token("Bearer " + token) == auth.Caller(auth.local_sub("alice"), "alice")


@pytest.mark.parametrize("what", ["raw secret", "alg none", "wrong issuer", "expired", "no exp", "access token",
                                  "tampered", "RS256 with the secret as key", "garbage"])
def test_local_tokens_that_are_refused(local, what):
    from chalicelib import auth, signing
    from chalicelib.errors import Unauthorized
    now = int(time.time())
    claims = {"sub": auth.local_sub("alice"), "cognito:username": "alice", "token_use": "id",
              "iss": "photo-search-local", "iat": now, "exp": now + 600}
    good = auth.issue_local_token("alice")
    token = {
        # signed with the secret itself rather than the key derived for tokens
        "raw secret": lambda: jwt.encode(claims, signing.secret(), algorithm="HS256"),
        "alg none": lambda: jwt.encode(claims, None, algorithm="none"),
        "wrong issuer": lambda: signing.encode_jwt(dict(claims, iss="someone-else")),
        "expired": lambda: signing.encode_jwt(dict(claims, exp=now - 5)),
        "no exp": lambda: signing.encode_jwt({k: v for k, v in claims.items() if k != "exp"}),
        "access token": lambda: signing.encode_jwt(dict(claims, token_use="access")),
        "tampered": lambda: good.rsplit(".", 2)[0] + "." + jwt.utils.base64url_encode(json.dumps(
            dict(claims, sub="someone-else")).encode()).decode() + "." + good.rsplit(".", 1)[1],
        "RS256 with the secret as key": lambda: jwt.encode(
            claims, rsa.generate_private_key(public_exponent=65537, key_size=2048), algorithm="RS256"),
        "garbage": lambda: "not.a.token",
    }[what]()
    with pytest.raises(Unauthorized):
        auth.caller_from_local_token(token)


def test_accounts_store_scrypt_hashes_in_a_private_file(local):
    from chalicelib import accounts
    from chalicelib.errors import BadRequest
    accounts.add_user("alice", "correct horse battery")
    path = str(local / "accounts.sqlite3")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    import sqlite3
    stored, = sqlite3.connect(path).execute("SELECT password_hash FROM users").fetchone()
    scheme, n, r, p, salt, digest = stored.split("$")
    assert (scheme, n, r, p) == ("scrypt", "32768", "8", "1") and "correct" not in stored
    assert accounts.verify_password("correct horse battery", stored)
    assert not accounts.verify_password("correct horse batterY", stored)
    assert accounts.hash_password("same") != accounts.hash_password("same")      # salted
    with pytest.raises(BadRequest):
        accounts.add_user("ALICE", "another password")          # names are case-insensitive
    with pytest.raises(BadRequest):
        accounts.add_user("bob", "short")
    with pytest.raises(BadRequest):
        accounts.add_user("bob/../x", "long enough password")
    accounts.set_password("alice", "a brand new password")
    assert accounts.sign_in("alice", "a brand new password", "10.0.0.1")[0] == "alice"
    assert accounts.users() == ["alice"]
    assert accounts.remove_user("alice") and accounts.users() == []


def test_the_sign_in_route_gives_a_token_only_for_the_right_password(local):
    from chalicelib import accounts
    accounts.add_user("alice", "correct horse battery")
    with app_client() as client:
        r = post(client, "/auth/signin", {"username": "alice", "password": "correct horse battery"})
        assert r.status_code == 200, r.body
        answer = r.json_body
        assert answer["username"] == "alice" and answer["expires_at"] > time.time()
        assert client.http.get("/photos", headers={"Authorization": answer["token"]}).status_code == 200
        for body in ({"username": "alice", "password": "wrong"}, {"username": "nobody", "password": "x" * 10},
                     {"username": "alice"}, {"username": "alice", "password": None}, ["alice"], {}):
            r = post(client, "/auth/signin", body)
            assert r.status_code in (400, 401) and "token" not in r.json_body, (body, r.body)


def test_a_new_password_or_a_removed_account_revokes_the_tokens_given_before(local):
    from chalicelib import accounts, auth
    accounts.add_user("Alice", "correct horse battery")
    with app_client() as client:
        def sign_in(password):
            return post(client, "/auth/signin", {"username": "alice", "password": password}).json_body["token"]

        def status(token):
            return client.http.get("/photos", headers={"Authorization": token}).status_code

        old, bystander = sign_in("correct horse battery"), "Bearer " + auth.issue_local_token("bob")
        assert status(old) == 200
        assert accounts.main(["passwd", "alice", "--password-stdin"], stdin=io.StringIO("a new password\n"),
                             stream=io.StringIO()) == 0
        refused = client.http.get("/photos", headers={"Authorization": old})
        assert refused.status_code == 401 and "revoked" in refused.json_body["message"]
        new = sign_in("a new password")          # a token of the same second as the change is good
        assert status(new) == 200 and status(bystander) == 200
        out = io.StringIO()
        assert accounts.main(["remove", "alice"], stream=out) == 0 and "refused" in out.getvalue()
        assert status(new) == 401 and status(bystander) == 200
        accounts.add_user("alice", "correct horse battery")      # the name again: a new account
        assert status(new) == 401 and status(sign_in("correct horse battery")) == 200


def test_a_sign_in_that_checked_the_old_password_while_it_changed_gets_a_revoked_token(local, monkeypatch):
    """The sign-in holds the accounts file's write lock while it checks the password; a password
    change waits for it, and its revocation covers the token that sign-in was given."""
    import threading
    from chalicelib import accounts, auth
    from chalicelib.errors import Unauthorized
    accounts.add_user("alice", "correct horse battery")
    checked, real_verify, answer = threading.Event(), accounts.verify_password, {}

    def verify_then_signal(password, stored):       # the real check, then: "I hold the lock now"
        ok = real_verify(password, stored)
        checked.set()
        time.sleep(0.5)             # longer than hashing the new password
        return ok
    monkeypatch.setattr(accounts, "verify_password", verify_then_signal)
    racer = threading.Thread(target=lambda: answer.update(auth.sign_in(
        {"username": "alice", "password": "correct horse battery"}, "10.0.0.1")))
    racer.start()
    assert checked.wait(10)
    accounts.set_password("alice", "a brand new password")      # waits for the sign-in to commit
    racer.join(10)
    with pytest.raises(Unauthorized, match="revoked"):
        auth.caller_from_local_token("Bearer " + answer["token"])


def test_an_unreadable_accounts_file_refuses_tokens_with_503(local):
    from chalicelib import accounts, auth
    from chalicelib.errors import BackendUnavailable
    accounts.add_user("alice", "correct horse battery")
    token = auth.issue_local_token("alice")
    with open(local / "accounts.sqlite3", "r+b") as f:      # a corrupt file: the header overwritten
        f.write(b"not a database at all, sorry" * 4)
    with pytest.raises(BackendUnavailable, match="accounts file"):
        auth.caller_from_local_token("Bearer " + token)


def test_a_new_account_of_a_removed_users_name_does_not_see_their_photos(local):
    import datetime
    from chalicelib import accounts, auth, components
    from chalicelib.index import ANY, documents
    from chalicelib.keys import photo_id
    from chalicelib.storage import ObjectInfo
    accounts.add_user("alice", "correct horse battery")
    old_sub = auth.local_sub("alice")
    services = components.services()
    key = "usercontent/%s/holiday.jpg" % old_sub
    info = ObjectInfo(key, "e" * 32, 10, datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc), "image/jpeg")
    doc = documents.build(photo_id(services.storage.bucket, key), old_sub, services.storage.bucket, key, info, "",
                          documents.STATUS_INDEXED, [])
    services.index.put(doc, ANY)
    with app_client() as client:
        def photos(password):
            token = post(client, "/auth/signin", {"username": "alice", "password": password}).json_body["token"]
            listed = client.http.get("/photos", headers={"Authorization": token}).json_body["photos"]
            one = client.http.get("/photos/" + doc["photo_id"], headers={"Authorization": token})
            return [p["photo_id"] for p in listed], one.status_code
        assert photos("correct horse battery") == ([doc["photo_id"]], 200)
        accounts.remove_user("alice")
        accounts.add_user("alice", "someone else's password")
        assert auth.local_sub("alice") != old_sub
        assert photos("someone else's password") == ([], 404)


def test_failed_sign_ins_are_limited_per_user_name_and_per_address(local, monkeypatch):
    from chalicelib import accounts
    from chalicelib.errors import Unauthorized
    monkeypatch.setenv("SIGNIN_MAX_FAILURES", "3")
    accounts.add_user("alice", "correct horse battery")
    accounts.add_user("bob", "bob's long password")
    for _ in range(3):
        with pytest.raises(Unauthorized):
            accounts.sign_in("alice", "guess", "10.0.0.1")
    with pytest.raises(accounts.TooManyAttempts) as limited:       # even with the right password
        accounts.sign_in("alice", "correct horse battery", "10.0.0.2")
    assert 890 < limited.value.retry_after <= 901
    assert accounts.sign_in("bob", "bob's long password", "10.0.0.1")[0] == "bob"   # others are not locked out
    # one address: 4 x 3 failures over any names, then nothing more from there
    for n in range(9):
        with pytest.raises(Unauthorized):
            accounts.sign_in("nobody%d" % n, "guess", "10.0.0.1")
    with pytest.raises(accounts.TooManyAttempts):
        accounts.sign_in("bob", "bob's long password", "10.0.0.1")
    assert accounts.sign_in("bob", "bob's long password", "10.0.0.9")[0] == "bob"
    # the window passes
    monkeypatch.setenv("SIGNIN_WINDOW_SECONDS", "1")
    time.sleep(1.1)
    assert accounts.sign_in("alice", "correct horse battery", "10.0.0.1")[0] == "alice"


def test_a_limited_sign_in_answers_429_with_retry_after(local, monkeypatch):
    from chalicelib import accounts
    monkeypatch.setenv("SIGNIN_MAX_FAILURES", "2")
    accounts.add_user("alice", "correct horse battery")
    with app_client() as client:
        codes = [post(client, "/auth/signin", {"username": "alice", "password": "nope"}).status_code
                 for _ in range(2)]
        r = post(client, "/auth/signin", {"username": "alice", "password": "correct horse battery"})
    assert codes == [401, 401]
    assert r.status_code == 429 and r.json_body["error"] == "TooManyAttempts" and "token" not in r.json_body
    assert 0 < int(r.headers["Retry-After"]) <= 901


JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10), inner, max_size=3),
                    max_leaves=8)
SIGN_IN_BODIES = JSON | st.fixed_dictionaries({"username": JSON | st.sampled_from(["alice", "ALICE", "alice\x00"]),
                                               "password": JSON | st.just("correct horse batterY")})


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=SIGN_IN_BODIES)
def test_the_sign_in_route_never_answers_5xx_nor_a_token_without_the_password(local, body):
    from chalicelib import accounts
    if not accounts.users():
        accounts.add_user("alice", "correct horse battery")
    with app_client() as client:
        r = post(client, "/auth/signin", body)
    assert r.status_code in (400, 401, 429), (body, r.body)
    assert "token" not in (r.json_body or {})


# ---- the page's own answers -----------------------------------------------------------------

def test_the_page_and_its_files_have_types_caching_and_a_strict_policy(local):
    with app_client() as client:
        page = client.http.get("/", headers={"Host": "photos.example:8000"})
        assert page.status_code == 200 and page.headers["Content-Type"] == "text/html; charset=utf-8"
        html = page.body.decode()
        assert 'data-auth="local"' in html and "<script>" not in html and "{{" not in html
        policy = page.headers["Content-Security-Policy"]
        assert "script-src 'self';" in policy and "style-src 'self';" in policy and "unsafe" not in policy
        assert "img-src 'self' blob: http://photos.example:8000;" in policy     # the signed /files URLs
        assert "frame-ancestors 'none'" in policy and page.headers["X-Content-Type-Options"] == "nosniff"
        assert client.http.get("/", headers={"If-None-Match": page.headers["ETag"]}).status_code == 304
        for name, kind in (("app.js", "text/javascript; charset=utf-8"), ("app.css", "text/css; charset=utf-8"),
                           ("icon.svg", "image/svg+xml")):
            version = html.split("web/%s?v=" % name)[1].split('"')[0]
            r = client.http.get("/web/%s?v=%s" % (name, version))
            assert r.status_code == 200 and r.headers["Content-Type"] == kind
            assert r.headers["Cache-Control"] == "public, max-age=31536000, immutable"
            assert client.http.get("/web/" + name).headers["Cache-Control"] == "no-cache"
        for name in ("index.html", "..", "app.py", "%2e%2e%2fapp.py"):
            assert client.http.get("/web/" + name).status_code == 404


def test_the_page_finds_its_api_under_an_api_gateway_stage():
    from chalicelib.webpage import base_path
    assert base_path({"path": "/api/", "resourcePath": "/", "stage": "api"}) == "/api/"
    assert base_path({"path": "/api", "resourcePath": "/", "stage": "api"}) == "/api/"
    assert base_path({"path": "/", "resourcePath": "/"}) == "/"
    assert base_path(None) == "/"


def test_the_page_on_aws_allows_the_buckets_origin(services):
    from chalicelib import webpage
    policy = webpage.csp(services.storage)
    bucket_origin = os.environ["AWS_ENDPOINT_URL"]      # moto stands for S3 here
    assert "img-src 'self' blob: %s;" % bucket_origin in policy
    assert "connect-src 'self' %s;" % bucket_origin in policy


# ---- Cognito: sign-in through the user pool, ID tokens verified against its JWKS ------------

@pytest.fixture(scope="module")
def pool(aws):
    idp = boto3.client("cognito-idp", region_name=REGION, endpoint_url=aws)
    pool = idp.create_user_pool(PoolName="photo-search-web")["UserPool"]
    client_id = idp.create_user_pool_client(UserPoolId=pool["Id"], ClientName="web", GenerateSecret=False,
                                            ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH"])["UserPoolClient"]["ClientId"]
    other_client = idp.create_user_pool_client(UserPoolId=pool["Id"], ClientName="other",
                                               ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH"])["UserPoolClient"]["ClientId"]
    idp.admin_create_user(UserPoolId=pool["Id"], Username="carol", MessageAction="SUPPRESS")
    idp.admin_set_user_password(UserPoolId=pool["Id"], Username="carol", Password="Carol-Pass-42", Permanent=True)
    idp.admin_create_user(UserPoolId=pool["Id"], Username="dave", TemporaryPassword="Temp-Pass-1",
                          MessageAction="SUPPRESS")
    return {"idp": idp, "id": pool["Id"], "arn": pool["Arn"], "client": client_id, "other_client": other_client,
            "jwks": "%s/%s/.well-known/jwks.json" % (aws, pool["Id"])}


@pytest.fixture
def jwks_mode(pool, services, monkeypatch):
    monkeypatch.setenv("AUTH_MODE", "jwks")
    monkeypatch.setenv("USER_POOL_ARN", pool["arn"])
    monkeypatch.setenv("COGNITO_CLIENT_ID", pool["client"])
    monkeypatch.setenv("COGNITO_JWKS_URL", pool["jwks"])
    return pool


def tokens(pool, username, password, client=None):
    return pool["idp"].initiate_auth(ClientId=client or pool["client"], AuthFlow="USER_PASSWORD_AUTH",
                                     AuthParameters={"USERNAME": username, "PASSWORD": password}
                                     )["AuthenticationResult"]


def moto_key():
    """The private key moto's user pools sign with (the key its JWKS endpoint publishes)."""
    import moto.cognitoidp
    path = os.path.join(os.path.dirname(moto.cognitoidp.__file__), "resources", "jwks-private.json.gz")
    with gzip.open(path) as f:
        return jwt.algorithms.RSAAlgorithm.from_jwk(f.read().decode())


def test_sign_in_through_the_user_pool_and_use_the_verified_id_token(jwks_mode, client):
    r = post(client, "/auth/signin", {"username": "carol", "password": "Carol-Pass-42"})
    assert r.status_code == 200, r.body
    token = r.json_body["token"]
    assert r.json_body["username"] == "carol" and jwt.get_unverified_header(token)["alg"] == "RS256"
    assert client.http.get("/photos", headers={"Authorization": token}).status_code == 200
    assert client.http.get("/photos", headers={"Authorization": "Bearer " + token}).status_code == 200
    r = post(client, "/auth/signin", {"username": "carol", "password": "wrong"})
    assert r.status_code == 401 and "token" not in r.json_body
    r = post(client, "/auth/signin", {"username": "carol"})
    assert r.status_code == 400


def test_a_temporary_password_must_be_changed_first(jwks_mode, client):
    r = post(client, "/auth/signin", {"username": "dave", "password": "Temp-Pass-1"})
    assert r.status_code == 200 and r.json_body["challenge"] == "NEW_PASSWORD_REQUIRED" and "token" not in r.json_body
    r = post(client, "/auth/signin", {"username": "dave", "session": r.json_body["session"],
                                      "new_password": "Dave-New-Pass-2"})
    assert r.status_code == 200 and r.json_body["token"], r.body
    assert client.http.get("/photos", headers={"Authorization": r.json_body["token"]}).status_code == 200


@pytest.mark.parametrize("what", ["access token", "other app client", "other pool", "expired", "foreign key",
                                  "alg none", "HS256 with the public key", "no token"])
def test_id_tokens_that_are_refused(jwks_mode, client, what, aws):
    pool = jwks_mode
    now = int(time.time())
    claims = {"sub": "c0ffee00-0000-4000-8000-000000000001", "aud": pool["client"], "token_use": "id",
              "iss": "https://cognito-idp.%s.amazonaws.com/%s" % (REGION, pool["id"]), "iat": now,
              "exp": now + 600, "cognito:username": "carol"}
    other_pool = pool["idp"].create_user_pool(PoolName="another")["UserPool"]["Id"] if what == "other pool" else None
    token = {
        "access token": lambda: tokens(pool, "carol", "Carol-Pass-42")["AccessToken"],
        "other app client": lambda: tokens(pool, "carol", "Carol-Pass-42", pool["other_client"])["IdToken"],
        # moto signs every pool with one key: only the issuer check tells them apart
        "other pool": lambda: jwt.encode(dict(claims, iss=claims["iss"].replace(pool["id"], other_pool)), moto_key(),
                                         algorithm="RS256", headers={"kid": "dummy"}),
        "expired": lambda: jwt.encode(dict(claims, exp=now - 60, iat=now - 3660), moto_key(), algorithm="RS256",
                                      headers={"kid": "dummy"}),
        "foreign key": lambda: jwt.encode(claims, rsa.generate_private_key(public_exponent=65537, key_size=2048),
                                          algorithm="RS256", headers={"kid": "dummy"}),
        "alg none": lambda: jwt.encode(claims, None, algorithm="none", headers={"kid": "dummy"}),
        "HS256 with the public key": lambda: forged_hs256(claims, aws, pool),
        "no token": lambda: "",
    }[what]()
    r = client.http.get("/photos", headers={"Authorization": token} if token else {})
    assert r.status_code == 401, (what, r.body)
    # and a good token of the same shape is accepted, so each refusal is about its one flaw
    good = jwt.encode(claims, moto_key(), algorithm="RS256", headers={"kid": "dummy"})
    assert client.http.get("/photos", headers={"Authorization": good}).status_code == 200


def forged_hs256(claims, aws, pool):
    """The classic confusion: HS256 'signed' with the pool's public key bytes."""
    import hashlib
    import hmac
    import requests
    jwk = requests.get(pool["jwks"], timeout=10).json()["keys"][0]
    header = jwt.utils.base64url_encode(json.dumps({"alg": "HS256", "kid": "dummy"}).encode())
    payload = jwt.utils.base64url_encode(json.dumps(claims).encode())
    signature = hmac.new(json.dumps(jwk).encode(), header + b"." + payload, hashlib.sha256).digest()
    return (header + b"." + payload + b"." + jwt.utils.base64url_encode(signature)).decode()


def test_an_unreachable_jwks_is_a_503_not_a_pass(jwks_mode, client, monkeypatch):
    from chalicelib import auth
    monkeypatch.setenv("COGNITO_JWKS_URL", "http://127.0.0.1:9/nothing/jwks.json")
    monkeypatch.setattr(auth, "_jwks_clients", {})
    token = tokens(jwks_mode, "carol", "Carol-Pass-42")["IdToken"]
    r = client.http.get("/photos", headers={"Authorization": token})
    assert r.status_code == 503 and r.headers.get("Retry-After")


def test_the_signin_limit_counts_the_address_the_local_server_vouches_for(monkeypatch):
    """A client cannot choose the address its sign-in attempts count against: the local server's
    peer header is signed, and behind a trusted proxy it is the address the proxy forwarded."""
    from types import SimpleNamespace
    from chalicelib import auth as local_auth
    monkeypatch.setenv("AUTH_MODE", "local")
    monkeypatch.setenv("LOCAL_SECRET", "peer-test-secret")

    def request(peer):
        return SimpleNamespace(headers={local_auth.PEER_HEADER: peer} if peer else {},
                               context={"identity": {"sourceIp": "127.0.0.1"}})
    assert local_auth.client_address(request(local_auth.peer_header("10.0.0.7"))) == "10.0.0.7"
    assert local_auth.client_address(request("10.9.9.9")) == "127.0.0.1"                 # unsigned: ignored
    forged = local_auth.peer_header("10.0.0.7").replace("10.0.0.7", "10.0.0.8")
    assert local_auth.client_address(request(forged)) == "127.0.0.1"
    monkeypatch.setenv("TRUSTED_PROXY", "off")
    assert local_auth.peer_header("10.0.0.1", "203.0.113.5").startswith("10.0.0.1 ")      # no proxy trusted
    monkeypatch.setenv("TRUSTED_PROXY", "on")
    assert local_auth.peer_header("10.0.0.1", "198.51.100.2, 203.0.113.5").startswith("203.0.113.5 ")


def test_a_locked_accounts_file_answers_503_not_500(monkeypatch, tmp_path):
    """Sign-ins are checked one at a time; a crowd that outwaits the lock gets "try again"."""
    import sqlite3
    from chalicelib import accounts
    from chalicelib.errors import BackendUnavailable
    path = tmp_path / "accounts.sqlite3"
    monkeypatch.setenv("LOCAL_ACCOUNTS_PATH", str(path))
    with accounts._connect():
        pass
    holder = sqlite3.connect(str(path), isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")           # another process in the middle of a sign-in
    real_connect = sqlite3.connect
    monkeypatch.setattr(sqlite3, "connect", lambda *a, **k: real_connect(*a, **dict(k, timeout=0.2)))
    try:
        with pytest.raises(BackendUnavailable):
            with accounts._connect():
                pass
    finally:
        holder.execute("ROLLBACK")

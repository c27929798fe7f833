"""The local stage's accounts: user names with scrypt password hashes, and sign-in attempts.

`./dev user add alice` creates one (python -m chalicelib.cli user ...); `POST /auth/signin`
checks a password and, only then, issues the same HS256 ID token `./dev token` prints
(chalicelib.auth).  Everything is in one SQLite file (LOCAL_ACCOUNTS_PATH, mode 0600), so
accounts and the sign-in limits survive restarts and are shared with the CLI.

Passwords are hashed with scrypt (hashlib, memory-hard: N=2^15, r=8, p=1 takes 32 MiB and
about 0.1 s), with a random 16-byte salt per password, stored as
``scrypt$N$r$p$<salt b64>$<hash b64>`` so the parameters can be raised later.

Sign-in attempts are limited: after SIGNIN_MAX_FAILURES failed attempts within
SIGNIN_WINDOW_SECONDS for one user name, or four times as many from one client address (a
household behind one router), every further attempt
is refused (429, with Retry-After) until the oldest failure leaves the window, whether the
password is right or not.  A success clears that user name's failures.  An unknown user name
costs the same hash as a known one, so timing does not tell which names exist.

A new password or a removed account revokes the user's tokens issued before it: the time is
kept per user name (table ``revoked``) and chalicelib.auth refuses an older token.  Tokens
`./dev token` prints for a name that never had an account are not affected.  A removed
account's photos stay where they are, and a new account of the same name is another user (table
``removed``: its sub differs), who does not see them.
"""
import base64
import contextlib
import hashlib
import hmac
import os
import pathlib
import re
import secrets
import sqlite3
import threading
import time

from chalicelib import settings
from chalicelib.errors import BackendUnavailable, BadRequest, PhotoSearchError, Unauthorized

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2 ** 15, 8, 1
SCRYPT_MAXMEM = 64 * 1024 * 1024
MIN_PASSWORD = 8
MAX_PASSWORD = 1024
ADDRESS_SHARE = 4          # failures allowed from one address: this many times SIGNIN_MAX_FAILURES
USERNAME = re.compile(r"^[A-Za-z0-9._@-]{1,64}$")     # the same rule as auth.issue_local_token


class TooManyAttempts(PhotoSearchError):
    """Too many failed sign-in attempts; wait and try again."""
    status_code = 429
    code = "TooManyAttempts"

    def __init__(self, message, retry_after):
        super().__init__(message)
        self.retry_after = retry_after


# ---- password hashes --------------------------------------------------------------------

def _b64(data):
    return base64.b64encode(data).decode("ascii")


def hash_password(password, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P):
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=SCRYPT_MAXMEM, dklen=32)
    return "scrypt$%d$%d$%d$%s$%s" % (n, r, p, _b64(salt), _b64(digest))


def verify_password(password, stored):
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(digest)
        got = hashlib.scrypt(password.encode("utf-8"), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p),
                             maxmem=SCRYPT_MAXMEM, dklen=len(expected))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, expected)


# An unknown user name is checked against this, so it costs what a known one costs.
_DUMMY = hash_password("not anybody's password")


# ---- the accounts file ------------------------------------------------------------------

_lock = threading.Lock()
_SCHEMA = """
CREATE TABLE IF NOT EXISTS users (username TEXT PRIMARY KEY COLLATE NOCASE, password_hash TEXT NOT NULL,
                                  created_at REAL NOT NULL, changed_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS failures (scope TEXT NOT NULL, at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS failures_scope ON failures (scope, at);
CREATE TABLE IF NOT EXISTS revoked (username TEXT PRIMARY KEY COLLATE NOCASE, before REAL NOT NULL);
CREATE TABLE IF NOT EXISTS removed (username TEXT PRIMARY KEY COLLATE NOCASE, times INTEGER NOT NULL);
"""


@contextlib.contextmanager
def _connect():
    """A connection in one write transaction (BEGIN IMMEDIATE: sign-ins are checked and
    counted one at a time, so parallel guesses cannot slip past the limit), closed after."""
    path = settings.local_path("LOCAL_ACCOUNTS_PATH")
    with _lock:
        if not os.path.exists(path):
            os.makedirs(os.path.dirname(path), exist_ok=True)
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
    db = sqlite3.connect(path, timeout=30, isolation_level=None)
    try:
        try:
            db.executescript(_SCHEMA)
            db.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as e:       # locked past the timeout (a crowd signing in), read-only...
            from chalicelib.index.sqlite import unavailable
            raise (unavailable(path, e) or e) from e
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
    finally:
        db.close()


def _check_username(username):
    if not isinstance(username, str) or not USERNAME.match(username):
        raise BadRequest("a user name is 1-64 letters, digits or ._@-")


def _check_password(password):
    if not isinstance(password, str) or not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise BadRequest("a password is %d to %d characters" % (MIN_PASSWORD, MAX_PASSWORD))


def add_user(username, password):
    """Create an account (BadRequest if the name is taken or either value is not allowed)."""
    _check_username(username)
    _check_password(password)
    now = time.time()
    with _connect() as db:
        try:
            db.execute("INSERT INTO users VALUES (?, ?, ?, ?)", (username, hash_password(password), now, now))
        except sqlite3.IntegrityError:
            raise BadRequest("the user %s already exists (set a new password with: ./dev user passwd %s)"
                             % (username, username))


def set_password(username, password):
    """A new password; the user's tokens issued before it are refused from now on."""
    _check_password(password)
    digest = hash_password(password)
    with _connect() as db:
        # the time is read holding the write lock: a sign-in that checked the old password
        # committed (and stamped its token) before it, so that token is revoked
        now = time.time()
        changed = db.execute("UPDATE users SET password_hash = ?, changed_at = ? WHERE username = ?",
                             (digest, now, username)).rowcount
        if changed:
            _revoke(db, username, now)
    if not changed:
        raise BadRequest("no user %s" % username)


def remove_user(username):
    """Remove an account and refuse every token it was given."""
    with _connect() as db:
        removed = db.execute("DELETE FROM users WHERE username = ?", (username,)).rowcount > 0
        if removed:
            _revoke(db, username, time.time())      # under the write lock, as in set_password
            # a new account of this name is someone else: it gets another sub (generation)
            db.execute("INSERT INTO removed VALUES (?, 1) ON CONFLICT (username) DO UPDATE SET times = times + 1",
                       (username,))
    return removed


def _revoke(db, username, now):
    db.execute("INSERT OR REPLACE INTO revoked VALUES (?, ?)", (username, now))


def revoked_before(username):
    """The time before which this user's tokens are revoked (a new password, a removed
    account), or None.  Read only: no accounts file means nothing is revoked."""
    return _read_one("SELECT before FROM revoked WHERE username = ?", username)


def generation(username):
    """How many accounts of this name were removed: the sub of the next one (chalicelib.auth.local_sub)
    differs, so a new account of a removed user's name does not see that user's photos."""
    return _read_one("SELECT times FROM removed WHERE username = ?", username) or 0


def _read_one(sql, username):
    """The first column of the row for `username`, or None; read only, without creating the file."""
    path = settings.local_path("LOCAL_ACCOUNTS_PATH")
    if not os.path.exists(path):
        return None
    try:
        db = sqlite3.connect(pathlib.Path(path).resolve().as_uri() + "?mode=ro", uri=True, timeout=30)
        try:
            row = db.execute(sql, (username,)).fetchone()
        finally:
            db.close()
    except sqlite3.DatabaseError as e:
        if "no such table" in str(e):       # a file from before that table existed: nothing recorded
            return None
        # locked past the timeout, unreadable, corrupt: no token passes unchecked
        raise BackendUnavailable("the accounts file (%s) cannot be read: %s; try again later" % (path, e)) from e
    return row[0] if row else None


def users():
    with _connect() as db:
        return [row[0] for row in db.execute("SELECT username FROM users ORDER BY username")]


# ---- signing in -------------------------------------------------------------------------

def _limits():
    return (settings.get_int("SIGNIN_MAX_FAILURES", minimum=1),
            settings.get_float("SIGNIN_WINDOW_SECONDS", minimum=1))


def _refuse_if_limited(db, scopes, now):
    max_failures, window = _limits()
    for scope, what in scopes:
        # one address may be a household behind one router: it gets ADDRESS_SHARE times the limit
        limit = max_failures * (ADDRESS_SHARE if scope.startswith("addr:") else 1)
        rows = db.execute("SELECT at FROM failures WHERE scope = ? AND at > ? ORDER BY at",
                          (scope, now - window)).fetchall()
        if len(rows) >= limit:
            wait = int(rows[-limit][0] + window - now) + 1
            raise TooManyAttempts("too many failed sign-ins %s; try again in %d minute%s"
                                  % (what, (wait + 59) // 60, "" if wait <= 60 else "s"), wait)


def sign_in(username, password, address):
    """(the account's user name as created, the time the check passed) if the password is right;
    Unauthorized if not, TooManyAttempts while this name or address is limited.  The time is read
    holding the write lock, so a token stamped with it is older than any later password change."""
    if not isinstance(username, str) or not isinstance(password, str) or not username or not password:
        raise BadRequest("send a user name and a password")
    if len(username) > 256 or len(password) > MAX_PASSWORD:
        raise BadRequest("the user name or the password is too long")
    now = time.time()
    scopes = [("user:" + username.lower(), "for this user"), ("addr:" + (address or "?"), "from this address")]
    with _connect() as db:
        _, window = _limits()
        db.execute("DELETE FROM failures WHERE at < ?", (now - window,))
        _refuse_if_limited(db, scopes, now)
        row = db.execute("SELECT username, password_hash FROM users WHERE username = ?", (username,)).fetchone()
        ok = verify_password(password, row[1] if row else _DUMMY) and row is not None
        checked = time.time()
        if ok:
            db.execute("DELETE FROM failures WHERE scope = ?", (scopes[0][0],))
        else:
            db.executemany("INSERT INTO failures VALUES (?, ?)", [(scope, now) for scope, _ in scopes])
    if not ok:
        raise Unauthorized("wrong user name or password")
    return row[0], checked


# ---- ./dev user ... ---------------------------------------------------------------------

def main(argv=None, stdin=None, stream=None):
    """./dev user add NAME | passwd NAME | remove NAME | list  (--password-stdin: read it from
    standard input instead of asking twice)."""
    import argparse
    import getpass
    import sys
    stdin, stream = stdin or sys.stdin, stream or sys.stdout
    parser = argparse.ArgumentParser(prog="./dev user", description="Local-stage accounts (sign in on the web page).")
    parser.add_argument("action", choices=("add", "passwd", "remove", "list"))
    parser.add_argument("name", nargs="?")
    parser.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    args = parser.parse_args(argv)
    from chalicelib.cli import load_stage
    load_stage("local")
    if args.action == "list":
        for name in users():
            stream.write(name + "\n")
        return 0
    if not args.name:
        parser.error("%s needs a user name" % args.action)
    try:
        if args.action == "remove":
            if not remove_user(args.name):
                raise BadRequest("no user %s" % args.name)
            stream.write("removed %s (the tokens it was given are refused from now on)\n" % args.name)
            return 0
        if args.password_stdin:
            password = stdin.readline().rstrip("\r\n")
        else:
            password = getpass.getpass("password for %s: " % args.name)
            if getpass.getpass("again: ") != password:
                raise BadRequest("the two passwords differ")
        (add_user if args.action == "add" else set_password)(args.name, password)
    except BadRequest as e:
        raise SystemExit(e.message)
    stream.write("%s %s: sign in at the local server's page (./dev serve, then http://127.0.0.1:8000/)\n"
                 % ("created" if args.action == "add" else "new password for", args.name))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""The base URL of the request being answered (the local stage's signed URLs).

The local stage's storage hands out URLs of the app's own ``/files`` route.  Unless
LOCAL_PUBLIC_URL fixes them, they are built on the URL the client used: the request's
Host header (``X-Forwarded-Host``/``X-Forwarded-Proto`` only with TRUSTED_PROXY=on, when
a proxy in front sets them), so ``chalice local --port 8813`` or a LAN address just work.
app.py sets the value around every request (``using``); DiskStorage reads it
(``current``).  A Host that is not plain ``host[:port]`` syntax is ignored: the URL then
falls back to the address the local server listens on (``set_fallback``).
"""
import contextlib
import contextvars
import re

from chalicelib import settings

_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOST = re.compile(r"^(?P<host>%s(?:\.%s)*|\[[0-9A-Fa-f:.]{2,45}\])(?::(?P<port>[0-9]{1,5}))?$" % (_LABEL, _LABEL))

_current = contextvars.ContextVar("photo_search_request_headers", default=None)
_fallback = ["http://127.0.0.1:8000"]


def valid_host(value):
    """`value` if it is host[:port] (a DNS name, an IPv4 address or a [bracketed] IPv6
    address, port 1-65535), else None."""
    if not isinstance(value, str) or len(value) > 261:
        return None
    match = _HOST.match(value.strip())
    if not match or (match.group("port") is not None and not 1 <= int(match.group("port")) <= 65535):
        return None
    return value.strip()


def trusted_proxy():
    value = settings.get("TRUSTED_PROXY").strip().lower()
    if value not in ("on", "off"):
        from chalicelib.errors import ConfigurationError
        raise ConfigurationError("TRUSTED_PROXY=%r: choose on or off" % settings.get("TRUSTED_PROXY"))
    return value == "on"


def from_headers(headers):
    """scheme://host[:port] as the client addressed it, or None when the headers do not say."""
    headers = {k.lower(): v for k, v in (headers or {}).items()}
    scheme, host = "http", valid_host(headers.get("host"))
    if trusted_proxy():
        forwarded = valid_host((headers.get("x-forwarded-host") or "").split(",")[0])
        host = forwarded or host
        proto = (headers.get("x-forwarded-proto") or "").split(",")[0].strip().lower()
        scheme = proto if proto in ("http", "https") else scheme
    return "%s://%s" % (scheme, host) if host else None


@contextlib.contextmanager
def using(headers):
    """Within this block, current() is the base URL of a request with these headers (worked
    out only if asked: on AWS nothing asks)."""
    token = _current.set(headers)
    try:
        yield
    finally:
        _current.reset(token)


def set_fallback(url):
    """The base URL when no request says (the local server sets its own address)."""
    _fallback[0] = url.rstrip("/")


def current():
    headers = _current.get()
    return (from_headers(headers) if headers is not None else None) or _fallback[0]

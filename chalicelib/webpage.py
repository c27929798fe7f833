"""The web page: files under chalicelib/web/, served by the app itself on every stage.

No build step: the page is one HTML file, one stylesheet and one ES module, read once per
process.  ``GET /`` answers the HTML with the stage's sign-in mode in ``data-`` attributes
and each asset's URL carrying a hash of its content (``web/app.js?v=1a2b…``), so:

- the HTML is ``Cache-Control: no-cache`` (revalidated every time, answered 304 when its
  ETag still matches), and
- an asset asked for with its current hash is ``public, max-age=31536000, immutable``
  (anything else: ``no-cache``).  A new version changes the hash, so nothing stale is used.

Every answer carries a strict Content-Security-Policy: scripts, styles and fonts only from
the page's own origin (no inline script or style), images also from the photo storage's
origin (the app's own ``/files`` URLs on the local stage, the bucket on AWS) and ``blob:``
(previews of files being uploaded), connections only to the app and the upload origin, no
frames, no plugins, forms only to the app.  The storage origins come from a URL the storage
itself signs, so they are exactly the ones the API hands out.
"""
import hashlib
import os
import threading
from html import escape
from urllib.parse import urlsplit

from chalicelib import auth, settings

WEB_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "web")
CONTENT_TYPES = {".html": "text/html; charset=utf-8", ".css": "text/css; charset=utf-8",
                 ".js": "text/javascript; charset=utf-8", ".svg": "image/svg+xml"}
ASSETS = ("app.css", "app.js", "icon.svg")       # what GET /web/{name} serves; nothing else
IMMUTABLE = "public, max-age=31536000, immutable"
SECURITY_HEADERS = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
                    "X-Frame-Options": "DENY", "Cross-Origin-Opener-Policy": "same-origin",
                    "Permissions-Policy": "camera=(), microphone=(), geolocation=()"}

_lock = threading.Lock()
_files = {}


def _read(name):
    """(bytes, short content hash) of a file under web/, read once per process."""
    with _lock:
        if name not in _files:
            with open(os.path.join(WEB_DIR, name), "rb") as f:
                data = f.read()
            _files[name] = (data, hashlib.sha256(data).hexdigest()[:16])
        return _files[name]


def _origin(url):
    parts = urlsplit(url or "")
    return "%s://%s" % (parts.scheme, parts.netloc) if parts.scheme in ("http", "https") and parts.netloc else None


def storage_origins(storage):
    """The origins of the storage's signed GET and upload URLs (computed, never fetched)."""
    get = storage.presign_get("usercontent/csp/probe.jpg", 60)
    upload = storage.presign_upload("usercontent/csp/probe.jpg", "image/jpeg", 1, 60)
    return _origin(get), _origin(upload.get("url"))


def csp(storage):
    read, write = storage_origins(storage)
    images = " ".join(sorted({"'self'", "blob:"} | ({read} if read else set())))
    connect = " ".join(sorted({"'self'"} | ({write} if write else set())))
    return ("default-src 'none'; script-src 'self'; style-src 'self'; img-src %s; connect-src %s; "
            "manifest-src 'self'; form-action 'self'; base-uri 'self'; frame-ancestors 'none'" % (images, connect))


def _answer(body, content_type, cache, etag, if_none_match, policy):
    headers = dict(SECURITY_HEADERS, **{"Content-Type": content_type, "Cache-Control": cache,
                                        "ETag": '"%s"' % etag, "Content-Security-Policy": policy})
    if if_none_match and etag in [t.strip().removeprefix("W/").strip('"') for t in if_none_match.split(",")]:
        return 304, "", headers
    return 200, body.decode("utf-8"), headers      # every file is text (API Gateway: no binary types)


def base_path(context):
    """The path the page lives at, ending in "/": "/" on the local stage, "/api/" behind API
    Gateway's stage "api" (the request's path less the route's own)."""
    context = context or {}
    path, resource = (context.get("path") or "/").rstrip("/"), (context.get("resourcePath") or "/").rstrip("/")
    prefix = path[:len(path) - len(resource)] if path.endswith(resource) else ""
    return prefix.rstrip("/") + "/"


def page(storage, context, if_none_match=None):
    """(status, body, headers) of GET /: index.html with the stage's settings filled in."""
    template, _ = _read("index.html")
    values = {"base": base_path(context), "auth": auth.mode(), "max_bytes": settings.get("UPLOAD_MAX_BYTES")}
    for name in ASSETS:
        values["v_" + name.replace(".", "_")] = _read(name)[1]
    html = template.decode("utf-8")
    for name, value in values.items():
        html = html.replace("{{%s}}" % name, escape(str(value), quote=True))
    body = html.encode("utf-8")
    return _answer(body, CONTENT_TYPES[".html"], "no-cache", hashlib.sha256(body).hexdigest()[:16], if_none_match,
                   csp(storage))


def asset(storage, name, version=None, if_none_match=None):
    """(status, body, headers) of GET /web/{name}; None for a name that is not an asset."""
    if name not in ASSETS:
        return None
    data, digest = _read(name)
    cache = IMMUTABLE if version == digest else "no-cache"
    return _answer(data, CONTENT_TYPES[os.path.splitext(name)[1]], cache, digest, if_none_match, csp(storage))

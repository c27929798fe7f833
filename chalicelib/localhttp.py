"""The local stage's HTTP server: `chalice local`'s, hardened (never used on AWS).

chalice local (chalice.local, checked against chalice 1.34) listens with socketserver's
backlog of 5, and its request handler reads int(Content-Length) bytes of every body before
anything checks the request: a burst of connections meets resets and timeouts,
``Content-Length: abc`` drops the connection, and a 300 MB PUT at a forged signed URL is
read into memory whole.

``install()``, called by app.py on the disk stage only, replaces
``chalice.local.create_local_server``, which chalice's CLI looks up when it builds the
server, after importing app.py.  The replacement builds the same ``LocalDevServer``
(same app wrapping, same gateway) with:

- ``Server``: a listen backlog of LISTEN_BACKLOG (the kernel caps it at
  net.core.somaxconn), so a burst of connections waits in the queue instead of failing;
- ``Handler``: the request is judged on its headers before any of the body is read.
  Transfer-Encoding is refused (411: send Content-Length), a Content-Length that is not one
  whole number is 400, a body over the route's cap is 413.  For ``PUT /files`` the URL's
  signature (403), its signed Content-Type, a Content-Length (411) and its signed size
  limit (413) are checked first (``photos.check_upload``), also before answering
  ``Expect: 100-continue``.  Then exactly Content-Length bytes are read, chunk by chunk.
  A refusal is the app's JSON error, with ``Connection: close``; what the client still
  sends is read and dropped for at most LINGER_SECONDS, so it can read the answer.
  Idle or stalled connections are closed after SOCKET_TIMEOUT_SECONDS.

It also makes the server's own address the fallback base of signed URLs
(chalicelib.baseurl) when a request's Host header does not say.
"""
import json
import re
import socket
import time
from urllib.parse import parse_qs, urlsplit

from chalice import local

from chalicelib import auth, baseurl, components, logs, photos, settings
from chalicelib.errors import BadRequest, PayloadTooLarge, PhotoSearchError

LISTEN_BACKLOG = 1024
SOCKET_TIMEOUT_SECONDS = 60
LINGER_SECONDS = 2.0
JSON_BODY_MAX = 1024 * 1024     # every route but PUT /files (raised to fit POST /faces/search's image)
CHUNK = 256 * 1024
UPLOAD_PATHS = ("/files", "/files/")
_DIGITS = re.compile(r"^[0-9]{1,18}$")


class LengthRequired(PhotoSearchError):
    """Send the body with a Content-Length header."""
    status_code = 411
    code = "LengthRequired"


def body_cap():
    """The largest body of any route but PUT /files: 1 MB, or a base64 face-search image."""
    image = settings.get_int("FACE_SEARCH_IMAGE_MAX_BYTES", minimum=1)
    return max(JSON_BODY_MAX, image * 4 // 3 + 64 * 1024)


class Handler(local.ChaliceRequestHandler):
    timeout = SOCKET_TIMEOUT_SECONDS

    def parse_request(self):
        self.__dict__.pop("_admitted", None)      # nothing carries over from the previous request
        self.__dict__.pop("_body", None)
        return super().parse_request()

    def handle_expect_100(self):
        try:
            self._admitted = self._admit()
        except PhotoSearchError as e:
            self._refuse(e)
            return False
        return super().handle_expect_100()

    def _generic_handle(self):
        try:
            length = self.__dict__.pop("_admitted", None)
            if length is None:
                length = self._admit()
            self._body = self._read_body(length) if length else None
        except PhotoSearchError as e:
            self._refuse(e)
            return
        super()._generic_handle()

    do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = do_PATCH = do_OPTIONS = _generic_handle

    def _parse_payload(self):
        # the peer's address, for the sign-in limits (chalicelib.auth); never the client's word
        headers = {k: self.headers[k] for k in self.headers.keys() if k.lower() != auth.PEER_HEADER}
        headers[auth.PEER_HEADER] = auth.peer_header(self.client_address[0], self.headers.get("X-Forwarded-For"))
        return headers, self.__dict__.pop("_body", None)

    # -- before the body ------------------------------------------------------
    def _admit(self):
        """The number of body bytes to read, or a PhotoSearchError saying why not."""
        lengths = self.headers.get_all("Content-Length") or []
        if self.headers.get("Transfer-Encoding") is not None:
            if lengths:
                raise BadRequest("send Content-Length or Transfer-Encoding, not both")
            raise LengthRequired("chunked bodies are not accepted: send the body with a Content-Length header")
        parts = urlsplit(self.path)
        if self.command == "PUT" and parts.path in UPLOAD_PATHS:
            return self._admit_upload(parts.query, lengths)
        length = self._content_length(lengths)
        if length is None:
            return 0
        if length > body_cap():
            raise PayloadTooLarge("the body is %d bytes; this route takes at most %d" % (length, body_cap()))
        return length

    def _admit_upload(self, query, lengths):
        # the last value of a repeated parameter, as chalice's query_params
        params = {k: v[-1] for k, v in parse_qs(query, keep_blank_values=True).items()}
        content_type = self.headers.get("Content-Type")
        storage = components.storage()
        photos.check_upload(storage, params, content_type)      # 403 before anything else
        length = self._content_length(lengths)
        if length is None:
            raise LengthRequired("send the upload with a Content-Length header")
        _, max_bytes = photos.check_upload(storage, params, content_type, length)
        return min(length, max_bytes)

    @staticmethod
    def _content_length(values):
        if not values:
            return None
        if len(values) > 1 or not _DIGITS.match(values[0].strip()):
            raise BadRequest("Content-Length must be one whole number of bytes")
        return int(values[0].strip())

    # -- the body -------------------------------------------------------------
    def _read_body(self, length):
        """Exactly `length` bytes, read as they arrive (nothing is allocated for bytes that
        never come); BadRequest if the client stops sending first."""
        chunks, got = [], 0
        while got < length:
            chunk = self.rfile.read1(min(CHUNK, length - got))
            if not chunk:
                raise BadRequest("the body ended after %d of its %d bytes" % (got, length))
            chunks.append(chunk)
            got += len(chunk)
        return b"".join(chunks)

    # -- refusals -------------------------------------------------------------
    def _refuse(self, error):
        body = json.dumps({"error": error.code, "message": error.message}).encode("utf-8")
        self.close_connection = True
        self.send_response(error.status_code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)
        if error.status_code >= 500:
            logs.event("request", "error", photo_id=None, error=error.code, message=error.message)
        self._linger()

    def _linger(self):
        """Closing a socket with unread input resets the connection, and the client may lose
        the answer: say we are done sending, then read and drop what the client still
        sends, in small chunks, until it closes or LINGER_SECONDS pass."""
        try:
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_WR)
            deadline = time.monotonic() + LINGER_SECONDS
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    return
                self.connection.settimeout(left)
                if not self.rfile.read1(CHUNK):
                    return
        except OSError:
            return


class Server(local.ThreadedHTTPServer):
    request_queue_size = LISTEN_BACKLOG


def create_local_server(app_obj, config, host, port):
    """chalice.local.create_local_server (chalice 1.34), with Server and Handler."""
    local.CustomLocalChalice.__bases__ = (local.LocalChalice, app_obj.__class__)
    app_obj.__class__ = local.CustomLocalChalice
    own = "127.0.0.1" if host in ("", "0.0.0.0", "::") else host
    baseurl.set_fallback("http://%s:%d" % ("[%s]" % own if ":" in own else own, port))
    return local.LocalDevServer(app_obj, config, host, port, handler_cls=Handler, server_cls=Server)


def install():
    """Make `chalice local` build its server with create_local_server above."""
    local.create_local_server = create_local_server

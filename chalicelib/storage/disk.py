"""A directory on disk as the bucket (the local stage).

Same key layout as S3.  Keys are confined to the root: NUL bytes, absolute
paths, backslashes, empty, "." and ".." segments are refused, and no existing
path component may be a symlink.  Writes are atomic (temporary file, then
rename).  Presigned URLs become expiring HMAC-signed URLs of the app's own
``/files`` route.  The ETag of a file is derived from its size, modification
time and inode, so any overwrite changes it (it is not an MD5 like S3's).
"""
import contextlib
import fcntl
import hashlib
import mimetypes
import os
import stat
import tempfile
import time
from datetime import datetime, timezone
from urllib.parse import urlencode

from chalicelib import baseurl, logs, signing
from chalicelib.errors import BadRequest, BackendUnavailable
from chalicelib.storage import ObjectInfo, sniff_image_type

TMP_DIR = ".tmp"
SEQUENCE_FILE = "sequencer"


class DiskStorage:
    def __init__(self, root, bucket, public_url=""):
        self.root = os.path.realpath(root)
        self.bucket = bucket
        self.fixed_url = (public_url or "").rstrip("/")
        os.makedirs(self.root, exist_ok=True)

    @property
    def public_url(self):
        """The base of signed URLs: LOCAL_PUBLIC_URL when set, else the URL the request being
        answered came in on (chalicelib.baseurl)."""
        return self.fixed_url or baseurl.current()

    # -- paths ------------------------------------------------------------
    def _path(self, key):
        if not isinstance(key, str) or not key or "\x00" in key or "\\" in key or key.startswith("/"):
            raise BadRequest("invalid key")
        parts = key.split("/")
        if any(p in ("", ".", "..") for p in parts) or parts[0] == TMP_DIR:
            raise BadRequest("invalid key")
        path = self.root
        for part in parts:
            path = os.path.join(path, part)
            try:
                if stat.S_ISLNK(os.lstat(path).st_mode):
                    raise BadRequest("invalid key (symlink)")
            except (FileNotFoundError, NotADirectoryError):
                break
        full = os.path.join(self.root, *parts)
        if os.path.commonpath([self.root, os.path.realpath(full)]) != self.root:
            raise BadRequest("invalid key")
        return full

    def _info(self, key, st):
        etag = hashlib.sha1(("%d:%d:%d" % (st.st_size, st.st_mtime_ns, st.st_ino)).encode()).hexdigest()[:32]
        return ObjectInfo(key, etag, st.st_size, datetime.fromtimestamp(st.st_mtime, timezone.utc),
                          mimetypes.guess_type(key)[0])

    # -- interface --------------------------------------------------------
    def head(self, key):
        try:
            st = os.stat(self._path(key), follow_symlinks=False)
        except (FileNotFoundError, NotADirectoryError):
            return None
        if not stat.S_ISREG(st.st_mode):
            return None
        return self._info(key, st)

    def read(self, key, length=None):
        try:
            with open(self._path(key), "rb") as f:
                return f.read() if length is None else f.read(length)
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            return None

    def write(self, key, data, content_type=None):   # (the type is sniffed when served)
        path = self._path(key)
        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            tmp_dir = os.path.join(self.root, TMP_DIR)
            os.makedirs(tmp_dir, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=tmp_dir)
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            with self._sequence() as next_sequencer:
                os.replace(tmp, path)
                sequencer = next_sequencer()
                st = os.stat(path, follow_symlinks=False)
        except (NotADirectoryError, IsADirectoryError, FileExistsError):
            raise BadRequest("the key collides with an existing folder or file")
        except OSError as e:
            raise BackendUnavailable("cannot write to %s: %s" % (self.root, e.strerror))
        return self._info(key, st)._replace(sequencer=sequencer)

    @contextlib.contextmanager
    def _sequence(self):
        """An exclusive lock over the store's writes, and the next sequencer under it.

        Two processes writing one key at once: the one whose rename happens last gets
        the larger sequencer, so its document wins (as with S3 event sequencers).
        """
        with open(os.path.join(self.root, TMP_DIR, SEQUENCE_FILE), "a+b") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            try:
                f.seek(0)
                raw = f.read().strip()
                last = int(raw, 16) if raw else 0

                def next_sequencer():
                    value = max(last + 1, time.time_ns())   # increasing, even across a reset file
                    f.seek(0)
                    f.truncate()
                    f.write(b"%020X" % value)
                    f.flush()
                    return "%020X" % value
                yield next_sequencer
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)

    def list(self, prefix, start_after=""):
        """Keys under `prefix` in UTF-8 byte order, streaming (one directory at a time)."""
        base = prefix.rstrip("/")
        start = os.path.join(self.root, *base.split("/")) if base else self.root
        if not os.path.isdir(start) or os.path.islink(start):
            return
        yield from self._walk(start, base + "/" if base else "", prefix, start_after)

    def _walk(self, directory, key_prefix, prefix, start_after):
        entries = []
        try:
            with os.scandir(directory) as it:
                for entry in it:
                    try:
                        if entry.is_symlink() or (not key_prefix and entry.name == TMP_DIR):
                            continue
                        is_dir = entry.is_dir(follow_symlinks=False)
                        # a folder sorts as its name followed by "/", exactly where its keys sort
                        sort_key = (key_prefix + entry.name + ("/" if is_dir else "")).encode("utf-8")
                    except FileNotFoundError:
                        continue
                    except UnicodeEncodeError:
                        # a file name that is not UTF-8 (copied from an old camera card) is no key:
                        # skipped, never an error that would end the listing for everything after it
                        logs.event("storage", "skipped-name", photo_id=None, folder_key_length=len(key_prefix))
                        continue
                    entries.append((sort_key, entry, is_dir))
        except (FileNotFoundError, NotADirectoryError):
            return      # removed (by a delete tidying up empty folders) since it was listed
        except OSError as e:
            raise BackendUnavailable("cannot list %s: %s" % (directory, e.strerror))
        entries.sort(key=lambda e: e[0])
        for sort_key, entry, is_dir in entries:
            key = sort_key.decode("utf-8")
            if is_dir:
                if start_after and not (key > start_after or start_after.startswith(key)):
                    continue
                yield from self._walk(entry.path, key, prefix, start_after)
            elif key.startswith(prefix) and key > start_after:
                try:
                    st = entry.stat(follow_symlinks=False)
                except FileNotFoundError:
                    continue    # deleted since the folder was read
                if stat.S_ISREG(st.st_mode):
                    yield self._info(key, st)

    def delete(self, key):
        path = self._path(key)
        try:
            os.unlink(path)
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            return          # gone already (or a folder: no object has that key)
        parent = os.path.dirname(path)      # tidy up empty folders, never the root
        while parent != self.root:
            try:
                os.rmdir(parent)
            except OSError:
                break
            parent = os.path.dirname(parent)

    def presign_get(self, key, expires):
        until = int(time.time()) + int(expires)
        query = {"key": key, "expires": until, "sig": signing.sign("GET", self.bucket, key, until)}
        return "%s/files?%s" % (self.public_url, urlencode(query))

    def presign_upload(self, key, content_type, max_bytes, expires):
        """A signed PUT of the raw bytes to the app's own /files route."""
        until = int(time.time()) + int(expires)
        sig = signing.sign("PUT", self.bucket, key, content_type, max_bytes, until)
        query = {"key": key, "content_type": content_type, "max_bytes": max_bytes, "expires": until, "sig": sig}
        return {"url": "%s/files?%s" % (self.public_url, urlencode(query)), "method": "PUT",
                "headers": {"Content-Type": content_type}}

    def verify_get(self, params):
        """The key of a valid signed GET query, else BadRequest-like errors."""
        key, until = params.get("key"), params.get("expires")
        if signing.expired(until) or not signing.check(params.get("sig"), "GET", self.bucket, key, until):
            raise InvalidSignature()
        return key

    def verify_put(self, params):
        key, ctype, max_bytes, until = (params.get("key"), params.get("content_type"), params.get("max_bytes"),
                                        params.get("expires"))
        if signing.expired(until) or not signing.check(params.get("sig"), "PUT", self.bucket, key, ctype,
                                                       max_bytes, until):
            raise InvalidSignature()
        return key, ctype, int(max_bytes)

    def check_key(self, key):
        """Refuse, before an upload, a key that cannot be stored next to the stored ones: on
        disk a file cannot also be a folder (``a.jpg/b.jpg`` once ``a.jpg`` exists, and the
        reverse).  VersionConflict (409) says which name is taken; S3 has no such limit."""
        from chalicelib.errors import VersionConflict
        try:
            self._path(key)         # confined to the root, no symlinks
        except NotADirectoryError:
            pass                    # a parent is a file: said below
        except OSError as e:
            raise BadRequest("this name cannot be stored on disk (%s); choose another name" % e.strerror)
        parts = key.split("/")
        for n in range(1, len(parts) + 1):
            try:
                st = os.lstat(os.path.join(self.root, *parts[:n]))
            except (FileNotFoundError, NotADirectoryError):
                return
            except OSError as e:
                raise BadRequest("this name cannot be stored on disk (%s); choose another name" % e.strerror)
            if n < len(parts) and not stat.S_ISDIR(st.st_mode):
                raise VersionConflict("%s is already a photo, so it cannot also be a folder (for %s): choose another "
                                      "name" % ("/".join(parts[:n]), key))
            if n == len(parts) and stat.S_ISDIR(st.st_mode):
                raise VersionConflict("%s is already a folder of other photos, so it cannot also be a photo: choose "
                                      "another name" % key)

    def read_state(self, key):
        data = self.read(key)
        return None if data is None else data.decode("utf-8")

    def write_state(self, key, text):
        self.write(key, text.encode("utf-8"))


class InvalidSignature(Exception):
    """The URL's signature is wrong or it has expired."""


def content_type_of(data):
    return sniff_image_type(data[:16]) or "application/octet-stream"



"""Amazon S3 storage."""
import botocore.exceptions

from chalicelib.errors import BackendUnavailable
from chalicelib.storage import ObjectInfo, normalize_etag

_MISSING = ("404", "NoSuchKey", "NotFound")


class S3Storage:
    def __init__(self, client, bucket):
        self.client = client
        self.bucket = bucket

    def head(self, key):
        try:
            r = self._call(self.client.head_object, Bucket=self.bucket, Key=key)
        except _Missing:
            return None
        return ObjectInfo(key, normalize_etag(r.get("ETag")), r.get("ContentLength", 0),
                          r.get("LastModified"), r.get("ContentType"))

    def read(self, key, length=None):
        kwargs = {"Bucket": self.bucket, "Key": key}
        if length is not None:
            kwargs["Range"] = "bytes=0-%d" % (length - 1)
        try:
            r = self._call(self.client.get_object, **kwargs)
        except _Missing:
            return None
        return r["Body"].read()

    def list(self, prefix, start_after=""):
        paginator = self.client.get_paginator("list_objects_v2")
        kwargs = {"Bucket": self.bucket, "Prefix": prefix, "PaginationConfig": {"PageSize": 1000}}
        if start_after:
            kwargs["StartAfter"] = start_after
        try:
            for page in paginator.paginate(**kwargs):
                for obj in page.get("Contents", ()):
                    yield ObjectInfo(obj["Key"], normalize_etag(obj.get("ETag")), obj.get("Size", 0),
                                     obj.get("LastModified"))
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
            raise BackendUnavailable("S3 listing failed: %s" % e)

    def write(self, key, data, content_type=None):
        extra = {"ContentType": content_type} if content_type else {}
        self._call(self.client.put_object, Bucket=self.bucket, Key=key, Body=data, **extra)
        return self.head(key)

    def delete(self, key):
        self._call(self.client.delete_object, Bucket=self.bucket, Key=key)

    def presign_get(self, key, expires):
        return self.client.generate_presigned_url(
            "get_object", Params={"Bucket": self.bucket, "Key": key}, ExpiresIn=expires)

    def presign_upload(self, key, content_type, max_bytes, expires):
        """A presigned POST pinned to exactly `key`, `content_type` and 1..max_bytes."""
        return self.client.generate_presigned_post(
            Bucket=self.bucket, Key=key,
            Fields={"Content-Type": content_type},
            Conditions=[{"key": key}, {"Content-Type": content_type},
                        ["content-length-range", 1, max_bytes]],
            ExpiresIn=expires)

    def check_key(self, key):
        """Nothing to refuse: S3 keys are names, not paths (``a.jpg`` and ``a.jpg/b.jpg`` coexist)."""

    def read_state(self, key):
        data = self.read(key)
        return None if data is None else data.decode("utf-8")

    def write_state(self, key, text):
        self._call(self.client.put_object, Bucket=self.bucket, Key=key, Body=text.encode("utf-8"),
                   ContentType="application/json")

    def _call(self, fn, **kwargs):
        try:
            return fn(**kwargs)
        except botocore.exceptions.ClientError as e:
            code = e.response.get("Error", {}).get("Code", "")
            if code in _MISSING:
                raise _Missing()
            raise BackendUnavailable("S3 %s failed: %s" % (fn.__name__, code or e))
        except botocore.exceptions.BotoCoreError as e:
            raise BackendUnavailable("S3 %s failed: %s" % (fn.__name__, e))


class _Missing(Exception):
    pass

"""Verify an AWS Signature Version 4 Authorization header on a recorded request,
independently of the library that signed it (the algorithm, recomputed)."""
import hashlib
import hmac
from urllib.parse import quote


def _sign(key, msg):
    return hmac.new(key, msg.encode("utf-8"), hashlib.sha256).digest()


def verify(recorded, access_key, secret_key, region, service):
    """Raise AssertionError unless `recorded` is validly signed."""
    headers = {k.lower(): v for k, v in recorded.headers.items()}
    auth = headers.get("authorization", "")
    assert auth.startswith("AWS4-HMAC-SHA256 "), "no SigV4 Authorization header: %r" % auth
    fields = dict(part.strip().split("=", 1) for part in auth[len("AWS4-HMAC-SHA256 "):].split(","))
    akid, date, f_region, f_service, terminator = fields["Credential"].split("/")
    assert (akid, f_region, f_service, terminator) == (access_key, region, service, "aws4_request"), fields
    signed = fields["SignedHeaders"].split(";")
    assert "host" in signed and "x-amz-date" in signed, signed
    payload_hash = hashlib.sha256(recorded.body).hexdigest()
    if "x-amz-content-sha256" in headers:
        assert headers["x-amz-content-sha256"] == payload_hash, "body hash header does not match the body"
    canonical_query = "&".join("%s=%s" % (quote(k, safe="-_.~"), quote(str(v), safe="-_.~"))
                               for k, v in sorted(recorded.query.items()))
    canonical = "\n".join([
        recorded.method,
        quote(recorded.path, safe="/-_.~%"),
        canonical_query,
        "".join("%s:%s\n" % (h, " ".join(headers[h].strip().split())) for h in signed),
        ";".join(signed),
        payload_hash,
    ])
    scope = "/".join([date, region, service, "aws4_request"])
    to_sign = "\n".join(["AWS4-HMAC-SHA256", headers["x-amz-date"], scope,
                         hashlib.sha256(canonical.encode("utf-8")).hexdigest()])
    key = _sign(_sign(_sign(_sign(("AWS4" + secret_key).encode("utf-8"), date), region), service), "aws4_request")
    expected = hmac.new(key, to_sign.encode("utf-8"), hashlib.sha256).hexdigest()
    assert hmac.compare_digest(expected, fields["Signature"]), "signature does not verify"

"""Configuration, read lazily from environment variables.

Every value is read when it is asked for, never at import time: the chalice
test client and the Lambda runtime set the stage's variables after app.py is
imported.  `.chalice/config.json` sets them per stage; README lists them all.
"""
import os

from chalicelib.errors import ConfigurationError

DEFAULTS = {
    "PHOTO_BUCKET": "",
    "OPENSEARCH_ENDPOINT": "",
    "OPENSEARCH_INDEX": "photos",
    "OPENSEARCH_AUTH": "sigv4",          # sigv4 | none (a local cluster)
    "OPENSEARCH_SERVICE": "es",          # es (managed domain) | aoss
    "OPENSEARCH_TIMEOUT_SECONDS": "10",
    "USER_POOL_ARN": "",
    "MIN_CONFIDENCE": "55",
    "MAX_LABELS": "50",
    "PRESIGN_EXPIRY_SECONDS": "3600",
    "UPLOAD_MAX_BYTES": str(15 * 1024 * 1024),
    "UPLOAD_EXPIRY_SECONDS": "900",
    "PAGE_SIZE": "20",
    "SEARCH_MIN_SCORE": "15",   # the relevance cutoff: weight x confidence a match needs (README: Search)
    "MAX_PAGE_SIZE": "100",
    "RETRY_ATTEMPTS": "5",
    "RETRY_BASE_SECONDS": "0.2",
    "RETRY_MAX_SECONDS": "5",
    "MAX_ATTEMPTS": "5",                 # analyses of one object before it is `failed` for good
    "RETRY_BACKOFF_SECONDS": "60",       # wait before retrying a failed object: this x 2^(attempt-1)
    "RECONCILE_SAFETY_SECONDS": "30",
    "RECONCILE_BATCH_SIZE": "100",
    "RECONCILE_STATE_KEY": "system/reconcile-state.json",
    "LOG_LEVEL": "INFO",
    "ANALYSIS_ENGINE": "rekognition",    # rekognition | local
    "ANALYSIS_FEATURES": "labels",       # comma-separated: labels,text,properties,faces,moderation
    "MODERATION_MIN_CONFIDENCE": "50",
    "LOCAL_MODELS_DIR": "",              # default: <project>/var/models
    "LOCAL_THREADS": "0",                # onnxruntime intra-op threads (0: all cores)
    "DECODE_MAX_PIXELS": "100000000",    # refuse larger images (decompression bombs)
    "DECODE_MAX_BYTES": "400000000",     # refuse images whose decoding takes more memory (media.decode_cost)
    "THUMBNAIL_SIZE": "256",             # long side of thumbnails, px (0: no thumbnails)
    "MAX_PHOTO_BYTES": str(50 * 1024 * 1024),  # larger objects are `unsupported` (ImageTooLarge)
    # Faces and people (chalicelib.faces):
    "FACE_INDEXING": "on",               # on | off: register faces, group people (needs the faces feature)
    "FACE_COLLECTION": "photo-search-faces",   # the Rekognition collection (one per deployment)
    "OPENSEARCH_FACES_INDEX": "photo-faces",   # face and people records on OpenSearch
    "FACE_MATCH_THRESHOLD": "80",        # default similarity (0-100) for face search and compare
    "PEOPLE_MATCH_THRESHOLD": "82",      # similarity for grouping faces into people
    "PEOPLE_MIN_MATCHES": "2",           # a face joins a person when close to this many of its faces...
    "PEOPLE_MIN_SHARE": "0.3",           # ...and to this share of them (of at most 30)
    "FACE_SEARCH_IMAGE_MAX_BYTES": str(5 * 1024 * 1024),   # POST /faces/search image (decoded)
    # Backends (the local stage chooses the embedded ones):
    "STORAGE_BACKEND": "s3",             # s3 | disk
    "INDEX_BACKEND": "opensearch",       # opensearch | sqlite
    "AUTH_MODE": "cognito",              # cognito (API Gateway verifies) | jwks (the app verifies Cognito
                                         # tokens against the pool's keys) | local (the app's own tokens)
    "LOCAL_STORAGE_DIR": "var/local/bucket",
    "SQLITE_PATH": "var/local/index.sqlite3",
    "LOCAL_SECRET_FILE": "var/local/secret",
    "LOCAL_PUBLIC_URL": "",              # base of signed URLs; empty: the URL the request came in on
    "TRUSTED_PROXY": "off",              # on: a proxy sets X-Forwarded-Host/-Proto (chalicelib.baseurl)
    "LOCAL_ISSUER": "photo-search-local",
    "LOCAL_TOKEN_HOURS": "12",
    # Signing in from the web page (chalicelib.accounts, chalicelib.auth):
    "LOCAL_ACCOUNTS_PATH": "var/local/accounts.sqlite3",   # local stage: users and scrypt hashes
    "SIGNIN_MAX_FAILURES": "5",          # failed sign-ins per user name or address within the window...
    "SIGNIN_WINDOW_SECONDS": "900",      # ...before further attempts are refused (429)
    "COGNITO_CLIENT_ID": "",             # the user pool's app client (no secret) the page signs in with
    "COGNITO_JWKS_URL": "",              # AUTH_MODE=jwks: default <issuer>/.well-known/jwks.json
    # Read when app.py is imported (they declare resources, so `chalice
    # deploy` and `chalice package` need them then):
    "RECONCILE_SCHEDULE": "rate(1 hour)",
    # the job queue (chalicelib.jobs): inline (analyse where the work is found; tests, tools),
    # sqlite (the local stage: QUEUE_PATH, worker processes) or sqs (AWS: JOBS_QUEUE_URL)
    "QUEUE_BACKEND": "inline",
    "QUEUE_PATH": "var/local/queue.sqlite3",
    "JOBS_QUEUE_URL": "",
    "JOBS_QUEUE_NAME": "photo-search-jobs",   # the index_job Lambda's event source (declared at deploy)
    "INDEX_MAX_CONCURRENCY": "10",       # index_job Lambdas at once: Rekognition TPS / calls per photo (README)
    "QUEUE_MAX_RECEIVES": "5",           # deliveries of one job before it is dead (= the DLQ's maxReceiveCount)
    "QUEUE_LEASE_SECONDS": "900",        # a local worker's hold on a job before another may take it
    "QUEUE_WORKERS": "in-process",       # in-process: the app runs a worker thread | external: worker processes
    "QUEUE_REQUEUE_SECONDS": "3600",     # the reconciler queues a pending photo again after this long
}

# Rekognition reads at most 15 MB from S3 (5 MB as inline bytes): larger photos are converted.
REKOGNITION_S3_MAX_BYTES = 15 * 1024 * 1024

PHOTO_PREFIX = "usercontent/"
UPLOAD_CONTENT_TYPES = ("image/jpeg", "image/png", "image/heic", "image/heif", "image/webp", "image/gif",
                        "image/tiff", "image/bmp")


def get(name):
    """The raw string value of setting `name` (env var, else default)."""
    if name not in DEFAULTS:
        raise KeyError("unknown setting %s" % name)
    return os.environ.get(name, DEFAULTS[name])


def declared(name, placeholder):
    """A value app.py needs at import time to declare a resource.

    `chalice deploy`/`package` set the stage's variables before importing
    app.py; elsewhere (tests, tools) a clearly fake placeholder is used.
    """
    return os.environ.get(name) or DEFAULTS.get(name) or placeholder


def require(name):
    value = get(name)
    if not value:
        raise ConfigurationError("setting %s is empty; set it in .chalice/config.json" % name)
    return value


def get_int(name, minimum=None, maximum=None):
    raw = get(name)
    try:
        value = int(raw)
    except ValueError:
        raise ConfigurationError("setting %s=%r is not an integer" % (name, raw))
    return _bounded(name, value, minimum, maximum)


def get_float(name, minimum=None, maximum=None):
    raw = get(name)
    try:
        value = float(raw)
    except ValueError:
        raise ConfigurationError("setting %s=%r is not a number" % (name, raw))
    return _bounded(name, value, minimum, maximum)


def _bounded(name, value, minimum, maximum):
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        raise ConfigurationError("setting %s=%r is outside [%s, %s]" % (name, value, minimum, maximum))
    return value


FEATURES = ("labels", "text", "properties", "faces", "moderation")


def features():
    """The enabled analysis features, validated."""
    chosen = tuple(f.strip().lower() for f in get("ANALYSIS_FEATURES").split(",") if f.strip())
    unknown = set(chosen) - set(FEATURES)
    if unknown or not chosen:
        raise ConfigurationError("ANALYSIS_FEATURES=%r: choose from %s" % (get("ANALYSIS_FEATURES"),
                                                                          ",".join(FEATURES)))
    return chosen


def face_indexing():
    """FACE_INDEXING is on and the faces feature is analysed."""
    value = get("FACE_INDEXING").strip().lower()
    if value not in ("on", "off"):
        raise ConfigurationError("FACE_INDEXING=%r: choose on or off" % get("FACE_INDEXING"))
    return value == "on" and "faces" in features()


PROJECT_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def local_path(name):
    """A path setting; relative paths are relative to the project folder."""
    value = require(name)
    return value if os.path.isabs(value) else os.path.join(PROJECT_DIR, value)


def region():
    """The AWS region, always explicit (Lambda sets AWS_REGION)."""
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"

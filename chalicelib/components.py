"""Lazy accessors for the adapters: built on first use, once per process.

The backends are chosen by configuration; tests and tools may install
instances of their own with ``configure()`` (real adapters pointed at moto, a
local OpenSearch, a stubbed Rekognition client), never fakes of this code.
"""
import threading

import boto3
from botocore.config import Config

from chalicelib import settings
from chalicelib.errors import ConfigurationError
from chalicelib.pipeline import Services

_lock = threading.RLock()
_instances = {}


def configure(**instances):
    """Install ready-made components (storage=..., index=..., analyzer=...)."""
    with _lock:
        _instances.update(instances)


def reset():
    with _lock:
        _instances.clear()


def _get(name, build):
    with _lock:
        if name not in _instances:
            _instances[name] = build()
        return _instances[name]


def boto_client(service, **config):
    """One boto3 client per service and process, region always explicit (the first
    call's `config` is the one kept)."""
    def build():
        cfg = Config(region_name=settings.region(), connect_timeout=5, read_timeout=30, **config)
        return boto3.session.Session().client(service, config=cfg)
    return _get("client:" + service, build)


def storage():
    """STORAGE_BACKEND: `s3` (PHOTO_BUCKET) or `disk` (a folder, LOCAL_STORAGE_DIR)."""
    def build():
        backend = settings.get("STORAGE_BACKEND")
        if backend == "disk":
            from chalicelib.storage.disk import DiskStorage
            return DiskStorage(settings.local_path("LOCAL_STORAGE_DIR"), settings.require("PHOTO_BUCKET"),
                               settings.get("LOCAL_PUBLIC_URL"))
        if backend == "s3":
            from chalicelib.storage.s3 import S3Storage
            return S3Storage(boto_client("s3", signature_version="s3v4"), settings.require("PHOTO_BUCKET"))
        raise ConfigurationError("STORAGE_BACKEND=%r: choose s3 or disk" % backend)
    return _get("storage", build)


def index():
    """INDEX_BACKEND: `opensearch` (OPENSEARCH_*) or `sqlite` (one file, SQLITE_PATH)."""
    def build():
        backend = settings.get("INDEX_BACKEND")
        if backend == "sqlite":
            from chalicelib.index.sqlite import SQLiteIndex
            idx = SQLiteIndex(settings.local_path("SQLITE_PATH"))
            idx.ensure_index()
            return idx
        if backend != "opensearch":
            raise ConfigurationError("INDEX_BACKEND=%r: choose opensearch or sqlite" % backend)
        from chalicelib.index.opensearch import OpenSearchIndex
        idx = OpenSearchIndex(opensearch_client(), settings.get("OPENSEARCH_INDEX"))
        idx.ensure_index()
        return idx
    return _get("index", build)


def opensearch_client():
    def build():
        from chalicelib.index.opensearch import make_client
        return make_client(settings.require("OPENSEARCH_ENDPOINT"), settings.region(),
                           auth_mode=settings.get("OPENSEARCH_AUTH"), service=settings.get("OPENSEARCH_SERVICE"),
                           timeout=settings.get_int("OPENSEARCH_TIMEOUT_SECONDS", minimum=1))
    return _get("client:opensearch", build)


def face_store():
    """Face and people records, next to the photo index (same INDEX_BACKEND)."""
    def build():
        backend = settings.get("INDEX_BACKEND")
        if backend == "sqlite":
            from chalicelib.faces.sqlite import SQLiteFaceStore
            store = SQLiteFaceStore(settings.local_path("SQLITE_PATH"))
        elif backend == "opensearch":
            from chalicelib.faces.opensearch import OpenSearchFaceStore
            store = OpenSearchFaceStore(opensearch_client(), settings.get("OPENSEARCH_FACES_INDEX"))
        else:
            raise ConfigurationError("INDEX_BACKEND=%r: choose opensearch or sqlite" % backend)
        store.ensure()
        return store
    return _get("faces", build)


def matcher():
    """Face matching follows ANALYSIS_ENGINE: a Rekognition collection, or local embeddings."""
    def build():
        engine = settings.get("ANALYSIS_ENGINE")
        if engine == "local":
            from chalicelib.faces.local import EmbeddingMatcher
            return EmbeddingMatcher(face_store())
        if engine == "rekognition":
            from chalicelib.faces.rekognition import CollectionMatcher
            return CollectionMatcher(boto_client("rekognition", retries={"total_max_attempts": 1}),
                                     settings.require("FACE_COLLECTION"), face_store())
        raise ConfigurationError("ANALYSIS_ENGINE=%r: choose rekognition or local" % engine)
    return _get("matcher", build)


def analyzer():
    """ANALYSIS_ENGINE picks the engine: `rekognition` (AWS) or `local` (models on this CPU)."""
    def build():
        engine = settings.get("ANALYSIS_ENGINE")
        if engine == "local":
            from chalicelib.analysis.local import LocalAnalyzer
            return LocalAnalyzer()
        if engine == "rekognition":
            from chalicelib.analysis.rekognition import RekognitionAnalyzer
            # Our own backoff with jitter handles retries (chalicelib.retry).
            return RekognitionAnalyzer(boto_client("rekognition", retries={"total_max_attempts": 1}))
        raise ConfigurationError("ANALYSIS_ENGINE=%r: choose rekognition or local" % engine)
    return _get("analyzer", build)


def queue():
    """QUEUE_BACKEND: `inline` (None: no queue), `sqlite` (QUEUE_PATH) or `sqs` (JOBS_QUEUE_URL).
    With sqlite and QUEUE_WORKERS=in-process (plain `chalice local`), a worker thread starts."""
    def build():
        backend = settings.get("QUEUE_BACKEND")
        if backend == "inline":
            return None
        if backend == "sqlite":
            from chalicelib.jobs.sqlite import SQLiteQueue
            return SQLiteQueue(settings.local_path("QUEUE_PATH"))
        if backend == "sqs":
            from chalicelib.jobs.sqs import SQSQueue
            return SQSQueue(boto_client("sqs"), settings.require("JOBS_QUEUE_URL"))
        raise ConfigurationError("QUEUE_BACKEND=%r: choose inline, sqlite or sqs" % backend)
    made = _get("queue", build)
    if made is not None and settings.get("QUEUE_BACKEND") == "sqlite" and settings.get("QUEUE_WORKERS") == "in-process":
        from chalicelib.jobs import worker
        worker.start_in_process()
    return made


def services():
    return Services(storage(), index(), analyzer(), face_store(), matcher(), queue())

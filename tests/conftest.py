"""Shared fixtures: real components everywhere this machine can run them.

- AWS: one moto server on 127.0.0.1 for the session (S3 and Cognito over real
  HTTP, so presigned URLs and posts work), state reset before every test.
- Rekognition: a real boto3 client wrapped in botocore's Stubber (moto does not
  implement it usefully); a test queues the responses it expects.
- OpenSearch: tests/support/opensearch_server.py over real HTTP, SigV4-signed.
"""
import os
from collections import namedtuple

import boto3
import pytest
import requests
from botocore.credentials import Credentials
from botocore.stub import Stubber
from moto.server import ThreadedMotoServer

from tests.support.opensearch_server import FakeOpenSearch

REGION = "us-east-1"
BUCKET = "photo-search-test"
INDEX = "photos-test"
FACES_INDEX = "faces-test"
COLLECTION = "photo-search-test-faces"

os.environ.update({
    "AWS_ACCESS_KEY_ID": "AKIDTESTING", "AWS_SECRET_ACCESS_KEY": "testing-secret", "AWS_SESSION_TOKEN": "",
    "AWS_DEFAULT_REGION": REGION, "AWS_REGION": REGION,
})
os.environ.pop("AWS_SESSION_TOKEN")
os.environ.pop("AWS_PROFILE", None)


@pytest.fixture(autouse=True)
def fast_settings(monkeypatch):
    monkeypatch.setenv("RETRY_BASE_SECONDS", "0.001")
    monkeypatch.setenv("RETRY_MAX_SECONDS", "0.005")
    monkeypatch.setenv("RETRY_BACKOFF_SECONDS", "0")   # tests retry failed objects at once unless they say so


@pytest.fixture(scope="session")
def moto_url():
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = "http://%s:%d" % (host, port)
    os.environ["AWS_ENDPOINT_URL"] = url
    yield url
    server.stop()


@pytest.fixture(scope="session")
def aws(moto_url):
    requests.post(moto_url + "/moto-api/reset", timeout=10).raise_for_status()
    return moto_url


@pytest.fixture(scope="session")
def s3(aws):
    return boto3.client("s3", region_name=REGION, endpoint_url=aws)


@pytest.fixture
def bucket(s3):
    """A fresh, empty bucket for each test (removed with everything in it after)."""
    s3.create_bucket(Bucket=BUCKET)
    yield BUCKET
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET):
        for obj in page.get("Contents", ()):
            s3.delete_object(Bucket=BUCKET, Key=obj["Key"])
    s3.delete_bucket(Bucket=BUCKET)


@pytest.fixture(scope="session")
def opensearch_server():
    server = FakeOpenSearch().start()
    yield server
    server.stop()


@pytest.fixture
def opensearch(opensearch_server):
    opensearch_server.reset()
    return opensearch_server


class RekognitionStub:
    def __init__(self, client):
        self.client = client
        self.stubber = Stubber(client)
        self.sent = []
        client.meta.events.register("provide-client-params.rekognition.*", self.capture)

    def labels(self, bucket, key, response, min_confidence=55.0, max_labels=50):
        self.stubber.add_response("detect_labels", response, {
            "Image": {"S3Object": {"Bucket": bucket, "Name": key}},
            "MinConfidence": min_confidence, "MaxLabels": max_labels})

    def labels_for_bytes(self, response, min_confidence=55.0, max_labels=50):
        """Expect DetectLabels on converted image bytes; `self.sent` collects what was sent."""
        from botocore.stub import ANY
        self.stubber.add_response("detect_labels", response, {
            "Image": {"Bytes": ANY}, "MinConfidence": min_confidence, "MaxLabels": max_labels})

    def capture(self, event_name, params, **kwargs):
        self.sent.append(params)

    def error(self, code, message="", status=400):
        self.stubber.add_client_error("detect_labels", service_error_code=code, service_message=message,
                                      http_status_code=status)


@pytest.fixture
def rekognition():
    client = boto3.client("rekognition", region_name=REGION, aws_access_key_id="AKIDTESTING",
                          aws_secret_access_key="testing-secret")
    stub = RekognitionStub(client)
    with stub.stubber:
        yield stub
        stub.stubber.assert_no_pending_responses()


def make_index(url, name=INDEX, refresh=False):
    from chalicelib.index.opensearch import OpenSearchIndex, make_client
    client = make_client(url, REGION, auth_mode="sigv4", service="es",
                         credentials=Credentials("AKIDTESTING", "testing-secret"))
    index = OpenSearchIndex(client, name, refresh=refresh)
    index.ensure_index()
    return index


def make_face_store(url, name=FACES_INDEX):
    from chalicelib.faces.opensearch import OpenSearchFaceStore
    from chalicelib.index.opensearch import make_client
    client = make_client(url, REGION, auth_mode="sigv4", service="es",
                         credentials=Credentials("AKIDTESTING", "testing-secret"))
    store = OpenSearchFaceStore(client, name)
    store.ensure()
    return store


def install_components(monkeypatch, bucket, opensearch, analyzer=None, **env):
    """The app's components as production builds them from settings (storage on moto via
    AWS_ENDPOINT_URL, the analyzer chosen by ANALYSIS_ENGINE), with the OpenSearch adapters on the
    local server and, where given, a ready analyzer (Rekognition's real client under a Stubber,
    which the face collection then shares)."""
    from chalicelib import components
    monkeypatch.setenv("PHOTO_BUCKET", bucket)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    components.reset()
    store = make_face_store(opensearch.url)
    components.configure(index=make_index(opensearch.url), faces=store)
    if analyzer is not None:
        components.configure(analyzer=analyzer)
        if getattr(analyzer, "client", None) is not None:
            from chalicelib.faces.rekognition import CollectionMatcher
            components.configure(matcher=CollectionMatcher(analyzer.client, COLLECTION, store))
    return components.services()


def app_client():
    from chalice.test import Client
    from app import app
    # Stage "test" has no variables in .chalice/config.json: the components
    # installed by install_components are what the app uses.
    return Client(app, stage_name="test")


@pytest.fixture
def services(bucket, opensearch, rekognition, monkeypatch):
    from chalicelib import components
    from chalicelib.analysis.rekognition import RekognitionAnalyzer
    yield install_components(monkeypatch, bucket, opensearch, RekognitionAnalyzer(rekognition.client))
    components.reset()


@pytest.fixture
def client(services):
    with app_client() as c:
        yield c


User = namedtuple("User", "name sub token")


@pytest.fixture(scope="session")
def users(aws):
    """Two real Cognito users (alice, bob) with ID tokens issued by moto's user pool."""
    idp = boto3.client("cognito-idp", region_name=REGION, endpoint_url=aws)
    pool = idp.create_user_pool(PoolName="photo-search-test")["UserPool"]["Id"]
    app_client = idp.create_user_pool_client(UserPoolId=pool, ClientName="cli",
                                             ExplicitAuthFlows=["ADMIN_USER_PASSWORD_AUTH"])["UserPoolClient"]
    out = {}
    for name in ("alice", "bob"):
        idp.admin_create_user(UserPoolId=pool, Username=name, MessageAction="SUPPRESS")
        idp.admin_set_user_password(UserPoolId=pool, Username=name, Password="Correct-Horse-9", Permanent=True)
        auth = idp.admin_initiate_auth(UserPoolId=pool, ClientId=app_client["ClientId"],
                                       AuthFlow="ADMIN_USER_PASSWORD_AUTH",
                                       AuthParameters={"USERNAME": name, "PASSWORD": "Correct-Horse-9"})
        attrs = {a["Name"]: a["Value"] for a in idp.admin_get_user(UserPoolId=pool, Username=name)["UserAttributes"]}
        out[name] = User(name, attrs["sub"], auth["AuthenticationResult"]["IdToken"])
    return out


def s3_event(records):
    """A raw S3 notification with several records: (event_name, bucket, key, etag, sequencer, size)."""
    from urllib.parse import quote_plus
    return {"Records": [{
        "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": REGION, "eventTime": "2026-11-23T10:00:00.000Z",
        "eventName": name, "s3": {"s3SchemaVersion": "1.0", "configurationId": "photo-search",
                                  "bucket": {"name": bkt, "arn": "arn:aws:s3:::" + bkt},
                                  "object": {"key": quote_plus(key, safe="/"), "eTag": etag, "size": size,
                                             "sequencer": seq}}}
        for (name, bkt, key, etag, seq, size) in records]}

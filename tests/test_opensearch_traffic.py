"""The HTTP the OpenSearch adapter really sends, read off a recording server."""
import pytest

from chalicelib.errors import BackendUnavailable
from chalicelib.index import ANY
from tests.conftest import INDEX, REGION, make_index
from tests.contract.test_index_contract import doc, put_all
from tests.support import sigv4
from tests.support.rekognition import CAR


def test_the_index_is_created_once_with_the_mapping(opensearch):
    make_index(opensearch.url)
    make_index(opensearch.url)  # a second cold start
    creates = [r for r in opensearch.requests if r.method == "PUT" and r.path == "/" + INDEX]
    assert len(creates) == 1
    props = creates[0].json()["mappings"]["properties"]
    for field in ("owner", "photo_id", "bucket", "key", "etag", "status", "search_terms"):
        assert props[field] == {"type": "keyword"}, field
    assert props["uploaded_at"]["type"] == props["indexed_at"]["type"] == "date"
    labels = props["labels"]
    assert labels["type"] == "nested"
    assert labels["properties"]["name"] == {"type": "keyword", "fields": {"text": {"type": "text"}}}
    assert labels["properties"]["confidence"] == {"type": "float"}
    # the second start only re-applies the (additive) mapping
    assert [r.path for r in opensearch.requests if r.method == "PUT"] == ["/" + INDEX, "/%s/_mapping" % INDEX]


def test_every_request_is_sigv4_signed_for_es(opensearch):
    index = make_index(opensearch.url)
    put_all(index, doc(1, labels=[CAR]))
    index.search("alice", ["car"], 10)
    index.bulk([("delete", doc(1)["photo_id"], ANY)])
    assert len(opensearch.requests) >= 5
    for recorded in opensearch.requests:
        sigv4.verify(recorded, "AKIDTESTING", "testing-secret", REGION, "es")


def test_a_tampered_request_fails_verification(opensearch):
    index = make_index(opensearch.url)
    index.search("alice", ["car"], 10)
    recorded = opensearch.requests[-1]
    recorded.body = recorded.body.replace(b"alice", b"bobby")
    with pytest.raises(AssertionError):
        sigv4.verify(recorded, "AKIDTESTING", "testing-secret", REGION, "es")


def test_every_search_filters_by_owner_on_the_server(opensearch):
    index = make_index(opensearch.url)
    index.search("alice", ["car", "red"], 10)
    index.list("alice", 10)
    bodies = [r.json() for r in opensearch.requests if r.path.endswith("/_search")]
    assert len(bodies) == 2
    for body in bodies:
        assert {"term": {"owner": "alice"}} in body["query"]["bool"]["filter"]
    groups = bodies[0]["query"]["bool"]["should"]
    assert bodies[0]["query"]["bool"]["minimum_should_match"] == 1
    matches = [[q["nested"]["query"]["function_score"]["query"]["bool"]["filter"][0]
                for q in g["function_score"]["query"]["dis_max"]["queries"]] for g in groups]
    assert matches == [[{"term": {"labels.terms": w}}, {"term": {"evidence.terms": w}},
                        {"term": {"text_lines.terms": w}}] for w in ("car", "red")]


def test_query_words_travel_as_json_values(opensearch):
    index = make_index(opensearch.url)
    index.search("alice", ['x"}},{"match_all":{}}'], 10)
    body = opensearch.requests[-1].json()
    clause = body["query"]["bool"]["should"][0]["function_score"]["query"]["dis_max"]["queries"][0]
    assert clause["nested"]["query"]["function_score"]["query"]["bool"]["filter"][0] == {
        "term": {"labels.terms": 'x"}},{"match_all":{}}'}}


def test_bulk_sends_ndjson_with_conditional_writes(opensearch):
    index = make_index(opensearch.url)
    a = doc(1)
    index.put(a)
    _, version = index.get(a["photo_id"])
    seq_no, term = map(int, version.split(":"))
    index.bulk([("put", doc(2), None), ("put", a, version), ("delete", a["photo_id"], version)])
    bulk = [r for r in opensearch.requests if r.path == "/_bulk"][0]
    assert bulk.headers["content-type"].startswith("application/") and bulk.body.endswith(b"\n")
    lines = bulk.ndjson()
    assert lines[0] == {"create": {"_index": INDEX, "_id": doc(2)["photo_id"]}}
    assert lines[1]["photo_id"] == doc(2)["photo_id"]
    assert lines[2] == {"index": {"_index": INDEX, "_id": a["photo_id"], "if_seq_no": seq_no,
                                  "if_primary_term": term}}
    assert lines[4] == {"delete": {"_index": INDEX, "_id": a["photo_id"], "if_seq_no": seq_no,
                                   "if_primary_term": term}}


def test_a_server_error_is_backend_unavailable(opensearch):
    index = make_index(opensearch.url)
    opensearch.failures.extend([503] * 10)
    with pytest.raises(BackendUnavailable):
        index.search("alice", ["car"], 10)


def test_an_unreachable_cluster_is_backend_unavailable():
    from chalicelib.index.opensearch import OpenSearchIndex, make_client
    index = OpenSearchIndex(make_client("http://127.0.0.1:9", REGION, auth_mode="none", timeout=1), "photos")
    with pytest.raises(BackendUnavailable):
        index.get("0" * 32)

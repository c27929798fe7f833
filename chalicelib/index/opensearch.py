"""Amazon OpenSearch Service index (opensearch-py, SigV4 via requests-aws4auth).

Queries and documents are built as Python structures and serialized by the
client: no string interpolation anywhere.  Owner isolation is a server-side
``bool.filter`` term on the ``owner`` keyword in every search.
"""
import opensearchpy
from opensearchpy import OpenSearch, RequestsHttpConnection

from chalicelib.errors import BackendUnavailable, BadRequest, VersionConflict
from chalicelib.index import (ANY, COLOR_CONFIDENCE, Alt, INVALID_CURSOR, MATCHED_GROUP, Page, as_groups, decode_cursor,
                              encode_cursor, min_confidence)

KEYWORD = {"type": "keyword"}
MAPPINGS = {
    "dynamic": False,
    "properties": {
        "photo_id": KEYWORD, "owner": KEYWORD, "bucket": KEYWORD, "key": KEYWORD,
        "etag": KEYWORD, "sequencer": KEYWORD, "content_type": KEYWORD, "status": KEYWORD,
        "engine": KEYWORD, "label_model_version": KEYWORD,
        "size": {"type": "long"}, "attempts": {"type": "integer"}, "retryable": {"type": "boolean"},
        "uploaded_at": {"type": "date"}, "indexed_at": {"type": "date"},
        "reason": {"type": "text"},
        "search_terms": KEYWORD,
        "labels": {"type": "nested", "properties": {
            "name": {"type": "keyword", "fields": {"text": {"type": "text"}}},
            "confidence": {"type": "float"},
            "parents": KEYWORD, "aliases": KEYWORD, "categories": KEYWORD, "terms": KEYWORD,
            "instances": {"type": "object", "enabled": False},
        }},
        "evidence": {"type": "nested", "properties": {
            "name": KEYWORD, "confidence": {"type": "float"}, "terms": KEYWORD,
            "parents": KEYWORD, "aliases": KEYWORD, "categories": KEYWORD,
        }},
        "text_lines": {"type": "nested", "properties": {
            "text": {"type": "text"}, "terms": KEYWORD, "confidence": {"type": "float"},
            "box": {"type": "object", "enabled": False}, "words": {"type": "object", "enabled": False},
        }},
        "properties": {"type": "object", "enabled": False},
        "faces": {"type": "object", "enabled": False},
        "metadata": {"type": "object", "enabled": False},
        "thumbnails": {"type": "object", "enabled": False},
        "content_hash": KEYWORD, "reused_from": KEYWORD,
        "taken_at": {"type": "date"}, "photo_time": {"type": "date"},
        "camera_make": KEYWORD, "camera_model": KEYWORD, "format": KEYWORD,
        "location": {"type": "geo_point"}, "face_count": {"type": "integer"}, "has_text": {"type": "boolean"},
        "colors": KEYWORD,
        "moderation": {"type": "object", "enabled": False},
    },
}
SETTINGS = {"index": {"number_of_shards": 1}}
HIDDEN = ["search_terms", "labels.terms", "text_lines.terms", "evidence.terms", "faces.embedding"]


def make_client(endpoint, region, auth_mode="sigv4", service="es", timeout=10, credentials=None):
    """An OpenSearch client; with sigv4, requests are signed with refreshable credentials."""
    http_auth = None
    if auth_mode == "sigv4":
        from requests_aws4auth import AWS4Auth
        if credentials is None:
            import boto3
            credentials = boto3.Session().get_credentials()
        http_auth = AWS4Auth(region=region, service=service, refreshable_credentials=credentials)
    return OpenSearch(hosts=[endpoint], http_auth=http_auth, use_ssl=endpoint.startswith("https://"),
                      verify_certs=endpoint.startswith("https://"), connection_class=RequestsHttpConnection,
                      timeout=timeout, max_retries=2, retry_on_timeout=True)


def _best(path, terms, weight, min_score):
    """weight x the best confidence of an item under `path` that has one of the terms, when at
    least the cutoff (chalicelib.index: an alternative's score)."""
    low = min_confidence(Alt("", weight, "any"), min_score)
    match = {"term": {path + ".terms": terms[0]}} if len(terms) == 1 else {"terms": {path + ".terms": terms}}
    return {"nested": {"path": path, "score_mode": "max", "query": {"function_score": {
        "query": {"bool": {"filter": [match, {"range": {path + ".confidence": {"gte": low}}}]}},
        "field_value_factor": {"field": path + ".confidence", "factor": weight, "missing": 0},
        "boost_mode": "replace"}}}}


PATHS = {"any": ("labels", "evidence", "text_lines"), "text": ("text_lines",)}


def alternative_clauses(scope, weight, terms, min_score):
    """Clauses for the alternatives of one scope and weight (one `terms` query for them all: a
    misspelt word brings hundreds of slips, and a cluster caps a query's clauses)."""
    if scope == "color":
        if COLOR_CONFIDENCE < min_confidence(Alt("", weight, scope), min_score):
            return []
        match = {"term": {"colors": terms[0]}} if len(terms) == 1 else {"terms": {"colors": terms}}
        return [{"constant_score": {"filter": match, "boost": weight * COLOR_CONFIDENCE}}]
    return [_best(path, terms, weight, min_score) for path in PATHS[scope]]


def group_clause(group, min_score, boost=False):
    """A group's score: MATCHED_GROUP (not for a boost group) + the best of its alternatives
    (chalicelib.index)."""
    by_kind = {}
    for alt in group:
        terms = by_kind.setdefault((alt.scope, alt.weight), [])
        if alt.term not in terms:
            terms.append(alt.term)
    queries = [c for (scope, weight), terms in by_kind.items()
               for c in alternative_clauses(scope, weight, terms, min_score)]
    if not queries:
        return {"bool": {"must_not": [{"match_all": {}}]}}
    best = {"dis_max": {"tie_breaker": 0.0, "queries": queries}}
    if boost:
        return best
    return {"function_score": {"query": best, "functions": [{"weight": MATCHED_GROUP}], "boost_mode": "sum"}}


SORTS = {
    "relevance": [{"_score": {"order": "desc"}}, {"photo_id": {"order": "asc"}}],
    "newest": [{"photo_time": {"order": "desc"}}, {"photo_id": {"order": "asc"}}],
    "oldest": [{"photo_time": {"order": "asc"}}, {"photo_id": {"order": "asc"}}],
}


def filter_clauses(owner, f):
    """The owner term first, then one clause per filter (chalicelib.index.filters)."""
    clauses = [{"term": {"owner": owner}}]
    for field, low, high in (("taken_at", "taken_from", "taken_to"), ("uploaded_at", "uploaded_from", "uploaded_to")):
        bounds = {op: f[name] for op, name in (("gte", low), ("lte", high)) if name in f}
        if bounds:
            clauses.append({"range": {field: bounds}})
    for name in ("camera_make", "camera_model", "has_text", "format", "status"):
        if name in f:
            clauses.append({"term": {name: f[name]}})
    if "has_faces" in f:
        clauses.append({"range": {"face_count": {"gte": 1}}} if f["has_faces"] else {"term": {"face_count": 0}})
    if "color" in f:
        clauses.append({"term": {"colors": f["color"]}})
    if "photo_ids" in f:
        clauses.append({"terms": {"photo_id": list(f["photo_ids"])}})
    if "near" in f:
        near = f["near"]
        clauses.append({"geo_distance": {"distance": "%gkm" % near["radius_km"],
                                         "location": {"lat": near["lat"], "lon": near["lon"]}}})
    return clauses


def search_body(owner, words, size, after, filters=None, sort="relevance", min_score=0.0):
    query = {"bool": {"filter": filter_clauses(owner, filters or {})}}
    groups = as_groups(words)
    if groups:
        matching = {"bool": {"should": [group_clause(g, min_score) for boost, g in groups if not boost],
                             "minimum_should_match": 1}}
        boosts = [group_clause(g, min_score, boost=True) for boost, g in groups if boost]
        if boosts:      # a boost group adds its score to a hit, and never makes one
            query["bool"]["must"] = [matching]
            query["bool"]["should"] = boosts
        else:
            query["bool"].update(matching["bool"])
    if (filters or {}).get("without_words"):
        # a query's -word: no label, evidence or text term of the photo is one of them, with at
        # least the confidence `without_min_confidence`
        low = filters.get("without_min_confidence", 0.0)
        query["bool"]["must_not"] = [{"nested": {"path": path, "query": {"bool": {"filter": [
            {"terms": {path + ".terms": sorted(filters["without_words"])}},
            {"range": {path + ".confidence": {"gte": low}}}]}}}} for path in PATHS["any"]]
    body = {"size": size + 1, "track_total_hits": False, "_source": {"excludes": HIDDEN},
            "query": query, "sort": SORTS[sort]}
    if after:
        body["search_after"] = after
    return body


def list_body(owner, size, after, filters=None, sort="newest"):
    return search_body(owner, [], size, after, filters, sort)


def scan_body(bucket, after_key, size):
    body = {"size": size, "seq_no_primary_term": True, "track_total_hits": False,
            "_source": {"excludes": HIDDEN},
            "query": {"bool": {"filter": [{"term": {"bucket": bucket}}]}},
            "sort": [{"key": {"order": "asc"}}]}
    if after_key:
        body["search_after"] = [after_key]
    return body


def _version(hit):
    if "_seq_no" not in hit:
        return None
    return "%d:%d" % (hit["_seq_no"], hit["_primary_term"])


def _version_params(version):
    seq_no, term = version.split(":")
    return {"if_seq_no": int(seq_no), "if_primary_term": int(term)}


class OpenSearchIndex:
    def __init__(self, client, index_name, refresh=False):
        self.client = client
        self.name = index_name
        self.refresh_writes = refresh  # "wait_for" in tests against a live cluster

    # -- administration -------------------------------------------------
    def ensure_index(self):
        with _translated():
            if not self.client.indices.exists(index=self.name):
                try:
                    self.client.indices.create(index=self.name, body={"settings": SETTINGS, "mappings": MAPPINGS})
                    return
                except opensearchpy.RequestError as e:
                    if e.error != "resource_already_exists_exception":
                        raise
            self.client.indices.put_mapping(index=self.name, body=MAPPINGS)

    def refresh(self):
        with _translated():
            self.client.indices.refresh(index=self.name)

    # -- documents ------------------------------------------------------
    def get(self, photo_id):
        with _translated():
            try:
                hit = self.client.get(index=self.name, id=photo_id)
            except opensearchpy.NotFoundError:
                return None, None
        return hit["_source"], _version(hit)

    def put(self, doc, version=None):
        params = self._write_params()
        with _translated():
            try:
                if version is None:
                    self.client.create(index=self.name, id=doc["photo_id"], body=doc, params=params)
                else:
                    if version is not ANY:
                        params.update(_version_params(version))
                    self.client.index(index=self.name, id=doc["photo_id"], body=doc, params=params)
            except opensearchpy.ConflictError:
                raise VersionConflict()

    def delete(self, photo_id, version=ANY):
        params = self._write_params()
        if version is not ANY:
            params.update(_version_params(version))
        with _translated():
            try:
                self.client.delete(index=self.name, id=photo_id, params=params)
            except opensearchpy.NotFoundError:
                return False
            except opensearchpy.ConflictError:
                raise VersionConflict()
        return True

    def bulk(self, actions):
        if not actions:
            return []
        lines = []
        for op, target, version in actions:
            meta = {"_index": self.name}
            if op == "put":
                meta["_id"] = target["photo_id"]
                verb = "create" if version is None else "index"
            else:
                meta["_id"] = target
                verb = "delete"
            if version is not None and version is not ANY:
                meta.update(_version_params(version))
            lines.append({verb: meta})
            if op == "put":
                lines.append(target)
        params = self._write_params()
        with _translated():
            result = self.client.bulk(body=lines, params=params)
        outcomes = []
        for item in result["items"]:
            status = next(iter(item.values())).get("status", 500)
            if status in (200, 201):
                outcomes.append("ok")
            elif status == 409:
                outcomes.append("conflict")
            elif status == 404:
                outcomes.append("missing")
            else:
                raise BackendUnavailable("OpenSearch bulk item failed: %s" % item)
        return outcomes

    # -- queries ----------------------------------------------------------
    def search(self, owner, words, size, after=None, filters=None, sort="relevance", min_score=0.0):
        kind = "search:" + sort
        return self._page(kind, search_body(owner, words, size, decode_cursor(kind, after), filters, sort, min_score),
                          size)

    def list(self, owner, size, after=None, filters=None, sort="newest"):
        kind = "list:" + sort
        return self._page(kind, list_body(owner, size, decode_cursor(kind, after), filters, sort), size)

    def find_by_hash(self, owner, content_hash, exclude=None):
        body = {"size": 1, "track_total_hits": False, "query": {"bool": {"filter": [
            {"term": {"owner": owner}}, {"term": {"content_hash": content_hash}}, {"term": {"status": "indexed"}}],
            "must_not": [{"term": {"photo_id": exclude}}] if exclude else []}},
            "sort": [{"photo_id": {"order": "asc"}}]}
        with _translated():
            hits = self.client.search(index=self.name, body=body)["hits"]["hits"]
        return hits[0]["_source"] if hits else None

    def status_counts(self, owner):
        body = {"size": 0, "track_total_hits": False, "query": {"bool": {"filter": [{"term": {"owner": owner}}]}},
                "aggs": {"by_status": {"terms": {"field": "status", "size": 10}},
                         "retrying": {"filter": {"bool": {"filter": [{"term": {"status": "failed"}},
                                                                      {"term": {"retryable": True}}]}}}}}
        with _translated():
            aggs = self.client.search(index=self.name, body=body)["aggregations"]
        counts = {b["key"]: b["doc_count"] for b in aggs["by_status"]["buckets"]}
        counts["retrying"] = aggs["retrying"]["doc_count"]
        return counts

    def scan(self, bucket, after_key="", size=100):
        with _translated():
            result = self.client.search(index=self.name, body=scan_body(bucket, after_key, size))
        return [(hit["_source"], _version(hit)) for hit in result["hits"]["hits"]]

    def _page(self, kind, body, size):
        with _translated():
            try:
                result = self.client.search(index=self.name, body=body)
            except opensearchpy.RequestError as e:
                if "search_after" not in body:
                    raise
                # values decode_cursor lets through that the cluster still refuses (a tampered cursor)
                raise BadRequest(INVALID_CURSOR) from e
        hits = result["hits"]["hits"]
        more = len(hits) > size
        hits = hits[:size]
        nxt = encode_cursor(kind, hits[-1]["sort"]) if more and hits else None
        scored = kind == "search:relevance"
        return Page([dict(h["_source"], _score=h.get("_score") if scored else None) for h in hits], nxt)

    def _write_params(self):
        return {"refresh": self.refresh_writes} if self.refresh_writes else {}


class _translated:
    """Connection failures and server errors become BackendUnavailable."""

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc is None:
            return False
        if isinstance(exc, (opensearchpy.ConnectionError, opensearchpy.ConnectionTimeout)):
            raise BackendUnavailable("OpenSearch is not reachable: %s" % exc.__class__.__name__) from exc
        status = getattr(exc, "status_code", None)
        if isinstance(exc, opensearchpy.TransportError) and isinstance(status, int) and (status >= 500 or status == 429):
            raise BackendUnavailable("OpenSearch answered %s" % status) from exc
        return False

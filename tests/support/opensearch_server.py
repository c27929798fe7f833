"""A local HTTP server that answers like OpenSearch, for the API subset photo-search uses.

It records every request (method, path, query, headers, body) so tests can
check the real traffic the adapter produces: the mapping, the bulk NDJSON, the
owner filter, the SigV4 Authorization header.  It evaluates the query DSL the
adapter sends (bool/filter/must/must_not/should, term, terms, range, exists,
match_all, ids, dis_max, constant_score, nested with score_mode, function_score with
field_value_factor and weight functions, geo_distance in km) with OpenSearch's scoring rules for those queries, sorts
with search_after, and does optimistic concurrency with _seq_no /
_primary_term.  Anything else answers 400 like an unknown query would, so a
change in the adapter's queries fails loudly instead of passing quietly.
"""
import json
import threading
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit


class QueryError(Exception):
    pass


class Recorded:
    def __init__(self, method, path, query, headers, body):
        self.method, self.path, self.query, self.headers, self.body = method, path, query, headers, body

    def json(self):
        return json.loads(self.body)

    def ndjson(self):
        return [json.loads(line) for line in self.body.decode().splitlines() if line.strip()]


def _values(doc, field):
    """All values of a dotted field path in a document (arrays flattened)."""
    current = [doc]
    for part in field.split("."):
        nxt = []
        for item in current:
            if isinstance(item, dict) and part in item:
                value = item[part]
                nxt.extend(value if isinstance(value, list) else [value])
        current = nxt
    return [v for v in current if v is not None]


def _date_millis(value):
    if isinstance(value, (int, float)):
        return int(value)
    return int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp() * 1000)


class Index:
    def __init__(self, body):
        self.settings = body.get("settings", {})
        self.mappings = body.get("mappings", {})
        self.docs = {}
        self.seq_no = 0
        self.lock = threading.Lock()

    def field_type(self, field):
        props = self.mappings.get("properties", {})
        node = None
        for part in field.split("."):
            node = props.get(part)
            if node is None:
                return None
            props = node.get("properties", {})
        return node.get("type", "object")

    # ---- query evaluation -------------------------------------------------
    def evaluate(self, query, doc):
        """(matches, score) of `query` on `doc`."""
        if not isinstance(query, dict) or len(query) != 1:
            raise QueryError("a query is an object with exactly one key: %r" % (query,))
        kind, spec = next(iter(query.items()))
        method = getattr(self, "_q_" + kind, None)
        if method is None:
            raise QueryError("unknown query [%s]" % kind)
        return method(spec, doc)

    def _q_match_all(self, spec, doc):
        return True, float(spec.get("boost", 1.0))

    def _q_bool(self, spec, doc):
        unknown = set(spec) - {"filter", "must", "must_not", "should", "minimum_should_match", "boost"}
        if unknown:
            raise QueryError("unknown bool clause %s" % unknown)
        as_list = lambda c: c if isinstance(c, list) else [c]
        score = 0.0
        for clause in as_list(spec.get("filter", [])):
            if not self.evaluate(clause, doc)[0]:
                return False, 0.0
        for clause in as_list(spec.get("must", [])):
            ok, s = self.evaluate(clause, doc)
            if not ok:
                return False, 0.0
            score += s
        for clause in as_list(spec.get("must_not", [])):
            if self.evaluate(clause, doc)[0]:
                return False, 0.0
        shoulds = [self.evaluate(c, doc) for c in as_list(spec.get("should", []))]
        matched = [s for ok, s in shoulds if ok]
        required = spec.get("minimum_should_match",
                            1 if shoulds and not spec.get("must") and not spec.get("filter") else 0)
        if len(matched) < int(required):
            return False, 0.0
        return True, score + sum(matched)

    def _q_dis_max(self, spec, doc):
        results = [self.evaluate(q, doc) for q in spec["queries"]]
        scores = sorted((s for ok, s in results if ok), reverse=True)
        if not scores:
            return False, 0.0
        return True, scores[0] + float(spec.get("tie_breaker", 0.0)) * sum(scores[1:])

    def _single_field(self, spec):
        fields = [k for k in spec if k != "boost"]
        if len(fields) != 1:
            raise QueryError("expected one field in %r" % (spec,))
        return fields[0], spec[fields[0]]

    def _q_term(self, spec, doc):
        field, value = self._single_field(spec)
        if isinstance(value, dict):
            value = value["value"]
        return value in _values(doc, field), 1.0

    def _q_terms(self, spec, doc):
        field, values = self._single_field(spec)
        present = _values(doc, field)
        return any(v in present for v in values), 1.0

    def _q_ids(self, spec, doc):
        return doc.get("_id") in spec["values"], 1.0

    def _q_exists(self, spec, doc):
        return bool(_values(doc, spec["field"])), 1.0

    def _q_range(self, spec, doc):
        field, bounds = self._single_field(spec)
        is_date = self.field_type(field) == "date"
        conv = _date_millis if is_date else (lambda v: v)
        for value in _values(doc, field):
            v = conv(value)
            if all({"gte": lambda b: v >= conv(b), "gt": lambda b: v > conv(b),
                    "lte": lambda b: v <= conv(b), "lt": lambda b: v < conv(b)}[op](b)
                   for op, b in bounds.items() if op in ("gte", "gt", "lte", "lt")):
                return True, 1.0
        return False, 0.0

    def _q_geo_distance(self, spec, doc):
        import math
        distance = spec["distance"]
        if not distance.endswith("km"):
            raise QueryError("only km distances are emulated")
        limit = float(distance[:-2])
        (field, center), = [(k, v) for k, v in spec.items() if k not in ("distance", "distance_type")]
        if self.field_type(field) != "geo_point":
            raise QueryError("failed to find geo field [%s]" % field)
        for point in _values(doc, field):
            p1, p2 = math.radians(point["lat"]), math.radians(center["lat"])
            dl = math.radians(center["lon"] - point["lon"])
            a = math.sin((p2 - p1) / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
            if 2 * 6371.0087714 * math.asin(min(1.0, math.sqrt(a))) <= limit:
                return True, 1.0
        return False, 0.0

    def _q_nested(self, spec, doc):
        path = spec["path"]
        if self.field_type(path) != "nested":
            raise QueryError("[nested] failed to find nested object under path [%s]" % path)
        mode = spec.get("score_mode", "avg")
        scores = []
        for child in _values(doc, path):
            ok, s = self.evaluate(spec["query"], self._child_view(path, child))
            if ok:
                scores.append(s)
        if not scores:
            return False, 0.0
        combined = {"max": max, "min": min, "sum": sum, "avg": lambda s: sum(s) / len(s),
                    "none": lambda s: 0.0}[mode](scores)
        return True, combined

    @staticmethod
    def _child_view(path, child):
        view = {}
        node = view
        parts = path.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = child
        return view

    def _q_function_score(self, spec, doc):
        unknown = set(spec) - {"query", "field_value_factor", "functions", "score_mode", "boost_mode", "boost"}
        if unknown:
            raise QueryError("unsupported function_score options %s" % unknown)
        if ("functions" in spec) == ("field_value_factor" in spec):
            raise QueryError("function_score needs either functions or one function")
        ok, score = self.evaluate(spec.get("query", {"match_all": {}}), doc)
        if not ok:
            return False, 0.0
        functions = spec.get("functions") or [{"field_value_factor": spec["field_value_factor"]}]
        values = [self._function(f, doc) for f in functions]
        values = [v for v in values if v is not None]        # a function whose filter does not match
        if not values:
            fn = 1.0
        else:
            mode = spec.get("score_mode", "multiply")
            combine = {"multiply": lambda v: __import__("math").prod(v), "sum": sum, "max": max, "min": min,
                       "avg": lambda v: sum(v) / len(v), "first": lambda v: v[0]}
            if mode not in combine:
                raise QueryError("unknown score_mode [%s]" % mode)
            fn = combine[mode](values)
        mode = spec.get("boost_mode", "multiply")
        if mode not in ("replace", "multiply", "sum"):
            raise QueryError("boost_mode [%s] is not emulated" % mode)
        return True, {"replace": fn, "multiply": score * fn, "sum": score + fn}[mode]

    def _function(self, function, doc):
        """One function of a function_score: its value, or None when its filter does not match."""
        unknown = set(function) - {"filter", "weight", "field_value_factor"}
        if unknown:
            raise QueryError("unsupported score function %s" % unknown)
        if "filter" in function and not self.evaluate(function["filter"], doc)[0]:
            return None
        value = float(function.get("weight", 1.0))
        fvf = function.get("field_value_factor")
        if fvf is not None:
            if fvf.get("modifier", "none") != "none":
                raise QueryError("only modifier none is emulated")
            found = _values(doc, fvf["field"])
            field_value = found[0] if found else fvf.get("missing")
            if field_value is None:
                raise QueryError("missing field [%s] and no missing value" % fvf["field"])
            value *= float(field_value) * float(fvf.get("factor", 1))
        return value

    def _q_constant_score(self, spec, doc):
        unknown = set(spec) - {"filter", "boost"}
        if unknown:
            raise QueryError("unsupported constant_score options %s" % unknown)
        ok, _ = self.evaluate(spec["filter"], doc)
        return (True, float(spec.get("boost", 1.0))) if ok else (False, 0.0)

    # ---- search ---------------------------------------------------------------
    def sort_value(self, field, hit):
        if field == "_score":
            return hit["_score"]
        values = _values(hit["_source"], field)
        if not values:
            return None
        if self.field_type(field) == "date":
            return _date_millis(values[0])
        return values[0]

    def search(self, body):
        allowed = {"query", "size", "sort", "search_after", "_source", "track_total_hits",
                   "seq_no_primary_term", "from", "aggs"}
        if set(body) - allowed:
            raise QueryError("unsupported search options %s" % (set(body) - allowed))
        query = body.get("query", {"match_all": {}})
        hits = []
        with self.lock:
            docs = list(self.docs.items())
        for _id, stored in docs:
            ok, score = self.evaluate(query, dict(stored["_source"], _id=_id))
            if ok:
                hits.append({"_index": None, "_id": _id, "_score": float(score), "_source": stored["_source"],
                             "_seq_no": stored["_seq_no"], "_primary_term": stored["_primary_term"]})
        sort = body.get("sort")
        if sort:
            keys = []
            for item in sort:
                if isinstance(item, str):
                    field, opts = item, {}
                else:
                    field, opts = next(iter(item.items()))
                    opts = opts if isinstance(opts, dict) else {"order": opts}
                order = opts.get("order", "desc" if field == "_score" else "asc")
                keys.append((field, order, opts.get("missing", "_last")))
            for hit in hits:
                hit["sort"] = [self.sort_value(f, hit) for f, _, _ in keys]
            hits.sort(key=lambda h: self._sort_key(h["sort"], keys))
            after = body.get("search_after")
            if after is not None:
                if len(after) != len(keys):
                    raise QueryError("search_after has %d values, sort has %d" % (len(after), len(keys)))
                pivot = self._sort_key(after, keys)
                hits = [h for h in hits if self._sort_key(h["sort"], keys) > pivot]
            if not any(f == "_score" for f, _, _ in keys):
                for hit in hits:
                    hit["_score"] = None
        else:
            hits.sort(key=lambda h: -h["_score"])
        aggregations = self._aggregate(body["aggs"], hits) if "aggs" in body else None
        start = int(body.get("from", 0))
        hits = hits[start:start + int(body.get("size", 10))]
        excludes = (body.get("_source") or {}).get("excludes", []) if isinstance(body.get("_source"), dict) else []
        for hit in hits:
            hit["_source"] = _exclude(hit["_source"], excludes)
            if not body.get("seq_no_primary_term"):
                hit.pop("_seq_no"), hit.pop("_primary_term")
        out = {"took": 1, "timed_out": False, "hits": {"max_score": None, "hits": hits}}
        if aggregations is not None:
            out["aggregations"] = aggregations
        return out

    def _aggregate(self, aggs, hits):
        """`terms` on a keyword field and `filter` with a query: what the adapters use."""
        out = {}
        for name, spec in aggs.items():
            kind, opts = next(iter(spec.items()))
            if kind == "terms":
                counts = {}
                for hit in hits:
                    for value in _values(hit["_source"], opts["field"]):
                        counts[value] = counts.get(value, 0) + 1
                ordered = sorted(counts.items(), key=lambda kv: (-kv[1], str(kv[0])))[:int(opts.get("size", 10))]
                out[name] = {"buckets": [{"key": k, "doc_count": n} for k, n in ordered]}
            elif kind == "filter":
                out[name] = {"doc_count": sum(1 for hit in hits if self.evaluate(
                    opts, dict(hit["_source"], _id=hit["_id"]))[0])}
            else:
                raise QueryError("unsupported aggregation %s" % kind)
        return out

    @staticmethod
    def _sort_key(values, keys):
        out = []
        for value, (_, order, missing) in zip(values, keys):
            absent = value is None
            # missing values sort last in either order (the default "_last")
            rank = (1 if absent else 0) if missing == "_last" else (0 if absent else 1)
            if absent:
                out.append((rank, 0))
            elif isinstance(value, str):
                raw = value.encode("utf-8")
                out.append((rank, _Desc(raw) if order == "desc" else raw))
            else:
                out.append((rank, -value if order == "desc" else value))
        return tuple(out)

    # ---- documents -----------------------------------------------------------
    def write(self, _id, source, params, create=False):
        with self.lock:
            current = self.docs.get(_id)
            if create and current is not None:
                return 409, _conflict(_id, "document already exists")
            if "if_seq_no" in params:
                if current is None or current["_seq_no"] != int(params["if_seq_no"]) \
                        or current["_primary_term"] != int(params["if_primary_term"]):
                    return 409, _conflict(_id, "required seqNo [%s], primary term [%s]" % (
                        params["if_seq_no"], params["if_primary_term"]))
            self.seq_no += 1
            version = (current or {}).get("_version", 0) + 1
            self.docs[_id] = {"_source": source, "_seq_no": self.seq_no, "_primary_term": 1, "_version": version}
            return (201 if current is None else 200), {
                "_id": _id, "_version": version, "result": "created" if current is None else "updated",
                "_seq_no": self.seq_no, "_primary_term": 1}

    def remove(self, _id, params):
        with self.lock:
            current = self.docs.get(_id)
            if current is None:
                return 404, {"_id": _id, "result": "not_found"}
            if "if_seq_no" in params and (current["_seq_no"] != int(params["if_seq_no"])
                                          or current["_primary_term"] != int(params["if_primary_term"])):
                return 409, _conflict(_id, "required seqNo [%s]" % params["if_seq_no"])
            del self.docs[_id]
            self.seq_no += 1
            return 200, {"_id": _id, "result": "deleted", "_seq_no": self.seq_no, "_primary_term": 1}


class _Desc:
    def __init__(self, raw):
        self.raw = raw

    def __lt__(self, other):
        return self.raw > other.raw

    def __gt__(self, other):
        return self.raw < other.raw

    def __eq__(self, other):
        return self.raw == other.raw


def _exclude(source, excludes):
    source = json.loads(json.dumps(source))
    for path in excludes:
        parts = path.split(".")
        targets = [source]
        for part in parts[:-1]:
            nxt = []
            for t in targets:
                v = t.get(part) if isinstance(t, dict) else None
                nxt.extend(v if isinstance(v, list) else [v] if v is not None else [])
            targets = nxt
        for t in targets:
            if isinstance(t, dict):
                t.pop(parts[-1], None)
    return source


def _conflict(_id, reason):
    return {"error": {"type": "version_conflict_engine_exception",
                      "reason": "[%s]: version conflict, %s" % (_id, reason)}, "status": 409}


def _error(status, kind, reason):
    return status, {"error": {"root_cause": [{"type": kind, "reason": reason}], "type": kind, "reason": reason},
                    "status": status}


class FakeOpenSearch:
    """Start with ``FakeOpenSearch().start()``; ``.url``, ``.requests``, ``.indices``."""

    def __init__(self):
        self.indices = {}
        self.requests = []
        self.failures = []  # statuses to answer with, one per request, before normal handling
        self.hook = None    # hook(recorded request) -> a status to fail it with, or None to answer normally
        self._server = None

    @property
    def url(self):
        host, port = self._server.server_address[:2]
        return "http://%s:%d" % (host, port)

    def start(self):
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            wbufsize = 1 << 16  # one write per response (no delayed-ACK stalls)

            def log_message(self, *args):
                pass

            def _handle(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
                record = Recorded(self.command, parts.path, query, {k.lower(): v for k, v in self.headers.items()}, body)
                owner.requests.append(record)
                injected = owner.failures.pop(0) if owner.failures else (owner.hook(record) if owner.hook else None)
                if injected:
                    status, payload = _error(injected, "unavailable", "injected failure")
                else:
                    try:
                        status, payload = owner.dispatch(self.command, unquote(parts.path), query, body)
                    except QueryError as e:
                        status, payload = _error(400, "parsing_exception", str(e))
                data = b"" if payload is None else json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=UTF-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _handle

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self):
        self._server.shutdown()
        self._server.server_close()

    def reset(self):
        self.indices.clear()
        self.requests.clear()
        self.failures.clear()
        self.hook = None

    # ---- routing ----------------------------------------------------------------
    def dispatch(self, method, path, query, body):
        parts = [p for p in path.split("/") if p]
        if parts == ["_bulk"] or (len(parts) == 2 and parts[1] == "_bulk"):
            return self._bulk(body, query)
        if not parts:
            return 200, {"version": {"number": "2.17.0", "distribution": "opensearch"}}
        name = parts[0]
        index = self.indices.get(name)
        if len(parts) == 1:
            if method == "HEAD":
                return (200 if index else 404), None
            if method == "PUT":
                if index:
                    return _error(400, "resource_already_exists_exception", "index [%s] already exists" % name)
                self.indices[name] = Index(json.loads(body or b"{}"))
                return 200, {"acknowledged": True, "index": name}
            if method == "DELETE":
                self.indices.pop(name, None)
                return 200, {"acknowledged": True}
        if index is None:
            return _error(404, "index_not_found_exception", "no such index [%s]" % name)
        if parts[1:] == ["_mapping"] and method in ("PUT", "POST"):
            update = json.loads(body)
            index.mappings.setdefault("properties", {}).update(update.get("properties", {}))
            return 200, {"acknowledged": True}
        if parts[1:] == ["_refresh"]:
            return 200, {"_shards": {"total": 1, "successful": 1, "failed": 0}}
        if parts[1:] == ["_search"]:
            result = index.search(json.loads(body or b"{}"))
            for hit in result["hits"]["hits"]:
                hit["_index"] = name
            return 200, result
        if len(parts) == 3 and parts[1] in ("_doc", "_create"):
            _id = parts[2]
            if method == "GET":
                doc = index.docs.get(_id)
                if doc is None:
                    return 404, {"_index": name, "_id": _id, "found": False}
                return 200, dict(doc, _index=name, _id=_id, found=True)
            if method in ("PUT", "POST"):
                create = parts[1] == "_create" or query.get("op_type") == "create"
                status, payload = index.write(_id, json.loads(body), query, create=create)
                return status, dict(payload, _index=name)
            if method == "DELETE":
                status, payload = index.remove(_id, query)
                return status, dict(payload, _index=name)
        raise QueryError("unsupported request %s %s" % (method, path))

    def _bulk(self, body, query):
        lines = [json.loads(line) for line in body.decode().splitlines() if line.strip()]
        items, errors, i = [], False, 0
        while i < len(lines):
            (verb, meta), = lines[i].items()
            i += 1
            index = self.indices.get(meta["_index"])
            params = {k: meta[k] for k in ("if_seq_no", "if_primary_term") if k in meta}
            if verb in ("index", "create"):
                source = lines[i]
                i += 1
                status, payload = index.write(meta["_id"], source, params, create=verb == "create")
            elif verb == "delete":
                status, payload = index.remove(meta["_id"], params)
            else:
                raise QueryError("unknown bulk action [%s]" % verb)
            payload = dict(payload, _index=meta["_index"], status=status)
            errors = errors or status >= 300
            items.append({verb: payload})
        return 200, {"took": 1, "errors": errors, "items": items}

"""The embedded index: one SQLite file (WAL), same documents and query semantics as OpenSearch.

Layout:
- ``photos``: one row per document (the JSON document, its version, and the
  columns queries need: owner, bucket, key, uploaded_ms).
- ``terms``: one row per (photo, term) with the best confidence of any label,
  evidence or text line of that photo the term matches (chalicelib.index.terms),
  plus the owner; text-only and colour rows carry a prefix (chalicelib.index.terms
  TEXT_PREFIX, COLOR_PREFIX).  A search sends its alternatives as one JSON
  parameter, looks each up by primary key (owner, term), keeps each group's best
  weight x confidence per photo above the cutoff and sums the groups: exactly the
  contract's semantics (chalicelib.index).

FTS5 is not used: matching is on exact normalized terms with a confidence per
term, which a plain covering index answers directly and identically to the
OpenSearch backend (FTS5's tokenizer and bm25 would differ from it).

Safe with concurrent requests: one connection per thread, WAL, busy timeout,
writes in IMMEDIATE transactions with the version check inside.  A file that stays
locked past the busy timeout, or is read-only, answers BackendUnavailable (503).
"""
import functools
import inspect
import json
import os
import sqlite3
import threading
from datetime import datetime

from chalicelib.errors import BackendUnavailable, BadRequest, VersionConflict
from chalicelib.index import (ANY, MATCHED_GROUP, Page, as_groups, decode_cursor, encode_cursor,
                              min_confidence)
from chalicelib.index.documents import term_matches
from chalicelib.index.terms import COLOR_PREFIX, TEXT_PREFIX
from chalicelib.index.filters import EARTH_RADIUS_KM, distance_km

SCHEMA = """
CREATE TABLE IF NOT EXISTS photos (
    photo_id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    bucket TEXT NOT NULL,
    key TEXT NOT NULL,
    uploaded_ms INTEGER,
    version INTEGER NOT NULL,
    doc TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS photo_colors (
    photo_id TEXT NOT NULL,
    color TEXT NOT NULL,
    PRIMARY KEY (photo_id, color)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS photos_bucket_key ON photos (bucket, key);
CREATE TABLE IF NOT EXISTS terms (
    owner TEXT NOT NULL,
    term TEXT NOT NULL,
    photo_id TEXT NOT NULL,
    best REAL NOT NULL,
    PRIMARY KEY (owner, term, photo_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS terms_photo ON terms (photo_id);
"""
HIDDEN_TERMS = "terms"
SCHEMA_VERSION = 3      # PRAGMA user_version: 3 = scoped, phrase and evidence terms (term_counts gone)
# Filter and sort columns (added to files created before them by ensure_index).
COLUMNS = (("photo_time_ms", "INTEGER"), ("taken_ms", "INTEGER"), ("camera_make", "TEXT"), ("camera_model", "TEXT"),
           ("format", "TEXT"), ("status", "TEXT"), ("lat", "REAL"), ("lon", "REAL"), ("face_count", "INTEGER"),
           ("has_text", "INTEGER"), ("content_hash", "TEXT"))
INDEXES = """
CREATE INDEX IF NOT EXISTS photos_owner_time ON photos (owner, photo_time_ms, photo_id);
CREATE INDEX IF NOT EXISTS photos_owner_hash ON photos (owner, content_hash);
"""


BUSY_TIMEOUT_SECONDS = 30.0

# Primary SQLite result codes that say the file cannot be used right now (another process holds
# the write lock, it is read-only, the disk is full...): BackendUnavailable (503, try again), not
# a bug.  Every other error (SQL errors, constraint violations) stays an internal error.
UNAVAILABLE = {5: "is locked by another process", 6: "is locked by another connection", 8: "is read-only",
               10: "cannot be read or written (I/O error)", 13: "is full (no space left)", 14: "cannot be opened",
               15: "is locked by another process"}


def unavailable(path, error):
    """BackendUnavailable for an SQLite error that waiting or an operator can cure, else None."""
    code = getattr(error, "sqlite_errorcode", None)
    what = UNAVAILABLE.get(code & 0xFF) if isinstance(code, int) else None
    if what is None and code is None and isinstance(error, sqlite3.OperationalError):
        text = str(error)          # (Python < 3.11 has no error codes)
        what = next((w for needle, w in (("locked", UNAVAILABLE[5]), ("readonly", UNAVAILABLE[8]),
                                         ("unable to open", UNAVAILABLE[14]), ("disk I/O", UNAVAILABLE[10]))
                     if needle in text), None)
    if what is None:
        return None
    return BackendUnavailable("the index database (SQLite file %s) %s: %s; try again later" % (path, what, error))


def translate_errors(cls):
    """Class decorator: in every public method, SQLite errors that mean "not now" become
    BackendUnavailable, and text SQLite cannot store (lone surrogates) becomes BadRequest."""
    for name, fn in list(vars(cls).items()):
        if inspect.isfunction(fn) and not name.startswith("_"):
            setattr(cls, name, _translated(fn))
    return cls


def _translated(fn):
    @functools.wraps(fn)
    def method(self, *args, **kwargs):
        try:
            return fn(self, *args, **kwargs)
        except sqlite3.Error as e:
            error = unavailable(self.path, e)
            if error is None:
                raise
            raise error from e
        except UnicodeEncodeError as e:
            raise BadRequest("text must be valid Unicode: %r is an unpaired surrogate" % e.object[e.start:e.end]) \
                from e
    return method


def connect(path, busy_timeout=BUSY_TIMEOUT_SECONDS):
    """A connection for one thread: WAL, autocommit (writes use Transaction); a write waits up to
    `busy_timeout` seconds for another writer's lock before it fails (BackendUnavailable)."""
    try:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        conn = sqlite3.connect(path, timeout=busy_timeout, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA busy_timeout=%d" % int(busy_timeout * 1000))
    except (sqlite3.Error, OSError) as e:
        raise BackendUnavailable("the index file %s cannot be opened: %s" % (path, e))
    return conn


def _columns(doc):
    location = doc.get("location") or {}
    return (_millis(doc.get("photo_time") or doc.get("uploaded_at")), _millis(doc.get("taken_at")), doc.get("camera_make"),
            doc.get("camera_model"), doc.get("format"), doc.get("status"), location.get("lat"), location.get("lon"),
            doc.get("face_count", 0), 1 if doc.get("has_text") else 0, doc.get("content_hash"))


def _millis(iso):
    if not iso:
        return None
    return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000)


SCOPE_PREFIX = {"any": "", "text": TEXT_PREFIX, "color": COLOR_PREFIX}     # terms-table rows per scope


def best_terms(doc):
    """{term row: best confidence} over every search term of the document (documents.term_matches;
    text-only and colour rows carry their prefix)."""
    best = {}
    for scope, term, confidence, _, _ in term_matches(doc):
        row = SCOPE_PREFIX[scope] + term
        if confidence > best.get(row, -1.0):
            best[row] = confidence
    return best


def _public(doc):
    """The stored document as searches return it (without the search-only terms)."""
    out = dict(doc)
    out.pop("search_terms", None)
    out["labels"] = [{k: v for k, v in lab.items() if k != HIDDEN_TERMS} for lab in doc.get("labels", ())]
    out["text_lines"] = [{k: v for k, v in line.items() if k != HIDDEN_TERMS} for line in doc.get("text_lines", ())]
    out["evidence"] = [{k: v for k, v in item.items() if k != HIDDEN_TERMS} for item in doc.get("evidence", ())]
    for face in out.get("faces") or ():
        face.pop("embedding", None)
    return out


@translate_errors
class SQLiteIndex:
    def __init__(self, path, busy_timeout=BUSY_TIMEOUT_SECONDS):
        self.path = path
        self.busy_timeout = busy_timeout
        self._local = threading.local()

    def _db(self):
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = connect(self.path, self.busy_timeout)
            conn.create_function("distance_km", 4, distance_km, deterministic=True)
        return conn

    def close(self):
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    # -- administration -------------------------------------------------
    def ensure_index(self):
        db = self._db()
        db.executescript(SCHEMA)
        present = {row[1] for row in db.execute("PRAGMA table_info(photos)")}
        missing = [(name, kind) for name, kind in COLUMNS if name not in present]
        with self._write() as w:
            for name, kind in missing:
                w.execute("ALTER TABLE photos ADD COLUMN %s %s" % (name, kind))
            if missing:   # derive the new columns of existing rows from their documents
                for photo_id, doc in w.execute("SELECT photo_id, doc FROM photos").fetchall():
                    self._write_columns(w, json.loads(doc))
        db.executescript(INDEXES)
        with self._write() as w:
            if w.execute("PRAGMA user_version").fetchone()[0] < SCHEMA_VERSION:
                # Files from before scoped, phrase and evidence terms lack them: derive every
                # photo's terms again, once (and drop the term counts searches no longer use).
                w.execute("DELETE FROM terms")
                for owner, photo_id, doc in w.execute("SELECT owner, photo_id, doc FROM photos").fetchall():
                    w.executemany("INSERT INTO terms (owner, term, photo_id, best) VALUES (?, ?, ?, ?)",
                                  [(owner, t, photo_id, b) for t, b in best_terms(json.loads(doc)).items()])
                w.execute("DROP TABLE IF EXISTS term_counts")
                w.execute("PRAGMA user_version = %d" % SCHEMA_VERSION)

    def _write_columns(self, db, doc):
        db.execute("UPDATE photos SET %s WHERE photo_id = ?" % ", ".join("%s = ?" % n for n, _ in COLUMNS),
                   (*_columns(doc), doc["photo_id"]))
        db.execute("DELETE FROM photo_colors WHERE photo_id = ?", (doc["photo_id"],))
        db.executemany("INSERT INTO photo_colors (photo_id, color) VALUES (?, ?)",
                       [(doc["photo_id"], c) for c in doc.get("colors") or ()])

    def refresh(self):
        pass  # a committed write is visible at once

    # -- documents ------------------------------------------------------
    def get(self, photo_id):
        row = self._db().execute("SELECT doc, version FROM photos WHERE photo_id = ?", (photo_id,)).fetchone()
        if row is None:
            return None, None
        return json.loads(row[0]), str(row[1])

    def put(self, doc, version=None):
        with self._write() as db:
            if self._put(db, doc, version) != "ok":
                raise VersionConflict()

    def delete(self, photo_id, version=ANY):
        with self._write() as db:
            outcome = self._delete(db, photo_id, version)
        if outcome == "conflict":
            raise VersionConflict()
        return outcome == "ok"

    def bulk(self, actions):
        outcomes = []
        with self._write() as db:
            for op, target, version in actions:
                if op == "put":
                    outcomes.append(self._put(db, target, version))
                else:
                    outcomes.append(self._delete(db, target, version))
        return outcomes

    def status_counts(self, owner):
        rows = self._db().execute(
            "SELECT json_extract(doc, '$.status'), json_extract(doc, '$.retryable'), COUNT(*) FROM photos "
            "WHERE owner = ? GROUP BY 1, 2", (owner,)).fetchall()
        counts = {}
        for status, retryable, n in rows:
            counts[status] = counts.get(status, 0) + n
            if status == "failed" and retryable:
                counts["retrying"] = counts.get("retrying", 0) + n
        return counts

    def _put(self, db, doc, version):
        row = db.execute("SELECT version FROM photos WHERE photo_id = ?", (doc["photo_id"],)).fetchone()
        if version is None and row is not None:
            return "conflict"
        if version is not None and version is not ANY and (row is None or str(row[0]) != str(version)):
            return "conflict"
        new_version = (row[0] + 1) if row else 1
        db.execute("INSERT OR REPLACE INTO photos (photo_id, owner, bucket, key, uploaded_ms, version, doc) "
                   "VALUES (?, ?, ?, ?, ?, ?, ?)",
                   (doc["photo_id"], doc["owner"], doc["bucket"], doc["key"], _millis(doc.get("uploaded_at")),
                    new_version, json.dumps(doc, ensure_ascii=False)))
        self._write_columns(db, doc)
        self._drop_terms(db, doc["photo_id"])
        terms = best_terms(doc)
        db.executemany("INSERT INTO terms (owner, term, photo_id, best) VALUES (?, ?, ?, ?)",
                       [(doc["owner"], term, doc["photo_id"], best) for term, best in terms.items()])
        return "ok"

    @staticmethod
    def _drop_terms(db, photo_id):
        db.execute("DELETE FROM terms WHERE photo_id = ?", (photo_id,))

    def _delete(self, db, photo_id, version):
        row = db.execute("SELECT version FROM photos WHERE photo_id = ?", (photo_id,)).fetchone()
        if row is None:
            return "missing"
        if version is not ANY and version is not None and str(row[0]) != str(version):
            return "conflict"
        db.execute("DELETE FROM photos WHERE photo_id = ?", (photo_id,))
        db.execute("DELETE FROM photo_colors WHERE photo_id = ?", (photo_id,))
        self._drop_terms(db, photo_id)
        return "ok"

    def _write(self):
        return Transaction(self._db())

    # -- queries ----------------------------------------------------------
    def search(self, owner, words, size, after=None, filters=None, sort="relevance", min_score=0.0):
        kind = "search:" + sort
        after = decode_cursor(kind, after)
        groups = as_groups(words)
        if not groups:
            return self._select(kind, owner, size, after, filters, sort)
        groups = self._existing(owner, groups)
        lows = [[min_confidence(alt, min_score) for alt in group] for _, group in groups]
        only = None
        if after is None and sort == "relevance":
            lows, only = self._first_page(owner, groups, lows, size + 1, filters) or (lows, None)
        sql, params = _search_sql(owner, groups, lows, filters, sort, only=only)
        return self._ordered(kind, sql, params, size, after, sort)

    def _existing(self, owner, groups):
        """The groups without the alternatives no photo of the owner has at all (most spelling and
        OCR slips): they could match nothing, and each costs a lookup per candidate photo."""
        terms = sorted({_row_term(alt) for _, group in groups for alt in group})
        present = {r[0] for r in self._db().execute(
            "SELECT value FROM json_each(?) WHERE EXISTS (SELECT 1 FROM terms WHERE owner = ? AND term = value)",
            (json.dumps(terms), owner))}
        return [(boost, [alt for alt in group if _row_term(alt) in present]) for boost, group in groups]

    def _count(self, owner, term, low, cap):
        """How many photos have `term` at `low` or more (counting stops past `cap`)."""
        return self._db().execute("SELECT COUNT(*) FROM (SELECT 1 FROM terms WHERE owner = ? AND term = ? AND best >= ? "
                                  "LIMIT ?)", (owner, term, low, max(0, cap) + 1)).fetchone()[0]

    def _rarest(self, owner, candidates):
        """(index, rows) of the candidate with the fewest rows, each candidate a list of (term, low)
        whose rows add up; the first of equals.  Counting stops past the fewest so far (and past
        ONLY_MAX_ROWS): a common word ("animal", most of a library) is never counted in full."""
        best, rarest = ONLY_MAX_ROWS + 1, None
        for i, pairs in enumerate(candidates):
            rows = 0
            for term, low in pairs:
                rows += self._count(owner, term, low, cap=best - 1 - rows)
                if rows >= best:
                    break
            if rows < best:
                best, rarest = rows, i
        return rarest, best

    def _first_page(self, owner, groups, lows, k, filters):
        """(lows, only photos) that give exactly the first k hits of the full ranking, or None.

        _pruned raises the lows.  When the k-th best candidate scores more than any photo that
        misses a word could, every hit matches every word: then only the photos of the word
        with the fewest rows are scored, each by primary-key lookups (the SQL's `only`)."""
        pruned = self._pruned(owner, groups, lows, k, filters)
        if pruned is None:
            return None
        lows, floor, most = pruned
        words = [g for g, (boost, _) in enumerate(groups) if not boost]
        if not words or floor <= max(sum(most) - most[g] for g in words) + 1e-6:
            return lows, None
        found, _ = self._rarest(owner, [[(_row_term(alt), low) for alt, low in zip(groups[g][1], lows[g])]
                                        for g in words])
        if found is None:         # every word has more than ONLY_MAX_ROWS rows
            return lows, None
        rarest = words[found]
        only = sorted({r[0] for alt, low in zip(groups[rarest][1], lows[rarest]) for r in self._db().execute(
            "SELECT photo_id FROM terms WHERE owner = ? AND term = ? AND best >= ?", (owner, _row_term(alt), low))})
        return lows, only

    def _pruned(self, owner, groups, lows, k, filters):
        """(higher per-alternative lows that leave the first page exactly as it is, the k-th best
        candidate's score, the most each group can add), or None.

        Scoring every photo of a common word ("animal" in most of a library) costs a pass over
        all its rows.  For the first page only the k best matter, so: take, for each group, the
        k photos its strongest alternative scores best (one sorted read of that term's rows),
        score those candidates exactly, and let L be the k-th best score.  A photo can reach L
        only if each group it matches gives at least L minus the most every other group could
        give, so a row under that is left out.  Photos that reach L keep every row; a photo that
        lost rows scores under L, below the page."""
        candidates, primary = set(), []
        for (boost, group), group_lows in zip(groups, lows):
            if boost or not group:
                continue
            n = max(range(len(group)), key=lambda i: group[i].weight)
            primary.append((_row_term(group[n]), group_lows[n]))
        joined = False
        if len(primary) > 1:
            # the best photos that have every word's strongest alternative, from the rarest one
            first, _ = self._rarest(owner, [[p] for p in primary])
            order = list(primary)
            if first is not None:       # the join starts from the rarest (the others' order matters little)
                order.insert(0, order.pop(first))
            joins = "".join(" JOIN terms t%d ON t%d.owner = t0.owner AND t%d.term = ? AND t%d.photo_id = t0.photo_id"
                            " AND t%d.best >= ?" % ((n,) * 5) for n in range(1, len(order)))
            found = [r[0] for r in self._db().execute(
                "SELECT t0.photo_id FROM terms t0%s WHERE t0.owner = ? AND t0.term = ? AND t0.best >= ? "
                "ORDER BY %s DESC, t0.photo_id LIMIT ?" % (joins, " + ".join("t%d.best" % n for n in range(len(order)))),
                [v for p in order[1:] for v in p] + [owner, *order[0], k])]
            candidates.update(found)
            joined = len(found) == k and not filters     # (the join does not apply the filters)
        for term, low in primary:
            # each word's k best photos, unless k photos have every word: a common word's sorted read
            # ("animal": most of a library) costs more than it adds then; any k candidates give a floor
            if joined and self._count(owner, term, low, SORTED_READ_MAX) > SORTED_READ_MAX:
                continue
            candidates.update(r[0] for r in self._db().execute(
                "SELECT photo_id FROM terms WHERE owner = ? AND term = ? AND best >= ? ORDER BY best DESC, photo_id "
                "LIMIT ?", (owner, term, low, k)))
        if len(candidates) < k:
            return None
        sql, params = _search_sql(owner, groups, lows, filters, "relevance", only=sorted(candidates))
        scores = sorted((r[1] for r in self._db().execute(sql, params)), reverse=True)
        if len(scores) < k:
            return None
        floor = scores[k - 1]
        most = [((0.0 if boost else MATCHED_GROUP) + max(a.weight for a in group) * 100.0) if group else 0.0
                for boost, group in groups]
        pruned = []
        for g, ((boost, group), group_lows) in enumerate(zip(groups, lows)):
            # (less a margin for the rounding of floating-point sums: keeping a row is always safe)
            need = floor - (sum(most) - most[g]) - (0.0 if boost else MATCHED_GROUP) - 1e-6
            pruned.append([max(low, need / alt.weight) for alt, low in zip(group, group_lows)])
        return pruned, floor, most

    def list(self, owner, size, after=None, filters=None, sort="newest"):
        kind = "list:" + sort
        return self._select(kind, owner, size, decode_cursor(kind, after), filters, sort)

    def _select(self, kind, owner, size, after, filters, sort):
        where, params = _where(filters or {})
        sql = ("SELECT p.photo_id AS photo_id, NULL AS score, p.photo_time_ms AS ptime FROM photos p "
               "WHERE p.owner = ?%s" % "".join(" AND " + w for w in where))
        return self._ordered(kind, sql, [owner, *params], size, after, sort)

    def _ordered(self, kind, sql, params, size, after, sort):
        column, direction = {"relevance": ("score", "DESC"), "newest": ("ptime", "DESC"),
                             "oldest": ("ptime", "ASC")}[sort]
        sql = "SELECT photo_id, score, ptime FROM (%s)" % sql
        if after:
            sql += " WHERE %s %s ? OR (%s = ? AND photo_id > ?)" % (column, "<" if direction == "DESC" else ">",
                                                                     column)
            params = params + [after[0], after[0], after[1]]
        sql += " ORDER BY %s %s, photo_id ASC LIMIT ?" % (column, direction)
        rows = self._db().execute(sql, params + [size + 1]).fetchall()
        position = 1 if sort == "relevance" else 2
        return self._page(kind, rows, size, lambda r: [r[position], r[0]], scored=sort == "relevance")

    def find_by_hash(self, owner, content_hash, exclude=None):
        row = self._db().execute("SELECT doc FROM photos WHERE owner = ? AND content_hash = ? AND status = 'indexed' "
                                 "AND photo_id != ? ORDER BY photo_id LIMIT 1",
                                 (owner, content_hash, exclude or "")).fetchone()
        return json.loads(row[0]) if row else None

    def scan(self, bucket, after_key="", size=100):
        rows = self._db().execute(
            "SELECT doc, version FROM photos WHERE bucket = ? AND key > ? ORDER BY key LIMIT ?",
            (bucket, after_key or "", size)).fetchall()
        return [(_public(json.loads(doc)), str(version)) for doc, version in rows]

    def _page(self, kind, rows, size, sort_values, scored=True):
        more = len(rows) > size
        rows = rows[:size]
        docs = {}
        if rows:
            marks = ",".join("?" * len(rows))
            for pid, doc in self._db().execute("SELECT photo_id, doc FROM photos WHERE photo_id IN (%s)" % marks,
                                               [r[0] for r in rows]):
                docs[pid] = _public(json.loads(doc))
        hits = [dict(docs[r[0]], _score=(r[1] if scored else None)) for r in rows if r[0] in docs]
        nxt = encode_cursor(kind, sort_values(rows[-1])) if more and rows else None
        return Page(hits, nxt)


ONLY_MAX_ROWS = 20000     # the most photos _first_page scores one by one (else it reads every row)
MATERIALIZED = "MATERIALIZED " if sqlite3.sqlite_version_info >= (3, 35) else ""
SORTED_READ_MAX = 30000   # _pruned reads a word's best photos in order only up to this many rows (see there)


def _search_sql(owner, groups, lows, filters, sort, only=None):
    """(sql, params) of a search (see SQLiteIndex.search): one row per alternative (group, term
    row, the smallest confidence that matches, weight); one pass over the matching term rows,
    grouped by photo, keeps each group's best weight x confidence in its own column (g0, g1...:
    the SQL text depends only on how many groups there are; every value is a parameter; measured
    35-45 % faster than grouping by (photo, group) and then by photo).  `only`: these photos."""
    alternatives = json.dumps([[g, _row_term(alt), low, alt.weight]
                               for g, ((_, group), group_lows) in enumerate(zip(groups, lows))
                               for alt, low in zip(group, group_lows)])
    bonuses = [0.0 if boost else MATCHED_GROUP for boost, _ in groups]
    best = ", ".join("MAX(CASE WHEN a.g = %d THEN t.best * a.w END) AS g%d" % (n, n) for n in range(len(groups)))
    score = " + ".join("COALESCE(? + m.g%d, 0)" % n for n in range(len(groups)))
    matched = " OR ".join("m.g%d IS NOT NULL" % n for n, bonus in enumerate(bonuses) if bonus)
    where, where_params = _where(filters or {})
    with_photos = bool(where) or sort != "relevance"   # a plain search needs only the terms
    # (the alternatives are read out of their JSON once, not at each lookup: a third faster when
    # thousands of candidates are looked up)
    sql = ("WITH a AS %s(SELECT json_extract(value, '$[0]') AS g, json_extract(value, '$[1]') AS term,"
           "       json_extract(value, '$[2]') AS low, json_extract(value, '$[3]') AS w FROM json_each(?))"
           " SELECT m.photo_id AS photo_id, %s AS score, %s AS ptime FROM ("
           " SELECT t.photo_id AS photo_id, %s"
           " FROM a%s"
           " %s terms t ON t.owner = ? AND t.term = a.term AND t.best >= a.low%s"
           " GROUP BY t.photo_id) m%s WHERE (%s)%s"
           % (MATERIALIZED, score, "p.photo_time_ms" if with_photos else "NULL", best,
              # (candidates: every (alternative, photo) pair is one primary-key lookup)
              " CROSS JOIN (SELECT value AS pid FROM json_each(?)) c" if only is not None else "",
              "CROSS JOIN" if only is not None else "JOIN",
              " AND t.photo_id = c.pid" if only is not None else "",
              " JOIN photos p ON p.photo_id = m.photo_id" if with_photos else "", matched,
              "".join(" AND " + w for w in where)))
    params = [alternatives, *bonuses] + ([json.dumps(only)] if only is not None else []) + [owner] + where_params
    return sql, params


def _row_term(alt):
    """The terms-table row an alternative looks up (scoped rows carry a prefix)."""
    return SCOPE_PREFIX[alt.scope] + alt.term


def _where(f):
    """SQL conditions on the photos row `p` for validated filters (chalicelib.index.filters)."""
    where, params = [], []
    for column, low, high in (("taken_ms", "taken_from", "taken_to"), ("uploaded_ms", "uploaded_from", "uploaded_to")):
        if low in f:
            where.append("p.%s >= ?" % column)
            params.append(_millis(f[low]))
        if high in f:
            where.append("p.%s <= ?" % column)
            params.append(_millis(f[high]))
    for name in ("camera_make", "camera_model", "format", "status"):
        if name in f:
            where.append("p.%s = ?" % name)
            params.append(f[name])
    if "has_text" in f:
        where.append("p.has_text = ?")
        params.append(1 if f["has_text"] else 0)
    if "has_faces" in f:
        where.append("p.face_count > 0" if f["has_faces"] else "p.face_count = 0")
    if "color" in f:
        where.append("EXISTS (SELECT 1 FROM photo_colors c WHERE c.photo_id = p.photo_id AND c.color = ?)")
        params.append(f["color"])
    if "photo_ids" in f:
        # Internal (people search): the photos of the named people.  json_each keeps it one parameter.
        where.append("p.photo_id IN (SELECT value FROM json_each(?))")
        params.append(json.dumps(sorted(f["photo_ids"])))
    if f.get("without_words"):
        # Internal (a query's -word): no label, evidence or text term of the photo is one of these
        # with at least the confidence without_min_confidence.
        where.append("NOT EXISTS (SELECT 1 FROM terms x WHERE x.owner = p.owner AND x.photo_id = p.photo_id "
                     "AND x.term IN (SELECT value FROM json_each(?)) AND x.best >= ?)")
        params += [json.dumps(sorted(f["without_words"])), f.get("without_min_confidence", 0.0)]
    if "near" in f:
        near = f["near"]
        dlat = near["radius_km"] / EARTH_RADIUS_KM * 57.29577951308232
        where.append("p.lat BETWEEN ? AND ? AND distance_km(p.lat, p.lon, ?, ?) <= ?")
        params += [near["lat"] - dlat, near["lat"] + dlat, near["lat"], near["lon"], near["radius_km"]]
    return where, params


class Transaction:
    def __init__(self, db):
        self.db = db

    def __enter__(self):
        self.db.execute("BEGIN IMMEDIATE")
        return self.db

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            try:
                self.db.execute("COMMIT")
            except sqlite3.Error:
                self._rollback()
                raise
        else:
            self._rollback()
        return False

    def _rollback(self):
        """Never leave the thread's connection inside a transaction (every later BEGIN would fail)."""
        if self.db.in_transaction:
            try:
                self.db.execute("ROLLBACK")
            except sqlite3.Error:
                pass    # SQLite already rolled back (e.g. after SQLITE_FULL or an I/O error)

"""An index file written by an earlier version opens, is brought up to date, and answers."""
import json
import sqlite3

from chalicelib.index.sqlite import SQLiteIndex

OLD_SCHEMA = """
CREATE TABLE photos (photo_id TEXT PRIMARY KEY, owner TEXT NOT NULL, bucket TEXT NOT NULL, key TEXT NOT NULL,
                     uploaded_ms INTEGER, version INTEGER NOT NULL, doc TEXT NOT NULL);
CREATE TABLE terms (owner TEXT NOT NULL, term TEXT NOT NULL, photo_id TEXT NOT NULL, best REAL NOT NULL,
                    PRIMARY KEY (owner, term, photo_id)) WITHOUT ROWID;
"""


def test_a_file_from_before_filters_and_term_counts_is_upgraded_in_place(tmp_path):
    path = str(tmp_path / "old.sqlite3")
    db = sqlite3.connect(path)
    db.executescript(OLD_SCHEMA)
    doc = {"photo_id": "a" * 32, "owner": "alice", "bucket": "b", "key": "usercontent/alice/cat.jpg",
           "status": "indexed", "uploaded_at": "2026-01-02T03:04:05.000Z",
           "labels": [{"name": "Cat", "confidence": 90.0, "parents": ["Animal"], "aliases": [],
                       "terms": ["cat", "animal"]}], "text_lines": []}
    db.execute("INSERT INTO photos VALUES (?, 'alice', 'b', ?, 1767323045000, 1, ?)",
               (doc["photo_id"], doc["key"], json.dumps(doc)))
    db.executemany("INSERT INTO terms VALUES ('alice', ?, ?, 90.0)", [("cat", doc["photo_id"]),
                                                                      ("animal", doc["photo_id"])])
    db.commit()
    db.close()
    index = SQLiteIndex(path)
    index.ensure_index()
    assert [h["photo_id"] for h in index.search("alice", ["cat"], 10).hits] == [doc["photo_id"]]
    assert [h["photo_id"] for h in index.list("alice", 10, filters={"uploaded_from": "2026-01-01T00:00:00.000Z"},
                                              sort="newest").hits] == [doc["photo_id"]]
    index.ensure_index()                                     # idempotent (terms derived again from the names)
    assert index.search("alice", ["cat", "animal"], 10).hits[0]["_score"] == 2180.0     # 1000 a word + 90 + 90


def test_a_file_of_schema_2_gets_todays_terms_and_loses_its_term_counts(tmp_path):
    path = str(tmp_path / "old.sqlite3")
    db = sqlite3.connect(path)
    db.executescript(OLD_SCHEMA + "CREATE TABLE term_counts (owner TEXT, term TEXT, n INTEGER);")
    doc = {"photo_id": "b" * 32, "owner": "alice", "bucket": "b", "key": "usercontent/alice/sign.jpg",
           "status": "indexed", "uploaded_at": "2026-01-02T03:04:05.000Z", "labels": [],
           "text_lines": [{"text": "NO PARKING", "confidence": 88.0, "terms": ["no", "parking"]}]}
    db.execute("INSERT INTO photos VALUES (?, 'alice', 'b', ?, 1767323045000, 1, ?)",
               (doc["photo_id"], doc["key"], json.dumps(doc)))
    db.executemany("INSERT INTO terms VALUES ('alice', ?, ?, 88.0)", [("no", doc["photo_id"]),
                                                                      ("parking", doc["photo_id"])])
    db.execute("PRAGMA user_version = 2")
    db.commit()
    db.close()
    index = SQLiteIndex(path)
    index.ensure_index()
    from chalicelib.index import Alt
    assert len(index.search("alice", [[Alt("no parking", 1.0, "text")]], 10).hits) == 1     # a phrase term now
    assert len(index.search("alice", [[Alt("noparking", 1.0, "text")]], 10).hits) == 1
    tables = {r[0] for r in sqlite3.connect(path).execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert "term_counts" not in tables

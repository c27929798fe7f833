"""The index contract: what every index backend must do, in the same words.

Runs against the OpenSearch adapter talking HTTP to tests/support's local
OpenSearch server, against the embedded SQLite index (a real file), and also
against a real cluster when OPENSEARCH_URL is set (e.g.
OPENSEARCH_URL=http://127.0.0.1:9200; a throwaway index is created and deleted).
"""
import datetime
import os
import uuid

import pytest

from chalicelib.errors import VersionConflict
from chalicelib.index import ANY, documents
from chalicelib.index.terms import query_words
from chalicelib.storage import ObjectInfo
from tests.conftest import REGION
from tests.support.rekognition import CAR, DOG, GRASS, PERSON, SPORTS_CAR, WHEEL

CAT = {"Name": "Cat", "Confidence": 90.0, "Parents": [{"Name": "Animal"}, {"Name": "Pet"}], "Aliases": [],
       "Categories": [{"Name": "Animals and Pets"}], "Instances": []}
from chalicelib.analysis import normalize_labels

BACKENDS = ["opensearch-http", "sqlite"] + (["opensearch-live"] if os.environ.get("OPENSEARCH_URL") else [])


@pytest.fixture(params=BACKENDS)
def index(request):
    from tests.conftest import make_index
    if request.param == "opensearch-http":
        server = request.getfixturevalue("opensearch")
        yield make_index(server.url)
    elif request.param == "sqlite":
        from chalicelib.index.sqlite import SQLiteIndex
        idx = SQLiteIndex(str(request.getfixturevalue("tmp_path") / "index.sqlite3"))
        idx.ensure_index()
        yield idx
        idx.close()
    else:
        from chalicelib.index.opensearch import OpenSearchIndex, make_client
        name = "photo-search-contract-" + uuid.uuid4().hex[:8]
        idx = OpenSearchIndex(make_client(os.environ["OPENSEARCH_URL"], REGION,
                                          auth_mode=os.environ.get("OPENSEARCH_AUTH", "none")),
                              name, refresh="wait_for")
        idx.ensure_index()
        yield idx
        idx.client.indices.delete(index=name)


T0 = datetime.datetime(2026, 11, 1, tzinfo=datetime.timezone.utc)


def doc(n, owner="alice", labels=(), key=None, status="indexed", minutes=0, bucket="b"):
    key = key or "usercontent/%s/photo-%03d.jpg" % (owner, n)
    info = ObjectInfo(key, "etag-%d" % n, 1000 + n, T0 + datetime.timedelta(minutes=minutes or n), "image/jpeg")
    from chalicelib.keys import photo_id
    return documents.build(photo_id(bucket, key), owner, bucket, key, info, "", status,
                           normalize_labels({"Labels": list(labels)}))


def put_all(index, *docs):
    for d in docs:
        index.put(d)
    index.refresh()
    return docs


def ids(page):
    return [h["photo_id"] for h in page.hits]


def search(index, owner, q, size=20, after=None):
    return index.search(owner, query_words(q), size, after)


# ---- documents and versions -------------------------------------------------------

def test_get_returns_what_put_stored_and_a_version(index):
    d = doc(1, labels=[CAR])
    index.put(d)
    stored, version = index.get(d["photo_id"])
    assert stored["key"] == d["key"] and stored["labels"][0]["name"] == "Car"
    assert stored["labels"][0]["parents"] == ["Vehicle", "Transportation"]
    assert version is not None


def test_get_of_a_missing_document_is_none(index):
    assert index.get("0" * 32) == (None, None)


def test_put_without_version_only_creates(index):
    d = doc(1)
    index.put(d)
    with pytest.raises(VersionConflict):
        index.put(dict(d, status="failed"))


def test_put_with_an_old_version_conflicts_and_current_version_wins(index):
    d = doc(1)
    index.put(d)
    _, v1 = index.get(d["photo_id"])
    index.put(dict(d, etag="second"), v1)
    with pytest.raises(VersionConflict):
        index.put(dict(d, etag="third"), v1)
    assert index.get(d["photo_id"])[0]["etag"] == "second"
    index.put(dict(d, etag="forced"), ANY)
    assert index.get(d["photo_id"])[0]["etag"] == "forced"


def test_delete_is_conditional_and_missing_is_fine(index):
    d = doc(1)
    index.put(d)
    _, v1 = index.get(d["photo_id"])
    index.put(dict(d, etag="changed"), v1)
    with pytest.raises(VersionConflict):
        index.delete(d["photo_id"], v1)
    assert index.delete(d["photo_id"]) is True
    assert index.delete(d["photo_id"]) is False
    assert index.get(d["photo_id"]) == (None, None)


# ---- matching --------------------------------------------------------------------------

def test_a_label_is_found_by_its_name_parents_and_aliases_in_any_case(index):
    car, dog = put_all(index, doc(1, labels=[CAR, WHEEL]), doc(2, labels=[DOG, GRASS]))
    for q in ("car", "CAR", "Vehicle", "transportation", "automobile", "wheel", "machine"):
        assert ids(search(index, "alice", q)) == [car["photo_id"]], q
    for q in ("dog", "puppy", "Animal", "mammal", "pets"):
        assert ids(search(index, "alice", q)) == [dog["photo_id"]], q


def test_plural_and_singular_find_the_same_photos(index):
    car, = put_all(index, doc(1, labels=[CAR, WHEEL]))
    assert ids(search(index, "alice", "cars")) == [car["photo_id"]]
    assert ids(search(index, "alice", "wheels")) == [car["photo_id"]]


def test_photos_matching_more_words_rank_first_and_none_never_shows(index):
    car, dog, both, cat = put_all(index, doc(1, labels=[_with_confidence(CAR, 99.0)]), doc(2, labels=[DOG]),
                                  doc(3, labels=[_with_confidence(CAR, 51.0), _with_confidence(DOG, 51.0)]),
                                  doc(4, labels=[CAT]))
    found = ids(search(index, "alice", "car dog"))
    # both words, however weakly, before one word however strongly; the cat matches neither
    assert found[0] == both["photo_id"] and set(found) == {both["photo_id"], car["photo_id"], dog["photo_id"]}
    assert ids(search(index, "alice", "car unicorn")) == [car["photo_id"], both["photo_id"]]
    assert ids(search(index, "alice", "unicorn")) == []


def test_a_multi_word_label_matches_each_of_its_words(index):
    sports, = put_all(index, doc(1, labels=[SPORTS_CAR]))
    assert ids(search(index, "alice", "sports car")) == [sports["photo_id"]]
    assert ids(search(index, "alice", "sports")) == [sports["photo_id"]]


def test_categories_and_partial_words_do_not_match(index):
    put_all(index, doc(1, labels=[CAR]))
    assert ids(search(index, "alice", "automotive")) == []
    assert ids(search(index, "alice", "ca")) == []


# ---- ranking and pages -------------------------------------------------------------------

def _with_confidence(label, confidence):
    return dict(label, Confidence=confidence)


def test_ranked_by_the_summed_best_confidence_of_each_word(index):
    low, high, mid = put_all(index,
                             doc(1, labels=[_with_confidence(CAR, 60.0)]),
                             doc(2, labels=[_with_confidence(CAR, 99.0)]),
                             doc(3, labels=[_with_confidence(CAR, 80.0), _with_confidence(SPORTS_CAR, 95.0)]))
    page = search(index, "alice", "car")
    # photo 3: its best label containing "car" is Sports Car (95) -> above 80
    assert ids(page) == [high["photo_id"], mid["photo_id"], low["photo_id"]]
    # each matched word counts MATCHED_GROUP (1000) plus its best confidence
    assert [round(h["_score"], 1) for h in page.hits] == [1099.0, 1095.0, 1060.0]
    two = search(index, "alice", "vehicle car")
    assert round(two.hits[0]["_score"], 1) == 2198.0


def test_equal_scores_are_ordered_by_photo_id(index):
    docs = put_all(index, *[doc(n, labels=[CAR]) for n in range(1, 6)])
    assert ids(search(index, "alice", "car")) == sorted(d["photo_id"] for d in docs)


def test_pages_cover_every_match_once_in_a_stable_order(index):
    docs = put_all(index, *[doc(n, labels=[_with_confidence(CAR, 50.0 + (n % 7))]) for n in range(1, 24)])
    seen, after, pages = [], None, 0
    while True:
        page = search(index, "alice", "car", size=5, after=after)
        seen.extend(ids(page))
        pages += 1
        if not page.next:
            break
        after = page.next
    assert pages == 5
    assert sorted(seen) == sorted(d["photo_id"] for d in docs) and len(seen) == len(set(seen))
    assert seen == ids(search(index, "alice", "car", size=50))


def test_list_is_newest_upload_first_and_paginates(index):
    docs = put_all(index, *[doc(n) for n in range(1, 8)])
    first = index.list("alice", 4)
    second = index.list("alice", 4, first.next)
    expected = [d["photo_id"] for d in sorted(docs, key=lambda d: d["uploaded_at"], reverse=True)]
    assert ids(first) + ids(second) == expected and second.next is None


# ---- isolation --------------------------------------------------------------------------

def test_owners_never_see_each_others_photos(index):
    a, b = put_all(index, doc(1, owner="alice", labels=[DOG]), doc(2, owner="bob", labels=[DOG, PERSON]))
    assert ids(search(index, "alice", "dog")) == [a["photo_id"]]
    assert ids(search(index, "bob", "dog")) == [b["photo_id"]]
    assert ids(search(index, "alice", "person")) == []
    assert ids(index.list("alice", 10)) == [a["photo_id"]]
    assert ids(index.list("carol", 10)) == []


def test_hostile_query_words_are_just_words(index):
    dog, = put_all(index, doc(1, labels=[DOG]))
    assert ids(search(index, "alice", 'dog"}}]}')) == [dog["photo_id"]]
    assert ids(search(index, "alice", 'match"}}]} ,{"match_all":{}}')) == []  # "match", "all" are words too
    assert ids(search(index, "bob", 'dog", "owner": "alice')) == []
    assert ids(search(index, "bob", "dog OR *")) == []


# ---- scan and bulk ----------------------------------------------------------------------

def test_scan_walks_one_bucket_in_key_byte_order_with_versions(index):
    keys = ["usercontent/u/b.jpg", "usercontent/u/a b.jpg", "usercontent/u/é.jpg", "usercontent/u/Z.jpg",
            "usercontent/u/a+b.jpg", "usercontent/u/日本.jpg"]
    for n, key in enumerate(keys):
        index.put(doc(n, owner="u", key=key))
    index.put(doc(99, owner="u", key="usercontent/u/other-bucket.jpg", bucket="other"))
    index.refresh()
    walked, after = [], ""
    while True:
        page = index.scan("b", after, 4)
        walked.extend(d["key"] for d, _ in page)
        assert all(v is not None for _, v in page)
        if len(page) < 4:
            break
        after = page[-1][0]["key"]
    assert walked == sorted(keys, key=lambda k: k.encode("utf-8"))


def test_bulk_reports_each_outcome(index):
    a, b = doc(1), doc(2)
    index.put(a)
    _, va = index.get(a["photo_id"])
    index.put(dict(a, etag="newer"), va)
    out = index.bulk([("put", doc(3), None), ("put", dict(a, etag="stale"), va), ("delete", b["photo_id"], ANY),
                      ("put", dict(doc(4)), ANY)])
    assert out == ["ok", "conflict", "missing", "ok"]
    assert index.get(a["photo_id"])[0]["etag"] == "newer"
    assert index.get(doc(3)["photo_id"])[0] is not None


# ---- text read in photos -------------------------------------------------------------------

def text_doc(n, lines, owner="alice", labels=()):
    d = doc(n, owner=owner, labels=labels)
    text = [{"text": t, "confidence": c, "box": {"left": 0.1, "top": 0.1, "width": 0.5, "height": 0.1},
             "words": []} for t, c in lines]
    info = ObjectInfo(d["key"], d["etag"], d["size"], T0, "image/jpeg")
    return documents.build(d["photo_id"], owner, "b", d["key"], info, "", "indexed",
                           normalize_labels({"Labels": list(labels)}), text=text)


def test_a_word_of_the_text_in_a_photo_finds_it(index):
    sign, dog = put_all(index, text_doc(1, [("OPEN 24 HOURS", 99.0), ("Café Zürich", 90.0)]),
                        doc(2, labels=[DOG]))
    for q in ("open", "OPEN hours", "24", "cafe", "zurich"):
        assert ids(search(index, "alice", q)) == [sign["photo_id"]], q
    assert ids(search(index, "bob", "open")) == []


def test_words_may_match_labels_and_text_together(index):
    both, = put_all(index, text_doc(1, [("BEWARE OF THE DOG", 80.0)], labels=[DOG, GRASS]))
    assert ids(search(index, "alice", "beware grass")) == [both["photo_id"]]


def test_a_word_in_both_a_label_and_the_text_scores_its_best_once(index):
    d, = put_all(index, text_doc(1, [("DOG", 80.0)], labels=[_with_confidence(DOG, 60.0)]))
    assert round(search(index, "alice", "dog").hits[0]["_score"], 1) == 1080.0


# ---- concurrency --------------------------------------------------------------------------

def test_concurrent_writers_with_the_same_version_exactly_one_wins(index):
    import threading
    d = doc(1, labels=[DOG])
    index.put(d)
    _, version = index.get(d["photo_id"])
    results, barrier = [], threading.Barrier(8)

    def writer(i):
        barrier.wait()
        try:
            index.put(dict(d, etag="writer-%d" % i), version)
            results.append("ok")
        except VersionConflict:
            results.append("conflict")

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(8)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert sorted(results) == ["conflict"] * 7 + ["ok"]
    index.refresh()
    assert len(search(index, "alice", "dog").hits) == 1


def test_concurrent_creates_and_searches_lose_nothing(index):
    import threading
    errors = []

    def create(start):
        try:
            for n in range(start, start + 10):
                index.put(doc(n, labels=[CAR]))
                search(index, "alice", "car")
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=create, args=(s,)) for s in (100, 200, 300, 400)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    index.refresh()
    assert not errors and len(search(index, "alice", "car", size=100).hits) == 40



# ---- filters and sorting -----------------------------------------------------------------------

def meta_doc(n, taken=None, make=None, model=None, gps=None, fmt="jpeg", faces=0, text=(), colors=(),
             status="indexed", labels=(DOG,), minutes=None):
    d = doc(n, labels=labels, status=status, minutes=minutes)
    metadata = {"format": fmt, "width": 100, "height": 100, "orientation": 1}
    if taken:
        metadata.update(taken_at=taken, taken_at_utc=taken, taken_at_has_zone=True)
    if make:
        metadata["camera_make"] = make
    if model:
        metadata["camera_model"] = model
    if gps:
        metadata["gps"] = {"lat": gps[0], "lon": gps[1]}
    props = {"quality": {}, "dominant_colors": [{"simplified": c, "percent": 40.0} for c in colors]}
    lines = [{"text": t, "confidence": 90.0, "box": {}, "words": []} for t in text]
    face_list = [{"box": {}, "confidence": 99.0, "landmarks": []} for _ in range(faces)]
    info = ObjectInfo(d["key"], d["etag"], d["size"], T0 + datetime.timedelta(minutes=minutes or n), "image/jpeg")
    return documents.build(d["photo_id"], "alice", "b", d["key"], info, "", status,
                           normalize_labels({"Labels": list(labels)}), text=lines, properties=props, faces=face_list,
                           metadata=metadata)


@pytest.fixture
def library(index):
    """Six photos of alice with different metadata (and one of bob)."""
    photos = {
        "pug": meta_doc(1, taken="2023-02-21T11:33:08Z", make="Apple", model="iPhone 13 Pro",
                        gps=(44.8504778, 34.9766472), fmt="heic", colors=("brown",)),
        "pixel": meta_doc(2, taken="2024-05-07T01:33:04Z", make="Google", model="Pixel 6",
                          gps=(30.62765, 119.7387667), faces=2, colors=("green", "blue")),
        "canon": meta_doc(3, taken="2013-12-17T14:04:24Z", make="Canon", model="Canon PowerShot G1 X Mark II",
                          text=("OPEN",), colors=("red",)),
        "nearby": meta_doc(4, gps=(44.90, 34.98), fmt="png", faces=1, minutes=5),
        "failed": meta_doc(5, status="failed", labels=(), minutes=6),
        "sign": meta_doc(6, text=("EXIT",), labels=(CAR,), minutes=7),
    }
    put_all(index, *photos.values())
    index.put(meta_doc(50, taken="2023-02-21T11:00:00Z", make="Apple"))   # doc(50) is alice's too...
    bob = dict(meta_doc(51, make="Apple"), owner="bob", photo_id="b" * 32)
    put_all(index, bob)
    photos["extra"] = index.get(meta_doc(50)["photo_id"])[0]
    return photos


def listed(index, sort="newest", **params):
    from chalicelib.index.filters import parse
    return ids(index.list("alice", 50, None, parse(params), sort))


def names_of(library, page_ids):
    by_id = {d["photo_id"]: name for name, d in library.items()}
    return [by_id[i] for i in page_ids]


def test_filters_select_by_time_camera_faces_text_colour_format_and_status(index, library):
    assert set(names_of(library, listed(index, taken_from="2023-01-01", taken_to="2023-12-31"))) == {"pug", "extra"}
    assert names_of(library, listed(index, taken_to="2014-01-01")) == ["canon"]
    assert set(names_of(library, listed(index, camera_make="APPLE"))) == {"pug", "extra"}
    assert names_of(library, listed(index, camera_model="pixel 6")) == ["pixel"]
    assert set(names_of(library, listed(index, has_faces="true"))) == {"pixel", "nearby"}
    assert "pixel" not in names_of(library, listed(index, has_faces="false"))
    assert set(names_of(library, listed(index, has_text="true"))) == {"canon", "sign"}
    assert names_of(library, listed(index, color="red")) == ["canon"]
    assert names_of(library, listed(index, format="heic")) == ["pug"]
    assert names_of(library, listed(index, status="failed")) == ["failed"]
    assert names_of(library, listed(index, camera_make="apple", taken_to="2023-02-21T11:10:00Z")) == ["extra"]


def test_uploaded_range_uses_the_upload_time(index, library):
    got = names_of(library, listed(index, uploaded_from=(T0 + datetime.timedelta(minutes=5)).isoformat(),
                                   uploaded_to=(T0 + datetime.timedelta(minutes=6)).isoformat()))
    assert set(got) == {"nearby", "failed"}


def test_within_a_radius_of_a_point(index, library):
    assert set(names_of(library, listed(index, near="44.85,34.97", radius_km="10"))) == {"pug", "nearby"}
    assert names_of(library, listed(index, near="44.85,34.97", radius_km="1")) == ["pug"]
    assert names_of(library, listed(index, near="30.6,119.7", radius_km="50")) == ["pixel"]
    assert listed(index, near="0,0", radius_km="100") == []


def test_sorting_by_photo_time_newest_and_oldest(index, library):
    newest = names_of(library, listed(index, sort="newest"))
    # no capture time: the upload time (2026) counts, so "sign" is newest; "canon" (taken 2013) oldest
    assert newest[0] == "sign" and newest[-1] == "canon" and newest.index("pixel") < newest.index("pug")
    assert names_of(library, listed(index, sort="oldest")) == list(reversed(newest))


def test_words_and_filters_combine_and_sort_by_time(index, library):
    from chalicelib.index.filters import parse
    dogs = index.search("alice", ["dog"], 50, None, parse({"has_faces": "true"}), "relevance")
    assert set(names_of(library, ids(dogs))) == {"pixel", "nearby"}
    by_time = index.search("alice", ["dog"], 50, None, parse({}), "oldest")
    assert names_of(library, ids(by_time))[0] == "canon"
    assert all(h["_score"] is None for h in by_time.hits)


def test_filtered_pages_cover_everything_once(index, library):
    from chalicelib.index.filters import parse
    seen, after = [], None
    while True:
        page = index.list("alice", 2, after, parse({"status": "indexed"}), "oldest")
        seen.extend(ids(page))
        if not page.next:
            break
        after = page.next
    assert seen == listed(index, sort="oldest", status="indexed") and len(seen) == 6



def test_find_by_hash_returns_only_the_owners_indexed_photo(index):
    a = dict(doc(1), content_hash="h" * 64)
    failed = dict(doc(2, status="failed"), content_hash="f" * 64)
    bobs = dict(doc(3, owner="bob"), content_hash="h" * 64)
    put_all(index, a, failed, bobs)
    assert index.find_by_hash("alice", "h" * 64)["photo_id"] == a["photo_id"]
    assert index.find_by_hash("bob", "h" * 64)["photo_id"] == bobs["photo_id"]
    assert index.find_by_hash("alice", "f" * 64) is None
    assert index.find_by_hash("carol", "h" * 64) is None
    assert index.find_by_hash("alice", "h" * 64, exclude=a["photo_id"]) is None       # not the photo itself
    twin = dict(doc(4), content_hash="h" * 64)
    put_all(index, twin)
    assert index.find_by_hash("alice", "h" * 64, exclude=min(a["photo_id"], twin["photo_id"]))["photo_id"] == \
        max(a["photo_id"], twin["photo_id"])


def test_without_words_leaves_out_photos_with_a_label_or_text_of_those_words(index, library):
    """A query's -word (chalicelib.query), as the internal filter `without_words`."""
    everyone = set(listed(index))
    no_dogs = set(ids(index.list("alice", 50, None, {"without_words": ["dog"]}, "newest")))
    assert no_dogs == {library["sign"]["photo_id"], library["failed"]["photo_id"]}    # a car; no labels at all
    no_exit = set(ids(index.list("alice", 50, None, {"without_words": ["exit", "open"]}, "newest")))
    assert no_exit == everyone - {library["sign"]["photo_id"], library["canon"]["photo_id"]}
    found = ids(index.search("alice", ["dog"], 50, None, {"without_words": ["open"]}))
    assert library["canon"]["photo_id"] not in found and library["pug"]["photo_id"] in found
    assert ids(index.search("alice", ["dog"], 50, None, {"without_words": ["dog"]})) == []


# ---- groups of weighted alternatives (what chalicelib.query sends) ----------------------------

from chalicelib.index import Alt  # noqa: E402


def rich_doc(n, labels=(), lines=(), evidence=(), colors=(), owner="alice"):
    """A document with labels, text lines, evidence and dominant colours (each >= 10 %)."""
    d = doc(n, owner=owner)
    info = ObjectInfo(d["key"], d["etag"], d["size"], T0 + datetime.timedelta(minutes=n), "image/jpeg")
    text = [{"text": t, "confidence": c, "box": {"left": 0.1, "top": 0.1, "width": 0.5, "height": 0.1},
             "words": []} for t, c in lines]
    props = {"dominant_colors": [{"simplified": c, "percent": 30.0} for c in colors]}
    return documents.build(d["photo_id"], owner, "b", d["key"], info, "", "indexed",
                           normalize_labels({"Labels": list(labels)}), text=text, properties=props,
                           evidence=[{"name": name, "confidence": c} for name, c in evidence])


def test_a_weighted_alternative_scores_weight_times_confidence(index):
    cat, = put_all(index, rich_doc(1, labels=[CAT]))
    page = index.search("alice", [[Alt("kitty", 1.0, "any"), Alt("cat", 0.9, "any")]], 10)
    assert ids(page) == [cat["photo_id"]] and round(page.hits[0]["_score"], 3) == 1000 + 81.0


def test_the_best_alternative_of_a_group_counts_once(index):
    cat, = put_all(index, rich_doc(1, labels=[CAT]))      # Cat 90, parents Animal, Pet
    page = index.search("alice", [[Alt("cat", 1.0, "any"), Alt("animal", 0.5, "any"), Alt("pet", 0.9, "any")]], 10)
    assert round(page.hits[0]["_score"], 3) == 1090.0


def test_the_cutoff_drops_weak_matches_of_each_alternative(index):
    strong, weak = put_all(index, rich_doc(1, labels=[_with_confidence(CAT, 90.0)]),
                           rich_doc(2, labels=[_with_confidence(CAT, 30.0)]))
    group = [[Alt("cat", 0.5, "any")]]
    assert ids(index.search("alice", group, 10, min_score=20)) == [strong["photo_id"]]   # 0.5 x 30 = 15 < 20
    assert ids(index.search("alice", group, 10, min_score=15)) == [strong["photo_id"], weak["photo_id"]]
    assert ids(index.search("alice", group, 10, min_score=46)) == []


def test_whole_multi_word_names_are_terms(index):
    sports, = put_all(index, rich_doc(1, labels=[SPORTS_CAR]))
    # (terms are normalized words: plural-folded, as chalicelib.index.terms.tokens makes them)
    assert ids(index.search("alice", [[Alt("sport car", 0.9, "any")]], 10)) == [sports["photo_id"]]
    assert ids(index.search("alice", [[Alt("car sport", 0.9, "any")]], 10)) == []


def test_evidence_is_searchable_but_not_a_label(index):
    arch, = put_all(index, rich_doc(1, labels=[_with_confidence(CAR, 20.0)], evidence=[("Monument", 40.0),
                                                                                         ("Ice Cream", 12.0)]))
    page = index.search("alice", ["monument"], 10)
    assert ids(page) == [arch["photo_id"]] and round(page.hits[0]["_score"], 1) == 1040.0
    assert [lab["name"] for lab in page.hits[0]["labels"]] == ["Car"]
    assert ids(index.search("alice", [[Alt("ice cream", 0.8, "any")]], 10, min_score=10)) == []   # 9.6 < 10


def test_text_scope_matches_only_text_read_in_the_photo(index):
    sign, dog = put_all(index, rich_doc(1, lines=[("BEWARE OF THE DOG", 80.0)]), rich_doc(2, labels=[DOG]))
    assert ids(index.search("alice", [[Alt("dog", 1.0, "text")]], 10)) == [sign["photo_id"]]
    assert set(ids(index.search("alice", [[Alt("dog", 1.0, "any")]], 10))) == {sign["photo_id"], dog["photo_id"]}


def test_text_has_neighbouring_words_as_phrases_and_run_together(index):
    a, b = put_all(index, rich_doc(1, lines=[("NO PARKING", 90.0)]), rich_doc(2, lines=[("NOPARKING", 70.0)]))
    assert ids(index.search("alice", [[Alt("no parking", 1.0, "text")]], 10)) == [a["photo_id"]]
    assert ids(index.search("alice", [[Alt("noparking", 1.0, "text")]], 10)) == [a["photo_id"], b["photo_id"]]
    assert ids(index.search("alice", [[Alt("parking no", 1.0, "text")]], 10)) == []


def test_color_scope_matches_dominant_colours_at_a_fixed_confidence(index):
    red_car, blue_car, red_wall = put_all(index, rich_doc(1, labels=[CAR], colors=["red"]),
                                          rich_doc(2, labels=[CAR], colors=["blue"]),
                                          rich_doc(3, labels=[GRASS], colors=["red", "green"]))
    groups = ["car", [Alt("red", 1.0, "any"), Alt("red", 0.6, "color")]]
    page = index.search("alice", groups, 10)
    assert ids(page)[0] == red_car["photo_id"] and set(ids(page)) == {red_car["photo_id"], blue_car["photo_id"],
                                                                       red_wall["photo_id"]}
    assert round(page.hits[0]["_score"], 3) == 2000 + CAR["Confidence"] + 60.0
    assert ids(index.search("alice", [[Alt("red", 0.6, "color")]], 10, min_score=61)) == []


def test_without_words_ignores_matches_under_the_given_confidence(index):
    weak, strong = put_all(index, rich_doc(1, labels=[CAR], evidence=[("Beach", 5.0)]),
                           rich_doc(2, labels=[CAR], evidence=[("Beach", 50.0)]))
    found = ids(index.search("alice", ["car"], 10, None, {"without_words": ["beach"], "without_min_confidence": 15}))
    assert found == [weak["photo_id"]]


def test_a_misspelt_word_of_text_finds_it_through_its_slips(index):
    """What chalicelib.query sends for "wivennoe": every edit-distance-1 slip, text only."""
    from chalicelib.query.expand import edits
    sign, = put_all(index, rich_doc(1, lines=[("Wivenhoe Station", 88.0)]))
    group = [Alt("wivennoe", 1.0, "any")] + [Alt(w, 0.8, "text") for w in edits("wivennoe")]
    page = index.search("alice", [group], 10)
    assert ids(page) == [sign["photo_id"]] and round(page.hits[0]["_score"], 1) == 1000 + 70.4


def test_a_boost_group_lifts_hits_and_never_makes_one(index):
    red_car, blue_car, red_wall = put_all(index, rich_doc(1, labels=[CAR], colors=["red"]),
                                          rich_doc(2, labels=[CAR], colors=["blue"]),
                                          rich_doc(3, labels=[GRASS], colors=["red"]))
    from chalicelib.index import BOOST
    page = index.search("alice", ["car", [BOOST, Alt("red", 0.6, "color")]], 10)
    assert ids(page) == [red_car["photo_id"], blue_car["photo_id"]]          # never the red wall
    assert [round(h["_score"], 3) for h in page.hits] == [1000 + CAR["Confidence"] + 60.0, 1000 + CAR["Confidence"]]

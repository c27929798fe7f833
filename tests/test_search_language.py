"""Search in the words people use, on both configurations (OpenSearch + S3, SQLite + disk),
through the app's routes: stop words, synonyms, misspellings, OCR slips, phrases, colours,
dates, ranked partial matches and the relevance cutoff.  The same library answers every
query with the same photos in the same order on both backends."""
import datetime
from urllib.parse import urlencode

import pytest
from chalice.test import Client

import app as app_module
from chalicelib.analysis import normalize_labels
from chalicelib.index import ANY, documents
from chalicelib.keys import photo_id
from chalicelib.query import dates, expand, parse
from chalicelib.storage import ObjectInfo
from tests.support import images, stacks


def label(name, confidence, parents=(), aliases=()):
    return {"Name": name, "Confidence": confidence, "Parents": [{"Name": p} for p in parents],
            "Aliases": [{"Name": a} for a in aliases], "Categories": [], "Instances": []}


CAT = label("Cat", 92.0, ["Animal", "Mammal", "Pet"])
DOG = label("Dog", 90.0, ["Animal", "Canine", "Mammal", "Pet"])
BEACH = label("Beach", 80.0, ["Nature", "Outdoors", "Coast"])
CAR = label("Car", 95.0, ["Vehicle", "Transportation"], ["Automobile"])
MOTORCYCLE = label("Motorcycle", 88.0, ["Vehicle", "Transportation"])
ESPRESSO = label("Espresso", 70.0, ["Beverage", "Coffee"])
COFFEE_MUG = label("Coffee Mug", 60.0, ["Cup"])
ARCH = label("Triumphal Arch", 75.0, ["Arch", "Architecture", "Building", "Monument", "Landmark"])
HOT_DOG = label("Hot Dog", 85.0, ["Sandwich", "Food"])

LIBRARY = {
    # name: (labels, text lines, evidence, colours, taken)
    "cat": ([CAT], [], [], ["grey"], "2019-07-04"),
    "dog_beach": ([DOG, BEACH], [], [], ["blue", "yellow"], "2021-07-15"),
    "dog_park": ([DOG], [], [], ["green"], "2019-03-01"),
    "beach": ([BEACH], [], [], ["blue"], "2021-08-01"),
    "red_car": ([CAR], [], [], ["red"], "2018-05-05"),
    "blue_car": ([CAR], [], [], ["blue"], "2019-12-30"),
    "motorbike": ([MOTORCYCLE], [], [], ["black"], None),
    "coffee": ([ESPRESSO, COFFEE_MUG], [], [], ["brown"], None),
    "arch": ([ARCH], [], [], ["grey"], None),
    "hot_dog": ([HOT_DOG], [], [], ["red"], None),
    "sign": ([], [("NOPARKING", 90.0), ("Wivenhoe Station", 85.0)], [], ["white"], None),
    "open": ([label("Signboard", 60.0)], [("OPEN 24 HOURS", 95.0), ("fresh bread daily", 80.0)], [], ["red"], None),
    "weak": ([], [], [("Monument", 12.0), ("Cat", 9.0)], [], None),
    "otter": ([label("Otter", 80.0, ["Animal", "Mammal"])], [], [], ["brown"], None),
    "oranges": ([label("Orange", 54.0, ["Citrus Fruit", "Fruit", "Food"])], [], [], ["green"], None),
    "sunset": ([label("Sky", 70.0, ["Nature", "Outdoors"])], [], [], ["orange"], None),
}


@pytest.fixture(params=["aws", "local"])
def stack(request, monkeypatch, tmp_path):
    s = stacks.aws(request, monkeypatch) if request.param == "aws" else stacks.local(monkeypatch, tmp_path)
    monkeypatch.setenv("SEARCH_MIN_SCORE", "15")
    return s


def seed(stack, owner="alice"):
    """The library above, stored and indexed for `owner`: {name: photo_id}."""
    services, sub = stack.services, stack.subs[owner]
    out = {}
    for n, (name, (labels, lines, evidence, colors, taken)) in enumerate(sorted(LIBRARY.items())):
        key = "usercontent/%s/%s.jpg" % (sub, name)
        info = services.storage.write(key, images.jpeg())
        info = ObjectInfo(key, info.etag, info.size, datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
                          + datetime.timedelta(minutes=n), "image/jpeg")
        text = [{"text": t, "confidence": c, "box": {"left": 0.1, "top": 0.1, "width": 0.5, "height": 0.1},
                 "words": []} for t, c in lines]
        doc = documents.build(photo_id(services.storage.bucket, key), sub, services.storage.bucket, key, info, "",
                              documents.STATUS_INDEXED, normalize_labels({"Labels": labels}), text=text,
                              properties={"dominant_colors": [{"simplified": c, "percent": 40.0} for c in colors]},
                              metadata={"taken_at_utc": taken + "T12:00:00.000Z"} if taken else None,
                              evidence=[{"name": e, "confidence": c} for e, c in evidence])
        services.index.put(doc, ANY)
        out[doc["photo_id"]] = name
    services.index.refresh()
    return out


def search(stack, q, owner="alice", **params):
    r = Client(app_module.app).http.get("/photos?" + urlencode(dict(params, q=q)), headers=stack.headers[owner])
    assert r.status_code == 200, r.json_body
    return r.json_body


def names(stack, library, q, **params):
    return [library[p["photo_id"]] for p in search(stack, q, **params)["photos"]]


@pytest.mark.parametrize("q,first", [
    ("kitty", {"cat"}), ("kitten", {"cat"}), ("photos of a cat", {"cat"}), ("puppy", {"dog_park", "dog_beach"}),
    ("motorbike", {"motorbike"}), ("automobile", {"red_car", "blue_car"}), ("mug", {"coffee"}),
    ("coffee", {"coffee"}), ("monument", {"arch"}), ("cup of coffee", {"coffee"}),
])
def test_words_people_use_find_the_labelled_photos(stack, q, first):
    library = seed(stack)
    found = names(stack, library, q)
    assert found and found[0] in first, found


def test_a_synonym_says_how_it_matched_and_scores_below_the_word_itself(stack):
    library = seed(stack)
    kitty = search(stack, "kitty")["photos"][0]
    cat = search(stack, "cat")["photos"][0]
    assert library[kitty["photo_id"]] == "cat"
    match, = kitty["matched"]
    assert match["word"] == "kitty" and match["label"] == "Cat" and match["via"] in ("synonym", "wordnet")
    assert match["confidence"] == 92.0
    assert cat["matched"] == [{"word": "cat", "label": "Cat", "via": "word", "confidence": 92.0}]
    assert kitty["score"] < cat["score"]


def test_more_matched_words_rank_first_and_unmatched_photos_never_show(stack):
    library = seed(stack)
    found = names(stack, library, "dog on the beach")
    assert found[0] == "dog_beach" and set(found) == {"dog_beach", "dog_park", "beach"}
    assert names(stack, library, "unicorn") == []


def test_a_hot_dog_is_no_dog_but_hot_dog_finds_it_first(stack):
    library = seed(stack)
    assert set(names(stack, library, "dog")) == {"dog_beach", "dog_park"}
    found = search(stack, "hot dog")["photos"]
    assert [library[p["photo_id"]] for p in found][:1] == ["hot_dog"]
    assert {"word": "dog", "label": "Hot Dog", "via": "phrase", "confidence": 85.0} in found[0]["matched"]


def test_misspelt_words_are_forgiven(stack):
    library = seed(stack)
    assert names(stack, library, "motorcyle")[:1] == ["motorbike"]       # a slip of a known word
    assert names(stack, library, "Wivennoe") == ["sign"]                  # an OCR slip, in text read
    assert names(stack, library, "no parking") == ["sign"]                # NOPARKING, read without a space


def test_a_slip_of_any_word_a_label_can_have_is_corrected(stack):
    """"otter" is a label word the shipped word table has no entry for; "otetr" swaps two letters."""
    assert "otter" not in expand.table()["words"]
    library = seed(stack)
    found = search(stack, "otetr")["photos"]
    assert [library[p["photo_id"]] for p in found] == ["otter"]
    assert found[0]["matched"] == [{"word": "otetr", "label": "Otter", "via": "spelling", "confidence": 80.0}]


def test_real_words_are_never_corrected_and_slips_go_to_words_that_find_something():
    def slips(word):
        return [t.alt.term for t in expand.word_terms(word, live=False) if t.via == "spelling"]
    assert slips("tall") == [] and slips("femur") == [] and slips("strong") == []    # English words
    assert slips("hatred") == [] and slips("rested") == []     # not "haired", "crested" (words of label names)
    assert slips("otetr") == ["otter"] and slips("motorcyle")[:1] == ["motorcycle"]
    assert "elegant" not in slips("elegnat")        # a dictionary word that finds nothing is no correction
    assert slips("rainy") == ["rain"] and slips("foggy") == ["fog"]        # an adjective means its noun
    assert "bus" in slips("buse")            # not a word: still corrected


def test_a_colour_word_in_the_plural_is_a_thing(stack):
    library = seed(stack)
    assert names(stack, library, "oranges") == ["oranges"]           # the fruit, not every orange picture
    assert set(names(stack, library, "orange")) == {"oranges", "sunset"}   # the fruit or the colour


def test_a_quoted_phrase_matches_text_read_as_a_phrase(stack):
    library = seed(stack)
    assert names(stack, library, '"fresh bread"') == ["open"]
    assert names(stack, library, '"bread fresh"') == []
    assert names(stack, library, "sign that says open") == ["open"]


def test_a_colour_word_ranks_photos_of_that_colour_first(stack):
    library = seed(stack)
    found = names(stack, library, "red car")
    assert found[:2] == ["red_car", "blue_car"]
    hit = search(stack, "red car")["photos"][0]
    assert {"word": "red", "color": "red", "via": "color", "confidence": 100.0} in hit["matched"]


def test_date_phrases_become_the_taken_filters(stack):
    library = seed(stack)
    assert set(names(stack, library, "dog taken in 2019")) == {"dog_park"}
    assert set(names(stack, library, "beach summer 2021")) == {"dog_beach", "beach"}
    body = search(stack, "photos from 2019")
    assert {library[p["photo_id"]] for p in body["photos"]} == {"cat", "dog_park", "blue_car"}
    assert body["query"]["date_filters"] == {"taken_from": "2019-01-01", "taken_to": "2019-12-31"}


def test_weak_evidence_stays_under_the_cutoff(stack, monkeypatch):
    library = seed(stack)
    assert names(stack, library, "monument") == ["arch"]          # the arch's parent; "weak" has 12 < 15
    monkeypatch.setenv("SEARCH_MIN_SCORE", "10")
    assert names(stack, library, "monument") == ["arch", "weak"]


def test_minus_a_word_excludes_and_only_stop_words_are_400(stack):
    library = seed(stack)
    assert set(names(stack, library, "dog -beach")) == {"dog_park"}
    r = Client(app_module.app).http.get("/photos?q=the%20of%20a", headers=stack.headers["alice"])
    assert r.status_code == 400 and "what is in the photo" in r.json_body["message"]


def test_another_owner_finds_nothing_by_any_route(stack):
    seed(stack)
    for q in ("cat", "kitty", "no parking", '"fresh bread"', "red car", "photos from 2019"):
        assert search(stack, q, owner="bob")["photos"] == [], q


QUERIES = ["cat", "kitty", "photos of a cat", "dog on the beach", "motorcyle", "Wivennoe", "no parking",
           '"fresh bread"', "sign that says open", "red car", "dog taken in 2019", "monument", "coffee",
           "mug", "animal", "dog -beach", "car vehicle automobile", "dog", "hot dog", "otetr", "oranges", "orange"]


def test_both_backends_answer_every_query_kind_with_the_same_photos_in_the_same_order(request, monkeypatch,
                                                                                         tmp_path):
    answers = {}
    for kind in ("aws", "local"):
        s = stacks.aws(request, monkeypatch) if kind == "aws" else stacks.local(monkeypatch, tmp_path / kind)
        library = seed(s)
        answers[kind] = {q: _ranked([(library[p["photo_id"]], p["score"]) for p in search(s, q)["photos"]])
                         for q in QUERIES}
    for q in QUERIES:
        assert answers["aws"][q] and answers["aws"][q] == answers["local"][q], q


def _ranked(hits):
    """[(score, {names})] in order: equal scores are ordered by photo id, and photo ids differ
    between the stacks (they hash the bucket's name), so ties are compared as sets."""
    out = []
    for name, score in hits:
        if out and out[-1][0] == score:
            out[-1][1].add(name)
        else:
            out.append((score, {name}))
    return out


# ---- the parts, on their own -------------------------------------------------------------------

def test_date_words_read_against_a_fixed_today():
    today = datetime.date(2026, 11, 30)
    assert dates.read(["last", "summer"], today)[0] == {"taken_from": "2026-06-01", "taken_to": "2026-08-31"}
    assert dates.read(["this", "winter"], today)[0] == {"taken_from": "2025-12-01", "taken_to": "2026-02-28"}
    assert dates.read(["winter", "2021"], today)[0] == {"taken_from": "2020-12-01", "taken_to": "2021-02-28"}
    assert dates.read(["last", "month"], today)[0] == {"taken_from": "2026-10-01", "taken_to": "2026-10-31"}
    assert dates.read(["june", "of", "2020"], today)[0] == {"taken_from": "2020-06-01", "taken_to": "2020-06-30"}
    assert dates.read(["taken", "in", "1999", "cat"], today) == (
        {"taken_from": "1999-01-01", "taken_to": "1999-12-31"}, ["cat"], ["taken", "in", "1999"])
    assert dates.read(["may", "flower"], today) == ({}, ["may", "flower"], [])      # "may" alone is a word
    assert dates.read(["room", "101"], today)[0] == {}


def test_parse_sorts_the_words_into_their_roles():
    p = parse('show me a red "Fresh Bread" sign that says open -dog taken in 2019')
    assert p.words == ["sign"] and p.colors == ["red"] and p.phrases == [["fresh", "bread"]]
    assert p.text_words == ["open"] and p.excluded == ["dog"]
    assert p.filters == {"taken_from": "2019-01-01", "taken_to": "2019-12-31"}
    assert {"show", "me", "a", "that", "say"} <= set(p.ignored)


# How words fold today, pinned to the documents' terms_version: a change to the folding changes the
# terms stored in every document, so it must come with a new TERMS_VERSION (then the reconciler derives
# every document's terms again) and a new line here.
FOLDED = {5: "dog puppy collie box tomato shoe canoe bus house cactus avalanche beach leaf child man lens news "
             "jeans glass"}


def test_the_folding_is_the_one_the_terms_version_names():
    from chalicelib.index.terms import tokens
    words = "dogs puppies collies boxes tomatoes shoes canoes buses houses cactuses avalanches beaches " \
            "leaves children men lens news jeans glasses"
    assert " ".join(tokens(words)) == FOLDED[documents.TERMS_VERSION]


def test_a_final_s_that_is_no_plural_stays():
    from chalicelib.index.terms import tokens
    assert tokens("Lens Caps, wine glasses and news") == ["lens", "cap", "wine", "glass", "and", "news"]
    assert tokens("autumn leaves, children, geese") == ["autumn", "leaf", "child", "goose"]
    assert tokens("dogs puppies boxes bus") == ["dog", "puppy", "box", "bus"]
    assert tokens("collies movies veggies ponies") == ["collie", "movie", "veggie", "pony"]
    assert parse("oranges").words == ["orange"] and parse("oranges").colors == []
    assert parse("orange car").colors == ["orange"]


def test_ocr_slips_are_every_edit_at_distance_one():
    slips = expand.edits("wivenhoe")
    assert "wivennoe" in slips and "wivnhoe" in slips and "iwvenhoe" in slips and "wivenhoe" not in slips
    assert len(set(slips)) == len(slips)
    terms = {(t.alt.term, t.alt.scope) for t in expand.word_terms("wivennoe", live=False)}
    assert ("wivenhoe", "text") in terms
    assert all(t.alt.scope != "text" for t in expand.word_terms("exit", live=False))     # under 5 letters


def test_the_reconciler_gives_documents_indexed_before_todays_terms_the_new_ones(stack):
    """A photo indexed by an older version (no whole-name or neighbouring-word terms) is found by
    a quoted phrase once a reconcile pass has derived its terms again, without analysing it."""
    from chalicelib.pipeline import reconcile as reconciliation
    library = seed(stack)
    services = stack.services
    pid = next(p for p, name in library.items() if name == "open")
    doc, _ = services.index.get(pid)
    old = dict(doc, labels=[dict(lab, terms=[t for t in lab["terms"] if " " not in t]) for lab in doc["labels"]],
               text_lines=[dict(line, terms=line["text"].lower().split()) for line in doc["text_lines"]])
    old.pop("terms_version")
    services.index.put(old, ANY)
    services.index.refresh()
    if stack.name == "aws":     # (SQLite derives its term rows from the names whenever it writes)
        assert names(stack, library, '"fresh bread"') == []
    stats = reconciliation.reconcile(services)
    services.index.refresh()
    assert stats["repaired"] >= 1 and stats["indexed"] == 0 and stats["queued"] == 0
    assert names(stack, library, '"fresh bread"') == ["open"]
    assert services.index.get(pid)[0]["terms_version"] == documents.TERMS_VERSION


def test_the_longest_query_allowed_is_searched_not_refused(stack):
    """512 characters of long words (each brings its OCR slips) is still a query, not a 400."""
    library = seed(stack)
    words = ["wivennoe"] + ["%sabcdefghijklmnopqrs" % c for c in "bcdefghij"]
    q = " ".join(words)
    assert len(q) <= 512
    assert names(stack, library, q) == ["sign"]
    longest = " ".join(["abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklm"] * 10)[:512]
    assert names(stack, library, longest) == []

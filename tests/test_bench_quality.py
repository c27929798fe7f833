"""bench/make_queries.py and bench/queries.json agree, the queries are well formed, and bench/quality.py's
own parts (dates written into files, the analysis cache) work on real photos and the real engine."""
import io
import json
import os
import sys

from PIL import Image

from chalicelib import media
from chalicelib.analysis import PhotoSource

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "bench"))

import make_queries  # noqa: E402
import quality  # noqa: E402


def committed():
    with open(make_queries.OUT) as f:
        return json.load(f)


def test_queries_json_is_what_make_queries_writes():
    assert make_queries.dump(make_queries.build()) == make_queries.dump(committed())


def test_every_expected_photo_is_in_the_library_of_the_query_split():
    data = committed()
    with open(make_queries.PHOTOS) as f:
        photos = json.load(f)["photos"]
    libraries = {s: {p["file"] for p in photos if p["split"] == s} for s in make_queries.SPLITS}
    split_of = {p["file"]: p["split"] for p in photos}
    for extra in data["extras"]:
        libraries[extra["split"]].add(extra["file"])
    for sign in data["signs"]:
        assert split_of[sign["source"]] == sign["split"]
        libraries[sign["split"]].add(sign["file"])
    assert set(data["taken"]) == libraries["tune"] | libraries["heldout"]
    assert all("2014:01:01" <= when <= "2024:12:31 23:59:59" for when in data["taken"].values())
    counts = {}
    for q in data["queries"]:
        files = q["expected"] if q["expected"] is not None else q["rule"]["candidates"]
        assert files and set(files) <= libraries[q["split"]], q
        counts.setdefault(q["split"], {}).setdefault(q["kind"], 0)
        counts[q["split"]][q["kind"]] += 1
    for split in make_queries.SPLITS:
        assert set(counts[split]) == set(quality.QUERY_KINDS)
        assert sum(counts[split].values()) >= 100
    assert len(data["queries"]) >= 200
    assert len({(q["split"], q["q"]) for q in data["queries"]}) == len(data["queries"])   # no query twice


def test_misspellings_are_one_letter_slips_that_are_not_words():
    assert make_queries.misspell("giraffe", set()) != "giraffe"
    data = committed()
    vocabulary = {w for p in json.load(open(make_queries.PHOTOS))["photos"] for label in p["labels"]
                  for w in make_queries.tokens(label)}
    for q in (q for q in data["queries"] if q["kind"] == "misspelling"):
        slipped = [(a, b) for a, b in zip(q["q"].split(), q["means"].split()) if a != b]
        assert len(slipped) == 1, q
        typo, word = slipped[0]
        assert typo not in vocabulary and abs(len(typo) - len(word)) <= 1


def test_library_files_carry_their_capture_time_and_signs_their_text_box():
    path = os.path.join(quality.TESTDATA, "obama_partial_face.jpg")
    data = quality.original_bytes(path, "2019:07:14 10:23:00")
    meta = media.read_metadata(data, 10 ** 8)
    assert meta["taken_at"] == "2019-07-14T10:23:00"
    with Image.open(path) as before, Image.open(io.BytesIO(data)) as after:
        assert after.size == before.size
    sign = quality.sign_bytes(path, "HELP DESK", "2021:06:30 08:00:00", "8000" * 4)
    assert media.read_metadata(sign, 10 ** 8)["taken_at"] == "2021-06-30T08:00:00"


def test_the_cache_answers_a_second_analysis_of_the_same_bytes(tmp_path):
    with open(os.path.join(quality.TESTDATA, "chelsea.png"), "rb") as f:
        data = f.read()
    analyzer = quality.CachingAnalyzer(str(tmp_path))
    source = PhotoSource("b", "k", "e", lambda: data)
    first = analyzer.analyze(source, ("labels", "properties"), 20.0, 20)
    again = analyzer.analyze(source, ("labels", "properties"), 20.0, 20)
    assert (analyzer.misses, analyzer.hits) == (1, 1) and again == first
    assert "Cat" in {label["Name"] for label in first["Labels"]}
    analyzer.analyze(source, ("labels", "properties"), 50.0, 20)     # another threshold: another answer
    assert (analyzer.misses, analyzer.hits) == (2, 1)


def test_the_vocabulary_reach_is_what_the_engine_can_name_at_all():
    import reach
    terms = reach.closed_terms()
    # an ImageNet class, a parent, a synonym of a class, a COCO class, a scene rule, a label from faces
    for word in ("tabby cat", "cat", "kitty", "bicycle", "sunset", "woman"):
        assert reach.reaches(word, terms), word
    # nothing the classifier, the detector or the rules can say means these
    for word in ("windmill", "watermelon", "daffodil"):
        assert not reach.reaches(word, terms), word
    assert reach.photo_word({"labels": ["barack obama", "man"], "names": ["Barack Obama"]}) == "man"


def test_the_engine_table_shows_the_reach_beside_found():
    rows = [{"kind": "plant", "top5_hit": False, "found": False, "found_any": True, "reachable": False},
            {"kind": "plant", "top5_hit": True, "found": True, "found_any": True, "reachable": True}]
    lines, summary = quality.engine_table("tune", rows)
    assert lines[1].split("|")[6].strip() == "reach"
    assert summary["plant"]["reach"] == 0.5 and summary["overall"]["found@10"] == 0.5


def test_hand_labels_stand_in_for_the_classifiers_and_nothing_else(tmp_path):
    """`--labels hand`: the real engine's answer (here on the cat), its labels replaced by the hand labels
    with the vocabulary's parents and aliases, in order of confidence, and no evidence; colours kept."""
    with open(os.path.join(quality.TESTDATA, "chelsea.png"), "rb") as f:
        data = f.read()
    engine = quality.CachingAnalyzer(str(tmp_path))
    analyzer = quality.HandLabels(engine, {"usercontent/tune/chelsea.png": ["tabby cat", "whiskers"]})
    source = PhotoSource("b", "usercontent/tune/chelsea.png", "e", lambda: data)
    real = engine.analyze(source, ("labels", "properties"), 20.0, 20)
    hand = analyzer.analyze(source, ("labels", "properties"), 20.0, 20)
    assert [(lab["Name"], lab["Confidence"]) for lab in hand["Labels"]] == [("Tabby Cat", 95.0), ("Whiskers", 94.0)]
    assert {"Cat", "Animal"} <= {p["Name"] for p in hand["Labels"][0]["Parents"]}
    assert hand["Labels"][1]["Parents"] == [] and "LabelEvidence" not in hand
    assert hand["ImageProperties"] == real["ImageProperties"] and real["Labels"] != hand["Labels"]
    # --labels closed: "whiskers" and "tree" (a word of Tree Frog) are no labels the local engine can give;
    # "courgette" is an alias of one of its classes
    closed = quality.HandLabels(engine, {source.key: ["tabby cat", "whiskers", "tree", "courgette"]}, closed=True)
    labels = closed.analyze(source, ("labels",), 20.0, 20)["Labels"]
    assert [lab["Name"] for lab in labels] == ["Tabby Cat", "Zucchini"]
    assert {"Name": "Courgette"} in labels[1]["Aliases"] and labels[1]["Parents"]
    other = PhotoSource("b", "usercontent/tune/not-labelled.png", "e", lambda: data)
    assert analyzer.analyze(other, ("labels", "properties"), 20.0, 20) == real      # no hand labels: the engine's


def test_the_loosest_query_bound_counts_any_word_that_any_label_has():
    import reach
    terms = reach.closed_terms()
    assert reach.query_reach({"kind": "exact", "q": "golden temple"}, terms)       # "golden" of Golden Retriever
    assert not reach.query_reach({"kind": "exact", "q": "daffodil"}, terms)
    assert reach.query_reach({"kind": "text", "q": "wivenhoe"}, terms)             # text needs no label

"""Query understanding, part one: the words people type around what they look for are ignored,
and the answer says so.  (Synonyms, phrases, misspellings and ranked partial matches are the
rest of the search issue.)"""
import pytest

from chalicelib.query import parse
from tests.test_api import add, auth
from tests.support.rekognition import CAR_ON_STREET, DOG_ON_GRASS


@pytest.mark.parametrize("q,words,ignored", [
    ("cat", ["cat"], []),
    ("a cat", ["cat"], ["a"]),
    ("photos of a cat", ["cat"], ["photo", "of", "a"]),
    ("Show me the dog on the beach", ["dog", "beach"], ["show", "me", "the", "on"]),
    ("cup of coffee", ["cup", "coffee"], ["of"]),
    ("pictures of my kids", ["kid"], ["picture", "of", "my"]),
    ("picture frame", ["picture", "frame"], []),          # "picture" alone is a thing a photo can show
    ("the of a", [], ["the", "of", "a"]),
])
def test_filler_words_are_ignored_and_named(q, words, ignored):
    parsed = parse(q)
    assert (parsed.words, parsed.ignored, parsed.excluded) == (words, ignored, [])


@pytest.mark.parametrize("q,words,excluded", [
    ("dog -beach", ["dog"], ["beach"]),
    ("-cars", [], ["car"]),
    ("photos of dogs -the -grass", ["dog"], ["grass"]),      # a stop word cannot be excluded
    ("t-shirt", ["t", "shirt"], []),                          # only a leading "-" excludes
])
def test_a_leading_minus_excludes_a_word(q, words, excluded):
    parsed = parse(q)
    assert (parsed.words, parsed.excluded) == (words, excluded)


def test_a_search_with_filler_words_finds_what_the_words_name(client, s3, rekognition, users):
    alice = users["alice"]
    dog = add(client, s3, rekognition, alice, "dog.jpg", DOG_ON_GRASS)
    add(client, s3, rekognition, alice, "car.jpg", CAR_ON_STREET)
    r = client.http.get("/photos?q=photos%20of%20a%20dog", headers=auth(alice))
    assert r.status_code == 200
    assert [p["photo_id"] for p in r.json_body["photos"]] == [dog]
    assert r.json_body["query"]["words"] == ["dog"] and r.json_body["query"]["ignored"] == ["photo", "of", "a"]


def test_a_query_of_only_filler_words_is_400_saying_what_to_do(client, users):
    r = client.http.get("/photos?q=show%20me%20the", headers=auth(users["alice"]))
    assert r.status_code == 400
    assert "show, me, the" in r.json_body["message"] and "what is in the photo" in r.json_body["message"]


def test_minus_a_word_leaves_out_photos_with_that_label(client, s3, rekognition, users):
    alice = users["alice"]
    dog = add(client, s3, rekognition, alice, "dog.jpg", DOG_ON_GRASS)
    car = add(client, s3, rekognition, alice, "car.jpg", CAR_ON_STREET)

    def found(q):
        from urllib.parse import urlencode
        r = client.http.get("/photos?" + urlencode({"q": q}), headers=auth(alice))
        assert r.status_code == 200, r.json_body
        return sorted(p["photo_id"] for p in r.json_body["photos"]), r.json_body["query"]["excluded"]
    assert found("-car") == ([dog], ["car"])                 # every photo but the car
    assert found("dog -grass") == ([], ["grass"])
    assert found("-dog -grass") == ([car], ["dog", "grass"])

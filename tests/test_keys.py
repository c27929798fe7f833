"""Keys and photo ids."""
import pytest

from chalicelib.errors import BadRequest
from chalicelib.keys import is_photo_id, key_from_event, parse_key, photo_id, upload_key
from chalicelib.index.terms import query_words, tokens


def test_a_photo_id_is_deterministic_url_safe_and_opaque():
    pid = photo_id("bucket", "usercontent/alice/cat.jpg")
    assert pid == photo_id("bucket", "usercontent/alice/cat.jpg")
    assert is_photo_id(pid) and len(pid) == 32
    assert "alice" not in pid and "cat" not in pid


def test_photo_ids_differ_for_every_bucket_and_key():
    assert photo_id("b", "usercontent/a/x") != photo_id("b", "usercontent/a/y")
    assert photo_id("b1", "usercontent/a/x") != photo_id("b2", "usercontent/a/x")
    # length-prefixed: moving a character across the boundary changes the id
    assert photo_id("ab", "c") != photo_id("a", "bc")


@pytest.mark.parametrize("key,expected", [
    ("usercontent/alice/a.jpg", ("alice", "a.jpg")),
    ("usercontent/alice/deep/er/b c.png", ("alice", "deep/er/b c.png")),
    ("usercontent/alice/", None), ("usercontent/alice", None), ("usercontent//a.jpg", None),
    ("usercontent/alice/folder/", None), ("thumbnails/alice/a.jpg", None), ("a.jpg", None),
])
def test_keys_in_and_out_of_the_layout(key, expected):
    parsed = parse_key(key)
    assert (tuple(parsed) if parsed else None) == expected


@pytest.mark.parametrize("raw,key", [
    ("usercontent/a/my+photo.jpg", "usercontent/a/my photo.jpg"),
    ("usercontent/a/1%2B1.jpg", "usercontent/a/1+1.jpg"),
    ("usercontent/a/Z%C3%BCrich.jpg", "usercontent/a/Zürich.jpg"),
    ("usercontent/a/100%25.jpg", "usercontent/a/100%.jpg"),
])
def test_event_keys_are_url_decoded_with_plus_as_space(raw, key):
    assert key_from_event(raw) == key


@pytest.mark.parametrize("name", ["../x.jpg", "a/../../x.jpg", "./x.jpg", "a//b.jpg", "/abs.jpg", "a\\b.jpg",
                                  "x\x00.jpg", "x\n.jpg", "", "   ", None, 42, "é" * 600])
def test_upload_names_that_could_escape_or_confuse_are_refused(name):
    with pytest.raises(BadRequest):
        upload_key("alice", name)


def test_upload_names_are_nfc_normalized_under_the_callers_prefix():
    assert upload_key("alice", "Zu\u0308rich/b c+d.jpg") == "usercontent/alice/Zürich/b c+d.jpg"


def test_words_are_casefolded_accent_free_and_plural_folded():
    assert tokens("Sports CAR") == ["sport", "car"]
    assert tokens("Puppies, Boxes & Glasses; bus") == ["puppy", "box", "glass", "bus"]
    assert tokens("Café") == ["cafe"]
    assert query_words("dog Dog DOGS cat") == ["dog", "cat"]
    assert query_words("!!! ???") == []

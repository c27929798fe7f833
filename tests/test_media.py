"""Photo metadata from real files of the Pillow, piexif and pillow-heif source distributions."""
import pytest

from chalicelib.media import NotAnImage, read_metadata
from tests.support import photos


def meta(name, max_pixels=100_000_000):
    with open(photos.path(name), "rb") as f:
        return read_metadata(f.read(), max_pixels)


def test_an_iphone_heic_gives_camera_lens_time_zone_and_gps():
    m = meta("pug.heic")
    assert m["format"] == "heic" and (m["width"], m["height"]) == (4032, 3024)
    assert m["camera_make"] == "Apple" and m["camera_model"] == "iPhone 13 Pro"
    assert m["lens"].startswith("iPhone 13 Pro back dual wide camera")
    assert m["taken_at"] == "2023-02-21T14:33:08+03:00" and m["taken_at_utc"] == "2023-02-21T11:33:08Z"
    assert m["gps"] == {"lat": pytest.approx(44.8504778), "lon": pytest.approx(34.9766472), "alt": 29.14}


def test_a_phone_jpeg_gives_gps_in_decimal_degrees():
    m = meta("ultrahdr.jpg")
    assert (m["camera_make"], m["camera_model"]) == ("Google", "Pixel 6")
    assert m["gps"]["lat"] == pytest.approx(30 + 37 / 60 + 39.54 / 3600)
    assert m["gps"]["lon"] == pytest.approx(119 + 44 / 60 + 19.56 / 3600)
    assert m["taken_at"].endswith("+08:00")


def test_a_camera_jpeg_without_a_zone_says_so():
    m = meta("r_canon.jpg")
    assert m["camera_model"] == "Canon PowerShot G1 X Mark II"
    assert m["taken_at"] == "2013-12-17T14:04:24" and m["taken_at_has_zone"] is False


def test_a_sony_heic_gives_lens_and_a_negative_offset():
    m = meta("L_exif_xmp_iptc.heic")
    assert m["lens"] == "FE 24-70mm F2.8 GM" and m["taken_at"] == "2020-09-14T11:09:34-05:00"


def test_impossible_values_are_dropped_not_guessed():
    m = meta("exif_gps.jpg")       # latitude 4294967295, date 2099:09:29
    assert "gps" not in m and "taken_at" not in m


@pytest.mark.parametrize("n", range(2, 9))
def test_every_exif_orientation_is_reported_with_displayed_dimensions(n):
    m = meta("hopper_orientation_%d.jpg" % n)
    assert m["orientation"] == n
    assert (m["width"], m["height"]) == (128, 128)


def test_a_decompression_bomb_is_too_many_pixels():
    with pytest.raises(ValueError):
        meta("decompression_bomb.gif")
    with pytest.raises(ValueError):
        meta("pug.heic", max_pixels=1_000_000)


@pytest.mark.parametrize("data", [b"", b"%PDF-1.7", open(__file__, "rb").read()])
def test_non_images_are_not_images(data):
    with pytest.raises(NotAnImage):
        read_metadata(data)


def test_a_corrupted_heic_is_not_an_image():
    with pytest.raises(NotAnImage):
        meta("corrupted.heic")

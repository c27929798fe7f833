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


# ---- hostile files and the decode budget --------------------------------------------------------

import io  # noqa: E402
import struct  # noqa: E402

from PIL import Image  # noqa: E402

from chalicelib import media  # noqa: E402
from tests.support import hostile  # noqa: E402


def test_a_dds_with_an_unknown_fourcc_is_not_an_image():
    data = hostile.dds_unknown_fourcc()
    assert len(data) == 64 * 1024
    with pytest.raises(NotImplementedError):        # what Pillow itself raises
        Image.open(io.BytesIO(data))
    with pytest.raises(NotAnImage):
        read_metadata(data, 100_000_000)
    with pytest.raises(media.Corrupt):
        media.decode(data)


@pytest.mark.parametrize("error", [NotImplementedError("Unimplemented pixel format"), struct.error("unpack"),
                                   IndexError("tuple index out of range"), ZeroDivisionError("division by zero"),
                                   KeyError("mode"), RuntimeError("plugin")])
def test_any_error_pillow_raises_while_identifying_is_not_an_image(monkeypatch, error):
    def broken(*args, **kwargs):
        raise error
    monkeypatch.setattr(Image, "open", broken)
    data = open(photos.path("hopper_orientation_2.jpg"), "rb").read()
    with pytest.raises(NotAnImage):
        read_metadata(data, 100_000_000)
    with pytest.raises(media.Corrupt):
        media.decode(data)


@pytest.mark.parametrize("error,expected", [
    (NotImplementedError("codec"), media.Corrupt), (struct.error("unpack"), media.Corrupt),
    (IndexError("index"), media.Corrupt), (ZeroDivisionError("division by zero"), media.Corrupt),
    (ValueError("bad"), media.Corrupt), (MemoryError(), media.TooLarge),
    (Image.DecompressionBombError("bomb"), media.TooLarge)])
def test_any_error_pillow_raises_while_decoding_is_corrupt_or_too_large(monkeypatch, error, expected):
    from PIL import ImageFile

    def broken(self):
        raise error
    monkeypatch.setattr(ImageFile.ImageFile, "load", broken)
    with pytest.raises(expected) as e:
        media.decode(open(photos.path("hopper_orientation_2.jpg"), "rb").read())
    assert type(e.value) is expected or (expected is media.Corrupt and not isinstance(e.value, media.TooLarge))


def test_a_damaged_exif_block_loses_only_what_it_would_have_told(monkeypatch):
    def broken(self):
        raise struct.error("unpack requires a buffer of 12 bytes")
    monkeypatch.setattr(Image.Image, "getexif", broken)
    m = meta("r_canon.jpg")
    assert m["format"] == "jpeg" and m["width"] > 0 and "camera_model" not in m
    assert media.decode(open(photos.path("hopper_orientation_6.jpg"), "rb").read()).image.size == (128, 128)


def test_a_truncated_png_reads_its_header_but_is_corrupt():
    full = photos.encode(photos.load("chelsea.png"), "PNG")
    data = full[: len(full) // 2]
    assert read_metadata(data, 100_000_000)["format"] == "png"
    with pytest.raises(media.Corrupt) as e:
        media.decode(data)
    assert not isinstance(e.value, media.TooLarge)


@pytest.mark.parametrize("width,height", [(200_000, 200_000), (4_294_967_295, 1), (30_000, 30_000)])
def test_huge_declared_dimensions_are_too_large_before_any_decoding(width, height):
    data = hostile.png_declaring(width, height)
    with pytest.raises(ValueError):            # the pipeline's ImageTooLarge
        read_metadata(data, 100_000_000)
    with pytest.raises(media.TooLarge):
        media.decode(data, max_pixels=100_000_000)


def test_the_decode_budget_counts_bytes_from_the_header_before_loading(monkeypatch):
    from PIL import ImageFile
    loads = []
    real = ImageFile.ImageFile.load
    monkeypatch.setattr(ImageFile.ImageFile, "load", lambda self: (loads.append(self.size), real(self))[1])
    data = hostile.png_declaring(9999, 9999, 16, 0)     # 9999x9999 16-bit gray: 2 bytes a pixel
    assert read_metadata(data, 100_000_000)["width"] == 9999 and loads == []   # (no decode for EXIF)
    with pytest.raises(media.TooLarge) as e:
        media.decode(data, max_pixels=100_000_000, max_bytes=150_000_000)
    assert "9999x9999" in str(e.value) and loads == []
    rgba = hostile.png_declaring(6000, 6000, 8, 6)      # RGBA: 4 bytes a pixel
    with pytest.raises(media.TooLarge):
        media.decode(rgba, max_bytes=6000 * 6000 * 4 - 1)
    monkeypatch.setenv("DECODE_MAX_BYTES", "1000")       # the setting is the default budget
    with pytest.raises(media.TooLarge):
        media.decode(photos.encode(photos.load("chelsea.png"), "PNG"))


def test_a_large_jpeg_is_budgeted_at_the_scale_it_is_decoded_at():
    img = Image.new("RGB", (4000, 3000), (90, 120, 150))
    baseline, progressive = photos.encode(img, "JPEG"), photos.encode(img, "JPEG", progressive=True)
    assert media.decode(baseline, 1024, max_bytes=4000 * 3000).image.size == (1000, 750)   # decoded at 1/4
    # libjpeg keeps a progressive JPEG's coefficients at full size, whatever the scale
    with pytest.raises(media.TooLarge):
        media.decode(progressive, 1024, max_bytes=4000 * 3000)
    assert media.decode(progressive, 1024, max_bytes=4000 * 3000 * 4).image.size == (1000, 750)


def test_a_16_bit_picture_becomes_8_bit_scaled_to_its_maximum():
    import numpy as np
    arr = (np.arange(300 * 200, dtype=np.uint32).reshape(200, 300) % 40000).astype(np.uint16)
    picture = media.decode(photos.encode(Image.fromarray(arr), "PNG"), 100)
    assert picture.image.mode == "RGB" and picture.image.size == (100, 67) and picture.size == (300, 200)
    small = media.decode(photos.encode(Image.fromarray(arr[:50, :50]), "PNG")).image
    assert np.asarray(small)[0, 1, 0] == int(1 / 39999 * 255) and np.asarray(small).max() == 255


@pytest.mark.parametrize("mode", ["P", "PA", "LA", "RGBA", "L", "1", "CMYK", "I", "F"])
def test_every_mode_is_shrunk_to_rgb_like_a_plain_resize(mode):
    import numpy as np
    from PIL import ImageOps
    rgb = ImageOps.fit(photos.load("chelsea.png"), (900, 600))
    img = rgb.convert(mode) if mode not in ("PA", "I", "F") else \
        rgb.convert("P").convert("PA") if mode == "PA" else rgb.convert("L").convert(mode)
    shrunk = media._shrink(img, 300, img.getextrema()[1] if mode in ("I", "F") else None)
    expected = media.to_rgb(media.to_rgb(img, img.getextrema()[1] if mode in ("I", "F") else None)
                            .resize((300, 200), Image.BOX))
    assert shrunk.mode == "RGB" and shrunk.size == (300, 200)
    assert float(np.abs(np.asarray(shrunk, dtype=float) - np.asarray(expected, dtype=float)).mean()) < 3


def test_the_picture_is_decoded_as_displayed_and_reused():
    picture = media.decode(open(photos.path("hopper_orientation_6.jpg"), "rb").read())
    expected = media.to_rgb(Image.open(photos.path("hopper.jpg")))
    import numpy as np
    assert float(np.abs(np.asarray(picture.image, dtype=float) - np.asarray(expected, dtype=float)).mean()) < 8
    thumb = Image.open(io.BytesIO(picture.thumbnail(64)))
    assert thumb.format == "JPEG" and thumb.size == (64, 64)
    crops = picture.face_crops([{"left": 0.25, "top": 0.25, "width": 0.5, "height": 0.5},
                                {"left": 0.5, "top": 0.5, "width": 0.001, "height": 0.001}])
    assert Image.open(io.BytesIO(crops[0])).size == (96, 96) and crops[1] is None


def test_a_picture_under_80_px_is_padded_with_its_edges_and_says_where_it_is():
    img = Image.new("RGB", (188, 76), (10, 200, 30))
    img.paste((250, 0, 0), (0, 0, 188, 1))             # a red top row, a blue bottom row
    img.paste((0, 0, 250), (0, 75, 188, 76))
    jpeg = media.Picture(img, img.size).jpeg(min_side=80)
    padded = Image.open(io.BytesIO(jpeg))
    assert padded.size == (188, 80) and jpeg.frame == media.Frame(0, 2, 188, 76, 188, 80)
    assert padded.getpixel((90, 0))[0] > 200 and padded.getpixel((90, 79))[2] > 200   # edges repeated
    assert media.Picture(img, img.size).jpeg().frame is None
    tiny, frame = media.pad(Image.new("RGB", (20, 10), "white"), 80)
    assert tiny.size == (80, 80) and frame == media.Frame(30, 35, 20, 10, 80, 80)

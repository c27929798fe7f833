"""What a photo file is, read from its headers: format, size, orientation, capture time,
camera, lens and GPS position (read_metadata: nothing is decoded beyond the headers); and its
pixels, decoded once per photo within a memory budget (decode: a Picture).

HEIC/HEIF is read with pillow-heif when it is installed.  Values that are out of range
(a latitude of 4294967295, a date of 1999:99:99) are dropped, never guessed.
"""
import io
import warnings
from collections import namedtuple
from datetime import datetime, timedelta, timezone

FORMATS = {"JPEG": "jpeg", "MPO": "jpeg", "PNG": "png", "HEIF": "heic", "WEBP": "webp", "GIF": "gif",
           "TIFF": "tiff", "BMP": "bmp"}

EXIF_IFD, GPS_IFD = 0x8769, 0x8825
MAKE, MODEL, ORIENTATION, DATETIME = 0x010F, 0x0110, 0x0112, 0x0132
DATETIME_ORIGINAL, OFFSET_TIME_ORIGINAL, LENS_MAKE, LENS_MODEL = 0x9003, 0x9011, 0xA433, 0xA434

_heif_registered = None


def _register_heif():
    global _heif_registered
    if _heif_registered is None:
        try:
            import pillow_heif
            pillow_heif.register_heif_opener()
            _heif_registered = True
        except ImportError:
            _heif_registered = False
    return _heif_registered


class NotAnImage(Exception):
    """The bytes are not an image format this project reads."""


class Corrupt(Exception):
    """An image format we read, but the pixels cannot be decoded (truncated, damaged)."""


class Unidentified(Corrupt):
    """decode() was given bytes that are no image format Pillow reads."""


class TooLarge(Corrupt, ValueError):
    """More pixels than DECODE_MAX_PIXELS, or more memory to decode than DECODE_MAX_BYTES."""


ANALYSABLE = ("jpeg", "png")
REKOGNITION_BYTES = 5 * 1024 * 1024   # Rekognition's limit for an image sent as bytes
WORKING_SIDE = 2048     # the long side of the decoded picture: thumbnail, face crops, local models
CONVERTED_SIDE = 4096   # the long side of a JPEG converted for Rekognition
MIN_SIDE = 80           # Rekognition's minimum side: smaller pictures are padded for analysis

# Pillow's bytes per pixel in memory (a 3-band picture takes 4), by mode; other modes take 4.
_PIXEL_BYTES = {"1": 1, "L": 1, "P": 1, "I;16": 2, "I;16B": 2, "I;16L": 2, "I;16N": 2}
_HIGH_BIT = ("I;16", "I;16B", "I;16L", "I;16N", "I", "F")
_PALETTE = ("1", "P", "PA")         # Pillow resizes these pixel by pixel only: converted first
BAND_ROWS = 256                     # rows of the full decode resampled at a time


def needs_conversion(meta):
    """Formats Rekognition does not take, and pictures whose EXIF orientation must be applied
    first (so that boxes match the picture as displayed)."""
    return meta["format"] not in ANALYSABLE or meta["orientation"] != 1


def to_rgb(img, top=None):
    """8-bit RGB from any mode: palette, grayscale, CMYK, 16-bit (scaled by `top`, default its
    own maximum), transparent (over white).  Done by Pillow alone, in 32-bit integers at most."""
    from PIL import Image
    if img.mode in _HIGH_BIT:
        if top is None:
            top = img.getextrema()[1]
        top = top if top and top > 0 else 1
        img = img.convert("F" if img.mode == "F" else "I").point(lambda v: v * (255.0 / top)).convert("L")
    if img.mode == "P":
        img = img.convert("RGBA" if "transparency" in img.info else "RGB")
    if img.mode in ("RGBA", "LA", "PA"):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(background, rgba)
    if img.mode != "RGB":
        img = img.convert("RGB")
    return img


def decode_cost(img, full_size=None):
    """The bytes decoding `img` takes (opened, not loaded, after any draft): its pixels as
    Pillow holds them, libheif's own buffer, and the DCT coefficients libjpeg keeps for a whole
    progressive JPEG (`full_size`: before the draft) whatever the scale it is decoded at."""
    width, height = img.size
    cost = width * height * _PIXEL_BYTES.get(img.mode, 4)
    if img.format == "HEIF":
        cost += width * height * len(img.getbands())
    if img.format in ("JPEG", "MPO") and img.info.get("progressive"):
        layers = getattr(img, "layer", None) or [(None, 1, 1, None)] * len(img.getbands())
        hmax, vmax = max(h for _, h, _, _ in layers) or 1, max(v for _, _, v, _ in layers) or 1
        fw, fh = full_size or img.size
        cost += int(2 * fw * fh * sum(h * v for _, h, v, _ in layers) / (hmax * vmax))
    return cost


def _fit(size, side):
    scale = side / max(size)
    return max(1, round(size[0] * scale)), max(1, round(size[1] * scale))


def _shrink(img, side, top=None):
    """`img` (loaded) as 8-bit RGB with its long side at most `side`.  A larger picture is
    resampled (and converted) one band of rows at a time, so that beside the full decode there
    is only the result and a band: no full-size RGB conversion of a 16-bit or palette picture,
    no premultiplied copy of a transparent one, no new-width x old-height intermediate of
    Pillow's two-pass resize (Image.reduce, which refuses I;16, is not needed)."""
    from PIL import Image
    if max(img.size) <= side:
        return to_rgb(img, top)
    width, height = img.size
    size = _fit(img.size, side)
    scale = max(width / size[0], height / size[1])
    # area averaging for large reductions (and fast); Lanczos for the last factor of two
    resample, support = (Image.BOX, 0.5) if scale >= 2 else (Image.LANCZOS, 3.0)
    margin = int(support * scale) + 2
    rows = max(1, int(BAND_ROWS / scale))
    out = Image.new("RGB", size)
    for y in range(0, size[1], rows):
        y1 = min(size[1], y + rows)
        top_y, bottom_y = y * height / size[1], y1 * height / size[1]
        first, last = max(0, int(top_y) - margin), min(height, int(bottom_y) + margin + 1)
        band = img.crop((0, first, width, last))
        if band.mode in _PALETTE:
            band = to_rgb(band)
        band = band.resize((size[0], y1 - y), resample, box=(0, top_y - first, width, bottom_y - first))
        out.paste(to_rgb(band, top), (0, y))
    return out


_TRANSPOSE = {2: "FLIP_LEFT_RIGHT", 3: "ROTATE_180", 4: "FLIP_TOP_BOTTOM", 5: "TRANSPOSE", 6: "ROTATE_270",
              7: "TRANSVERSE", 8: "ROTATE_90"}


def _setting(name):
    from chalicelib import settings
    return settings.get_int(name, minimum=1)


def _why(e):
    from PIL import UnidentifiedImageError
    if isinstance(e, UnidentifiedImageError):
        return "no image format Pillow reads"
    return str(e) if isinstance(e, OSError) and str(e) else "%s: %s" % (type(e).__name__, e)


def _open(data, error):
    """Pillow's Image.open; whatever it raises (NotImplementedError, struct.error, IndexError...
    on hostile files) becomes `error`, or TooLarge for a decompression bomb or a memory error."""
    from PIL import Image
    try:
        img = Image.open(io.BytesIO(data))
        img.seek(0)
        return img
    except (Image.DecompressionBombError, MemoryError) as e:
        raise TooLarge(_why(e))
    except Exception as e:   # noqa: BLE001 -- any plugin's error on any input
        raise error(_why(e))


def decode(data, long_side=WORKING_SIDE, max_pixels=None, max_bytes=None):
    """The Picture in `data`: as displayed (first frame, EXIF orientation applied, 8-bit RGB,
    transparency over white), decoded once with its long side at most `long_side` (a JPEG at a
    reduced DCT scale; other formats are shrunk as soon as they are decoded and the full decode
    is freed before anything else is made).

    TooLarge when the header declares more than `max_pixels`, or when decoding would take more
    than `max_bytes` (default: the DECODE_MAX_BYTES setting; see decode_cost); Unidentified when
    Pillow finds no image in the bytes; Corrupt when the pixels cannot be decoded.  Whatever
    Pillow or a plugin raises on a hostile file ends as one of these."""
    from PIL import Image
    _register_heif()
    max_bytes = _setting("DECODE_MAX_BYTES") if max_bytes is None else max_bytes
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        img = _open(data, Unidentified)
        try:
            return _decode(img, long_side, max_pixels, max_bytes)
        except Exception as e:   # noqa: BLE001 -- any decoder's error on any input
            img.close()
            if isinstance(e, Corrupt):
                raise
            if isinstance(e, (Image.DecompressionBombError, MemoryError)):
                raise TooLarge(_why(e))
            raise Corrupt(_why(e))


def _decode(img, long_side, max_pixels, max_bytes):
    from PIL import Image
    full = width, height = img.size
    if max_pixels and width * height > max_pixels:
        raise TooLarge("%dx%d is more than %d pixels" % (width, height, max_pixels))
    fmt = img.format
    if fmt in ("JPEG", "MPO") and max(full) > long_side:
        # DCT-domain downscale (1/2, 1/4, 1/8) to the smallest size still >= this box
        img.draft("RGB", (long_side * 2 // 3, long_side * 2 // 3))
    cost = decode_cost(img, full)
    if max_bytes and cost > max_bytes:
        raise TooLarge("decoding %dx%d pixels (%s) takes %d MB, more than the %d MB limit"
                       % (width, height, img.mode, -(-cost // 2 ** 20), max_bytes // 2 ** 20))
    img.load()
    orientation = _orientation(img)
    top = img.getextrema()[1] if img.mode in _HIGH_BIT else None
    small = _shrink(img, long_side, top)
    if small is not img:
        img.close()            # the full decode goes before anything else is made
    if orientation in _TRANSPOSE:
        small = small.transpose(getattr(Image.Transpose, _TRANSPOSE[orientation]))
        width, height = (height, width) if orientation >= 5 else (width, height)
    return Picture(small, (width, height), fmt)


def _orientation(img):
    try:
        value = img.getexif().get(ORIENTATION, 1)
    except Exception:   # noqa: BLE001 -- a damaged EXIF block: the picture as stored
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


Frame = namedtuple("Frame", "left top width height outer_width outer_height")
Frame.__doc__ = "Where a picture sits (px) in the padded picture made of it (see pad)."


def pad(img, min_side=MIN_SIDE):
    """(`img` with each side at least `min_side`, centred, its edge pixels repeated outwards;
    the Frame it sits in) -- or (img, None) when it is large enough."""
    from PIL import Image
    width, height = img.size
    outer = max(width, min_side), max(height, min_side)
    if outer == img.size:
        return img, None
    left, top = (outer[0] - width) // 2, (outer[1] - height) // 2
    tall = Image.new(img.mode, (width, outer[1]))
    tall.paste(img, (0, top))
    if top:
        tall.paste(img.crop((0, 0, width, 1)).resize((width, top), Image.NEAREST), (0, 0))
    if outer[1] - top - height:
        tall.paste(img.crop((0, height - 1, width, height)).resize((width, outer[1] - top - height), Image.NEAREST),
                   (0, top + height))
    canvas = Image.new(img.mode, outer)
    canvas.paste(tall, (left, 0))
    if left:
        canvas.paste(tall.crop((0, 0, 1, outer[1])).resize((left, outer[1]), Image.NEAREST), (0, 0))
    if outer[0] - left - width:
        canvas.paste(tall.crop((width - 1, 0, width, outer[1])).resize((outer[0] - left - width, outer[1]),
                                                                         Image.NEAREST), (left + width, 0))
    return canvas, Frame(left, top, width, height, outer[0], outer[1])


class Converted(bytes):
    """JPEG bytes made for analysis; `frame` (a Frame) when the picture was padded to be
    analysed: boxes found in it are mapped back with chalicelib.analysis.unframe."""
    frame = None


class Picture:
    """A photo decoded once (see decode).  `image`: 8-bit RGB as displayed, long side at most
    the side it was decoded at; `size`: the displayed size of the file's picture; `format`:
    Pillow's name of the file format.  The thumbnail, face crops, the JPEG converted for
    Rekognition and the local engine's models are all made from `image`."""

    def __init__(self, image, size, fmt=None):
        self.image, self.size, self.format = image, tuple(size), fmt

    def __repr__(self):
        return "<Picture %s %dx%d as %dx%d>" % (self.format, self.size[0], self.size[1], *self.image.size)

    def shrunk(self, long_side):
        """The image with its long side at most `long_side` (the image itself when it is)."""
        from PIL import Image
        if max(self.image.size) <= long_side:
            return self.image
        return self.image.resize(_fit(self.image.size, long_side), Image.LANCZOS, reducing_gap=2.0)

    def thumbnail(self, long_side=256, quality=85):
        """A JPEG with its long side at most `long_side`."""
        out = io.BytesIO()
        self.shrunk(long_side).save(out, "JPEG", quality=quality)
        return out.getvalue()

    def jpeg(self, max_bytes=REKOGNITION_BYTES, max_side=CONVERTED_SIDE, quality=90, min_side=0):
        """A JPEG (Converted) of at most `max_bytes` and `max_side`, shrinking it if needed;
        padded (pad) to `min_side` when a side is shorter."""
        side = max_side
        while True:
            img, frame = pad(self.shrunk(side), min_side)
            out = io.BytesIO()
            img.save(out, "JPEG", quality=quality)
            if out.tell() <= max_bytes or side < 256:
                converted = Converted(out.getvalue())
                converted.frame = frame
                return converted
            side = int(max(img.size) * 0.75)

    def face_crops(self, boxes, long_side=160, margin=0.25):
        """A JPEG crop per face box (ratios of the displayed picture), with a margin; None for
        a box too small to crop."""
        return _crops(self.image, boxes, long_side, margin)


def to_jpeg(data, max_bytes=REKOGNITION_BYTES, max_side=CONVERTED_SIDE, quality=90):
    """The picture as displayed (first frame, EXIF orientation applied, RGB) as a JPEG of at
    most `max_bytes`, shrinking it if needed.  Corrupt (or TooLarge) when the pixels cannot be
    decoded within DECODE_MAX_BYTES."""
    return bytes(decode(data, max_side).jpeg(max_bytes, max_side, quality))


def read_metadata(data, max_pixels=None):
    """Metadata of an image file, or NotAnImage (whatever Pillow raises on the bytes).  Raises
    TooLarge (a ValueError) when the header declares more than `max_pixels`.  A damaged EXIF
    block only loses what it would have told."""
    _register_heif()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        img = _open(data, NotAnImage)
        try:
            fmt = FORMATS.get(img.format)
            if fmt is None:
                raise NotAnImage(img.format)
            width, height = img.size
            if max_pixels and width * height > max_pixels:
                raise TooLarge("%dx%d is more than %d pixels" % (width, height, max_pixels))
            exif, sub, gps = _exif(img, data)
        finally:
            img.close()
    orientation = exif.get(ORIENTATION, 1)
    orientation = orientation if isinstance(orientation, int) and 1 <= orientation <= 8 else 1
    shown = (height, width) if orientation in (5, 6, 7, 8) else (width, height)
    meta = {"format": fmt, "width": shown[0], "height": shown[1], "orientation": orientation}
    try:
        meta.update(_described(exif, sub, gps))
    except Exception:   # noqa: BLE001 -- values no camera writes: left out, never guessed
        pass
    return meta


def _described(exif, sub, gps):
    """Camera, lens, capture time and GPS position from the EXIF blocks."""
    meta = {}
    for name, value in (("camera_make", _text(exif.get(MAKE))), ("camera_model", _text(exif.get(MODEL))),
                        ("lens", _text(sub.get(LENS_MODEL)) or _text(sub.get(LENS_MAKE)))):
        if value:
            meta[name] = value
    taken = _taken(sub.get(DATETIME_ORIGINAL) or exif.get(DATETIME), sub.get(OFFSET_TIME_ORIGINAL))
    if taken:
        meta.update(taken)
    position = _gps(gps)
    if position:
        meta["gps"] = position
    return meta


def _png_exif(data):
    """A PNG's eXIf chunk as Pillow keeps it in info["exif"], found by walking the chunks (b""
    when there is none): Pillow's PNG getexif() decodes every pixel to look past IDAT."""
    pos = 8
    while pos + 8 <= len(data):
        length = int.from_bytes(data[pos:pos + 4], "big")
        kind = data[pos + 4:pos + 8]
        if kind == b"eXIf":
            payload = data[pos + 8:pos + 8 + length]
            return payload if payload.startswith(b"Exif\x00\x00") else b"Exif\x00\x00" + payload
        if kind == b"IEND":
            break
        pos += 12 + length
    return b""


def _exif(img, data):
    """(EXIF, its Exif IFD, its GPS IFD), read without decoding the pixels; empty where the
    block is damaged."""
    try:
        if img.format == "PNG" and "exif" not in img.info:
            img.info["exif"] = _png_exif(data)
        exif = img.getexif()
    except Exception:   # noqa: BLE001 -- struct.error, IndexError... on a hostile block
        return {}, {}, {}
    ifds = []
    for ifd in (EXIF_IFD, GPS_IFD):
        try:
            ifds.append(exif.get_ifd(ifd))
        except Exception:   # noqa: BLE001
            ifds.append({})
    return (exif, *ifds)


def _text(value):
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if not isinstance(value, str):
        return None
    value = value.replace("\x00", "").strip()
    return value or None


def _taken(raw, offset):
    """{"taken_at": local time with its zone when known, "taken_at_utc", "taken_at_has_zone"}."""
    raw = _text(raw)
    if not raw:
        return None
    try:
        local = datetime.strptime(raw[:19], "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None
    if not 1826 <= local.year <= datetime.now().year + 1:
        return None
    zone = _zone(_text(offset))
    if zone is not None:
        aware = local.replace(tzinfo=zone)
        return {"taken_at": aware.isoformat(), "taken_at_has_zone": True,
                "taken_at_utc": aware.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")}
    # No zone recorded: the camera's clock, taken as UTC for sorting and filtering.
    return {"taken_at": local.isoformat(), "taken_at_has_zone": False,
            "taken_at_utc": local.replace(tzinfo=timezone.utc).isoformat().replace("+00:00", "Z")}


def _zone(offset):
    if not offset or len(offset) != 6 or offset[0] not in "+-" or offset[3] != ":":
        return None
    try:
        hours, minutes = int(offset[1:3]), int(offset[4:6])
    except ValueError:
        return None
    if hours > 14 or minutes > 59:
        return None
    sign = 1 if offset[0] == "+" else -1
    return timezone(sign * timedelta(hours=hours, minutes=minutes))


def _degrees(dms, ref, limit):
    try:
        d, m, s = (float(x) for x in dms)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    value = d + m / 60 + s / 3600
    if ref in ("S", "W", b"S", b"W"):
        value = -value
    return round(value, 7) if abs(value) <= limit and m < 60 and s < 60 else None


def _gps(gps):
    if not gps:
        return None
    lat = _degrees(gps.get(2), gps.get(1), 90)
    lon = _degrees(gps.get(4), gps.get(3), 180)
    if lat is None or lon is None or (lat == 0 and lon == 0):
        return None
    out = {"lat": lat, "lon": lon}
    try:
        alt = float(gps.get(6))
        if abs(alt) < 100000:
            out["alt"] = round(-alt if gps.get(5) in (1, b"\x01") else alt, 2)
    except (TypeError, ValueError, ZeroDivisionError):
        pass
    return out


def _crops(img, boxes, long_side, margin):
    from PIL import Image
    crops = []
    for box in boxes:
        mw, mh = box.get("width", 0) * margin, box.get("height", 0) * margin
        left = max(0, int((box.get("left", 0) - mw) * img.width))
        top = max(0, int((box.get("top", 0) - mh) * img.height))
        right = min(img.width, int((box.get("left", 0) + box.get("width", 0) + mw) * img.width))
        bottom = min(img.height, int((box.get("top", 0) + box.get("height", 0) + mh) * img.height))
        if right - left < 2 or bottom - top < 2:
            crops.append(None)
            continue
        crop = img.crop((left, top, right, bottom))
        crop.thumbnail((long_side, long_side), Image.LANCZOS)
        out = io.BytesIO()
        crop.save(out, "JPEG", quality=85)
        crops.append(out.getvalue())
    return crops

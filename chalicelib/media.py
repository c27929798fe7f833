"""What a photo file is, read from its headers: format, size, orientation, capture time,
camera, lens and GPS position.  Nothing is decoded beyond the headers.

HEIC/HEIF is read with pillow-heif when it is installed.  Values that are out of range
(a latitude of 4294967295, a date of 1999:99:99) are dropped, never guessed.
"""
import io
import warnings
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


ANALYSABLE = ("jpeg", "png")
REKOGNITION_BYTES = 5 * 1024 * 1024   # Rekognition's limit for an image sent as bytes


def needs_conversion(meta):
    """Formats Rekognition does not take, and pictures whose EXIF orientation must be applied
    first (so that boxes match the picture as displayed)."""
    return meta["format"] not in ANALYSABLE or meta["orientation"] != 1


def to_rgb(img):
    """8-bit RGB from any mode: palette, grayscale, CMYK, 16-bit, transparent (over white)."""
    from PIL import Image
    if img.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        import numpy as np
        arr = np.asarray(img, dtype=np.float64)
        top = arr.max() or 1.0
        img = Image.fromarray((arr / top * 255.0).clip(0, 255).astype("uint8"), "L")
    if img.mode == "P":
        img = img.convert("RGBA" if "transparency" in img.info else "RGB")
    if img.mode in ("RGBA", "LA", "PA"):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(background, rgba)
    if img.mode != "RGB":
        img = img.convert("RGB")
    return img


def displayed(data, draft=None):
    """The picture as displayed: first frame, EXIF orientation applied, 8-bit RGB.  With
    `draft`, a JPEG is decoded at the smallest DCT scale still >= draft px.  Corrupt when
    the pixels cannot be decoded."""
    from PIL import Image, ImageOps
    _register_heif()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            img = Image.open(io.BytesIO(data))
            img.seek(0)
            if draft and img.format == "JPEG":
                img.draft("RGB", (draft, draft))
            img.load()
            return to_rgb(ImageOps.exif_transpose(img))
    except (OSError, ValueError, SyntaxError, EOFError) as e:
        raise Corrupt(str(e))


def to_jpeg(data, max_bytes=REKOGNITION_BYTES, max_side=4096, quality=90):
    """The picture as displayed (first frame, EXIF orientation applied, RGB) as a JPEG of at
    most `max_bytes`, shrinking it if needed.  Corrupt when the pixels cannot be decoded."""
    from PIL import Image
    img = displayed(data)
    side = max_side
    while True:
        if max(img.size) > side:
            img.thumbnail((side, side), Image.LANCZOS)
        out = io.BytesIO()
        img.save(out, "JPEG", quality=quality)
        if out.tell() <= max_bytes or side < 256:
            return out.getvalue()
        side = int(max(img.size) * 0.75)


def read_metadata(data, max_pixels=None):
    """Metadata of an image file, or NotAnImage.  Raises ValueError("too many pixels")
    when the header declares more than `max_pixels`."""
    from PIL import Image, UnidentifiedImageError
    _register_heif()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            img = Image.open(io.BytesIO(data))
            fmt = FORMATS.get(img.format)
            if fmt is None:
                raise NotAnImage(img.format)
            width, height = img.size
            if max_pixels and width * height > max_pixels:
                raise ValueError("too many pixels")
            exif = img.getexif()
            sub = exif.get_ifd(EXIF_IFD)
            gps = exif.get_ifd(GPS_IFD)
    except Image.DecompressionBombError as e:
        raise ValueError("too many pixels (%s)" % e)
    except (UnidentifiedImageError, SyntaxError, EOFError) as e:
        raise NotAnImage(str(e))
    except OSError as e:
        raise NotAnImage(str(e))
    orientation = exif.get(ORIENTATION, 1)
    orientation = orientation if isinstance(orientation, int) and 1 <= orientation <= 8 else 1
    shown = (height, width) if orientation in (5, 6, 7, 8) else (width, height)
    meta = {"format": fmt, "width": shown[0], "height": shown[1], "orientation": orientation}
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


def thumbnail(data, long_side=256, quality=85):
    """A JPEG of the picture as displayed with its long side at most `long_side` (JPEGs are
    decoded at a reduced DCT scale).  Corrupt when the pixels cannot be decoded."""
    from PIL import Image
    img = displayed(data, draft=long_side * 2)
    img.thumbnail((long_side, long_side), Image.LANCZOS)
    out = io.BytesIO()
    img.save(out, "JPEG", quality=quality)
    return out.getvalue()


def face_crops(jpeg, boxes, long_side=160, margin=0.25):
    """A JPEG crop per face box (ratios of the displayed picture `jpeg`), with a margin."""
    from PIL import Image
    img = Image.open(io.BytesIO(jpeg)).convert("RGB")
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

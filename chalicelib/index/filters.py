"""Search filters and sort orders, validated once for every index backend.

Filters (all optional, combined with AND):
- ``taken_from``, ``taken_to``, ``uploaded_from``, ``uploaded_to``: a date (YYYY-MM-DD, the
  whole day in UTC) or an ISO time; photos with no capture time never match a taken range.
- ``camera_make``, ``camera_model``: exact, case-insensitive ("canon", "iphone 13 pro").
- ``has_faces``, ``has_text``: true or false.
- ``color``: a simplified dominant colour (at least 10 % of the picture): red, orange, yellow,
  green, blue, purple, pink, brown, black, white, grey.
- ``near`` ("lat,lon") with ``radius_km`` (default 10): great-circle distance (mean Earth radius).
- ``format``: jpeg, png, heic, webp, gif, tiff, bmp.  ``status``: pending, indexed, unsupported, failed.

Internal, never read from a request: ``photo_ids`` (only these photos; people search).

Sorts: ``relevance`` (the default with words), ``newest`` (the default without), ``oldest``,
by the photo's time: when it was taken, else when it was uploaded.
"""
import math
from datetime import datetime, time, timedelta, timezone

from chalicelib.errors import BadRequest

COLORS = ("black", "white", "grey", "red", "orange", "yellow", "green", "blue", "purple", "pink", "brown")
FORMATS = ("jpeg", "png", "heic", "webp", "gif", "tiff", "bmp")
STATUSES = ("pending", "indexed", "unsupported", "failed")
SORTS = ("relevance", "newest", "oldest")
EARTH_RADIUS_KM = 6371.0088
NAMES = ("taken_from", "taken_to", "uploaded_from", "uploaded_to", "camera_make", "camera_model", "has_faces",
         "has_text", "color", "near", "radius_km", "format", "status")


def _when(name, value, end_of_day):
    text = str(value).strip()
    try:
        if len(text) == 10:
            day = datetime.strptime(text, "%Y-%m-%d").date()
            moment = datetime.combine(day, time.max if end_of_day else time.min, timezone.utc)
        else:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=timezone.utc)
    except ValueError:
        raise BadRequest("%s must be a date (YYYY-MM-DD) or an ISO time" % name)
    try:
        moment = moment.astimezone(timezone.utc)
    except OverflowError:
        # A time whose UTC equivalent is past year 9999 or before year 1 (9999-12-31T23:00-12:00):
        # the nearest representable one selects the same photos.
        moment = (datetime.max if moment.utcoffset() < timedelta(0) else datetime.min).replace(tzinfo=timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _bool(name, value):
    if isinstance(value, bool):
        return value
    if str(value).lower() in ("true", "1", "yes"):
        return True
    if str(value).lower() in ("false", "0", "no"):
        return False
    raise BadRequest("%s must be true or false" % name)


def _choice(name, value, allowed):
    value = str(value).strip().lower()
    if value not in allowed:
        raise BadRequest("%s must be one of %s" % (name, ", ".join(allowed)))
    return value


def _scalar(name, value):
    """A filter is one string, number or boolean; text must be valid Unicode (no lone surrogates)."""
    if not isinstance(value, (str, int, float, bool)):
        raise BadRequest("%s must be a string, a number or true/false, not a JSON %s"
                         % (name, "object" if isinstance(value, dict) else "array"))
    if isinstance(value, str) and any("\ud800" <= c <= "\udfff" for c in value):
        raise BadRequest("%s must be valid Unicode text (it contains an unpaired surrogate)" % name)
    return value


def parse(params):
    """Validated filters from query parameters or a JSON object; unknown names are ignored."""
    params = {k: _scalar(k, v) for k, v in (params or {}).items() if k in NAMES and v is not None and v != ""}
    out = {}
    for name in ("taken_from", "uploaded_from"):
        if name in params:
            out[name] = _when(name, params[name], end_of_day=False)
    for name in ("taken_to", "uploaded_to"):
        if name in params:
            out[name] = _when(name, params[name], end_of_day=True)
    for name in ("camera_make", "camera_model"):
        if name in params:
            out[name] = str(params[name]).strip().casefold()
    for name in ("has_faces", "has_text"):
        if name in params:
            out[name] = _bool(name, params[name])
    if "color" in params:
        out["color"] = _choice("color", params["color"], COLORS)
    if "format" in params:
        out["format"] = _choice("format", params["format"], FORMATS)
    if "status" in params:
        out["status"] = _choice("status", params["status"], STATUSES)
    if "near" in params:
        try:
            lat, lon = (float(x) for x in str(params["near"]).split(","))
            radius = float(params.get("radius_km", 10))
        except (TypeError, ValueError):
            raise BadRequest('near must be "lat,lon" and radius_km a number of kilometres')
        if not (-90 <= lat <= 90 and -180 <= lon <= 180 and 0 < radius <= 20050):
            raise BadRequest("near or radius_km is out of range")
        out["near"] = {"lat": lat, "lon": lon, "radius_km": radius}
    elif "radius_km" in params:
        raise BadRequest("radius_km needs near")
    return out


def sort_order(value, has_words):
    if value in (None, ""):
        return "relevance" if has_words else "newest"
    value = _choice("sort", value, SORTS)
    if value == "relevance" and not has_words:
        raise BadRequest("sort=relevance needs words to search for")
    return value


def distance_km(lat1, lon1, lat2, lon2):
    """Great-circle (haversine) distance."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))

"""Scene labels from the picture's colours and layout: Sky, Sunset, Night, Snow, Vegetation.

No registry ships an image-text or scene model (see README, "Analysis engines"), and ImageNet
has no class for sky, sunset, night or snow.  These few are visible in plain pixel
statistics, measured on a 96 px thumbnail in HSV:

- Sky: the top third is mostly smooth blue or bright grey-white (and the picture is not dark).
- Sunset: the top third has a good share of saturated orange/red/yellow, over darker ground.
- Night: the picture is dark overall, with a few bright lights or none.
- Snow: the bottom half is mostly bright, unsaturated and smooth.
- Vegetation: much of the picture is green (grass, leaves, forest).

A picture whose border is almost all white is an object cut out on a background: no scene.

Each gives Rekognition's names, parents and categories and a score that stays under the shown
cutoff (at most RAW_MAX, which calibration.py maps to 49): the labelled photos do not say where
there is sky or snow, so how often these rules are right cannot be calibrated, and they are kept
as searchable evidence only, never shown as labels.  The thresholds were set on the tune photos
of bench/photos.json.
"""
import numpy as np

SIDE = 96
RAW_MAX = 44.0
# name: (parents, category), as Rekognition names them
LABELS = {
    "Sky": (["Nature", "Outdoors"], "Nature and Outdoors"),
    "Sunset": (["Sky", "Nature", "Outdoors"], "Nature and Outdoors"),
    "Night": ([], "Nature and Outdoors"),
    "Snow": (["Nature", "Outdoors"], "Nature and Outdoors"),
    "Vegetation": (["Plant", "Nature", "Outdoors"], "Plants and Flowers"),
}


def _hsv(img):
    small = img.convert("RGB").resize((SIDE, max(1, round(SIDE * img.height / img.width))))
    hsv = np.asarray(small.convert("HSV"), dtype=np.float32) / 255.0
    return hsv[..., 0] * 360.0, hsv[..., 1], hsv[..., 2]


def _smooth(v):
    """Per pixel: True where brightness changes little to the right and below."""
    dx = np.abs(np.diff(v, axis=1, append=v[:, -1:]))
    dy = np.abs(np.diff(v, axis=0, append=v[-1:, :]))
    return (dx + dy) < 0.06


def _label(name, score):
    parents, category = LABELS[name]
    return {"Name": name, "Confidence": round(float(min(100.0, max(0.0, score))) * RAW_MAX / 100.0, 3),
            "Parents": [{"Name": p} for p in parents], "Aliases": [], "Categories": [{"Name": category}],
            "Instances": []}


def _ramp(x, low, high):
    """0 at `low`, 100 at `high`, linear between."""
    return float(np.clip((x - low) / (high - low), 0.0, 1.0) * 100.0)


def predict(img):
    h, s, v = _hsv(img)
    rows = v.shape[0]
    top, upper, lower = slice(0, max(1, rows // 3)), slice(0, max(1, rows // 2)), slice(rows // 2, rows)
    smooth = _smooth(v)
    blue = (h >= 180) & (h <= 250) & (s >= 0.12) & (v >= 0.35)
    pale = (s < 0.12) & (v >= 0.7)
    sky_share = float(((blue | pale) & smooth)[top].mean())
    warm = ((h <= 50) | (h >= 340)) & (s >= 0.35) & (v >= 0.45)
    warm_share = float(warm[top].mean())
    brightness = float(v.mean())
    lit = float((v > 0.8).mean())
    snow_share = float(((s < 0.12) & (v >= 0.75) & smooth)[lower].mean())
    green_share = float(((h >= 70) & (h <= 165) & (s >= 0.2) & (v >= 0.15)).mean())
    border = np.concatenate([v[0], v[-1], v[:, 0], v[:, -1]])
    border_s = np.concatenate([s[0], s[-1], s[:, 0], s[:, -1]])
    if float(((border > 0.9) & (border_s < 0.08)).mean()) > 0.8:
        return []           # an object cut out on a white background (a studio shot, a stamp)
    out = []
    sky = _ramp(sky_share, 0.45, 0.9) if brightness > 0.3 else 0.0
    if sky:
        out.append(_label("Sky", sky))
    sunset = _ramp(warm_share, 0.12, 0.4) if float(v[lower].mean()) < float(v[upper].mean()) - 0.1 else 0.0
    if sunset:
        out.append(_label("Sunset", sunset))
        out.append(_label("Sky", sunset))
    night = _ramp(0.25 - brightness, 0.0, 0.12) if lit < 0.08 else 0.0
    if night:
        out.append(_label("Night", night))
    snow = _ramp(snow_share, 0.4, 0.8) if sky_share < 0.9 else 0.0
    if snow:
        out.append(_label("Snow", snow))
    vegetation = _ramp(green_share, 0.2, 0.6)
    if vegetation:
        out.append(_label("Vegetation", vegetation))
    best = {}
    for lab in out:          # one label per name, its best score
        if lab["Confidence"] > best.get(lab["Name"], {"Confidence": -1})["Confidence"]:
            best[lab["Name"]] = lab
    return [lab for lab in best.values() if lab["Confidence"] > 0]

"""Image properties in DetectLabels' ImageProperties shape: dominant colours and quality."""
import colorsys

SIMPLIFIED = ("black", "white", "grey", "red", "orange", "yellow", "green", "blue", "purple", "pink", "brown")


def simplified_color(r, g, b):
    """One of Rekognition's simplified colour names for an sRGB colour."""
    h, s, v = colorsys.rgb_to_hsv(r / 255.0, g / 255.0, b / 255.0)
    if v < 0.18:
        return "black"
    if s < 0.15:
        return "white" if v > 0.85 else "grey"
    deg = h * 360
    if deg < 15 or deg >= 345:
        return "pink" if v > 0.8 and s < 0.5 else "red"
    if deg < 40:
        return "brown" if v < 0.6 else "orange"
    if deg < 70:
        return "brown" if v < 0.45 else "yellow"
    if deg < 165:
        return "green"
    if deg < 255:
        return "blue"
    if deg < 290:
        return "purple"
    return "pink"


_CSS = None


def css_color(r, g, b):
    """The nearest CSS named colour."""
    global _CSS
    if _CSS is None:
        from PIL import ImageColor
        _CSS = [(name, value if isinstance(value, tuple) else ImageColor.getrgb(value))
                for name, value in ImageColor.colormap.items()
                if name not in ("grey", "darkgrey", "lightgrey", "dimgrey", "slategrey", "darkslategrey",
                                "lightslategrey")]
    return min(_CSS, key=lambda c: (c[1][0] - r) ** 2 + (c[1][1] - g) ** 2 + (c[1][2] - b) ** 2)[0]


def image_properties(img, colors=5):
    import numpy as np
    from PIL import Image
    small = img.copy()
    small.thumbnail((128, 128), Image.BILINEAR)
    quantized = small.quantize(colors=colors, method=Image.Quantize.MEDIANCUT)
    palette = quantized.getpalette()[: colors * 3]
    counts = sorted(quantized.getcolors(), reverse=True)
    total = sum(c for c, _ in counts)
    dominant = []
    for count, idx in counts:
        r, g, b = palette[idx * 3: idx * 3 + 3]
        dominant.append({"Red": r, "Green": g, "Blue": b, "HexCode": "#%02X%02X%02X" % (r, g, b),
                         "CSSColor": css_color(r, g, b), "SimplifiedColor": simplified_color(r, g, b),
                         "PixelPercent": round(100.0 * count / total, 2)})
    gray = np.asarray(img.convert("L").resize((min(512, img.width), min(512, img.height))), dtype=np.float32)
    lap = (gray[1:-1, 2:] + gray[1:-1, :-2] + gray[2:, 1:-1] + gray[:-2, 1:-1] - 4 * gray[1:-1, 1:-1])
    quality = {"Brightness": round(float(gray.mean()) / 255 * 100, 2),
               "Sharpness": round(min(100.0, float(lap.var()) ** 0.5 / 40 * 100), 2),
               "Contrast": round(min(100.0, float(gray.std()) / 80 * 100), 2)}
    return {"Quality": quality, "DominantColors": dominant}

"""Real photos (taken from registry wheels by tools/fetch_test_images.py) and rendered text."""
import io
import os

from PIL import Image, ImageDraw, ImageFont

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TESTDATA = os.path.join(ROOT, "var", "testdata")
FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"


def path(name):
    p = os.path.join(TESTDATA, name)
    if not os.path.exists(p):
        raise RuntimeError("%s is missing: run ./dev models (it fetches the test images)" % p)
    return p


def load(name):
    return Image.open(path(name)).convert("RGB")


def encode(img, fmt="JPEG", **kw):
    out = io.BytesIO()
    img.save(out, fmt, **kw)
    return out.getvalue()


def font(size):
    try:
        return ImageFont.truetype(FONT, size)
    except OSError:
        return ImageFont.load_default(size)


def sign(text="OPEN 24 HOURS", background="coffee.png", size=36, at=(20, 20)):
    """`text` in black on a white panel pasted onto a real photo: exact ground truth."""
    img = load(background) if background else Image.new("RGB", (640, 400), (240, 240, 240))
    draw = ImageDraw.Draw(img)
    f = font(size)
    left, top, right, bottom = draw.textbbox(at, text, font=f)
    draw.rectangle([left - 12, top - 10, right + 12, bottom + 10], fill=(255, 255, 255))
    draw.text(at, text, font=f, fill=(0, 0, 0))
    return img

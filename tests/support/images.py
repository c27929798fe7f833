"""Images the tests make themselves (nothing downloaded)."""
import io

from PIL import Image, ImageDraw


def image_bytes(fmt="JPEG", size=(160, 120), color=(200, 40, 40)):
    img = Image.new("RGB", size, color)
    draw = ImageDraw.Draw(img)
    draw.rectangle([size[0] // 4, size[1] // 4, size[0] * 3 // 4, size[1] * 3 // 4], fill=(20, 20, 200))
    out = io.BytesIO()
    img.save(out, fmt)
    return out.getvalue()


def jpeg(**kw):
    return image_bytes("JPEG", **kw)


def png(**kw):
    return image_bytes("PNG", **kw)

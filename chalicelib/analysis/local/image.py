"""Decoding an image once, safely, for every local model.

EXIF orientation is applied, every mode (palette, grayscale, CMYK, 16-bit,
transparent) becomes 8-bit RGB (transparency over white), and JPEGs are
decoded at a reduced DCT scale when they are far larger than any model needs.
Problems become ImageRejected with a reason a person can act on.
"""
import io
import warnings

from chalicelib.analysis import ImageRejected
from chalicelib.media import to_rgb

MIN_SIDE = 80          # Rekognition's minimum
WORKING_SIDE = 2048    # the largest side any local model looks at


def decode(data, max_pixels):
    from PIL import Image, ImageOps, UnidentifiedImageError
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
            width, height = img.size
            if width * height > max_pixels:
                raise ImageRejected("ImageTooLarge", "%dx%d is more than %d pixels" % (width, height, max_pixels))
            if min(width, height) < MIN_SIDE:
                raise ImageRejected("InvalidParameter", "%dx%d is smaller than %dx%d pixels"
                                    % (width, height, MIN_SIDE, MIN_SIDE))
            fmt = img.format
            if fmt == "JPEG" and max(width, height) > WORKING_SIDE:
                # DCT-domain downscale (1/2, 1/4, 1/8) to the smallest size still >= this box
                img.draft("RGB", (WORKING_SIDE * 2 // 3, WORKING_SIDE * 2 // 3))
            img.load()
            img = ImageOps.exif_transpose(img)
            img = to_rgb(img)
    except ImageRejected:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise ImageRejected("ImageTooLarge", str(e))
    except UnidentifiedImageError:
        raise ImageRejected("InvalidImageFormat", "not an image this engine can read")
    except (OSError, ValueError, SyntaxError, EOFError) as e:
        raise ImageRejected("InvalidImageFormat", "corrupt or truncated image (%s)" % e)
    if max(img.size) > WORKING_SIDE:
        img.thumbnail((WORKING_SIDE, WORKING_SIDE), Image.BILINEAR)
    return img, fmt

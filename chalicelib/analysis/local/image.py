"""The picture every local model looks at.

The pipeline decodes each photo once (chalicelib.media.decode: EXIF orientation applied,
every mode -- palette, grayscale, CMYK, 16-bit, transparent -- as 8-bit RGB, JPEGs at a
reduced DCT scale, within DECODE_MAX_PIXELS and DECODE_MAX_BYTES) and hands the picture over;
bytes given without one are decoded here the same way.  A picture under MIN_SIDE px on a side
is padded (its edges repeated) rather than refused, and the boxes found in it are mapped back.
Problems become ImageRejected with a reason a person can act on.
"""
from chalicelib import media
from chalicelib.analysis import MIN_SIDE, ImageRejected

WORKING_SIDE = media.WORKING_SIDE    # the largest side any local model looks at


def decode(data, max_pixels, max_bytes=None):
    """(the picture in `data` as 8-bit RGB, long side at most WORKING_SIDE; Pillow's format)."""
    try:
        picture = media.decode(data, WORKING_SIDE, max_pixels, max_bytes)
    except media.TooLarge as e:
        raise ImageRejected("ImageTooLarge", str(e))
    except media.Unidentified:
        raise ImageRejected("InvalidImageFormat", "not an image this engine can read")
    except media.Corrupt as e:
        raise ImageRejected("InvalidImageFormat", "corrupt or truncated image (%s)" % e)
    return picture.image, picture.format


def working(picture):
    """A decoded Picture's image at most WORKING_SIDE (the image itself when it is)."""
    return picture.shrunk(WORKING_SIDE)


def framed(img):
    """(`img` padded to MIN_SIDE on each side, the media.Frame it sits in or None)."""
    return media.pad(img, MIN_SIDE)

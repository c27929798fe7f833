"""Hostile and expensive image files, built byte by byte (never decoded to be made)."""
import struct
import zlib


def _chunk(kind, body):
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)


def png_header(width, height, bit_depth=8, color_type=2):
    """A PNG signature and IHDR (color_type 0 gray, 2 RGB, 4 gray+alpha, 6 RGBA)."""
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr)


def png16(width=9999, height=9999, stripes=16):
    """A valid 16-bit grayscale PNG that is tiny on disk (a few hundred KB for 9999x9999: the
    `adversarial` file costing gigabytes to decode).  Rows are streamed through zlib: making it
    takes a few MB, whatever its size."""
    bands = [b"\x00" + struct.pack(">H", (4096 * n) % 65536) * width for n in range(stripes)]
    z = zlib.compressobj(9)
    parts = []
    for y in range(height):
        parts.append(z.compress(bands[(y * stripes) // height]))
    parts.append(z.flush())
    return png_header(width, height, 16, 0) + _chunk(b"IDAT", b"".join(parts)) + _chunk(b"IEND", b"")


def png_declaring(width, height, bit_depth=8, color_type=2):
    """A PNG whose header declares `width` x `height` but holds one byte of pixel data."""
    return png_header(width, height, bit_depth, color_type) + _chunk(b"IDAT", zlib.compress(b"\x00")) + \
        _chunk(b"IEND", b"")


def dds_unknown_fourcc(size=64 * 1024):
    """A DDS file (64 KB) whose pixel format is a FourCC nobody knows: Pillow's DDS plugin raises
    NotImplementedError("Unimplemented pixel format") from Image.open."""
    header = struct.pack("<7I", 124, 0x1007, 256, 256, 0, 0, 0) + b"\0" * 44
    pixel_format = struct.pack("<2I4s5I", 32, 0x4, b"ZZZZ", 0, 0, 0, 0, 0)
    caps = struct.pack("<5I", 0x1000, 0, 0, 0, 0)
    data = b"DDS " + header + pixel_format + caps
    return data + b"\0" * (size - len(data))

"""Container-level checks that a decoder alone does not make: the file ends where the image ends.

A polyglot is a file that is a valid image *and* something else — HTML, a script or a ZIP appended
after the image data or tucked into a comment. Decoders happily ignore such payloads, so each
format's structure is walked here and anything after the end of the image is refused, as is
markup anywhere in the file. Truncation is caught here too, before the decoder is asked.
"""
from __future__ import annotations

import re


class Truncated(ValueError):
    """The image data stops before the format says it ends."""


class Malformed(ValueError):
    """The bytes do not follow the container's structure."""


class Polyglot(ValueError):
    """The file carries something besides the image: bytes after its end, or markup inside."""


# Markup that makes a browser or an interpreter treat the bytes as a document. XMP metadata
# (`<x:xmpmeta`, `<?xpacket`) is legitimate in photos and does not match.
MARKUP = re.compile(
    rb"<(?:script|html|body|iframe|object|embed|svg|!doctype|\?php|%@|jsp:)", re.IGNORECASE
)


def contains_markup(data: bytes) -> bool:
    return MARKUP.search(data) is not None


def _jpeg_end(data: bytes, start: int) -> int:
    """Index just after the EOI marker of the JPEG starting at `start`."""
    n = len(data)
    if data[start:start + 2] != b"\xff\xd8":
        raise Malformed("no SOI marker")
    i = start + 2
    while True:
        if i >= n:
            raise Truncated("no EOI marker")
        if data[i] != 0xFF:
            raise Malformed(f"expected a marker at {i}")
        while i < n and data[i] == 0xFF:  # fill bytes before a marker are allowed
            i += 1
        if i >= n:
            raise Truncated("stream ends inside a marker")
        marker = data[i]
        i += 1
        if marker == 0xD9:  # EOI
            return i
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:  # standalone markers
            continue
        if i + 2 > n:
            raise Truncated("stream ends inside a segment header")
        length = int.from_bytes(data[i:i + 2], "big")
        if length < 2:
            raise Malformed("segment length below 2")
        i += length
        if i > n:
            raise Truncated("segment runs past the end")
        if marker == 0xDA:  # SOS: entropy-coded data runs to the next real marker
            while True:
                j = data.find(b"\xff", i)
                if j < 0 or j + 1 >= n:
                    raise Truncated("scan data runs past the end")
                following = data[j + 1]
                if following == 0x00 or 0xD0 <= following <= 0xD7:  # stuffed byte, restart marker
                    i = j + 2
                elif following == 0xFF:
                    i = j + 1
                else:
                    i = j
                    break


def check_jpeg(data: bytes) -> None:
    end = _jpeg_end(data, 0)
    # Phones append further JPEGs after the primary image (MPF: depth maps, HDR gain maps);
    # those are walked the same way. Zero or 0xFF padding is harmless. Anything else is refused.
    while end < len(data):
        rest = data[end:]
        if not rest.strip(b"\x00\xff"):
            return
        if rest.startswith(b"\xff\xd8"):
            end = _jpeg_end(data, end)
            continue
        raise Polyglot(f"{len(rest)} bytes after the end of the image")


def check_png(data: bytes) -> None:
    n = len(data)
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise Malformed("no PNG signature")
    i = 8
    while True:
        if i + 8 > n:
            raise Truncated("no IEND chunk")
        length = int.from_bytes(data[i:i + 4], "big")
        kind = data[i + 4:i + 8]
        if length > 0x7FFFFFFF or not kind.isalpha():
            raise Malformed("bad chunk header")
        i += 12 + length
        if i > n:
            raise Truncated("chunk runs past the end")
        if kind == b"IEND":
            break
    if i != n:
        raise Polyglot(f"{n - i} bytes after IEND")


def check_webp(data: bytes) -> None:
    n = len(data)
    if data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        raise Malformed("not a RIFF/WEBP file")
    end = 8 + int.from_bytes(data[4:8], "little")
    end += end % 2  # RIFF pads odd-sized payloads with one byte
    if end > n:
        raise Truncated("RIFF payload runs past the end")
    if end < n:
        raise Polyglot(f"{n - end} bytes after the RIFF payload")


def check_heif(data: bytes) -> None:
    """ISO base media file: top-level boxes must tile the file exactly, starting with `ftyp`."""
    n = len(data)
    if data[4:8] != b"ftyp":
        raise Malformed("no ftyp box")
    i = 0
    while i < n:
        if i + 8 > n:
            raise Truncated("box header runs past the end")
        size = int.from_bytes(data[i:i + 4], "big")
        kind = data[i + 4:i + 8]
        header = 8
        if size == 1:
            if i + 16 > n:
                raise Truncated("large box header runs past the end")
            size = int.from_bytes(data[i + 8:i + 16], "big")
            header = 16
        elif size == 0:  # "to the end of the file"
            size = n - i
        if size < header or not all(0x20 <= c < 0x7F for c in kind):
            raise Malformed("bad box header")
        if i + size > n:
            raise Truncated("box runs past the end")
        i += size


CHECKS = {"JPEG": check_jpeg, "PNG": check_png, "WEBP": check_webp, "HEIF": check_heif}


def check_container(pillow_format: str, data: bytes) -> None:
    """Raise Truncated, Malformed or Polyglot."""
    CHECKS[pillow_format](data)
    if contains_markup(data):
        raise Polyglot("markup inside the image file")

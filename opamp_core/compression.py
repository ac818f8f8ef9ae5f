"""gzip for plain-HTTP OpAMP bodies, with a bound on what decompression may produce.

Plain Python. A gzip body of a few kilobytes can expand to gigabytes (a "gzip bomb"), so the
request body is inflated at most `max_size + 1` bytes at a time: one byte over the limit is
enough to refuse it, and memory never holds more than the limit.
"""

import gzip
import zlib

from opamp_core.framing import FramingError, MessageTooBig

GZIP_WBITS = 16 + zlib.MAX_WBITS  # zlib's flag for a gzip header and trailer


def gunzip(data: bytes, max_size: int) -> bytes:
    """The decompressed body. MessageTooBig over max_size, FramingError when it is not valid gzip."""
    inflater = zlib.decompressobj(GZIP_WBITS)
    try:
        out = inflater.decompress(data, max_size + 1)
    except zlib.error as error:
        raise FramingError(f"invalid gzip body: {error}") from None
    if len(out) > max_size:
        raise MessageTooBig(f"the decompressed body exceeds the {max_size}-byte limit")
    if not inflater.eof:
        raise FramingError("invalid gzip body: truncated")
    return out


def accepts_gzip(accept_encoding: str) -> bool:
    """Whether an Accept-Encoding header value allows gzip (q=0 forbids it)."""
    for item in accept_encoding.split(","):
        coding, _, params = item.strip().partition(";")
        if coding.strip().lower() in ("gzip", "*"):
            return params.replace(" ", "").lower() not in ("q=0", "q=0.0", "q=0.00", "q=0.000")
    return False


def gzip_body(data: bytes) -> bytes:
    return gzip.compress(data, compresslevel=6, mtime=0)

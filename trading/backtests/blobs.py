"""Large values stored as rows of compressed chunks, each small enough for any MySQL/MariaDB packet limit.

MariaDB refuses a statement larger than max_allowed_packet (16 MB by default, 4 MB on some hosts), and one INSERT
of several rows is one statement: so chunks are cut before compression at CHUNK_BYTES (compression never makes
text much larger: zlib adds at most a few bytes per 16 KB) and written one INSERT each.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterable, Iterator

from django.db import models

CHUNK_BYTES = 3 * 1024 * 1024  # uncompressed; ≤ ~3 MB compressed, under a 4 MB max_allowed_packet
_LEVEL = 1  # 5× faster than 6 on candle text for ~10 % more bytes: an upload waits on it


def split_lines(text: bytes, size: int) -> Iterator[bytes]:
    """`text` in pieces of at most `size` bytes, cut after a newline where there is one (so that a chunk is whole
    lines, readable alone)."""
    start = 0
    while start < len(text):
        end = min(start + size, len(text))
        if end < len(text):
            cut = text.rfind(b"\n", start, end)
            if cut >= start:
                end = cut + 1
        yield text[start:end]
        start = end


def write_chunks(make: Callable[[int, bytes], models.Model], text: bytes) -> int:
    """Save `text` as compressed chunks, one INSERT each: `make(index, compressed)` returns the unsaved row.
    Returns the compressed size."""
    stored = 0
    for index, piece in enumerate(split_lines(text, CHUNK_BYTES)):
        compressed = zlib.compress(piece, _LEVEL)
        make(index, compressed).save(force_insert=True)
        stored += len(compressed)
    return stored


def read_chunks(rows: Iterable[bytes | memoryview]) -> bytes:
    """The text of compressed chunks given in index order."""
    return b"".join(zlib.decompress(bytes(row)) for row in rows)

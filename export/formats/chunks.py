"""Pieces of an export joined into the chunks a streaming response hands the server."""
from collections.abc import Iterable, Iterator

# Big enough to keep syscalls few, small enough to keep memory flat.
CHUNK_OCTETS = 64 * 1024


def in_chunks(pieces: Iterable[bytes], *, size: int = CHUNK_OCTETS) -> Iterator[bytes]:
    """The pieces, joined into chunks of about size octets that never split a piece (an event, a row)."""
    buffer: list[bytes] = []
    filled = 0
    for piece in pieces:
        buffer.append(piece)
        filled += len(piece)
        if filled >= size:
            yield b"".join(buffer)
            buffer, filled = [], 0
    if buffer:
        yield b"".join(buffer)

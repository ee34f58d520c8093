"""Raw bytes from input files: decompression, line-aligned work units, truncation."""

from __future__ import annotations

import bz2
import gzip
import hashlib
import io
import lzma
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import xxhash
import zstandard


class _ZstdFrames(io.RawIOBase):
    """A zstd stream of one or more frames that raises EOFError when it ends inside a
    frame (zstandard's stream_reader ends quietly when a file is cut at a block boundary
    or after the frame header, losing the documents that were cut off)."""

    def __init__(self, path: Path) -> None:
        self._f = open(path, "rb")
        self._d = zstandard.ZstdDecompressor()
        self._obj = self._d.decompressobj()
        self._in_frame = False
        self._out = b""

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:  # type: ignore[override]
        while not self._out:
            chunk = self._f.read(1 << 17)
            if not chunk:
                if self._in_frame:
                    raise EOFError("zstd stream ends inside a frame (file truncated)")
                return 0
            self._feed(chunk)
        n = min(len(b), len(self._out))
        b[:n] = self._out[:n]
        self._out = self._out[n:]
        return n

    def _feed(self, chunk: bytes) -> None:
        out = []
        while chunk:
            self._in_frame = True
            out.append(self._obj.decompress(chunk))
            if not self._obj.eof:
                break
            self._in_frame = False
            chunk = self._obj.unused_data
            self._obj = self._d.decompressobj()
        self._out += b"".join(out)

    def close(self) -> None:
        self._f.close()
        super().close()


_OPENERS: dict[str, Callable[[Path], BinaryIO]] = {
    ".gz": lambda p: gzip.open(p, "rb"),
    ".zst": lambda p: io.BufferedReader(_ZstdFrames(p), 1 << 17),
    ".zstd": lambda p: io.BufferedReader(_ZstdFrames(p), 1 << 17),
    ".bz2": lambda p: bz2.open(p, "rb"),
    ".xz": lambda p: lzma.open(p, "rb"),
}
#: The first bytes of each compressed format: a file whose bytes do not start so is read
#: as it is (a plain text named .gz keeps its text).
_MAGIC = {
    ".gz": b"\x1f\x8b",
    ".zst": b"\x28\xb5\x2f\xfd",
    ".zstd": b"\x28\xb5\x2f\xfd",
    ".bz2": b"BZh",
    ".xz": b"\xfd7zXZ\x00",
}
_READ_ERRORS = (EOFError, OSError, zlib.error, zstandard.ZstdError, lzma.LZMAError)
HASH_BLOCK = 8 << 20


def compression_of(path: Path | str) -> str | None:
    """The compression a file is read with: its suffix's, when its first bytes agree.

    A file named `.gz` that is not gzip (a plain text renamed, a server that sent it
    decompressed) is read as it is rather than lost to a decompression error; an empty
    file is read as empty.
    """
    suffix = Path(path).suffix.lower()
    if suffix not in _OPENERS:
        return None
    magic = _MAGIC[suffix]
    try:
        with open(path, "rb") as f:
            head = f.read(len(magic))
    except OSError:
        return suffix
    # a file shorter than the magic that starts like it is a truncated stream
    return suffix if magic.startswith(head) else None


def strip_compression(name: str) -> str:
    for suffix in _OPENERS:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def open_binary(path: Path) -> BinaryIO:
    """The file's content, decompressed according to its suffix."""
    comp = compression_of(path)
    return _OPENERS[comp](path) if comp else open(path, "rb")


class TruncatedInput(Exception):
    """The input ended early or is corrupt; what was read before it is still good."""

    def __init__(self, line: int, partial: bytes, detail: str) -> None:
        super().__init__(detail)
        self.line = line
        self.partial = partial
        self.detail = detail


@dataclass(frozen=True)
class LineRange:
    """A line-aligned byte range of an uncompressed file, and its first line number (1-based)."""

    start: int
    end: int
    first_line: int
    lines: int


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(HASH_BLOCK):
            h.update(block)
    return h.hexdigest()


def content_hash(path: Path) -> str:
    """A fast digest of a file's bytes (xxh3-128, streamed): the resume identity of an input.

    xxh3 hashes at memory speed, so checking content costs about one read of the
    inputs; the manifest keeps SHA-256 for anyone who needs a cryptographic checksum.
    """
    h = xxhash.xxh3_128()
    with open(path, "rb") as f:
        while block := f.read(HASH_BLOCK):
            h.update(block)
    return h.hexdigest()


def split_lines(path: Path, unit_bytes: int) -> list[LineRange]:
    """Cut a plain file into ranges of about `unit_bytes` that end on a newline.

    Ranges depend only on the file and unit size, so the shard layout is reproducible.
    """
    ranges: list[LineRange] = []
    range_start, line, count, pos = 0, 1, 0, 0
    last = b"\n"
    with open(path, "rb") as f:
        while block := f.read(HASH_BLOCK):
            i = 0
            while True:
                need = range_start + unit_bytes - (pos + i)
                j = block.find(b"\n", i + max(need - 1, 0)) if need <= len(block) - i else -1
                if j < 0:
                    count += block.count(b"\n", i)
                    break
                count += block.count(b"\n", i, j + 1)
                ranges.append(LineRange(range_start, pos + j + 1, line, count))
                line += count
                count, range_start, i = 0, pos + j + 1, j + 1
            pos += len(block)
            last = block[-1:]
    if pos > range_start or not ranges:
        ranges.append(LineRange(range_start, pos, line, count + (last != b"\n")))
    return ranges


def iter_line_blocks(
    path: Path,
    start: int = 0,
    end: int | None = None,
    block_bytes: int = 32 << 20,
    first_line: int = 1,
) -> Iterator[tuple[bytes, int]]:
    """Blocks of complete lines and the line number of each block's first line.

    Plain files are read within [start, end); compressed files are streamed whole.
    A truncated or corrupt stream yields every complete line before the damage,
    then raises TruncatedInput with the partial line.
    """
    line = first_line
    pending: list[bytes] = []
    pending_bytes = 0
    compressed = compression_of(path) is not None
    try:
        with open_binary(path) as f:
            if not compressed and start:
                f.seek(start)
            remaining = None if end is None or compressed else end - start
            # Small reads from compressed streams, so damage loses as little as possible.
            read = f.read1 if compressed else f.read
            piece = 1 << 20 if compressed else block_bytes
            while remaining is None or remaining > 0:
                chunk = read(piece if remaining is None else min(piece, remaining))
                if not chunk:
                    break
                if remaining is not None:
                    remaining -= len(chunk)
                pending.append(chunk)
                pending_bytes += len(chunk)
                if pending_bytes < block_bytes:
                    continue
                data = b"".join(pending)
                cut = data.rfind(b"\n")
                if cut < 0:
                    pending = [data]
                    continue
                block, rest = data[: cut + 1], data[cut + 1 :]
                pending, pending_bytes = [rest], len(rest)
                yield block, line
                line += block.count(b"\n")
    except _READ_ERRORS as e:
        data = b"".join(pending)
        cut = data.rfind(b"\n")
        if cut >= 0:
            yield data[: cut + 1], line
            line += data.count(b"\n", 0, cut + 1)
        raise TruncatedInput(line, data[cut + 1 :], f"{type(e).__name__}: {e}") from None
    data = b"".join(pending)
    if data:
        yield data, line

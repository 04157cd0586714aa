"""Parquet parts of one archived day, written from a stream of rows in bounded memory.

Rows arrive in fetches of ARCHIVE_FETCH_ROWS from a server-side cursor; each
fetch becomes an Arrow record batch at once (columnar, compact), and batches
are written as one row group every ARCHIVE_ROW_GROUP_ROWS rows. Memory holds
one row group, whatever the size of the day. A part is closed and a new one
begun every ARCHIVE_PART_MAX_ROWS rows, so no single object grows without bound.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO

import pyarrow as pa
import pyarrow.parquet as pq

COMPRESSION = "zstd"
ZSTD_LEVEL = 6  # written once, read rarely: smaller beats faster (docs/performance.md)
HASH_CHUNK = 1 << 20


@dataclass
class Part:
    path: Path
    rows: int = 0
    bytes: int = 0
    sha256: str = ""


@dataclass
class WrittenDay:
    parts: list[Part] = field(default_factory=list)
    first_timestamp: datetime | None = None
    last_timestamp: datetime | None = None

    @property
    def rows(self) -> int:
        return sum(part.rows for part in self.parts)


def sha256_of(stream: BinaryIO) -> tuple[str, int]:
    """(hex SHA-256, size) of what remains in a binary stream, read in chunks."""
    digest, size = hashlib.sha256(), 0
    while chunk := stream.read(HASH_CHUNK):
        digest.update(chunk)
        size += len(chunk)
    return digest.hexdigest(), size


class _PartWriter:
    """Writes row groups into numbered part files under `directory`."""

    def __init__(self, schema: pa.Schema, directory: Path, part_max_rows: int) -> None:
        self.schema = schema
        self.directory = directory
        self.part_max_rows = part_max_rows
        self.parts: list[Part] = []
        self._writer: pq.ParquetWriter | None = None

    def write(self, table: pa.Table) -> None:
        while table.num_rows:
            if self._writer is None:
                self._open()
            part = self.parts[-1]
            room = self.part_max_rows - part.rows
            chunk, table = table.slice(0, room), table.slice(room)
            assert self._writer is not None
            self._writer.write_table(chunk, row_group_size=chunk.num_rows)
            part.rows += chunk.num_rows
            if part.rows >= self.part_max_rows:
                self._close()

    def finish(self) -> list[Part]:
        self._close()
        for part in self.parts:
            with part.path.open("rb") as stream:
                part.sha256, part.bytes = sha256_of(stream)
        return self.parts

    def _open(self) -> None:
        path = self.directory / f"part-{len(self.parts):04d}.parquet"
        self.parts.append(Part(path=path))
        self._writer = pq.ParquetWriter(
            path, self.schema, compression=COMPRESSION, compression_level=ZSTD_LEVEL
        )

    def _close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None


def write_parts(
    fetches: Iterable[Sequence[tuple[Any, ...]]],
    schema: pa.Schema,
    directory: Path,
    *,
    row_group_rows: int,
    part_max_rows: int,
    timestamp_index: int,
) -> WrittenDay:
    """Write rows (fetched in chunks, ordered by time) as Parquet parts; the parts written."""
    writer = _PartWriter(schema, directory, part_max_rows)
    day = WrittenDay()
    pending: list[pa.RecordBatch] = []
    pending_rows = 0
    for rows in fetches:
        if not rows:
            continue
        if day.first_timestamp is None:
            day.first_timestamp = rows[0][timestamp_index]
        day.last_timestamp = rows[-1][timestamp_index]
        pending.append(_batch(rows, schema))
        pending_rows += len(rows)
        if pending_rows >= row_group_rows:
            writer.write(pa.Table.from_batches(pending, schema=schema))
            pending, pending_rows = [], 0
    if pending:
        writer.write(pa.Table.from_batches(pending, schema=schema))
    day.parts = writer.finish()
    return day


def _batch(rows: Sequence[tuple[Any, ...]], schema: pa.Schema) -> pa.RecordBatch:
    columns = list(zip(*rows, strict=True))
    return pa.RecordBatch.from_arrays(
        [pa.array(values, type=f.type) for values, f in zip(columns, schema, strict=True)],
        schema=schema,
    )

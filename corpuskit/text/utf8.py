"""Zero-copy views of a string column's UTF-8 bytes, for the numpy and numba kernels."""

from __future__ import annotations

import numpy as np
import polars as pl
import pyarrow as pa


def utf8_buffer(texts: pl.Series) -> tuple[np.ndarray, np.ndarray]:
    """The batch's UTF-8 bytes (uint8) and document offsets into them (int64, n + 1).

    Zero-copy where Arrow allows: the string column's own data buffer. Nulls are empty.
    """
    arr = texts.fill_null("").rechunk().to_arrow()
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if arr.type != pa.large_string():
        arr = arr.cast(pa.large_string())
    n = len(arr)
    _, off_buf, data_buf = arr.buffers()
    offsets = np.frombuffer(off_buf, dtype=np.int64, count=n + 1, offset=arr.offset * 8)
    data = (
        np.frombuffer(data_buf, dtype=np.uint8)
        if data_buf is not None
        else np.zeros(0, dtype=np.uint8)
    )
    start, end = int(offsets[0]), int(offsets[-1])
    return data[start:end], offsets - start

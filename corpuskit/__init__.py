"""corpuskit: turn raw text into clean, deduplicated, labelled Parquet corpora."""

__version__ = "0.1.0"

"""Where a run's results go: the output folder's layout and resume state, Parquet shards."""

"""Where a run's results go: Parquet shards, rejected documents, the manifest."""

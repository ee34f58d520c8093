"""Deduplication algorithms: hashing, shingling, MinHash, LSH banding, clustering, indexes.

The steps that use them are in `corpuskit.steps.dedup`.
"""

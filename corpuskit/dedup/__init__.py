"""Deduplication algorithms: hashing, shingling, MinHash, LSH banding, clustering, indexes.

The steps that use them: `corpuskit.steps.exact_dedup`, `minhash_dedup`, `dedup_against`.
"""

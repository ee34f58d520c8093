"""Labelling with spaCy, offline: pipelines, shipped entity patterns, textcat training.

- `pipelines`: blank languages (Chinese with jieba), installed packages or trained folders,
  completed with a sentencizer and an EntityRuler (used by the `spacy_label` step);
- `patterns`: the EntityRuler pattern sets shipped in corpuskit/data/spacy;
- `data`: labelled documents read through corpuskit's readers, and the deterministic split;
- `train` / `evaluate`: `corpuskit label train` and `corpuskit label eval` (see `cli`).

Nothing here imports spaCy at module level; it loads when a pipeline is built.
"""

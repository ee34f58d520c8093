"""Text utilities the steps share, one module per concern:

- `chars`: character classes and scripts (whitespace, line breaks, punctuation sets, CJK);
- `english`: spaCy's English tokenizer rules, without spaCy;
- `segment`: words and sentence units of a batch (the token table), jieba for unspaced text;
- `rows`: per-document sums and duplicates over those tables;
- `paragraphs`: hard-wrapped lines rejoined into paragraphs, headlines, paragraph ends;
- `utf8`: zero-copy UTF-8 buffers of a string column, for numba kernels;
- `mojibake`: GBK shown as Latin-1 repaired, and the patterns of unrepairable mojibake;
- `segment_kernels`: the numba kernels of `segment` (its Polars code is the reference).
"""

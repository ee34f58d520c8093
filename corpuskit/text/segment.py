"""Word segmentation shared by the quality and length steps, batch-wide.

Two segmenters, chosen per document:

* spaced scripts (English and the like): spaCy's English tokenizer rules (prefixes, suffixes,
  infixes, URL match and the 1,300 special cases such as "don't" -> "do", "n't"), the tokenizer
  datatrove's filters use, re-implemented in pure Python over data exported from spaCy 3.8
  (`corpuskit/data/quality/en_tokenizer.json`, MIT licence). spaCy splits a text at whitespace
  first and tokenizes each whitespace-free *chunk* on its own, so corpuskit does the same:
  the batch is cut into chunks, only chunks never seen before in the process are tokenized
  (plain words and words with a split-off , ; : ! ? . in Polars, the rest by the rules in
  Python), and every chunk's tokens are memoized per process. The result matched spaCy on all
  79,246 distinct chunks of the ../shared English corpora. Where numba imports, the cutting,
  the distinct chunks and the token table come from kernels over the UTF-8 bytes
  (`segment_kernels.py`, with a per-process store of every chunk's tokens); the Polars
  path (`str.extract_all` of the chunks, a join back) is the tested reference and fallback.
* unspaced scripts (Chinese, Japanese, Thai, ...): jieba, one call per document (memoized), with
  the dictionary loaded once per process.

A document is unspaced when its `lang` column (if present and not null) names an unspaced
language, else when CJK characters make up at least `min_cjk_ratio` of its non-space characters.

`Segmenter.tokens` returns one row per word (whitespace-only tokens dropped, like datatrove's
`strip_strings`) with the document row, the line it is on (`str.splitlines` semantics, numbered
across the batch), a 64-bit hash of its text, its length and feature flags; the steps compute
their statistics from that table with Polars expressions. Each call segments the texts it is given
(a step passes the text it judges, as it is then): no table is kept from one call for the
next, only the memos of what chunks and sentence units segment to. Where a step needs less
than the table, `word_counts` (words per text) and `sentence_boundaries` (spaCy's
sentencizer) count straight from the memo's stored tokens with the kernels.
"""

from __future__ import annotations

import logging
import re
from collections import OrderedDict
from collections.abc import Iterable
from functools import lru_cache
from importlib.resources import files
from importlib.resources.abc import Traversable
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa

from corpuskit import jit
from corpuskit.text.chars import (
    LINE_BREAKS,
    NON_WS,
    char_class,
    normalize_line_breaks,
    punctuation,
)
from corpuskit.text.english import EnglishRules
from corpuskit.text.utf8 import utf8_buffer

DATA: Traversable = files("corpuskit") / "data" / "quality"
CHUNK = rf"\n|{NON_WS}+"
HASH_SEED = 0x5EED

# Token flags (UInt8 bits).
NONSYM = 1  # has a character outside datatrove's PUNCTUATION_SET (a "non-symbol word")
ALPHA = 2  # has an alphabetic character (str.isalpha)
PUNCT = 4  # spaCy's is_punct: every character is Unicode punctuation (P*)
SENT_END = 8  # one of spaCy's sentencizer punctuation characters


@lru_cache(maxsize=4)
def zh_stop_words(name: str = "zh_stopwords.txt") -> tuple[str, ...]:
    """Shipped Chinese stop words (corpuskit/data/quality/<name>; the written-register list
    is zh_stopwords_written.txt)."""
    lines = (DATA / name).read_text(encoding="utf-8").splitlines()
    return tuple(w.strip() for w in lines if w.strip() and not w.startswith("#"))


def unit_pattern() -> str:
    """Sentence units of unspaced text: a run up to terminal punctuation (or an ellipsis) and
    the closing quotes after it, or the rest of a line. Units never cross a line break."""
    p = punctuation()
    ends = char_class(p.cjk_terminal | {"…"})
    not_end = char_class(p.cjk_terminal | {"…", "\n"}, negate=True)
    closers = char_class(p.cjk_closers)
    return rf"{not_end}*{ends}+{closers}*|{not_end}+"


@lru_cache(maxsize=1)
def _py_units() -> re.Pattern[str]:
    """unit_pattern for Python's re, with each line break a unit of its own."""
    p = punctuation()
    ends = "".join(re.escape(c) for c in sorted(p.cjk_terminal | {"…"}))
    closers = "".join(re.escape(c) for c in sorted(p.cjk_closers))
    return re.compile(rf"\n|[^{ends}\n]*[{ends}]+[{closers}]*|[^{ends}\n]+")


def sentence_units(text: pl.Expr) -> pl.Expr:
    """List of the sentence units of each text (whitespace-only units dropped)."""
    return text.str.extract_all(unit_pattern()).list.eval(
        pl.element().filter(pl.element().str.contains(NON_WS))
    )


# --------------------------------------------------------------------------- segmenter

TOKEN_SCHEMA: dict[str, pl.DataType] = {
    "row": pl.UInt32(),
    "line": pl.UInt32(),
    "h": pl.UInt64(),
    "len": pl.UInt32(),
    "flags": pl.UInt8(),
}


def token_hash(tokens: pl.Expr) -> pl.Expr:
    """The 64-bit hash the token table uses (same text, same hash, within a process)."""
    return tokens.hash(HASH_SEED)


def _flags(tok: pl.Expr) -> pl.Expr:
    p = punctuation()
    flags = (
        tok.str.contains(char_class(p.punctuation, negate=True)).cast(pl.UInt8) * NONSYM
        + tok.str.contains(r"\p{L}").cast(pl.UInt8) * ALPHA
        + tok.str.contains(r"^\p{P}+$").cast(pl.UInt8) * PUNCT
        + tok.is_in(sorted(p.sentencizer)).cast(pl.UInt8) * SENT_END
    )
    return flags.cast(pl.UInt8)


_SIMPLE_SUFFIXES = frozenset(",;:!?")
# An ASCII word, maybe with a suffix spaCy splits off; a "." only after these endings.
WORD_CHUNK = r"^([A-Za-z]+)([.,;:!?]?)$"
WORD_SPLITS_DOT = r"(?:[a-z]|[A-Z]{2})$"
_MAP_SCHEMA = {"ch": pl.UInt64(), "h": pl.UInt64(), "len": pl.UInt32(), "flags": pl.UInt8()}


class Segmenter:
    """Per-process segmentation with memo tables; get it with `segmenter()`."""

    MAX_CHUNKS = 1_000_000  # chunk -> tokens memo size before it is cleared
    MAX_MEMO_CHARS = 4_000_000  # jieba memo: characters of text kept with their words

    def __init__(self, kernels: bool = True) -> None:
        self.rules = EnglishRules()
        self._special_keys = pl.Series(sorted(self.rules.specials), dtype=pl.String)
        # the numba kernels (corpuskit.text.segment_kernels) where numba imports and `kernels`;
        # None: the Polars reference path
        self.kernels: Any = segment_kernels() if kernels else None
        # the chunk memo: with the kernels, a _ChunkIndex (chunk key -> its tokens in a
        # store); without, chunk -> its tokens (None: the chunk itself). Clearing it forgets all.
        self._chunks: Any = {} if self.kernels is None else _ChunkIndex(self.kernels)
        self._jieba: Any = None
        self._jieba_memo: OrderedDict[str, list[str]] = OrderedDict()
        self._memo_chars = 0

    # -- unspaced -------------------------------------------------------------------------
    def jieba(self) -> Any:
        """jieba's tokenizer, dictionary loaded once per process."""
        if self._jieba is None:
            import jieba

            jieba.setLogLevel(logging.WARNING)
            tk = jieba.Tokenizer()
            tk.initialize()
            self._jieba = tk
        return self._jieba

    def cut(self, text: str) -> list[str]:
        """jieba words of `text` (whitespace kept as tokens).

        The text is cut into sentence units first (see `unit_pattern`) and each unit is
        segmented on its own, memoized: unit boundaries are punctuation, where jieba splits
        anyway, so the words are the same, and a step that sees a text another step shortened
        (c4_quality drops units) finds most of its units segmented already.
        """
        memo = self._jieba_memo
        out: list[str] = []
        for unit in _py_units().findall(text):
            got = memo.get(unit)
            if got is None:
                got = self.jieba().lcut(unit)
                memo[unit] = got
                self._memo_chars += len(unit)
                while self._memo_chars > self.MAX_MEMO_CHARS and len(memo) > 1:
                    old, _ = memo.popitem(last=False)
                    self._memo_chars -= len(old)
            out.extend(got)
        return out

    def cut_words(self, texts: Iterable[str]) -> list[list[str]]:
        """jieba words without whitespace tokens, for each text."""
        return [[w for w in (t.strip() for t in self.cut(x)) if w] for x in texts]

    # -- tokens table ---------------------------------------------------------------------
    def tokens(self, texts: pl.Series, unspaced: pl.Series | None = None) -> pl.DataFrame:
        """One row per word of every text: row, line, h, len, flags (see TOKEN_SCHEMA).

        Each call segments its own texts (a step passes the text it judges): only the chunk
        and jieba memos carry over from call to call, and they hold what a text segments
        to, not what an earlier call saw."""
        return self._build(texts, _mask(unspaced, len(texts)))

    def word_counts(self, texts: pl.Series, unspaced: pl.Series | None = None) -> pl.Series:
        """Per text, its words in `tokens` (that table's rows of it), Int64, without making
        the table: with the kernels, the spaced texts' counts are summed from the chunk
        memo's token counts (no per-word rows)."""
        n = len(texts)
        texts = texts.fill_null("")
        unspaced = _mask(unspaced, n)
        if self.kernels is None:
            rows = self._build(texts, unspaced)["row"].to_numpy()
            return pl.Series(texts.name, np.bincount(rows, minlength=n), dtype=pl.Int64)
        out = np.zeros(n, dtype=np.int64)
        spaced = (~unspaced).arg_true()
        if spaced.len():
            no_lines = pl.repeat(0, n, dtype=pl.Int64, eager=True)
            row, _, slot, _ = self._chunk_slots(texts, spaced, no_lines)
            counts = self._chunks.store.count[slot]
            out += np.bincount(row, weights=counts, minlength=n).astype(np.int64)
        uns = unspaced.arg_true()
        if uns.len():
            nl = pl.repeat(0, n, dtype=pl.UInt32, eager=True)
            words = self._unspaced_words(self._docs(texts, uns, nl))
            words = words.filter(pl.col("c").str.strip_chars() != "")["row"].to_numpy()
            out += np.bincount(words, minlength=n).astype(np.int64)
        return pl.Series(texts.name, out, dtype=pl.Int64)

    def sentence_boundaries(self, texts: pl.Series) -> pl.Series:
        """Per spaced text, the sentence boundaries spaCy's sentencizer finds inside its
        lines (a line with k of them holds k + 1 sentences), Int64: words (tokens neither
        PUNCT nor SENT_END) with a SENT_END token between them and the line's previous word
        or start. With the kernels, counted over the chunk memo's token flags (no table)."""
        n = len(texts)
        texts = texts.fill_null("")
        if self.kernels is None:
            return _sentence_boundaries(self.tokens(texts), n).alias(texts.name)
        rows = pl.int_range(n, dtype=pl.UInt32, eager=True)
        no_lines = pl.repeat(0, n, dtype=pl.Int64, eager=True)
        row, line, slot, _ = self._chunk_slots(texts, rows, no_lines)
        store = self._chunks.store
        out = np.zeros(n, dtype=np.int64)
        self.kernels.sentence_boundaries(slot, row, line, store.start, store.count,
                                         store.flags, SENT_END, PUNCT, out)  # fmt: skip
        return pl.Series(texts.name, out, dtype=pl.Int64)

    def word_stats(
        self, texts: pl.Series, unspaced: pl.Series | None, words: pl.Series
    ) -> tuple[pl.DataFrame, pl.DataFrame]:
        """Per text, sums over its words in `tokens` (Int64: n words, ns non-symbol words
        (NONSYM), ns_len their characters, alpha words with a letter (ALPHA)), and the rows
        (row, h, len, flags) of the words whose hash is in `words` (e.g. stop words' hashes,
        `word_hashes`), by row. With the kernels the spaced texts' sums and words come from
        the chunk memo's store, without the whole table."""
        n = len(texts)
        texts = texts.fill_null("")
        unspaced = _mask(unspaced, n)
        if self.kernels is None:
            return _word_stats(self._build(texts, unspaced), n, words)
        sums = {k: np.zeros(n, dtype=np.int64) for k in ("n", "ns", "ns_len", "alpha")}
        found: list[pl.DataFrame] = []
        spaced = (~unspaced).arg_true()
        if spaced.len():
            no_lines = pl.repeat(0, n, dtype=pl.Int64, eager=True)
            row, _, slot, distinct = self._chunk_slots(texts, spaced, no_lines)
            store = self._chunks.store
            member = np.zeros(store.tokens, dtype=np.bool_)
            counts = store.count[distinct]
            # the store's tokens of this batch's distinct chunks
            idx = np.repeat(store.start[distinct] - (np.cumsum(counts) - counts), counts)
            idx += np.arange(idx.size, dtype=np.int64)
            member[idx] = _member(store.h[idx], words.to_numpy())
            k = self.kernels
            m = k.word_sums(slot, row, store.start, store.count, store.len, store.flags,
                            NONSYM, ALPHA, member, *sums.values())  # fmt: skip
            out = {
                "row": np.empty(m, dtype=np.uint32),
                "h": np.empty(m, dtype=np.uint64),
                "len": np.empty(m, dtype=np.uint32),
                "flags": np.empty(m, dtype=np.uint8),
            }
            k.expand_members(slot, row, store.start, store.count, store.h, store.len,
                             store.flags, member, *out.values())  # fmt: skip
            found.append(pl.DataFrame(out))
        uns = unspaced.arg_true()
        if uns.len():
            sub = self._build(texts.gather(uns), unspaced.gather(uns))
            sub_sums, sub_found = _word_stats(sub, uns.len(), words)
            at = uns.to_numpy()
            for key, values in sums.items():
                values[at] += sub_sums[key].to_numpy()
            found.append(sub_found.with_columns(row=uns.gather(sub_found["row"])))
        if not found:
            hits = pl.DataFrame(schema={k: TOKEN_SCHEMA[k] for k in ("row", "h", "len", "flags")})
        elif len(found) == 1:
            hits = found[0]
        else:
            hits = pl.concat(found).sort("row", maintain_order=True)
        return pl.DataFrame(sums), hits

    def _build(
        self, texts: pl.Series, unspaced: pl.Series, nl: pl.Series | None = None
    ) -> pl.DataFrame:
        """The token table of `texts` (rows and lines numbered from 0); `nl`: each text's
        line breaks, where the caller has them."""
        texts = texts.fill_null("")
        unspaced = unspaced.fill_null(False)
        if nl is None:
            nl = texts.str.count_matches(LINE_BREAKS + "|\n").cast(pl.UInt32)
        # first line number of each row: every text adds (line breaks + 1) lines
        first_line = (nl + 1).cum_sum() - (nl + 1)
        spaced = (~unspaced).arg_true()
        uns = unspaced.arg_true()
        parts = []
        if spaced.len():
            if self.kernels is not None:
                parts.append(self._spaced_kernel(texts, spaced, first_line))
            else:
                parts.append(self._spaced(self._docs(texts, spaced, nl), first_line))
        if uns.len():
            parts.append(self._unspaced(self._docs(texts, uns, nl), first_line))
        if not parts:
            return pl.DataFrame(schema=TOKEN_SCHEMA)
        out = pl.concat(parts) if len(parts) > 1 else parts[0]
        if len(parts) > 1:
            out = out.sort("row", maintain_order=True)
        return out

    @staticmethod
    def _docs(texts: pl.Series, idx: pl.Series, nl: pl.Series) -> pl.DataFrame:
        """row, text (line breaks normalized to "\\n"), nl of the documents `idx`."""
        return pl.DataFrame({"row": idx, "text": texts.gather(idx)}).with_columns(
            normalize_line_breaks(pl.col("text")), nl=nl.gather(idx)
        )

    def _spaced_kernel(
        self, texts: pl.Series, rows: pl.Series, first_line: pl.Series
    ) -> pl.DataFrame:
        """`_spaced` with the numba kernels (same table): see `_chunk_slots`; each chunk's
        tokens are copied out of the memo's store."""
        row, line, chunk_slot, _ = self._chunk_slots(texts, rows, first_line)
        store = self._chunks.store
        total = int(store.count[chunk_slot].sum())
        out = {
            "row": np.empty(total, dtype=np.uint32),
            "line": np.empty(total, dtype=np.uint32),
            "h": np.empty(total, dtype=np.uint64),
            "len": np.empty(total, dtype=np.uint32),
            "flags": np.empty(total, dtype=np.uint8),
        }
        self.kernels.expand(chunk_slot, row, line, store.start, store.count, store.h,
                            store.len, store.flags, *out.values())  # fmt: skip
        return pl.DataFrame(out)

    def _chunk_slots(
        self, texts: pl.Series, rows: pl.Series, first_line: pl.Series
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The chunks of the texts `rows` (row, line, slot of its tokens in the memo's store),
        in text order, and the distinct slots among them: chunks and their distinct keys from
        the UTF-8 bytes, slots from the chunk index; only chunks not in the memo become
        strings (and are added to it)."""
        k = self.kernels
        data, offsets = utf8_buffer(texts)
        row, line, start, stop, key = k.chunks(
            data,
            offsets,
            rows.to_numpy().astype(np.int64),
            first_line.to_numpy().astype(np.int64),
        )
        inverse = np.empty(key.size, dtype=np.int64)
        first = k.distinct(key, inverse)
        index: _ChunkIndex = self._chunks
        if len(index) > self.MAX_CHUNKS:
            index.clear()
        ukeys = key[first]
        slots = index.find(ukeys)
        miss = np.flatnonzero(slots < 0)
        if miss.size:
            buf, offs = k.gather_bytes(data, start[first[miss]], stop[first[miss]])
            arr = pa.LargeStringArray.from_buffers(miss.size, pa.py_buffer(offs), pa.py_buffer(buf))
            new = pl.DataFrame({"c": pl.Series(arr), "ch": np.arange(miss.size, dtype=np.uint64)})
            got = self._chunk_map(new, {}).sort("ch", maintain_order=True)
            slots[miss] = index.add(ukeys[miss], got)
        return row, line, slots[inverse], slots

    def _spaced(self, docs: pl.DataFrame, first_line: pl.Series) -> pl.DataFrame:
        ch = (
            docs.select("row", c=pl.col("text").str.extract_all(CHUNK)).explode("c").drop_nulls("c")
        )
        ch = _with_lines(
            ch.with_columns(nl=(pl.col("c") == "\n").cast(pl.UInt32)), docs, first_line
        )
        ch = ch.filter(pl.col("nl") == 0).select("row", "line", "c", ch=token_hash(pl.col("c")))
        mapping = self._chunk_map(ch.filter(pl.col("ch").is_first_distinct()).select("c", "ch"))
        out = ch.join(mapping, on="ch", how="left", maintain_order="left_right")
        return out.select(list(TOKEN_SCHEMA)).cast(TOKEN_SCHEMA)

    def _chunk_map(
        self, uniq: pl.DataFrame, memo: dict[str, tuple[str, ...] | None] | None = None
    ) -> pl.DataFrame:
        """Distinct chunks (c, with an id ch) -> their tokens (ch, h, len, flags), one row
        per token, each chunk's in order; `memo` (default: the segmenter's) for the rules.

        Most chunks are ASCII words, maybe with one trailing , ; : ! ? or a "." that spaCy
        splits off (after a lowercase letter or two capitals; "Z." and "SpaceX." stay whole):
        where neither the chunk nor the word is a special case, their tokens are known without
        the rules and are made here in Polars (tests check this against the full rules on every
        chunk of the ../shared corpora). The others go through the rules in Python, memoized.
        """
        c = pl.col("c")
        word = c.str.extract(WORD_CHUNK, 1)
        suffix = c.str.extract(WORD_CHUNK, 2)
        specials = self._special_keys
        fast = (
            word.is_not_null()
            & ~c.is_in(specials.implode())
            & ~word.is_in(specials.implode())
            & ((suffix != ".") | word.str.contains(WORD_SPLITS_DOT))
        )
        uniq = uniq.with_columns(fast=fast, word=word, suffix=suffix)
        parts = []
        fast_rows = uniq.filter(pl.col("fast"))
        whole = fast_rows.filter(pl.col("suffix") == "")
        if whole.height:
            # the chunk is the token; an ASCII word has NONSYM | ALPHA
            parts.append(
                whole.select(
                    "ch",
                    h=token_hash(c),
                    len=c.str.len_bytes().cast(pl.UInt32),
                    flags=pl.lit(NONSYM | ALPHA, dtype=pl.UInt8),
                )
            )
        split = fast_rows.filter(pl.col("suffix") != "")
        if split.height:
            # per chunk the word row, then the suffix row (a join keeps that order)
            toks = pl.concat([split.select("ch", tok="word"), split.select("ch", tok="suffix")])
            parts.append(self._token_rows(toks))
        slow = uniq.filter(~pl.col("fast"))
        if slow.height:
            parts.append(self._slow_chunk_map(slow, self._chunks if memo is None else memo))
        if not parts:
            return pl.DataFrame(schema=_MAP_SCHEMA)
        return pl.concat([p.cast(_MAP_SCHEMA) for p in parts])

    def _slow_chunk_map(
        self, uniq: pl.DataFrame, memo: dict[str, tuple[str, ...] | None]
    ) -> pl.DataFrame:
        """`_chunk_map` for the chunks that need the rules (memoized in `memo`)."""
        if len(memo) > self.MAX_CHUNKS:
            memo.clear()
        tokenize = self.rules.tokenize
        specials = self.rules.specials
        idx: list[int] = []
        toks: list[str] = []
        for i, c in enumerate(uniq["c"].to_list()):
            got = memo.get(c, False)
            if got is False:
                # ASCII letters, maybe then one of , ; : ! ?: only the special cases and
                # that suffix apply (tests check this against the full rules)
                word = c[:-1] if c[-1:] in _SIMPLE_SUFFIXES else c
                if word.isascii() and word.isalpha() and c not in specials:
                    got = None if word is c else (*specials.get(word, (word,)), c[-1])
                else:
                    t = tokenize(c)
                    got = None if len(t) == 1 and t[0] == c else tuple(t)
                memo[c] = got
            if got is None:
                idx.append(i)
                toks.append(c)
            else:
                idx.extend([i] * len(got))
                toks.extend(got)
        tok = pl.Series("tok", toks, dtype=pl.String)
        return self._token_rows(pl.DataFrame({"ch": uniq["ch"].gather(idx), "tok": tok}))

    @staticmethod
    def _token_rows(toks: pl.DataFrame) -> pl.DataFrame:
        """(ch, tok) -> (ch, h, len, flags)."""
        return toks.select(
            "ch",
            h=token_hash(pl.col("tok")),
            len=pl.col("tok").str.len_chars().cast(pl.UInt32),
            flags=_flags(pl.col("tok")),
        )

    def _unspaced_words(self, docs: pl.DataFrame) -> pl.DataFrame:
        """(row, c): jieba's tokens of each document of `docs`, whitespace ones included."""
        rows: list[int] = []
        toks: list[str] = []
        for row, text in zip(docs["row"].to_list(), docs["text"].to_list(), strict=True):
            words = self.cut(text)
            rows.extend([row] * len(words))
            toks.extend(words)
        return pl.DataFrame(
            {"row": pl.Series(rows, dtype=pl.UInt32), "c": pl.Series(toks, dtype=pl.String)}
        )

    def _unspaced(self, docs: pl.DataFrame, first_line: pl.Series) -> pl.DataFrame:
        t = self._unspaced_words(docs)
        nl = pl.col("c").str.count_matches("\n", literal=True).cast(pl.UInt32)
        t = _with_lines(t.with_columns(nl=nl), docs, first_line)
        return (
            t.with_columns(tok=pl.col("c").str.strip_chars())
            .filter(pl.col("tok") != "")
            .select(
                "row",
                "line",
                h=token_hash(pl.col("tok")),
                len=pl.col("tok").str.len_chars().cast(pl.UInt32),
                flags=_flags(pl.col("tok")),
            )
            .cast(TOKEN_SCHEMA)
        )


class _TokenStore:
    """Every distinct chunk's tokens (h, len, flags), chunk after chunk, in growing numpy
    arrays; a chunk is a slot: its tokens are start[slot] : start[slot] + count[slot]."""

    def __init__(self) -> None:
        self.h = np.empty(1 << 12, dtype=np.uint64)
        self.len = np.empty(1 << 12, dtype=np.uint32)
        self.flags = np.empty(1 << 12, dtype=np.uint8)
        self.start = np.empty(1 << 10, dtype=np.int64)
        self.count = np.empty(1 << 10, dtype=np.int64)
        self.tokens = 0
        self.chunks = 0

    def add(self, rows: pl.DataFrame, n: int) -> np.ndarray:
        """Store n chunks' tokens (rows: ch = 0..n-1 in order, h, len, flags); their slots."""
        ids = rows["ch"].to_numpy().astype(np.int64)
        counts = np.bincount(ids, minlength=n).astype(np.int64)
        t, m = self.tokens, self.chunks
        self.h, self.len, self.flags = (
            _grown(a, t + rows.height) for a in (self.h, self.len, self.flags)
        )
        self.start, self.count = (_grown(a, m + n) for a in (self.start, self.count))
        self.h[t : t + rows.height] = rows["h"].to_numpy()
        self.len[t : t + rows.height] = rows["len"].to_numpy()
        self.flags[t : t + rows.height] = rows["flags"].to_numpy()
        self.start[m : m + n] = t + np.cumsum(counts) - counts
        self.count[m : m + n] = counts
        self.tokens += rows.height
        self.chunks += n
        return np.arange(m, m + n, dtype=np.int64)


def _grown(a: np.ndarray, size: int) -> np.ndarray:
    """`a`, or a copy at least twice as large where it holds fewer than `size` items."""
    if size <= a.size:
        return a
    out = np.empty(max(size, 2 * a.size), dtype=a.dtype)
    out[: a.size] = a
    return out


class _ChunkIndex:
    """The kernels' chunk memo: chunk key -> slot of its tokens in `store`, an open-addressing
    hash table that kernels search for a batch's distinct chunks at once (a dict lookup per
    distinct chunk cost about as much as cutting the batch into chunks). `clear` forgets
    the stored tokens too."""

    def __init__(self, kernels: Any) -> None:
        self.kernels = kernels
        self.clear()

    def clear(self) -> None:
        self.store = _TokenStore()
        self.key = np.zeros(1 << 12, dtype=np.uint64)
        self.slot = np.full(1 << 12, -1, dtype=np.int64)

    def __len__(self) -> int:
        return self.store.chunks

    def find(self, keys: np.ndarray) -> np.ndarray:
        """The slot of each key, -1 where it is not in the memo."""
        out = np.empty(keys.size, dtype=np.int64)
        self.kernels.index_find(self.key, self.slot, keys, out)
        return out

    def add(self, keys: np.ndarray, rows: pl.DataFrame) -> np.ndarray:
        """Store new distinct keys' tokens (rows as `_TokenStore.add` takes them); their slots."""
        slots = self.store.add(rows, keys.size)
        size = self.key.size
        while size < 2 * len(self):  # the table stays at most half full
            size *= 2
        if size != self.key.size:
            held = np.flatnonzero(self.slot >= 0)
            old_key, old_slot = self.key[held], self.slot[held]
            self.key = np.zeros(size, dtype=np.uint64)
            self.slot = np.full(size, -1, dtype=np.int64)
            self.kernels.index_add(self.key, self.slot, old_key, old_slot)
        self.kernels.index_add(self.key, self.slot, keys, slots)
        return slots


def _member(values: np.ndarray, among: np.ndarray) -> np.ndarray:
    """np.isin(values, among) for a short `among` (a few hundred word hashes): a binary search
    in it, several times faster than isin's sort of both arrays."""
    if among.size == 0:
        return np.zeros(values.size, dtype=np.bool_)
    among = np.sort(among)
    at = np.minimum(np.searchsorted(among, values), among.size - 1)
    return among[at] == values


def _mask(unspaced: pl.Series | None, n: int) -> pl.Series:
    """The unspaced mask as a Boolean Series without nulls (all False when not given)."""
    if unspaced is None:
        return pl.repeat(False, n, dtype=pl.Boolean, eager=True)
    return unspaced.fill_null(False).cast(pl.Boolean)


def whitespace_words(texts: pl.Series) -> pl.Series:
    """Each text's whitespace-separated words (`len(text.split())`), UInt32: a kernel pass
    over the bytes where numba imports, else a regex count."""
    kernels = segment_kernels()
    if kernels is None:
        return texts.fill_null("").str.count_matches(NON_WS + "+")
    data, offsets = utf8_buffer(texts)
    out = np.empty(len(texts), dtype=np.uint32)
    kernels.word_counts(data, offsets, kernels._CLASS, out)
    return pl.Series(texts.name, out)


@lru_cache(maxsize=1)
def segment_kernels() -> Any:
    """corpuskit.text.segment_kernels (kernels compiled or loaded), or None (`corpuskit.jit`)."""
    return jit.kernels("corpuskit.text.segment_kernels")


def _word_stats(
    tokens: pl.DataFrame, n: int, words: pl.Series
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """`Segmenter.word_stats` from a token table (the Polars reference)."""
    flags = pl.col("flags")
    nonsym = (flags & NONSYM) > 0
    t = tokens.select(
        "row",
        ns=nonsym.cast(pl.Int64),
        ns_len=pl.when(nonsym).then(pl.col("len")).otherwise(0).cast(pl.Int64),
        alpha=((flags & ALPHA) > 0).cast(pl.Int64),
    )
    rows = t["row"].to_numpy()
    sums = {"n": np.bincount(rows, minlength=n)}
    for key in ("ns", "ns_len", "alpha"):
        sums[key] = np.bincount(rows, weights=t[key].to_numpy(), minlength=n)
    stats = pl.DataFrame({k: v.astype(np.int64) for k, v in sums.items()})
    hits = tokens.filter(pl.col("h").is_in(words.implode())).select("row", "h", "len", "flags")
    return stats, hits


def _sentence_boundaries(tokens: pl.DataFrame, n: int) -> pl.Series:
    """`Segmenter.sentence_boundaries` from a token table (the Polars reference)."""
    flags = pl.col("flags")
    pc = (flags & SENT_END) > 0
    nonp = (flags & (PUNCT | SENT_END)) == 0
    first = pl.col("line") != pl.col("line").shift(1)
    t = tokens.with_columns(pc=pc, nonp=nonp, first=first.fill_null(True)).with_columns(
        cpc=pl.col("pc").cast(pl.UInt32).cum_sum()
    )
    t = t.with_columns(
        start=pl.when("first").then(pl.col("cpc") - pl.col("pc").cast(pl.UInt32)).forward_fill()
    ).filter("nonp")
    same_line = pl.col("line") == pl.col("line").shift(1)
    prev = pl.when(same_line.fill_null(False)).then(pl.col("cpc").shift(1)).otherwise("start")
    t = t.select("row", boundary=(pl.col("cpc") > prev).cast(pl.Int64))
    bounds = np.bincount(t["row"].to_numpy(), weights=t["boundary"].to_numpy(), minlength=n)
    return pl.Series(bounds.astype(np.int64), dtype=pl.Int64)


def _with_lines(t: pl.DataFrame, docs: pl.DataFrame, first_line: pl.Series) -> pl.DataFrame:
    """Add `line` (numbered batch-wide) to a (row, nl) table that is in text order."""
    seen = pl.col("nl").cum_sum() - pl.col("nl")  # newlines in this table before the row
    row_info = docs.select("row").with_columns(
        rnl=docs["nl"].cum_sum() - docs["nl"], first=first_line.gather(docs["row"])
    )
    return (
        t.with_columns(seen=seen)
        .join(row_info, on="row", how="left", maintain_order="left")
        .with_columns(line=(pl.col("first") + pl.col("seen") - pl.col("rnl")).cast(pl.UInt32))
    )


_SEGMENTER: Segmenter | None = None


def segmenter() -> Segmenter:
    """The process-wide Segmenter (rules and memo tables are built once per process)."""
    global _SEGMENTER
    if _SEGMENTER is None:
        _SEGMENTER = Segmenter()
    return _SEGMENTER


def word_hashes(words: Iterable[str]) -> pl.Series:
    """Hashes of words as the token table stores them (e.g. stop words)."""
    frame = pl.DataFrame({"w": pl.Series(list(words), dtype=pl.String)})
    return frame.select(token_hash(pl.col("w"))).to_series()

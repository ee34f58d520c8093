"""bad_words: reject documents dense in obscene, adult or gambling vocabulary.

Word lists (shipped under corpuskit/data/bad_words/, licences beside them):

- `ldnoobw/<lang>.txt`: the "List of Dirty, Naughty, Obscene and Otherwise Bad Words"
  (CC-BY-4.0), the lists C4 filters with, for en, zh, de, fr, ja, ru (`languages`);
- `lexicon_zh/adult.txt`: Chinese pornography terms from konsheng/Sensitive-lexicon (MIT),
  with `adult_zh.txt` (adult-product, porn-site and sex-chat advert compounds written for
  corpuskit): category `adult` of zh;
- `gambling_<lang>.txt`: gambling vocabulary written for corpuskit (Mark Six, betting,
  casino and card-cheating terms), category `gambling` of en and zh.

Latin, Cyrillic and other spaced scripts match whole words only (C4's rule, case-insensitive);
Chinese and Japanese terms match as substrings, after the words of the allow-list
(`allow/<lang>.txt`, `allow_words`) are blanked out, so "处女" does not fire inside
"处女座"; an allow-list entry that is itself a listed word ("性", "乳") removes that word.

Two rules: `any` is C4's (one listed word rejects the document), `score` (the default)
rejects a document with at least `min_hits` matches and more than `threshold` matches per
1000 characters (documents shorter than `min_chars` count as `min_chars` long), so a news
story that names a crime once stays while an adult or gambling advert goes. The matched
words of a rejected document are its `detail`.

Each list becomes one Rust regex (an alternation of literals, which the regex engine turns
into an Aho-Corasick/Teddy search) run with `str.count_matches` over the batch.
"""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path
from typing import ClassVar, Literal

import polars as pl
from pydantic import Field

from corpuskit.steps.base import FilterStep, StepConfig
from corpuskit.steps.wordlists import read_words

LDNOOBW_LANGUAGES = ("en", "zh", "de", "fr", "ja", "ru")
CATEGORIES: dict[str, tuple[str, ...]] = {  # category -> shipped list per language
    "adult": ("zh",),
    "gambling": ("en", "zh"),
}
_UNSPACED = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u0e00-\u0e7f]")
_ASCII_WORD = re.compile(r"[A-Za-z0-9_]")
_B = "(?-u:\\b)"  # ASCII word boundary: keeps Rust regex on its fast DFA for non-ASCII text


def data_file(*parts: str) -> Path:
    """A file shipped under corpuskit/data/bad_words/."""
    return Path(str(resources.files("corpuskit") / "data" / "bad_words" / Path(*parts)))


def is_unspaced(word: str) -> bool:
    """Chinese, Japanese or Thai words match as substrings (their text has no spaces)."""
    return bool(_UNSPACED.search(word))


def word_regex(word: str) -> str:
    """A whole-word regex for a spaced-script word: boundaries where the word has word ends."""
    body = re.escape(word.lower())
    left = _B if _ASCII_WORD.match(word[0]) else ""
    right = _B if _ASCII_WORD.match(word[-1]) else ""
    return left + body + right


def alternation(words: list[str], whole_words: bool) -> str | None:
    """One case-insensitive regex for a list (longest words first, so a phrase wins).

    Unspaced words without ASCII letters get no (?i): Rust regex keeps its literal
    (Aho-Corasick) prefilter for them, 40x faster than under (?i) or with [bB] classes."""
    uniq = sorted({w.lower() for w in words}, key=lambda w: (-len(w), w))
    if not uniq:
        return None
    body = "|".join(word_regex(w) if whole_words else re.escape(w) for w in uniq)
    caseless = whole_words or any(c.isascii() and c.isalpha() for w in uniq for c in w)
    return ("(?i)" if caseless else "") + "(?:" + body + ")"


def has_ascii_letter(word: str) -> bool:
    return any(c.isascii() and c.isalpha() for c in word)


class BadWordsConfig(StepConfig):
    # LDNOOBW lists to use (en, zh, de, fr, ja, ru); [] turns them off
    languages: tuple[str, ...] = ("en", "zh")
    # extra shipped lists per category, for the languages above that have one:
    # adult (zh), gambling (en, zh)
    categories: tuple[str, ...] = ("adult", "gambling")
    # `score`: reject above `threshold` matches per 1000 characters (and >= min_hits);
    # `any`: C4's rule, one listed word rejects
    rule: Literal["score", "any"] = "score"
    threshold: float = Field(4.0, ge=0)
    min_hits: int = Field(2, ge=1)
    # shorter documents count as this long, so two words in a 100-character text are not 20/1000
    min_chars: int = Field(500, ge=1)
    extra_words: tuple[str, ...] = ()
    word_files: tuple[str, ...] = ()
    # words of the shipped lists not to use (exact text as in the file)
    exclude_words: tuple[str, ...] = ()
    # words blanked out before unspaced (Chinese/Japanese) terms are matched ("乳制品");
    # the shipped allow-lists of `languages` come first
    allow_words: tuple[str, ...] = ()
    allow_files: tuple[str, ...] = ()
    # how many of the matched words a rejected document's detail lists
    detail_words: int = Field(8, ge=0)


class BadWords(FilterStep):
    """Reject documents dense in obscene, adult or gambling words (LDNOOBW; C4's rule optional)."""

    Config = BadWordsConfig
    columns: ClassVar[dict[str, pl.DataType]] = {
        "bad_words_hits": pl.Int32(),
        "bad_words_score": pl.Float64(),
    }

    def __init__(self, config: StepConfig | None = None, name: str | None = None) -> None:
        super().__init__(config, name)
        # (regex, matched on the text with allow-listed words blanked)
        self._regexes: list[tuple[str, bool]] = []
        self._allow: str | None = None

    def word_lists(self) -> tuple[list[str], list[str]]:
        """(words to match, allow-list), from the shipped lists and the config."""
        c: BadWordsConfig = self.config
        words: list[str] = []
        allow: list[str] = []
        for lang in c.languages:
            if lang not in LDNOOBW_LANGUAGES:
                known = ", ".join(LDNOOBW_LANGUAGES)
                raise ValueError(f"languages: no LDNOOBW list {lang!r}; available: {known}")
            words += read_words(data_file("ldnoobw", f"{lang}.txt"))
            allow_file = data_file("allow", f"{lang}.txt")
            if allow_file.exists():
                allow += read_words(allow_file)
        for cat in c.categories:
            if cat not in CATEGORIES:
                raise ValueError(f"categories: unknown {cat!r}; known: {', '.join(CATEGORIES)}")
            for lang in CATEGORIES[cat]:
                if lang in c.languages:
                    words += read_words(data_file(f"{cat}_{lang}.txt"))
                    if cat == "adult" and lang == "zh":
                        words += read_words(data_file("lexicon_zh", "adult.txt"))
        if c.exclude_words:
            missing = sorted(set(c.exclude_words) - set(words))
            if missing:
                raise ValueError(f"exclude_words: {missing[0]!r} is in none of the chosen lists")
            words = [w for w in words if w not in set(c.exclude_words)]
        words += [w.strip() for w in c.extra_words if w.strip()]
        for path in c.word_files:
            words += read_words(path)
        allow += [w.strip() for w in c.allow_words if w.strip()]
        for path in c.allow_files:
            allow += read_words(path)
        return words, allow

    def validate(self) -> None:
        words, _ = self.word_lists()
        if not words:
            raise ValueError("no words to look for: set languages, categories or extra_words")

    def setup(self) -> None:
        self.validate()
        words, allow = self.word_lists()
        # an allow-list entry that is a listed word removes it; the others are blanked out
        listed = {w.lower() for w in words}
        dropped = {a.lower() for a in allow} & listed
        words = [w for w in words if w.lower() not in dropped]
        blank = [a for a in allow if a.lower() not in listed and is_unspaced(a)]
        unspaced = [w for w in words if is_unspaced(w)]
        groups = [
            (alternation([w for w in words if not is_unspaced(w)], True), False),
            (alternation([w for w in unspaced if not has_ascii_letter(w)], False), True),
            (alternation([w for w in unspaced if has_ascii_letter(w)], False), True),
        ]
        self._regexes = [(r, on_allowed) for r, on_allowed in groups if r is not None]
        self._allow = alternation(blank, False)

    def _texts(self) -> tuple[pl.Expr, pl.Expr]:
        """(text, text with allow-listed words blanked) for the spaced and unspaced regexes."""
        text = pl.col("text").fill_null("")
        allowed = text.str.replace_all(self._allow, " ") if self._allow else text
        return text, allowed

    def annotate(self, batch: pl.DataFrame) -> pl.DataFrame:
        self.ensure_ready()
        c: BadWordsConfig = self.config
        text, allowed = self._texts()
        hits = pl.lit(0, dtype=pl.UInt32)
        for regex, on_allowed in self._regexes:
            hits = hits + (allowed if on_allowed else text).str.count_matches(regex)
        length = pl.max_horizontal(text.str.len_chars(), pl.lit(c.min_chars)).cast(pl.Float64)
        out = batch.with_columns(bad_words_hits=hits.cast(pl.Int32)).with_columns(
            bad_words_score=(pl.col("bad_words_hits").cast(pl.Float64) * 1000.0 / length).round(3)
        )
        self.count("documents_with_bad_words", int((out["bad_words_hits"] > 0).sum()))
        return out.with_columns(_bad_words_found=self._found(out))

    def _found(self, out: pl.DataFrame) -> pl.Series:
        """The first distinct matched words of each document with a hit (null elsewhere).

        Computed only on the rows with hits, which are few in a real crawl."""
        n = self.config.detail_words
        found = pl.Series("_bad_words_found", [None] * out.height, dtype=pl.String)
        rows = out.select(pl.arg_where(pl.col("bad_words_hits") > 0)).to_series()
        if n == 0 or rows.is_empty():
            return found
        text, allowed = self._texts()
        lists = [(allowed if a else text).str.extract_all(r) for r, a in self._regexes]
        sub = out[rows].select(
            pl.concat_list(lists)
            .list.eval(pl.element().str.to_lowercase())
            .list.unique(maintain_order=True)
            .list.head(n)
            .list.join(", ")
            .alias("_bad_words_found")
        )
        return found.scatter(rows, sub.to_series())

    def rules(self) -> list[tuple[str, pl.Expr]]:
        c: BadWordsConfig = self.config
        hits = pl.col("bad_words_hits")
        if c.rule == "any":
            return [("listed_word", hits >= 1)]
        return [("dense", (hits >= c.min_hits) & (pl.col("bad_words_score") > c.threshold))]

    def detail(self) -> pl.Expr | None:
        return pl.col("_bad_words_found")

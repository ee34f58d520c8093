"""fix_spelling: opt-in, conservative correction of clear English typos with SymSpell.

Only whitespace-delimited tokens that are a lowercase ASCII word, optionally wrapped in
ASCII punctuation ("recieve", "(recieve),"), are candidates; capitalized words, words with
digits, apostrophes or hyphens, URLs, e-mails, hashtags and handles are never touched.

The batch is handled with Polars; only the unique out-of-dictionary words go through
SymSpell, once per process (cached):

1. eligible documents: `lang_column` in `languages`, else mostly ASCII letters;
2. unique candidate words (`str.extract_all` + explode + unique), minus dictionary words;
3. SymSpell suggestions for the rest; a word is fixed only when the best suggestion is within
   `max_edit_distance`, is `min_frequency_ratio` times more frequent than the runner-up at the
   same distance, and is not just the word's inflection (word = suggestion + "s"/"d");
4. documents holding a fixed word are cut into whitespace and tokens, the tokens are
   rewritten through the correction table, and the documents are joined back, so whitespace
   and punctuation are kept exactly.
"""

from __future__ import annotations

from importlib import resources
from typing import Any, ClassVar

import polars as pl
from pydantic import Field

from corpuskit.steps.base import MapStep, StepConfig

DICTIONARY = "frequency_dictionary_en_82_765.txt"
_LEAD = r"""[(\[{"'`]*"""
_TRAIL = r"""[)\]}"'.,;:!?]*"""
_CACHE_LIMIT = 500_000
_ENGLISH_FUNCTION_WORDS = (
    r"(?i)(?-u:\b)(?:the|a|an|and|or|but|of|to|in|on|at|by|for|with|from|as|is|are|was|were"
    r"|be|been|has|have|had|it|its|this|that|these|those|which|who|not|will|would)(?-u:\b)"
)


# British -> American spelling patterns; the shipped dictionary has mostly British forms.
_VARIANTS = (
    ("our", "or"),
    ("re", "er"),
    ("ise", "ize"),
    ("isa", "iza"),
    ("yse", "yze"),
    ("ll", "l"),
    ("ae", "e"),
    ("oe", "e"),
    ("ence", "ense"),
    ("ogue", "og"),
    ("sc", "sk"),
    ("mme", "m"),
    ("ium", "um"),
    ("ou", "o"),
    ("sing", "cing"),
)


def is_spelling_variant(word: str, fix: str) -> bool:
    """Whether `word` is `fix` with one British pattern in its American form ("color")."""
    for uk, us in _VARIANTS:
        at = fix.find(uk)
        while at != -1:
            if fix[:at] + us + fix[at + len(uk) :] == word:
                return True
            at = fix.find(uk, at + 1)
    return False


class FixSpellingConfig(StepConfig):
    max_edit_distance: int = Field(1, ge=1, le=2)
    min_word_length: int = Field(4, ge=2)
    # the best suggestion must be this many times more frequent than the runner-up
    min_frequency_ratio: float = Field(10.0, ge=1.0)
    # ... and at least this frequent in the dictionary (counts: "the" ~2.3e10)
    min_count: int = Field(1_000_000, ge=0)
    # documents whose language (in this column) is one of `languages`; without the
    # column, documents whose non-space characters are mostly ASCII letters
    lang_column: str | None = "lang"
    languages: list[str] = Field(default_factory=lambda: ["en"])
    ascii_letter_ratio: float = Field(0.7, ge=0.0, le=1.0)
    # ... and of whose words at least this share are English function words ("the", "of")
    function_word_ratio: float = Field(0.15, ge=0.0, le=1.0)


class FixSpelling(MapStep):
    """Fix clear English typos in lowercase words with SymSpell (opt-in, conservative)."""

    Config = FixSpellingConfig
    columns: ClassVar[dict[str, pl.DataType]] = {"spelling_fixes": pl.Int32()}

    def __init__(self, config: StepConfig | None = None, name: str | None = None) -> None:
        super().__init__(config, name)
        self._symspell: Any = None
        self._known: pl.Series | None = None
        self._cache: dict[str, str | None] = {}

    def setup(self) -> None:
        from symspellpy import SymSpell

        c: FixSpellingConfig = self.config
        sym = SymSpell(max_dictionary_edit_distance=c.max_edit_distance, prefix_length=7)
        path = resources.files("symspellpy") / DICTIONARY
        with resources.as_file(path) as p:
            if not sym.load_dictionary(str(p), term_index=0, count_index=1, encoding="utf-8"):
                raise RuntimeError(f"fix_spelling: could not load {DICTIONARY} from symspellpy")
        self._symspell = sym
        self._known = pl.Series("word", list(sym.words), dtype=pl.String)
        self._cache = {}

    def _transient(self) -> tuple[str, ...]:
        return ("_symspell", "_known", "_cache")

    def correct(self, word: str) -> str | None:
        """The fix for one lowercase word not in the dictionary, or None to leave it."""
        if word in self._cache:
            return self._cache[word]
        from symspellpy import Verbosity

        c: FixSpellingConfig = self.config
        found = self._symspell.lookup(word, Verbosity.ALL, max_edit_distance=c.max_edit_distance)
        fix = None
        if found and 0 < found[0].distance <= c.max_edit_distance:
            best = found[0]
            rivals = [s.count for s in found[1:] if s.distance == best.distance]
            clear = not rivals or best.count >= c.min_frequency_ratio * max(rivals)
            # "fueling" is "fuelling" spelt the American way, however common "feeling" is
            variant = any(is_spelling_variant(word, s.term) for s in found)
            if (
                clear
                and not variant
                and best.count >= c.min_count
                and self._plausible_typo(word, best.term)
            ):
                fix = best.term
        if len(self._cache) >= _CACHE_LIMIT:
            self._cache.clear()
        self._cache[word] = fix
        return fix

    def _plausible_typo(self, word: str, fix: str) -> bool:
        """False for the usual look-alikes that are no typos (variants, inflections, joins)."""
        if word[0] != fix[0]:  # typos rarely hit the first letter; "runup" is not "sunup"
            return False
        if len(word) < 5 and sorted(word) != sorted(fix):  # short words: transpositions only
            return False
        if word in (fix + "s", fix + "d") or fix in (word + "s", word + "g"):
            return False  # inflections missing from the dictionary, "lookin'"
        if (word.endswith("n") and self._common(word[:-1])) or (
            word.endswith("nt") and self._common(word[:-2])
        ):
            return False  # "wasn" of a mangled "wasn't", "wasnt"
        if (word.endswith("er") and fix == word[:-1]) or (
            word.endswith("ers") and fix == word[:-3] + "es"
        ):
            return False  # agent nouns missing from the dictionary: "strugglers"
        if len(word) == len(fix) and word[:-1] == fix[:-1]:  # "phony" is not "phone"
            return False
        if is_spelling_variant(word, fix):  # the dictionary is British: keep "color"
            return False
        return not any(  # a missing space: "bythe", "businessa"
            self._common(word[:i]) and self._common(word[i:]) for i in range(1, len(word))
        )

    def _common(self, part: str) -> bool:
        if len(part) == 1 and part not in ("a", "i"):
            return False
        return self._symspell.words.get(part, 0) >= self.config.min_count

    def _eligible(self, batch: pl.DataFrame) -> pl.Series:
        c: FixSpellingConfig = self.config
        if c.lang_column and c.lang_column in batch.columns:
            expr = pl.col(c.lang_column).is_in(c.languages)
        else:
            # no language column: mostly ASCII letters and enough English function words
            text = pl.col("text")
            letters = text.str.count_matches("[A-Za-z]")
            visible = text.str.count_matches(r"\S")
            words = text.str.count_matches(r"(?-u:\b)[A-Za-z]+(?-u:\b)")
            function_words = text.str.count_matches(_ENGLISH_FUNCTION_WORDS)
            expr = (
                (visible > 0)
                & (letters >= c.ascii_letter_ratio * visible)
                & (function_words >= c.function_word_ratio * words)
            )
        return batch.select((expr & pl.col("text").is_not_null()).fill_null(False))[:, 0]

    def map(self, batch: pl.DataFrame) -> pl.DataFrame:
        eligible = self._eligible(batch)
        fixes = pl.Series("spelling_fixes", [None] * batch.height, dtype=pl.Int32)
        fixes = fixes.scatter(eligible.arg_true(), 0)
        text = batch["text"]
        rows = (eligible & text.is_not_null()).arg_true()
        table, unknown = self._corrections(text.gather(rows)) if rows.len() else ({}, 0)
        total = 0
        if table:
            text, counts, hit = self._rewrite(text, rows, table)
            fixes = fixes.scatter(hit, counts)
            total = int(counts.sum())
        self.count("spelling_fixes", total)
        self.count("unknown_words", unknown)
        return batch.with_columns(text.alias("text"), fixes)

    def _corrections(self, texts: pl.Series) -> tuple[dict[str, str], int]:
        """Correction table for the unique unknown candidate words in `texts`, and their number."""
        c: FixSpellingConfig = self.config
        word = rf"(?-u:\b)[a-z]{{{c.min_word_length},}}(?-u:\b)"
        words = texts.str.extract_all(word).explode().drop_nulls().unique()
        unknown = words.filter(~words.is_in(self._known.implode())).to_list()
        table = {}
        for w in unknown:
            fix = self.correct(w)
            if fix is not None:
                table[w] = fix
        return table, len(unknown)

    def _rewrite(
        self, text: pl.Series, rows: pl.Series, table: dict[str, str]
    ) -> tuple[pl.Series, pl.Series, pl.Series]:
        """Rewrite the tokens of the documents in `rows` that hold a word of `table`."""
        sub = text.gather(rows)
        has = sub.str.contains_any(list(table)).fill_null(False)
        rows, sub = rows.filter(has), sub.filter(has)
        parts = pl.col("tok").str.extract_groups(f"^({_LEAD})([a-z]+)({_TRAIL})$")
        core = parts.struct.field("2")
        fixed = core.replace_strict(list(table), list(table.values()), default=None)
        pieces = (
            pl.DataFrame({"row": rows, "text": sub})
            .select(
                "row",
                gap=pl.col("text").str.replace_all(r"\S+", "\x00").str.split("\x00"),
                tok=pl.concat_list(
                    pl.col("text").str.extract_all(r"\S+"), pl.lit(None, dtype=pl.String)
                ),
            )
            .explode("gap", "tok")
            .with_columns(fixed=fixed, pre=parts.struct.field("1"), post=parts.struct.field("3"))
        )
        tok = (
            pl.when(pl.col("fixed").is_not_null())
            .then(pl.concat_str("pre", "fixed", "post"))
            .otherwise(pl.col("tok"))
        )
        out = pieces.group_by("row", maintain_order=True).agg(
            text=pl.concat_str(pl.col("gap"), tok.fill_null("")).str.join(""),
            n=pl.col("fixed").is_not_null().sum().cast(pl.Int32),
        )
        return text.scatter(out["row"], out["text"]), out["n"], out["row"]

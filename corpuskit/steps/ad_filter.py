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

- spam: spam formulae from maintained lists (corpuskit/data/spam/<language>.txt): invoice
  fraud ("代开发票", "贵公司负责人"), unsolicited-mail formulae ("如有打扰敬请谅解", "退订"),
  gambling and lottery touting ("一码中特", "存款送", "即时到账"), prize scams and
  premium-rate texts ("you have won", "txt WIN to 80086", "150p/msg")

The contact-type signals (url, phone, contact, tag) together count at most `contact_cap`
weighted points: an article that ends with a publisher's contact block (a game's hotline,
QQ, e-mail and site) is not an ad for that alone, while the offer and spam vocabulary
around such a block is what makes one.

The contact-type signals are counted on the author's own text (`ignore_letter_frame`, on
by default): a mail or forum post's frame, found by corpuskit.text.paragraphs.letter_frame
(quoted lines of the message it answers, the "In article <...>, joe@host.edu writes:"
attribution, the salutation, and in text without CJK characters the closing and the "-- "
signature), holds the addresses and phones of its author and of others, not an offer; an
ad puts its contacts in its body. Only the documents with a contact signal are split into
lines, and a literal scan skips those without a frame hint (most web pages). With
recipes/web.yaml's settings this keeps 18 20news posts of the gold set and 6 of the
held-out set that were rejected for their signatures, with the same spam recall (on all
of trec06c_subset's spam: 6,544 of 7,775 rejected with and without it; 20news_train:
12.3% -> 2.3% rejected).

Each signal is one `str.count_matches` over the batch (Rust regex); the promo and spam
terms are one combined regex each. Documents without a CJK character are counted with the
terms that can match without one (the English lists and the like): the patterns left out
have no match in such a document, so the counts are the same, and a long alternation of
Chinese terms no longer runs over English text.

Calibration (tests/test_ads.py, bench/quality): with the default weights, cap 4 and
threshold 10, ag_news (7,600 English news, title + description) loses nothing; cnews_subset
loses about 3% (dealer listings and game promotions dense in offer words), no sports,
politics, finance, entertainment or fashion article; trec06c ham loses under 1%; of the
trec06c spam bodies the held-out half (odd file numbers, outside the gold set) loses about
the same share as the half the spam lists were written from (see BENCHMARKS.md). Run it
before remove_boilerplate_lines: that step removes the contact blocks this one scores.
"""

from __future__ import annotations

import functools
import re
from re import _constants as sre
from re import _parser as sre_parse
from typing import Any, ClassVar

import numpy as np
import polars as pl
from pydantic import Field, field_validator

from corpuskit.steps.base import FilterStep, StepConfig
from corpuskit.steps.patterns import (
    Pattern,
    check_pattern,
    collect_patterns,
    combine,
    top_branches,
)
from corpuskit.text.paragraphs import frame_flags
from corpuskit.text.regex_lane import RegexLane
from corpuskit.text.utf8 import utf8_buffer

_B = "(?-u:\\b)"  # ASCII word boundary: keeps Rust regex on its fast DFA for Chinese text

SIGNALS: dict[str, str] = {
    "url": (
        r"(?i)https?://[^\s<>\"'）)】\]]+"
        rf"|{_B}www\.[a-z0-9.-]+"
        # bare domains, not the host part of an e-mail address (counted as contact)
        r"|(?:^|[^@a-z0-9._-])[a-z0-9][a-z0-9-]*(?:\.[a-z0-9-]+)*\.(?:com|cn|net|org|cc|tv|info|biz)"
        rf"{_B}"
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
        # e-mail addresses, not Usenet message ids ("<1993Apr5.2332@host.edu>")
        r"|(?:^|[^<A-Za-z0-9._%+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+|客服|热线"
        r"|(?:联系人|联系电话|订购电话|咨询电话|办公电话|移动电话|手机|传真|电\s?话)\s*[:：]"
    ),
    "tag": (
        r"[【\[][^【】\[\]]{0,30}(?:在线|(?i:\.com|\.cn|www)|报道|商家|价格|售价|报价|热线"
        r"|电话|客服|下载|官网|网站|地址|邮箱|咨询|优惠|特价|促销|礼包|联系)[^【】\[\]]{0,30}[】\]]"
    ),
    "exclaim": r"[!！]{2,}",
    "price": rf"[¥￥£]\s*[0-9]|\$[0-9]{{1,4}}\.[0-9]{{2}}{_B}|[0-9]+(?:\.[0-9]+)?\s*元",
}
# signals counted with their narrow alternation (narrow_regex) in texts without a CJK
# character: price's "元" branch costs about half its pass there; contact's narrow form
# measured slower than the whole one (bench_filters' documents)
NARROW_SIGNALS = ("price",)
COMPONENTS = ("promo", "spam", *SIGNALS)
CONTACT_SIGNALS = ("url", "phone", "contact", "tag")
DEFAULT_WEIGHTS: dict[str, float] = {
    "promo": 0.3,
    "spam": 2.0,
    "url": 1.0,
    "phone": 2.0,
    "contact": 2.0,
    "tag": 2.0,
    "exclaim": 1.0,
    "price": 0.3,
}


# CJK blocks and full-width forms: no character outside them has a case variant inside.
WIDE_RANGES = ((0x2E80, 0x9FFF), (0xF900, 0xFAFF), (0xFE30, 0xFE4F), (0xFF00, 0xFFEF),
               (0x20000, 0x3FFFF))  # fmt: skip


def _wide(lo: int, hi: int) -> bool:
    return any(a <= lo and hi <= b for a, b in WIDE_RANGES)


def needs_wide(regex: str) -> bool:
    """Whether every match of `regex` holds a character of WIDE_RANGES (a literal or a class
    of them that is not optional), as Python's parser reads it; False where it cannot tell
    (syntax only Rust's regex knows): such a pattern has no match in a text without one."""
    try:
        return _seq_needs_wide(sre_parse.parse(regex))
    except (re.error, ValueError, TypeError, OverflowError, RecursionError):
        return False


@functools.cache
def narrow_regex(regex: str) -> str | None:
    """`regex` without the top-level alternatives that need a wide character (needs_wide):
    the same matches in a text without one (a branch that cannot match there never decides
    a match). A leading flag group (`(?i)`) stays in front. None where every match needs one."""
    if needs_wide(regex):
        return None
    lead = re.match(r"\(\?[a-zA-Z]+\)", regex)
    flags = lead.group(0) if lead else ""
    branches = top_branches(regex[len(flags) :])
    if branches is None or len(branches) < 2:
        return regex
    kept = [b for b in branches if not needs_wide(flags + b)]
    return regex if len(kept) == len(branches) else flags + "|".join(kept)


def narrow_pattern(p: Pattern) -> Pattern | None:
    """`p` with `narrow_regex`'s regex; None where every match needs a wide character."""
    regex = narrow_regex(p.regex)
    if regex is None:
        return None
    return p if regex == p.regex else Pattern(regex, p.cut, p.origin)


def _seq_needs_wide(items: Any) -> bool:
    return any(_item_needs_wide(op, av) for op, av in items)


def _item_needs_wide(op: Any, av: Any) -> bool:
    if op is sre.LITERAL:
        return _wide(av, av)
    if op is sre.IN:
        members = [_wide(a, a) if o is sre.LITERAL else o is sre.RANGE and _wide(*a) for o, a in av]
        return bool(members) and all(members)
    if op is sre.BRANCH:
        return all(_seq_needs_wide(branch) for branch in av[1])
    if op in (sre.MAX_REPEAT, sre.MIN_REPEAT, sre.POSSESSIVE_REPEAT):
        return av[0] >= 1 and _seq_needs_wide(av[2])
    if op is sre.SUBPATTERN:
        return _seq_needs_wide(av[-1])
    if op is sre.ATOMIC_GROUP:
        return _seq_needs_wide(av)
    return False


def maybe_wide(texts: pl.Series) -> np.ndarray:
    """Per text, whether it may hold a WIDE_RANGES character: a UTF-8 byte E3-FF, or E2
    followed by BA-BF (U+2E80-U+2FFF). A byte scan: far cheaper than a regex pass."""
    data, offsets = utf8_buffer(texts)
    out = np.zeros(len(texts), dtype=bool)
    idx = np.flatnonzero(data >= 0xE2)
    if idx.size:
        after = data[np.minimum(idx + 1, data.size - 1)]
        idx = idx[(data[idx] >= 0xE3) | (after >= 0xBA)]
        out[np.searchsorted(offsets, idx, side="right") - 1] = True
    return out


def count_terms(texts: pl.Series, regex: str, narrow: str | None, wide: np.ndarray) -> pl.Series:
    """`texts.str.count_matches(regex)` (Int32), with `narrow` (the same alternation without
    the patterns that need a wide character; None: none is left) on the texts not `wide`."""
    if narrow == regex or wide.all():
        return texts.str.count_matches(regex).cast(pl.Int32)
    out = np.zeros(len(texts), dtype=np.int32)
    rest = np.flatnonzero(~wide)
    if narrow is not None:
        out[rest] = texts.gather(rest).str.count_matches(narrow).to_numpy()
    idx = np.flatnonzero(wide)
    if idx.size:
        out[idx] = texts.gather(idx).str.count_matches(regex).to_numpy()
    return pl.Series(texts.name, out, dtype=pl.Int32)


class AdFilterConfig(StepConfig):
    # documents whose ad_score (weighted signals per 1000 characters) is above this are dropped
    threshold: float = Field(10.0, ge=0)
    # shorter documents count as this long, so a single signal in a headline is not an ad
    min_chars: int = Field(500, ge=1)
    # the weighted url, phone, contact and tag signals together count at most this much
    # (null: no cap), so a contact block alone does not make an article an ad
    contact_cap: float | None = Field(4.0, ge=0)
    # weight per signal, overriding DEFAULT_WEIGHTS (keys: promo, spam, url, phone, contact,
    # tag, exclaim, price); 0 turns a signal off
    weights: dict[str, float] = Field(default_factory=dict)
    # shipped promotional term and spam formula lists (corpuskit/data/ads/<name>.txt,
    # corpuskit/data/spam/<name>.txt); [] turns them off
    languages: tuple[str, ...] = ("zh", "en")
    extra_terms: tuple[str, ...] = ()
    term_files: tuple[str, ...] = ()
    exclude_terms: tuple[str, ...] = ()
    ignore_case: bool = True
    # count the url, phone, contact and tag signals without the letter's frame (quoted
    # lines, "X writes:" attribution, salutation, and in text without CJK characters the
    # closing and "-- " signature; corpuskit.text.paragraphs.letter_frame): a post's
    # signature and the addresses of the message it answers are not its advertising
    ignore_letter_frame: bool = True

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
        self._spam_regex: str | None = None
        self._promo_narrow: str | None = None
        self._spam_narrow: str | None = None
        self._lane = RegexLane()

    def spam_terms(self) -> list[Pattern]:
        return collect_patterns("spam", self.config.languages, (), (), (), allow_cut=False)

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
        for p in [*self.terms(), *self.spam_terms()]:
            check_pattern(p)

    def setup(self) -> None:
        self.validate()
        terms, spam, ignore_case = self.terms(), self.spam_terms(), self.config.ignore_case
        self._promo_regex = combine(terms, ignore_case)
        self._spam_regex = combine(spam, ignore_case=True)
        # the same alternations for texts without a CJK character (see count_terms)
        self._promo_narrow = combine(_narrow(terms), ignore_case)
        self._spam_narrow = combine(_narrow(spam), True)

    def _signal_counts(self, texts: pl.Series, wide: np.ndarray) -> dict[str, pl.Series]:
        """Every signal's matches per text, as eager calls: run on the step's RegexLane,
        whose regex cache holds this step's patterns between batches."""
        counts = {
            k: texts.str.count_matches(regex).cast(pl.Int32)
            for k, regex in SIGNALS.items()
            if k not in NARROW_SIGNALS
        }
        for k in NARROW_SIGNALS:
            counts[k] = count_terms(texts, SIGNALS[k], narrow_regex(SIGNALS[k]), wide)
        for k, regex, narrow in (
            ("promo", self._promo_regex, self._promo_narrow),
            ("spam", self._spam_regex, self._spam_narrow),
        ):
            counts[k] = (
                count_terms(texts, regex, narrow, wide)
                if regex
                else pl.repeat(0, len(texts), dtype=pl.Int32, eager=True)
            )
        return counts

    def annotate(self, batch: pl.DataFrame) -> pl.DataFrame:
        self.ensure_ready()
        c: AdFilterConfig = self.config
        weights = {**DEFAULT_WEIGHTS, **c.weights}
        text = pl.col("text").fill_null("")
        texts = batch["text"].fill_null("")
        wide = maybe_wide(texts)
        counts = self._lane.run(self._signal_counts, texts, wide)
        out = batch.with_columns(
            *(pl.Series(f"ad_{k}", v, dtype=pl.Int32) for k, v in counts.items())
        )
        if c.ignore_letter_frame:
            keys = [k for k in CONTACT_SIGNALS if weights[k] > 0]
            out = own_contact_counts(out, texts, keys, wide)

        def points(keys: list[str]) -> pl.Expr:
            return pl.sum_horizontal(
                [pl.col(f"ad_{k}").cast(pl.Float64) * weights[k] for k in keys]
            )

        contact = points(list(CONTACT_SIGNALS))
        if c.contact_cap is not None:
            contact = pl.min_horizontal(contact, pl.lit(c.contact_cap, pl.Float64))
        weighted = contact + points([k for k in COMPONENTS if k not in CONTACT_SIGNALS])
        length = pl.max_horizontal(text.str.len_chars(), pl.lit(c.min_chars)).cast(pl.Float64)
        return out.with_columns(ad_score=(weighted * 1000.0 / length).round(3)).select(
            *batch.columns, "ad_score", *[f"ad_{k}" for k in COMPONENTS]
        )

    def rules(self) -> list[tuple[str, pl.Expr]]:
        return [("ad_score", pl.col("ad_score") > self.config.threshold)]


def own_contact_counts(
    counted: pl.DataFrame, texts: pl.Series, keys: list[str], wide: np.ndarray
) -> pl.DataFrame:
    """`counted` with the `ad_<key>` counts of the documents that have a letter frame and
    text of their own counted again on that text alone (the lines outside the frame). Only
    the documents with such a signal are split into lines; frame_flags' literal scan skips
    most of the rest. In a document that may hold CJK text (`wide`) only quoted lines, the
    attribution and the salutation are frame: letter_frame finds a closing by counting
    words, and an unspaced line is one word, so whole Chinese ads (an offer, its site and
    hotline) read as a closing, and spam puts its contact block after a "--" line
    (trec06c_subset at web.yaml's settings: with them 13 of 7,775 spam mails escaped,
    without them none; 274 of 7,063 ham rejected either way)."""
    if not keys:
        return counted
    hit = counted.select(pl.any_horizontal([pl.col(f"ad_{k}") > 0 for k in keys])).to_series()
    cand = hit.arg_true()
    if not len(cand):
        return counted
    sub = texts.gather(cand)
    lines = (
        pl.DataFrame({"s": sub.str.split("\n")})
        .with_row_index("row")
        .explode("s")
        .with_columns(pl.col("s").fill_null(""))
    )
    f = frame_flags(lines, text=sub)
    if f is None:
        return counted
    spaced = ~pl.Series(wide[cand.to_numpy()]).gather(lines["row"])
    tail = (f["signature"] | f["closing"]) & spaced
    frame = f["quoted"] | f["attribution"] | f["opening"] | tail
    own_line = ~frame & lines["s"].str.contains(r"\S")
    per_doc = (
        pl.DataFrame({"row": lines["row"], "frame": frame, "own": own_line})
        .group_by("row")
        .agg(pl.col("frame").any(), pl.col("own").any())
    )
    # a document of nothing but frame keeps its counts: there is no body to count on
    framed = per_doc.filter(pl.col("frame") & pl.col("own"))["row"]
    if not len(framed):
        return counted
    own = (
        lines.filter(~frame & lines["row"].is_in(framed.implode()))
        .group_by("row", maintain_order=True)
        .agg(pl.col("s").str.join("\n"))
    )
    idx = cand.gather(own["row"])
    body = own["s"]
    cols = {}
    for k in keys:
        got = body.str.count_matches(SIGNALS[k]).cast(pl.Int32)
        cols[f"ad_{k}"] = counted[f"ad_{k}"].scatter(idx, got)
    return counted.with_columns(**cols)


def _narrow(patterns: list[Pattern]) -> list[Pattern]:
    return [q for p in patterns if (q := narrow_pattern(p)) is not None]

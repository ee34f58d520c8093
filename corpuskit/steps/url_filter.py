"""url_filter: reject documents whose URL is on a blocklist or reads as adult or gambling.

In the manner of FineWeb's URL filter (datatrove's URLFilter), on the `url` column:

- `host`: the URL's host or any parent domain of it is a blocked host (suffix match:
  blocking "example.com" blocks "www.example.com" and "a.b.example.com", not
  "badexample.com"). Hosts come from shipped lists (`host_lists`: "lexicon_zh", 14,589
  gambling, porn and scam hosts), files (`host_files`, one host per line) and `extra_hosts`.
- `url`: the URL itself is blocked (`url_files`, `extra_urls`), compared without scheme,
  "www." and trailing "/", host lower-cased.
- `keyword`: a token of the URL (host and path split on anything but letters and digits,
  lower-cased) is a hard keyword ("porn", "casino", "liuhecai"), or `soft_threshold`
  different soft keywords appear ("hot", "sexy", "girls"), or a run-together substring
  ("freepornvideos") is there. Lists: corpuskit/data/url_filter/ and `*_files`.

Documents without a URL (null or empty) pass. The matched host, URL or keyword is the
rejected row's detail. All checks are Polars expressions over the batch: the host's
suffixes (every suffix of every row in one column) are looked up with one `is_in`.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import ClassVar

import polars as pl
from pydantic import Field

from corpuskit.steps.base import FilterStep, StepConfig
from corpuskit.steps.wordlists import read_words

HOST_LISTS = ("lexicon_zh",)
_HOST = r"^(?:[a-z][a-z0-9+.-]*://)?(?:[^@/?#\s]*@)?([^:/?#\s\\]+)"
_SCHEME = r"^[a-z][a-z0-9+.-]*://"


def _data(name: str) -> Path:
    return Path(str(resources.files("corpuskit") / "data" / "url_filter" / name))


def normalize_host(host: str) -> str:
    return host.strip().lower().rstrip(".").removeprefix("www.")


def normalize_url(url: str) -> str:
    """A URL as the `url` rule compares it: no scheme, no www., no trailing '/', host lowered."""
    u = url.strip()
    scheme_end = u.find("://")
    if scheme_end > 0 and u[:scheme_end].isalpha():
        u = u[scheme_end + 3 :]
    host, sep, rest = u.partition("/")
    return (normalize_host(host) + sep + rest).rstrip("/")


def host_labels(url: pl.Expr) -> pl.Expr:
    """The labels of the URL's host, lower-cased ("www.example.com" -> [www, example, com])."""
    return url.str.to_lowercase().str.extract(_HOST, 1).str.strip_chars_end(".").str.split(".")


def blocked_hosts(urls: pl.Series, hosts: pl.Series) -> pl.Series:
    """For each URL, the longest of its host's suffixes (two labels or more) found in
    `hosts`, else null: every suffix of every row in one column, one `is_in`, one group-by."""
    frame = pl.DataFrame({"labels": urls.to_frame("url").select(host_labels(pl.col("url")))})
    frame = frame.with_row_index("_row").with_columns(n=pl.col("labels").list.len())
    pairs = (
        frame.filter(pl.col("n") >= 2)
        .with_columns(k=pl.int_ranges(2, pl.col("n") + 1))
        .explode("k")
        .select(
            "_row",
            "k",
            suffix=pl.col("labels").list.slice(-pl.col("k"), pl.col("k")).list.join("."),
        )
    )
    hits = (
        pairs.filter(pl.col("suffix").is_in(hosts.implode()))
        .sort("k", descending=True)
        .group_by("_row", maintain_order=True)
        .first()
    )
    found = frame.select("_row").join(hits, on="_row", how="left", maintain_order="left")
    return found["suffix"]


class UrlFilterConfig(StepConfig):
    # shipped host blocklists (lexicon_zh); [] turns them off
    host_lists: tuple[str, ...] = HOST_LISTS
    host_files: tuple[str, ...] = ()
    extra_hosts: tuple[str, ...] = ()
    url_files: tuple[str, ...] = ()
    extra_urls: tuple[str, ...] = ()
    # the shipped adult/gambling URL keyword lists; false turns them off
    keywords: bool = True
    keyword_files: tuple[str, ...] = ()
    soft_keyword_files: tuple[str, ...] = ()
    extra_keywords: tuple[str, ...] = ()
    # how many different soft keywords reject a URL
    soft_threshold: int = Field(2, ge=1)


class UrlFilter(FilterStep):
    """Reject documents whose URL or host is blocklisted or reads as adult or gambling."""

    Config = UrlFilterConfig
    reads: ClassVar[tuple[str, ...]] = ("url",)
    columns: ClassVar[dict[str, pl.DataType]] = {}

    def __init__(self, config: StepConfig | None = None, name: str | None = None) -> None:
        super().__init__(config, name)
        self._hosts: pl.Series | None = None
        self._urls: pl.Series | None = None
        self._hard: pl.Series | None = None
        self._soft: pl.Series | None = None
        self._subwords: str | None = None

    def lists(self) -> dict[str, list[str]]:
        """Hosts, URLs, hard and soft keywords and substrings, from the shipped lists and files."""
        c: UrlFilterConfig = self.config
        hosts: list[str] = []
        for name in c.host_lists:
            if name not in HOST_LISTS:
                raise ValueError(f"host_lists: unknown {name!r}; shipped: {', '.join(HOST_LISTS)}")
            hosts += read_words(_data(f"{name}/hosts.txt"))
        for path in c.host_files:
            hosts += read_words(path)
        urls = [*c.extra_urls]
        for path in c.url_files:
            urls += read_words(path)
        hard, soft, sub = [*c.extra_keywords], [], []
        if c.keywords:
            hard += read_words(_data("keywords_hard.txt"))
            soft += read_words(_data("keywords_soft.txt"))
            sub += read_words(_data("subwords.txt"))
        for path in c.keyword_files:
            hard += read_words(path)
        for path in c.soft_keyword_files:
            soft += read_words(path)
        return {
            "hosts": [h for h in (normalize_host(h) for h in [*hosts, *c.extra_hosts]) if h],
            "urls": [u for u in (normalize_url(u) for u in urls) if u],
            "hard": [w.lower() for w in hard],
            "soft": [w.lower() for w in soft],
            "sub": ["".join(ch for ch in w.lower() if ch.isalnum()) for w in sub],
        }

    def validate(self) -> None:
        lists = self.lists()
        if not any(lists.values()):
            raise ValueError("nothing to check: no hosts, URLs or keywords")
        bad = [h for h in lists["hosts"] if "." not in h]
        if bad:
            raise ValueError(f"host {bad[0]!r} has no dot: a top-level domain would block too much")

    def setup(self) -> None:
        self.validate()
        lists = self.lists()
        self._hosts = pl.Series(sorted(set(lists["hosts"])), dtype=pl.String)
        self._urls = pl.Series(sorted(set(lists["urls"])), dtype=pl.String)
        self._hard = pl.Series(sorted(set(lists["hard"])), dtype=pl.String)
        self._soft = pl.Series(sorted(set(lists["soft"])), dtype=pl.String)
        subs = sorted({s for s in lists["sub"] if s})
        self._subwords = "(?:" + "|".join(subs) + ")" if subs else None

    def annotate(self, batch: pl.DataFrame) -> pl.DataFrame:
        self.ensure_ready()
        url = pl.col("url").fill_null("").str.strip_chars()
        low = url.str.to_lowercase()
        norm = low.str.replace(_SCHEME, "").str.replace(r"^www\.", "").str.strip_chars_end("/")
        tokens = low.str.extract_all("[a-z0-9]+")
        hard = tokens.list.eval(
            pl.element().filter(pl.element().is_in(self._hard.implode()))
        ).list.first()
        soft = tokens.list.eval(
            pl.element().filter(pl.element().is_in(self._soft.implode()))
        ).list.unique()
        squashed = low.str.replace(_SCHEME, "").str.replace_all("[^a-z0-9]+", "")
        sub = squashed.str.extract(f"({self._subwords})", 1) if self._subwords else pl.lit(None)
        soft_hit = pl.when(soft.list.len() >= self.config.soft_threshold).then(
            soft.list.sort().list.join("+")
        )
        out = batch.with_columns(
            _url_host=blocked_hosts(batch.select(url).to_series(), self._hosts),
            _url_url=pl.when(norm.is_in(self._urls.implode())).then(norm),
            _url_keyword=pl.coalesce(hard, soft_hit, sub.cast(pl.String)),
            _url_present=url.str.len_chars() > 0,
        )
        flags = out.select(
            host=pl.col("_url_host").is_not_null().sum(),
            url=pl.col("_url_url").is_not_null().sum(),
            keyword=pl.col("_url_keyword").is_not_null().sum(),
            missing=(~pl.col("_url_present")).sum(),
        ).row(0, named=True)
        for k, v in flags.items():
            self.count("no_url" if k == "missing" else f"{k}_matches", int(v))
        return out

    def rules(self) -> list[tuple[str, pl.Expr]]:
        present = pl.col("_url_present")
        return [
            ("host", present & pl.col("_url_host").is_not_null()),
            ("url", present & pl.col("_url_url").is_not_null()),
            ("keyword", present & pl.col("_url_keyword").is_not_null()),
        ]

    def detail(self) -> pl.Expr | None:
        return pl.coalesce("_url_host", "_url_url", "_url_keyword")

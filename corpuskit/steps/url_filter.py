"""url_filter: reject documents whose URL is on a blocklist or reads as adult or gambling.

In the manner of FineWeb's URL filter (datatrove's URLFilter), on the `url` column:

- `host`: the URL's host or any parent domain of it is a blocked host (suffix match:
  blocking "example.com" blocks "www.example.com" and "a.b.example.com", not
  "badexample.com"). Hosts come from shipped lists (`host_lists`: "lexicon_zh", 14,589
  gambling, porn and scam hosts), files (`host_files`, one host per line) and `extra_hosts`.
- `url`: the URL itself is blocked (`url_files`, `extra_urls`), compared lower-cased,
  without scheme, "www." and trailing "/" (`url_key`, the same for lists and documents).
- `ut1_host`, `ut1_url` (`ut1_adult`, on by default): the host or a parent domain of it is
  in the "adult" category of the UT1 blacklists (Université Toulouse 1 Capitole, CC BY-SA
  4.0), 4,558,940 hosts and 19,587 URLs, the lists FineWeb filters with; read from the copy
  datatrove ships (datatrove/assets/url_filterblacklistsv0_3_0.tar.gz), never downloaded.
  URLs compare as for `url`. Wider than datatrove, which looks up only the registered
  domain and the full host (most UT1 entries are full host names, so it lets their "www."
  and other subdomains through) and the raw URL (so its `url` reason never fires on a URL
  that has a scheme). The hosts are kept as a sorted array of 64-bit hashes (36 MB,
  memory-mapped from ~/.cache/corpuskit/url_filter/, built once in 2-3 s), looked up with
  `np.searchsorted`; a missing or read-only cache only costs the rebuild.
- `keyword`: a token of the URL (host and path split on anything but letters and digits,
  lower-cased) is a hard keyword ("porn", "casino", "liuhecai"), or `soft_threshold`
  different soft keywords appear ("hot", "sexy", "girls"), or a run-together substring
  ("freepornvideos") is there. Lists: corpuskit/data/url_filter/ and `*_files`.

Documents without a URL (null or empty) pass. The matched host, URL or keyword is the
rejected row's detail. All checks are Polars expressions over the batch: the host's
suffixes (every suffix of every row in one column) are looked up with one `is_in` (and
one `np.searchsorted` of their hashes for UT1).
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import io
import os
import tarfile
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import ClassVar

import numpy as np
import polars as pl
from pydantic import Field

from corpuskit.cache import cache_dir
from corpuskit.steps.base import FilterStep, StepConfig
from corpuskit.steps.wordlists import read_words

HOST_LISTS = ("lexicon_zh",)
_HOST = r"^(?:[a-z][a-z0-9+.-]*://)?(?:[^@/?#\s]*@)?([^:/?#\s\\]+)"
_SCHEME = r"^[a-z][a-z0-9+.-]*://"


def _data(name: str) -> Path:
    return Path(str(resources.files("corpuskit") / "data" / "url_filter" / name))


def normalize_host(host: str) -> str:
    return host.strip().lower().rstrip(".").removeprefix("www.")


def url_key(url: pl.Expr) -> pl.Expr:
    """A URL as the `url` rules compare it: trimmed and lower-cased, without scheme, "www."
    and trailing "/" (UT1's URLs are written so)."""
    low = url.str.strip_chars().str.to_lowercase().str.replace(_SCHEME, "")
    return (
        low.str.replace(r"^www\.", "")
        .str.replace(r"^([^/]*?)\.?(/|$)", "$1$2")
        .str.strip_chars_end("/")
    )


def normalize_url(url: str) -> str:
    """`url_key` of one URL ("HTTPS://WWW.Good.org/A/" -> "good.org/a")."""
    return pl.select(url_key(pl.lit(url, dtype=pl.String))).item()


def host_labels(url: pl.Expr) -> pl.Expr:
    """The labels of the URL's host, lower-cased ("www.example.com" -> [www, example, com])."""
    return url.str.to_lowercase().str.extract(_HOST, 1).str.strip_chars_end(".").str.split(".")


def host_suffixes(urls: pl.Series) -> pl.DataFrame:
    """Every suffix of two labels or more of every URL's host: columns `_row`, `k` (labels)
    and `suffix`, one row per suffix."""
    frame = pl.DataFrame({"labels": urls.to_frame("url").select(host_labels(pl.col("url")))})
    frame = frame.with_row_index("_row").with_columns(n=pl.col("labels").list.len())
    return (
        frame.filter(pl.col("n") >= 2)
        .with_columns(k=pl.int_ranges(2, pl.col("n") + 1))
        .explode("k")
        .select(
            "_row",
            "k",
            suffix=pl.col("labels").list.slice(-pl.col("k"), pl.col("k")).list.join("."),
        )
    )


def longest_hit(rows: int, pairs: pl.DataFrame, hit: pl.Series | np.ndarray) -> pl.Series:
    """For each of `rows` URLs, the longest of its suffixes in `pairs` where `hit`, else null."""
    hits = (
        pairs.filter(pl.Series(hit, dtype=pl.Boolean))
        .sort("k", descending=True)
        .group_by("_row", maintain_order=True)
        .first()
    )
    found = pl.DataFrame({"_row": pl.int_range(rows, dtype=pl.UInt32, eager=True)})
    return found.join(hits, on="_row", how="left", maintain_order="left")["suffix"]


UT1_ASSET = "url_filterblacklistsv0_3_0.tar.gz"
_UT1_SEED = 0x636B5554  # the hash seed of the UT1 index; its cache is keyed by Polars' version
_UT1_PROBE = "probe.corpuskit.invalid"
_UT1_FORMAT = 1


def ut1_asset() -> Path | None:
    """datatrove's copy of the UT1 blacklists ("adult": `domains`, `urls`), or None."""
    try:
        spec = importlib.util.find_spec("datatrove")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for root in spec.submodule_search_locations:
        path = Path(root) / "assets" / UT1_ASSET
        if path.is_file():
            return path
    return None


def _hash(values: pl.Series) -> np.ndarray:
    return values.hash(seed=_UT1_SEED).to_numpy()


class HashIndex:
    """A set of strings as the sorted, unique 64-bit hashes of them: 8 bytes an entry, shared
    between processes when memory-mapped; a lookup hashes the queries and binary-searches.
    A false hit needs a 64-bit collision (about 2.5e-13 per lookup for 4.6 M entries)."""

    def __init__(self, keys: np.ndarray) -> None:
        self.keys = keys

    @classmethod
    def of(cls, values: pl.Series) -> HashIndex:
        return cls(values.drop_nulls().hash(seed=_UT1_SEED).unique().sort().to_numpy())

    def __len__(self) -> int:
        return len(self.keys)

    def contains(self, values: pl.Series) -> np.ndarray:
        if not len(values) or not len(self.keys):
            return np.zeros(len(values), dtype=bool)
        h = _hash(values.fill_null(""))
        at = np.minimum(np.searchsorted(self.keys, h), len(self.keys) - 1)
        return (self.keys[at] == h) & values.is_not_null().to_numpy()


def _read_lines(tar: tarfile.TarFile, member: str) -> pl.Series:
    f = tar.extractfile(member)
    if f is None:
        raise ValueError(f"{UT1_ASSET}: no member {member!r}")
    frame = pl.read_csv(
        io.BytesIO(f.read()),
        has_header=False,
        separator="\x01",
        quote_char=None,
        new_columns=["line"],
        schema_overrides={"line": pl.String},
    )
    lines = frame["line"].str.strip_chars()
    return lines.filter((lines.str.len_chars() > 0) & ~lines.str.starts_with("#"))


def build_ut1(asset: Path) -> tuple[HashIndex, HashIndex]:
    """The UT1 "adult" hosts (normalized as the `host` lists are, entries without a dot
    dropped) and URLs (`url_key`) of `asset`, as hash indexes."""
    with tarfile.open(asset, "r:gz") as tar:
        domains, urls = _read_lines(tar, "domains"), _read_lines(tar, "urls")
    hosts = domains.to_frame("h").select(
        pl.col("h").str.to_lowercase().str.strip_chars_end(".").str.strip_prefix("www.")
    )["h"]
    hosts = hosts.filter(hosts.str.contains(".", literal=True))
    keys = urls.to_frame("u").select(url_key(pl.col("u")))["u"]
    return HashIndex.of(hosts), HashIndex.of(keys.filter(keys.str.len_chars() > 0))


def _read_cache(path: Path, probe: np.uint64) -> tuple[HashIndex, HashIndex] | None:
    """The memory-mapped indexes of a cache file, None when missing, stale or damaged."""
    try:
        head = np.load(path, mmap_mode="r")
        n_hosts, n_urls = int(head[1]), int(head[2])
        ok = head.dtype == np.uint64 and head.ndim == 1 and head[0] == probe
        if ok and len(head) == 3 + n_hosts + n_urls:
            return HashIndex(head[3 : 3 + n_hosts]), HashIndex(head[3 + n_hosts :])
    except (OSError, ValueError, IndexError, EOFError):
        pass
    return None


def load_ut1(asset: Path) -> tuple[HashIndex, HashIndex]:
    """`build_ut1` of `asset`, memory-mapped from the cache when a valid copy is there (keyed
    by the asset's size and mtime, Polars' version and a probe hash), else built and saved
    (and mapped back, so that processes share its pages)."""
    st = asset.stat()
    name = f"ut1-{st.st_size}-{st.st_mtime_ns}-polars{pl.__version__}-v{_UT1_FORMAT}.npy"
    path = cache_dir("url_filter") / name
    probe = _hash(pl.Series([_UT1_PROBE]))[0]
    if cached := _read_cache(path, probe):
        return cached
    with _exclusive(path.with_suffix(".lock")):  # workers starting together build it once
        if cached := _read_cache(path, probe):
            return cached
        hosts, urls = build_ut1(asset)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        try:
            head = np.array([probe, len(hosts), len(urls)], dtype=np.uint64)
            with open(tmp, "wb") as f:
                np.save(f, np.concatenate([head, hosts.keys, urls.keys]), allow_pickle=False)
            os.replace(tmp, path)
        except OSError:  # a read-only cache only costs the rebuild
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)
    return _read_cache(path, probe) or (hosts, urls)


@contextlib.contextmanager
def _exclusive(lock: Path) -> Iterator[None]:
    """Hold an exclusive lock on `lock` where the cache folder is writable (else no lock)."""
    try:
        import fcntl

        lock.parent.mkdir(parents=True, exist_ok=True)
        f = open(lock, "ab")  # noqa: SIM115 (closed below, after the lock)
    except (ImportError, OSError):
        yield
        return
    with f:
        fcntl.flock(f, fcntl.LOCK_EX)
        yield


@functools.lru_cache(maxsize=2)
def _ut1_in_process(asset: Path, size: int, mtime_ns: int) -> tuple[HashIndex, HashIndex]:
    return load_ut1(asset)


def ut1_index(asset: Path) -> tuple[HashIndex, HashIndex]:
    """`load_ut1`, once per process and asset version (steps of one process share it)."""
    st = asset.stat()
    return _ut1_in_process(asset, st.st_size, st.st_mtime_ns)


class UrlFilterConfig(StepConfig):
    # shipped host blocklists (lexicon_zh); [] turns them off
    host_lists: tuple[str, ...] = HOST_LISTS
    host_files: tuple[str, ...] = ()
    extra_hosts: tuple[str, ...] = ()
    url_files: tuple[str, ...] = ()
    extra_urls: tuple[str, ...] = ()
    # the UT1 "adult" hosts and URLs FineWeb blocks (reasons ut1_host, ut1_url), read from
    # datatrove's package; false turns them off (and is needed where datatrove is absent)
    ut1_adult: bool = True
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
        self._ut1_hosts: HashIndex | None = None
        self._ut1_urls: HashIndex | None = None

    def _transient(self) -> tuple[str, ...]:
        return ("_ut1_hosts", "_ut1_urls")

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
        if self.config.ut1_adult and ut1_asset() is None:
            found = importlib.util.find_spec("datatrove") is not None
            raise ValueError(
                f"ut1_adult: the UT1 adult blacklist ships inside the datatrove package"
                f" (datatrove/assets/{UT1_ASSET}), "
                + ("and this datatrove has no such file" if found else "not installed here")
                + "; install a datatrove that ships it (0.10.1 does) or set"
                " `ut1_adult: false` for url_filter"
            )
        if not any(lists.values()) and not self.config.ut1_adult:
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
        self._ut1_hosts = self._ut1_urls = None
        if self.config.ut1_adult:
            self._ut1_hosts, self._ut1_urls = ut1_index(ut1_asset())

    def annotate(self, batch: pl.DataFrame) -> pl.DataFrame:
        self.ensure_ready()
        url = pl.col("url").fill_null("").str.strip_chars()
        low = url.str.to_lowercase()
        norm = url_key(url)
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
        urls = batch.select(url).to_series()
        pairs = host_suffixes(urls)
        n = len(urls)
        ut1_host = ut1_url = pl.lit(None, dtype=pl.String)
        if self._ut1_hosts is not None and self._ut1_urls is not None:
            ut1_host = longest_hit(n, pairs, self._ut1_hosts.contains(pairs["suffix"]))
            keys = batch.select(norm).to_series()
            ut1_url = keys.to_frame("k").select(
                pl.when(pl.Series(self._ut1_urls.contains(keys))).then(pl.col("k"))
            )["k"]
        out = batch.with_columns(
            _url_host=longest_hit(n, pairs, pairs["suffix"].is_in(self._hosts.implode())),
            _url_ut1_host=ut1_host,
            _url_url=pl.when(norm.is_in(self._urls.implode())).then(norm),
            _url_ut1_url=ut1_url,
            _url_keyword=pl.coalesce(hard, soft_hit, sub.cast(pl.String)),
            _url_present=url.str.len_chars() > 0,
        )
        flags = out.select(
            host=pl.col("_url_host").is_not_null().sum(),
            ut1_host=pl.col("_url_ut1_host").is_not_null().sum(),
            url=pl.col("_url_url").is_not_null().sum(),
            ut1_url=pl.col("_url_ut1_url").is_not_null().sum(),
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
            ("ut1_host", present & pl.col("_url_ut1_host").is_not_null()),
            ("url", present & pl.col("_url_url").is_not_null()),
            ("ut1_url", present & pl.col("_url_ut1_url").is_not_null()),
            ("keyword", present & pl.col("_url_keyword").is_not_null()),
        ]

    def detail(self) -> pl.Expr | None:
        return pl.coalesce("_url_host", "_url_ut1_host", "_url_url", "_url_ut1_url", "_url_keyword")

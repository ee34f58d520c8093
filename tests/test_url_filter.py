"""url_filter: suffix-matched hosts, URL lists, keywords, documents without a URL."""

from __future__ import annotations

import io
import tarfile

import numpy as np
import polars as pl
import pytest

from corpuskit.engine.stages import build_steps
from corpuskit.recipe import RecipeError, recipe_from_dict
from corpuskit.schema import DETAIL_COLUMN, REASON_COLUMN
from corpuskit.steps import url_filter
from corpuskit.steps.url_filter import UrlFilter, UrlFilterConfig, normalize_url
from tests.conftest import write_jsonl


def decide(urls: list[str | None], **config) -> list[tuple[str | None, str | None]]:
    step = UrlFilter(UrlFilterConfig(**config), name="url_filter")
    frame = pl.DataFrame(
        {"text": ["x"] * len(urls), "url": urls}, schema_overrides={"url": pl.String}
    )
    out = step.process(frame).batch
    return list(zip(out[REASON_COLUMN].to_list(), out[DETAIL_COLUMN].to_list(), strict=True))


def test_hosts_match_by_suffix_only(tmp_path):
    hosts = tmp_path / "hosts.txt"
    hosts.write_text("# blocklist\nExample.COM\nbad.example.org.\n", encoding="utf-8")
    got = decide(
        [
            "http://example.com/",
            "https://www.example.com/a?b=c",
            "https://a.b.EXAMPLE.com:8080/x",
            "http://user@example.com/",
            "http://badexample.com/",  # not a subdomain
            "http://example.com.evil.net/",
            "http://x.bad.example.org/",
            "http://example.org/",
        ],
        host_lists=(),
        keywords=False,
        host_files=(str(hosts),),
    )
    assert [r for r, _ in got] == ["url_filter:host"] * 4 + [None, None, "url_filter:host", None]
    assert got[2][1] == "example.com" and got[6][1] == "bad.example.org"


def test_shipped_host_list_and_urls():
    got = decide(
        ["http://000.2011wyt.com/index.html", "http://www.bbc.co.uk/news", "https://Good.org/a/b/"],
        extra_urls=("http://www.good.org/a/b",),
    )
    assert got == [
        ("url_filter:host", "000.2011wyt.com"),
        (None, None),
        ("url_filter:url", "good.org/a/b"),
    ]
    assert normalize_url("HTTPS://WWW.Good.org./A/") == "good.org/a"
    # list and document URLs normalize alike (an upper-case path in a list once never matched)
    assert decide(["http://good.org/a/B"], extra_urls=("good.org/A/b/",))[0][0] == "url_filter:url"


def test_keywords_tokens_soft_pairs_and_substrings():
    got = decide(
        [
            "http://site.net/free-porn/videos",  # hard token
            "http://bestonlinecasino.biz/",  # run-together substring
            "http://site.org/hot-sexy-girls.html",  # three soft keywords
            "http://sexy-shoes.com/",  # one soft keyword
            "https://en.wikipedia.org/wiki/Middlesex",
            "https://www.example.org/analysis/essex-pornography-law",  # substring "porn"
            "http://www.lhc.example/",  # no longer a keyword (the collider)
        ],
        host_lists=(),
    )
    reasons = [r for r, _ in got]
    assert reasons == [
        "url_filter:keyword",
        "url_filter:keyword",
        "url_filter:keyword",
        None,
        None,
        "url_filter:keyword",
        None,
    ]
    assert got[0][1] == "porn" and got[2][1] == "girls+hot+sexy"
    assert decide(["http://sexy-shoes.com/"], host_lists=(), soft_threshold=1)[0][0] is not None


def test_documents_without_a_url_pass():
    assert decide([None, "", "   "]) == [(None, None)] * 3


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"host_lists": ["ut1"]}, "unknown 'ut1'"),
        ({"host_files": ["/nonexistent/hosts.txt"]}, "not found"),
        ({"host_lists": [], "keywords": False, "ut1_adult": False}, "nothing to check"),
        ({"extra_hosts": ["com"]}, "has no dot"),
    ],
)
def test_bad_configs_are_recipe_errors(tmp_path, config, message):
    src = write_jsonl(tmp_path / "in.jsonl", [{"text": "x"}])
    raw = {
        "input": {"path": str(src)},
        "output": {"path": str(tmp_path / "out")},
        "steps": [{"url_filter": config}],
    }
    with pytest.raises(RecipeError, match=message):
        build_steps(recipe_from_dict(raw))


NEWS = [
    "https://www.bbc.co.uk/news/world-europe-1",
    "https://www.nytimes.com/2024/01/01/world/x.html",
    "https://www.lemonde.fr/international/article/2024/01/01/x.html",
    "http://www.xinhuanet.com/world/2024-01/01/c_1.htm",
    "https://en.wikipedia.org/wiki/Toulouse",
]


def ut1_lists(head: int | None = None) -> dict[str, pl.Series]:
    """Entries of datatrove's UT1 adult lists, read from the installed asset (no names of
    adult sites are written in the repository): all URLs, and the first `head` bytes of
    the domains (all without `head`)."""
    asset = url_filter.ut1_asset()
    if asset is None:
        pytest.skip("datatrove's UT1 asset is not installed")
    with tarfile.open(asset, "r:gz") as tar:
        urls = url_filter._read_lines(tar, "urls")
        if head is None:
            domains = url_filter._read_lines(tar, "domains")
        else:
            text = tar.extractfile("domains").read(head).decode()
            domains = pl.Series(text.splitlines()[:-1])
    return {"domains": domains, "urls": urls}


@pytest.fixture(scope="module")
def ut1_head() -> dict[str, pl.Series]:
    return ut1_lists(head=1 << 16)


def pick(values: pl.Series, n: int) -> list[str]:
    """`n` entries spread evenly over a list."""
    return values.gather_every(max(1, len(values) // n))[:n].to_list()


def test_ut1_hosts_subdomains_and_urls(ut1_head):
    hosts = [h for h in pick(ut1_head["domains"], 10) if "." in h][:3]
    listed = pick(ut1_head["urls"], 200)
    # listed URLs whose host is not listed too (else ut1_host is their reason)
    host_hits = decide(listed, host_lists=(), keywords=False)
    urls = [u for u, (r, _) in zip(listed, host_hits, strict=True) if r != "url_filter:ut1_host"]
    urls = urls[:3]
    assert len(hosts) == len(urls) == 3
    got = decide(
        [f"http://{hosts[0]}/", f"https://www.{hosts[1]}/a", f"http://a.b.{hosts[2].upper()}:80/"]
        + [f"https://{u}" for u in urls]
        + NEWS,
        host_lists=(),
        keywords=False,
    )
    assert got[:3] == [("url_filter:ut1_host", h) for h in hosts]
    assert got[3:6] == [("url_filter:ut1_url", normalize_url(u)) for u in urls]
    assert got[6:] == [(None, None)] * len(NEWS)
    # the option off turns it off
    off = decide([f"http://{hosts[0]}/", f"https://{urls[0]}"], host_lists=(), ut1_adult=False)
    assert all(r not in ("url_filter:ut1_host", "url_filter:ut1_url") for r, _ in off)
    assert decide(NEWS) == [(None, None)] * len(NEWS)  # every default list on


def test_missing_datatrove_asset_is_a_recipe_error(tmp_path, monkeypatch):
    monkeypatch.setattr(url_filter, "ut1_asset", lambda: None)
    src = write_jsonl(tmp_path / "in.jsonl", [{"text": "x"}])
    raw = {
        "input": {"path": str(src)},
        "output": {"path": str(tmp_path / "out")},
        "steps": [{"url_filter": {}}],
    }
    with pytest.raises(RecipeError, match="ut1_adult: false"):
        build_steps(recipe_from_dict(raw))
    raw["steps"] = [{"url_filter": {"ut1_adult": False}}]
    assert build_steps(recipe_from_dict(raw))


def tiny_asset(path, domains: str, urls: str):
    with tarfile.open(path, "w:gz") as tar:
        for name, text in (("domains", domains), ("urls", urls)):
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def test_ut1_cache_is_built_once_reused_and_optional(tmp_path, monkeypatch):
    asset = tiny_asset(
        tmp_path / "ut1.tar.gz", "Bad.Example\nwww.worse.example.\nxxx\n", "x.org/A/\n"
    )
    monkeypatch.setenv("CORPUSKIT_CACHE_DIR", str(tmp_path / "cache"))
    hosts, urls = url_filter.load_ut1(asset)
    assert len(hosts) == 2 and len(urls) == 1  # "xxx" (no dot) can never match
    (cached,) = (tmp_path / "cache" / "url_filter").glob("*.npy")
    again, _ = url_filter.load_ut1(asset)
    assert isinstance(again.keys, np.memmap)
    probe = pl.Series(["bad.example", "worse.example", "good.example", None])
    assert again.contains(probe).tolist() == [True, True, False, False]
    assert urls.contains(pl.Series([normalize_url("https://www.x.org/a")])).tolist() == [True]
    cached.write_bytes(b"damaged")  # a damaged cache is rebuilt
    assert url_filter.load_ut1(asset)[0].contains(probe).tolist() == [True, True, False, False]
    monkeypatch.setenv("CORPUSKIT_CACHE_DIR", str(cached))  # not a folder: no cache at all
    assert url_filter.load_ut1(asset)[0].contains(probe).tolist() == [True, True, False, False]


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # tldextract's registered_domain
def test_ut1_parity_with_datatrove_url_filter():
    """Where datatrove's URLFilter rejects for "domain", "subdomain" or "url", url_filter
    rejects too; where only url_filter does, the reason is one of its two documented widenings:
    a listed parent domain between the registered domain and the host (datatrove checks only
    those two), or a listed URL given with a scheme (datatrove compares the raw URL)."""
    pytest.importorskip("tldextract", reason="datatrove's URLFilter needs tldextract")
    pytest.importorskip("ahocorasick", reason="datatrove's URLFilter needs pyahocorasick")
    from datatrove.data import Document
    from datatrove.pipeline.filters.url_filter import URLFilter
    from tldextract import TLDExtract

    ut1 = ut1_lists()
    hosts = [h for h in pick(ut1["domains"], 150) if "." in h]
    listed_urls = pick(ut1["urls"], 50)
    sample = (
        [f"http://{h}/" for h in hosts]
        + [f"https://www.{h}/page?id=1" for h in hosts[::2]]
        + [f"http://cdn.img.{h}/x.jpg" for h in hosts[1::3]]
        + [f"{h}.example.net" for h in hosts[::5]]
        + listed_urls
        + [f"http://{u}" for u in listed_urls[::2]]
        + NEWS
    )
    extract = TLDExtract(suffix_list_urls=(), cache_dir=None)  # the bundled list, offline
    suffixes = {
        ".".join(labels[i:])
        for url in sample
        for labels in [extract(url).fqdn.split(".")]
        for i in range(len(labels))
    }
    domains = ut1["domains"]
    peer = URLFilter(
        use_integrated_lists=False,
        extra_domains=domains.filter(domains.is_in(list(suffixes))).to_list(),
        extra_urls=ut1["urls"].to_list(),
    )
    peer.tldextractor = extract
    docs = [Document(text="x", id=str(i), metadata={"url": u}) for i, u in enumerate(sample)]
    theirs = [peer.filter(doc) for doc in docs]
    ours = decide(sample, host_lists=(), keywords=False)
    for url, their, (reason, detail) in zip(sample, theirs, ours, strict=True):
        info = extract(url)
        registered = getattr(info, "top_domain_under_public_suffix", None) or info.registered_domain
        if their is not True:  # datatrove's host reasons come first, as ours do
            expected = "ut1_url" if their[1] == "url" else "ut1_host"
            assert reason in (f"url_filter:{expected}", "url_filter:ut1_host"), (url, their)
        elif reason == "url_filter:ut1_host":
            assert detail not in (registered, info.fqdn), url
        elif reason is not None:
            assert reason == "url_filter:ut1_url" and "://" in url, url
    assert sum(their is not True for their in theirs) >= len(hosts)
    print(
        f"{len(sample)} URLs: datatrove rejects {sum(t is not True for t in theirs)},"
        f" url_filter {sum(r is not None for r, _ in ours)}"
    )
    assert ours[-len(NEWS) :] == [(None, None)] * len(NEWS)

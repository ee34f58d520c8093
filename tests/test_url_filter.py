"""url_filter: suffix-matched hosts, URL lists, keywords, documents without a URL."""

from __future__ import annotations

import polars as pl
import pytest

from corpuskit.engine.stages import build_steps
from corpuskit.recipe import RecipeError, recipe_from_dict
from corpuskit.schema import DETAIL_COLUMN, REASON_COLUMN
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
    assert normalize_url("HTTPS://WWW.Good.org/A/") == "good.org/A"


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
        ({"host_lists": [], "keywords": False}, "nothing to check"),
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

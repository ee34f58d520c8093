"""Web readers: HTML folders, WARC and WET files, charset handling, extraction, damage."""

from __future__ import annotations

import gzip
import io
import json
import subprocess
import threading
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import polars as pl
import pytest
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from corpuskit.engine.run import run_recipe
from corpuskit.readers.base import InputSpec, ReadBatch, infer_format
from corpuskit.readers.encoding import decode_html, html_codec, meta_charset
from corpuskit.readers.extract import ExtractOptions, extract_html, read_page, strip_title
from corpuskit.readers.html import HtmlReader
from corpuskit.readers.warc import WarcReader, WetReader, unwrap_uri
from corpuskit.recipe import recipe_from_dict
from tests.conftest import ROOT, corpuskit_cmd, needs_shared

EN = [
    "The city council approved the new budget on Tuesday after a long debate about "
    "public transport, schools and the renovation of the central library.",
    "Supporters said the plan would add bus lines to the northern districts and hire "
    "more teachers, while critics warned that property taxes would rise next year.",
    "The mayor promised to publish a detailed report on spending every three months "
    "so that residents can follow how the money is used.",
]
ZH = [
    "北京市政府周二宣布，将在今年年底前新建二十个社区图书馆，方便居民就近借阅图书。",
    "据介绍，这些图书馆将设在人口密集的老城区，每个馆藏书不少于一万册，并提供免费无线网络。",
    "市文化局负责人表示，项目资金已经落实，预计明年春天全部对外开放，欢迎市民提出意见。",
]
RU = [
    "Городская администрация объявила о начале ремонта главной площади, который продлится "
    "до конца осени и затронет несколько соседних улиц.",
    "Жителям рекомендуют пользоваться общественным транспортом, так как часть парковок "
    "будет временно закрыта для автомобилей.",
    "По словам чиновников, после ремонта на площади появятся новые скамейки, фонари и "
    "деревья, а также удобные пешеходные переходы.",
]
JA = [
    "東京都は来年度から市内の公立図書館の開館時間を延長すると発表しました。",
    "平日は午後九時まで、週末は午後七時まで利用できるようになり、仕事帰りの利用者が増えると期待されています。",
    "担当者は、地域の住民からの要望が多かったため、職員を増やして対応すると説明しました。",
]


def page(title: str, paragraphs: list[str], head: str = "", date: str | None = None) -> str:
    """A small article page with navigation boilerplate around the main text."""
    meta_date = f'<meta property="article:published_time" content="{date}">' if date else ""
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    return (
        f"<!DOCTYPE html><html><head>{head}<title>{title}</title>{meta_date}</head><body>"
        '<nav><a href="/">Home</a> <a href="/news">News</a> <a href="/about">About</a></nav>'
        f"<article><h1>{title}</h1>{body}</article>"
        "<footer>Copyright 2024 Example Media. All rights reserved.</footer></body></html>"
    )


def batches_of(reader, path: Path) -> tuple[pl.DataFrame, pl.DataFrame]:
    _, units = reader.plan([path], 32 << 20)
    got: list[ReadBatch] = [b for u in units for b in reader.read(u)]
    docs = [b.documents for b in got if b.documents.width]
    return (
        pl.concat(docs) if docs else pl.DataFrame(),
        pl.concat([b.rejected for b in got]),
    )


def meta(docs: pl.DataFrame, i: int) -> dict:
    return json.loads(docs["meta"][i])


# --- charsets -------------------------------------------------------------------------------


def test_html_codec_maps_labels_as_browsers_do():
    assert html_codec("GB2312") == "gb18030"
    assert html_codec("x-gbk") == "gb18030"
    assert html_codec("iso-8859-1") == "cp1252"
    assert html_codec("Shift_JIS") == "cp932"
    assert html_codec("windows-1251") == "cp1251"
    assert html_codec("EUC-JP") == "euc_jp"
    assert html_codec("no-such-charset") is None
    assert meta_charset(b'<meta http-equiv="Content-Type" content="text/html; charset=gbk">')
    assert meta_charset(b'<head><meta charset="utf-16"></head>') == "utf-8"


@pytest.mark.parametrize(
    ("paragraphs", "codec", "http", "head", "source"),
    [
        (ZH, "gbk", "gbk", "", "http"),
        (ZH, "gb2312", None, '<meta charset="gb2312">', "meta"),
        (
            RU,
            "cp1251",
            None,
            '<meta http-equiv="Content-Type" content="text/html; charset=windows-1251">',
            "meta",
        ),
        (JA, "euc_jp", None, "", "detected"),
        ([*EN, "café – naïve"], "utf-8", "utf-8", "", "http"),
        # A wrong HTTP charset: the bytes are not UTF-8, so the <meta> declaration wins.
        (ZH, "gbk", "utf-8", '<meta charset="gbk">', "meta"),
        # Valid UTF-8 beats a stale legacy declaration.
        (ZH, "utf-8", None, '<meta charset="gb2312">', "utf-8"),
    ],
)
def test_pages_decode_to_the_right_text(paragraphs, codec, http, head, source):
    html = page("标题" if paragraphs is ZH else "Title", paragraphs, head)
    decoded = decode_html(html.encode(codec), http)
    assert decoded.text == html
    assert decoded.source == source and decoded.replaced == 0


def test_a_few_bad_bytes_keep_the_declared_codec():
    body = page("T", ZH, '<meta charset="gbk">').encode("gbk")
    cut = body.index("图书馆".encode("gbk")) + 1  # a lone lead byte in the middle
    decoded = decode_html(body[:cut] + body[cut + 1 :])
    assert decoded.encoding == "gb18030" and decoded.source == "meta"
    assert decoded.replaced == 1 and "北京市政府周二宣布" in decoded.text


# --- extraction -------------------------------------------------------------------------------


def test_extraction_keeps_main_text_title_and_date():
    p = read_page(page("Budget approved", EN, date="2024-03-05").encode(), url="http://x/1")
    assert p.reason is None
    assert p.title == "Budget approved" and p.date == "2024-03-05"
    assert p.text.split("\n") == EN  # no navigation, footer or repeated headline
    assert p.url == "http://x/1"


def test_not_html_is_rejected():
    assert read_page(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" * 20).reason == "not_html"
    assert read_page(b"just a line of plain text, no markup at all\n" * 5).reason == "not_html"
    empty = b"<html><head><title>Soon</title></head><body><div><img src=a.png></div></body></html>"
    assert read_page(empty).reason == "no_main_text"


def test_strip_title_only_drops_leading_repeats():
    assert strip_title("Big News\n\nBody text here.", "Big news") == "Body text here."
    assert strip_title("Body first.\nBig News", "Big News") == "Body first.\nBig News"


def _slow_page() -> str:
    return (
        "<html><body>"
        + "".join(
            f"<div><p>Paragraph {i} with a few words in it.</p><a href='/{i}'>link {i}</a></div>"
            for i in range(2000)
        )
        + "</body></html>"
    )


def test_timeout_stops_a_pathological_page():
    slow = _slow_page()
    p = extract_html(slow, options=ExtractOptions(timeout_s=0.05))
    assert p.reason == "extraction_timeout"
    # The next page extracts normally: nothing of the interrupted call lingers.
    ok = read_page(page("After", EN).encode())
    assert ok.reason is None and ok.text.startswith(EN[0])


def _extract_reason(timeout: float) -> str | None:
    return extract_html(_slow_page(), options=ExtractOptions(timeout_s=timeout)).reason


def test_timeout_works_in_threads_and_worker_processes():
    out: list = []
    t = threading.Thread(target=lambda: out.append(_extract_reason(0.05)))
    t.start()
    t.join()
    assert out == ["extraction_timeout"]
    with ProcessPoolExecutor(1, mp_context=get_context("spawn")) as pool:
        assert pool.submit(_extract_reason, 0.05).result() == "extraction_timeout"


# --- WARC files built here ---------------------------------------------------------------------


def _response(w, uri, body: bytes, status="200 OK", ctype="text/html", **warc_headers):
    http = StatusAndHeaders(status, [("Content-Type", ctype)], protocol="HTTP/1.1")
    rec = w.create_warc_record(
        uri, "response", payload=io.BytesIO(body), http_headers=http,
        warc_headers_dict=warc_headers,
    )  # fmt: skip
    return rec


def write_warc(path: Path, gz: bool = True) -> Path:
    """A small crawl: pages in four encodings, a 404, an image, and odd headers."""
    buf = io.BytesIO()
    w = WARCWriter(buf, gzip=gz)
    w.write_record(w.create_warcinfo_record(path.name, {"software": "tests"}))
    records = [
        _response(w, "<http://news.example/en>", page("Budget approved", EN).encode()),
        _response(w, "http://news.example/zh", page("社区图书馆", ZH).encode("gbk"),
                  ctype="text/html; charset=GBK"),
        _response(w, "http://news.example/ru", page("Ремонт площади", RU,
                  '<meta charset="windows-1251">').encode("cp1251")),
        _response(w, "http://news.example/ja", page("図書館", JA).encode("euc_jp")),
        _response(w, "http://news.example/missing", page("Not found", EN).encode(),
                  status="404 Not Found"),
        _response(w, "http://news.example/logo.png", b"\x89PNG\r\n\x1a\n" + bytes(300),
                  ctype="image/png"),
        _response(w, "http://news.example/bad-date", page("Budget approved", EN).encode(),
                  **{"WARC-Date": "yesterday-ish"}),
        _response(w, "http://news.example/old", page("Budget approved", EN).encode()),
    ]  # fmt: skip
    records[-1].rec_headers.protocol = "WARC/0.18"
    for rec in records:
        req = w.create_warc_record(rec.rec_headers.get_header("WARC-Target-URI"), "request")
        w.write_record(req)
        w.write_record(rec)
    path.write_bytes(buf.getvalue())
    return path


def test_warc_reader_builds_documents_and_accounts_for_every_record(tmp_path):
    docs, rejected = batches_of(
        WarcReader(InputSpec(path="x"), 0), write_warc(tmp_path / "c.warc.gz")
    )
    assert docs.height + rejected.height == 8  # warcinfo and requests are not records read
    by_url = {u: i for i, u in enumerate(docs["url"])}
    assert set(by_url) == {
        "http://news.example/en",  # <...> around the URI removed
        "http://news.example/zh",
        "http://news.example/ru",
        "http://news.example/ja",
        "http://news.example/bad-date",
        "http://news.example/old",  # a WARC/0.18 record reads like 1.0
    }
    text = dict(zip(docs["url"], docs["text"], strict=True))
    assert text["http://news.example/en"].split("\n") == EN
    assert text["http://news.example/zh"].split("\n") == ZH
    assert text["http://news.example/ru"].split("\n") == RU
    assert text["http://news.example/ja"].split("\n") == JA
    assert not docs["text"].str.contains("\ufffd").any()
    titles = dict(zip(docs["url"], docs["title"], strict=True))
    assert titles["http://news.example/zh"] == "社区图书馆"
    assert titles["http://news.example/ru"] == "Ремонт площади"
    zh = meta(docs, by_url["http://news.example/zh"])
    assert zh["charset"] == "gb18030" and zh["charset_source"] == "http"
    assert zh["http_status"] == 200 and zh["content_type"] == "text/html"
    assert zh["fetch_date"].endswith("Z") and zh["record_id"].startswith("urn:uuid:")
    assert meta(docs, by_url["http://news.example/ru"])["charset_source"] == "meta"
    assert meta(docs, by_url["http://news.example/ja"])["charset_source"] == "detected"
    bad = by_url["http://news.example/bad-date"]
    assert (
        docs["flags"][bad].to_list() == ["bad_warc_date"] and meta(docs, bad)["fetch_date"] is None
    )
    reasons = dict(zip(rejected["url"], rejected["reason"], strict=True))
    assert reasons == {
        "http://news.example/missing": "read:http_status",
        "http://news.example/logo.png": "read:not_html",
    }
    assert rejected.filter(pl.col("reason") == "read:http_status")["detail"][0].endswith(
        "HTTP 404 Not Found"
    )
    # ids number the page records of the file in order
    assert docs["id"][0].endswith("c.warc.gz:1") and docs["source"][0].endswith("c.warc.gz")


def test_uncompressed_warc_reads_the_same(tmp_path):
    gz_docs, _ = batches_of(WarcReader(InputSpec(path="x"), 0), write_warc(tmp_path / "c.warc.gz"))
    docs, rejected = batches_of(
        WarcReader(InputSpec(path="x"), 0), write_warc(tmp_path / "c.warc", gz=False)
    )
    assert docs["text"].to_list() == gz_docs["text"].to_list() and rejected.height == 2


def test_truncated_gzip_rejects_the_cut_record(tmp_path):
    full = write_warc(tmp_path / "c.warc.gz").read_bytes()
    for cut in (60, 300, 700):  # inside the last member: its header, its page, its end
        path = tmp_path / f"cut{cut}.warc.gz"
        path.write_bytes(full[:-cut])
        docs, rejected = batches_of(WarcReader(InputSpec(path="x"), 0), path)
        assert docs.height + rejected.height == 8, cut
        assert docs.height == 5 and "http://news.example/old" not in docs["url"].to_list()
        last = rejected.filter(pl.col("id").str.ends_with(":8"))
        assert last["reason"].to_list() in (["read:truncated_input"], ["read:malformed_record"])


def test_damaged_member_in_the_middle_is_skipped_and_reading_resumes(tmp_path):
    path = write_warc(tmp_path / "c.warc.gz")
    data = bytearray(path.read_bytes())
    start = data.find(b"\x1f\x8b\x08", data.find(b"news.example/ru") // 2 + 200)
    data[start + 40 : start + 80] = bytes(40)  # corrupt the deflate data of a member
    path.write_bytes(bytes(data))
    docs, rejected = batches_of(WarcReader(InputSpec(path="x"), 0), path)
    assert "read:malformed_record" in rejected["reason"].to_list()
    assert "http://news.example/old" in docs["url"].to_list()  # records after it are read
    assert docs.height >= 4


def test_garbage_header_is_one_reject_and_the_rest_is_read(tmp_path):
    path = write_warc(tmp_path / "c.warc", gz=False)
    data = path.read_bytes()
    second = data.index(b"WARC/1.0", data.index(b"news.example/zh") - 300)
    path.write_bytes(data[:second] + b"GARBAGE!" + data[second + 8 :])
    docs, rejected = batches_of(WarcReader(InputSpec(path="x"), 0), path)
    assert rejected.filter(pl.col("reason") == "read:malformed_record").height == 1
    assert docs.height >= 5 and "http://news.example/old" in docs["url"].to_list()


def test_limit_caps_records(tmp_path):
    reader = WarcReader(InputSpec(path="x"), 0)
    _, units = reader.plan([write_warc(tmp_path / "c.warc.gz")], 1 << 20)
    from dataclasses import replace

    got = list(reader.read(replace(units[0], max_records=3)))
    assert sum(b.documents.height + b.rejected.height for b in got) == 3


def test_format_inference():
    assert infer_format("a.warc.gz") == "warc"
    assert infer_format("a.warc") == "warc"
    assert infer_format("CC-MAIN-x.warc.wet.gz") == "wet"
    assert infer_format("page.html.gz") == "html"
    assert infer_format("page.HTM") == "html"


def test_unwrap_uri():
    assert unwrap_uri("<https://a.b/c>") == "https://a.b/c"
    assert unwrap_uri("‹https://a.b/c>") == "https://a.b/c"
    assert unwrap_uri("https://a.b/c") == "https://a.b/c"
    assert unwrap_uri(None) is None


# --- HTML folders ------------------------------------------------------------------------------


def test_html_folder_plain_and_gz(tmp_path):
    folder = tmp_path / "pages"
    folder.mkdir()
    (folder / "en.html").write_text(
        page("Budget approved", EN, '<link rel="canonical" href="https://news.example/budget">',
             date="2024-03-05"),
        encoding="utf-8",
    )  # fmt: skip
    (folder / "zh.html.gz").write_bytes(
        gzip.compress(page("社区图书馆", ZH, '<meta charset="gbk">').encode("gbk"))
    )
    (folder / "ru.htm").write_bytes(
        page("Ремонт площади", RU, '<meta charset="cp1251">').encode("cp1251")
    )
    (folder / "image.html").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(500))
    cut = gzip.compress(page("Budget approved", EN * 20).encode())
    (folder / "cut.html.gz").write_bytes(cut[: len(cut) // 2])
    reader = HtmlReader(InputSpec(path="x"), 0)
    files = sorted(folder.iterdir())
    _, units = reader.plan(files, 1 << 20)
    got = [b for u in units for b in reader.read(u)]
    docs = pl.concat([b.documents for b in got])
    rejected = pl.concat([b.rejected for b in got])
    assert docs.height + rejected.height == 5
    by_name = {Path(i).name: k for k, i in enumerate(docs["id"])}
    assert set(by_name) == {"en.html", "zh.html.gz", "ru.htm"}
    assert docs["source"].to_list() == docs["id"].to_list()
    en = by_name["en.html"]
    assert docs["text"][en].split("\n") == EN
    assert docs["url"][en] == "https://news.example/budget"
    assert meta(docs, en)["date"] == "2024-03-05"
    assert docs["text"][by_name["zh.html.gz"]].split("\n") == ZH
    assert docs["title"][by_name["zh.html.gz"]] == "社区图书馆"
    assert docs["text"][by_name["ru.htm"]].split("\n") == RU
    reasons = {Path(i).name: r for i, r in zip(rejected["id"], rejected["reason"], strict=True)}
    assert reasons == {"image.html": "read:not_html", "cut.html.gz": "read:truncated_input"}


def test_forced_encoding_wins(tmp_path):
    path = tmp_path / "p.html"
    path.write_bytes(page("T", RU, '<meta charset="utf-8">').encode("cp1251"))
    docs, _ = batches_of(HtmlReader(InputSpec(path="x", encoding="windows-1251"), 0), path)
    assert docs["text"][0].split("\n") == RU
    assert meta(docs, 0)["charset_source"] == "configured"


# --- a run through the engine ----------------------------------------------------------------


def test_engine_run_over_built_warcs(tmp_path):
    src = tmp_path / "crawl"
    src.mkdir()
    write_warc(src / "a.warc.gz")
    write_warc(src / "b.warc", gz=False)
    raw = {
        "input": {"path": str(src / "*")},
        "output": {"path": str(tmp_path / "out")},
        "executor": {"workers": 2},
        "steps": [{"length_filter": {"min_chars": 50}}],
    }
    m = run_recipe(recipe_from_dict(raw)).manifest
    t = m["totals"]
    assert t["read"] == 16 and t["read"] == t["kept"] + t["rejected"]
    assert m["rejected_by_reason"] == {"read:http_status": 2, "read:not_html": 2}
    kept = pl.read_parquet(tmp_path / "out" / "data")
    assert kept.height == 12 and kept["url"].str.starts_with("http://news.example/").all()


# --- the real samples ------------------------------------------------------------------------


def test_warc_samples():
    folder = needs_shared("warc_samples")
    docs, rejected = batches_of(WarcReader(InputSpec(path="x"), 0), folder / "sample-0000.warc.gz")
    assert docs.height == 22 and rejected.height == 2
    assert set(rejected["reason"]) == {"read:not_html"}  # wget's log and arguments
    assert not docs["url"].str.contains("[<>‹›]").any()
    assert "https://soldaini.net/" in docs["url"].to_list()
    assert docs["title"].is_not_null().all() and (docs["text"].str.len_chars() > 200).all()
    m = meta(docs, 0)
    assert m["fetch_date"] == "2024-04-25T16:24:44Z" and m["http_status"] == 200


def test_wet_sample():
    folder = needs_shared("warc_samples")
    docs, rejected = batches_of(WetReader(InputSpec(path="x"), 0), folder / "whirlwind.warc.wet.gz")
    assert docs.height == 1 and rejected.height == 0
    assert docs["url"][0] == "https://an.wikipedia.org/wiki/Escopete"
    assert docs["text"][0].startswith("Escopete - Biquipedia")
    assert meta(docs, 0)["languages"] == "spa"


def test_extraction_quality_on_real_pages():
    root = needs_shared("article_extraction_html")
    import sys

    sys.path.insert(0, str(ROOT / "bench"))
    from bench_extraction import load, summarize, token_scores

    keys, pages, truth = load(root)
    keys = keys[::12]  # 16 pages
    _, _, f1 = summarize([token_scores(truth[k], read_page(pages[k]).text) for k in keys])
    assert f1 > 0.93


def test_web_recipe_runs_on_the_samples(tmp_path):
    needs_shared("warc_samples")
    out = tmp_path / "out"
    p = subprocess.run(
        [*corpuskit_cmd(), "run", "recipes/web.yaml", "--output", str(out), "--quiet"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert p.returncode == 0, p.stderr
    m = json.loads((out / "manifest.json").read_text())
    t = m["totals"]
    assert t["read"] == 42 and t["read"] == t["kept"] + t["rejected"]
    assert m["rejected_by_reason"].get("read:not_html") == 4
    kept = pl.read_parquet(out / "data")
    assert kept.height == t["kept"] >= 30
    assert kept["url"].str.starts_with("https://").all()
    assert kept["meta"].str.contains('"fetch_date":"2024-').all()

"""Every reader on good and malformed input: encodings, compression, truncation, bad rows."""

from __future__ import annotations

import csv
import gzip
import json
from pathlib import Path

import polars as pl
import pytest

from corpuskit import registry
from corpuskit.readers.base import InputSpec, infer_format
from corpuskit.readers.encoding import detect_encoding
from tests.conftest import write_jsonl

ZH = "北京时间今天上午，国家统计局发布数据显示，前三季度国内生产总值同比增长百分之五点二。"


def read(
    fmt: str, files: list[Path], unit_bytes: int = 1 << 20, **spec
) -> tuple[pl.DataFrame, pl.DataFrame]:
    s = InputSpec(path=[str(f) for f in files], format=fmt, **spec)
    reader = registry.get_reader(fmt)(s, 0)
    _, units = reader.plan(files, unit_bytes)
    docs, rejects = [], []
    for u in units:
        for b in reader.read(u):
            if b.documents.width:
                docs.append(b.documents)
            rejects.append(b.rejected)
    return (
        pl.concat(docs) if docs else pl.DataFrame(),
        pl.concat(rejects) if rejects else pl.DataFrame(),
    )


@pytest.mark.parametrize("suffix", [".jsonl", ".jsonl.gz", ".jsonl.zst"])
def test_jsonl_fields_meta_and_ids(tmp_path, suffix):
    rows = [
        {
            "text": f"doc {i}",
            "url": f"https://x.test/{i}",
            "title": f"T{i}",
            "n": i,
            "tags": ["a", "b"],
        }
        for i in range(50)
    ]
    f = write_jsonl(tmp_path / f"a{suffix}", rows)
    docs, rej = read("jsonl", [f], url_field="url", title_field="title")
    assert docs.height == 50 and rej.height == 0
    assert docs["id"][3] == f"{f.as_posix()}:4"  # source path + line number
    assert docs["url"][3] == "https://x.test/3" and docs["title"][3] == "T3"
    assert json.loads(docs["meta"][3]) == {"n": 3, "tags": ["a", "b"]}
    assert docs["source"].unique().to_list() == [f.as_posix()]


def test_jsonl_id_field_and_byte_range_units(tmp_path):
    rows = [{"id": f"k{i}", "text": "x" * (i % 50 + 1)} for i in range(2000)]
    f = write_jsonl(tmp_path / "a.jsonl", rows)
    docs, rej = read("jsonl", [f], unit_bytes=4096, id_field="id")
    assert docs["id"].to_list() == [f"k{i}" for i in range(2000)]
    assert rej.height == 0


def test_jsonl_malformed_empty_missing_and_blank_lines(tmp_path):
    f = write_jsonl(
        tmp_path / "a.jsonl",
        [
            {"text": "good one"},
            "{not json",
            "",
            {"text": ""},
            {"body": "no text"},
            "[1, 2]",
            {"text": "   "},
            {"text": "good two"},
        ],
    )
    docs, rej = read("jsonl", [f])
    assert docs["text"].to_list() == ["good one", "good two"]
    assert docs["id"].to_list() == [f"{f.as_posix()}:1", f"{f.as_posix()}:8"]
    reasons = dict(zip(rej["id"].to_list(), rej["reason"].to_list(), strict=True))
    src = f.as_posix()
    assert reasons == {
        f"{src}:2": "read:malformed_json",
        f"{src}:4": "read:empty_text",
        f"{src}:5": "read:missing_text_field",
        f"{src}:6": "read:malformed_json",
        f"{src}:7": "read:empty_text",
    }
    bad = rej.filter(pl.col("id") == f"{src}:2").row(0, named=True)
    assert bad["step"] == "read" and f"{src}:2" in bad["detail"] and bad["text"] == "{not json"


def test_truncated_gzip_keeps_what_came_before(tmp_path):
    rows = [{"text": f"document {i} " * 20} for i in range(3000)]
    full = gzip.compress(("\n".join(json.dumps(r) for r in rows) + "\n").encode(), mtime=0)
    f = tmp_path / "cut.jsonl.gz"
    f.write_bytes(full[: len(full) // 2])
    docs, rej = read("jsonl", [f])
    assert 0 < docs.height < 3000
    assert rej["reason"].to_list() == ["read:truncated_input"]
    assert rej["id"][0] == f"{f.as_posix()}:{docs.height + 1}"
    assert "ends early" in rej["detail"][0]


def test_gbk_file_detected_and_decoded(tmp_path):
    rows = [{"text": ZH + str(i), "label": "财经"} for i in range(20)]
    f = write_jsonl(tmp_path / "zh.jsonl", rows, encoding="gbk")
    with pytest.raises(UnicodeDecodeError):
        f.read_bytes().decode("utf-8")
    docs, rej = read("jsonl", [f])
    assert rej.height == 0
    assert docs["text"][0] == ZH + "0"
    assert json.loads(docs["meta"][0]) == {"label": "财经"}
    assert docs["flags"].list.len().sum() == 0


@pytest.mark.parametrize(
    ("encoding", "text"),
    [
        ("utf-16", ZH),
        ("big5", "今天天氣晴朗，臺北市政府發佈新聞稿。" * 3),
        ("latin-1", "Café crème à la française, déjà vu. " * 3),
    ],
)
def test_other_encodings(tmp_path, encoding, text):
    f = write_jsonl(tmp_path / "a.jsonl", [{"text": text}] * 5, encoding=encoding)
    docs, rej = read("jsonl", [f])
    assert rej.height == 0 and docs["text"].to_list() == [text] * 5


def test_undecodable_bytes_replaced_and_flagged_or_rejected(tmp_path):
    f = tmp_path / "a.jsonl"
    head = json.dumps({"text": ZH}, ensure_ascii=False).encode()
    f.write_bytes(head + b'\n{"text": "bad \xff\xfe bytes"}\n{"text": "fine too"}\n')
    docs, rej = read("jsonl", [f])
    assert docs["text"].to_list() == [ZH, "bad \ufffd\ufffd bytes", "fine too"]
    assert docs["flags"].to_list() == [[], ["decode_replaced"], []]
    docs, rej = read("jsonl", [f], on_decode_error="reject")
    assert docs["text"].to_list() == [ZH, "fine too"]
    assert rej["reason"].to_list() == ["read:undecodable"] and rej["id"][0].endswith(":2")


def test_detect_encoding_samples():
    assert detect_encoding((ZH * 5).encode("gb18030")) == "gb18030"
    assert detect_encoding(b"plain ascii") == "utf-8"
    assert detect_encoding(("é" * 100).encode()) == "utf-8"


def test_csv_header_mapping_and_bad_rows(tmp_path):
    f = tmp_path / "a.csv"
    with f.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["class", "title", "body"])
        w.writerow(["3", "Wall St.", 'Stocks rose, "sharply"\nin late trading'])
        w.writerow(["1", "only two fields"])
        w.writerow(["2", "World", ""])
        w.writerow(["4", "Sci", "A new chip"])
    docs, rej = read("csv", [f], text_field="body", title_field="title")
    assert docs["text"].to_list() == ['Stocks rose, "sharply"\nin late trading', "A new chip"]
    assert docs["title"].to_list() == ["Wall St.", "Sci"]
    assert json.loads(docs["meta"][0]) == {"class": "3"}
    assert docs["id"].to_list() == [f"{f.as_posix()}:2", f"{f.as_posix()}:6"]
    assert sorted(rej["reason"].to_list()) == ["read:bad_row", "read:empty_text"]
    assert (
        "2 fields where the header has 3"
        in rej.filter(pl.col("reason") == "read:bad_row")["detail"][0]
    )


def test_csv_without_header_and_gbk(tmp_path):
    f = tmp_path / "a.csv.gz"
    f.write_bytes(gzip.compress(f"1,{ZH}\n2,第二条新闻\n".encode("gbk"), mtime=0))
    docs, rej = read("csv", [f], columns=["label", "text"])
    assert docs["text"].to_list() == [ZH, "第二条新闻"] and rej.height == 0


def test_tsv(tmp_path):
    f = tmp_path / "a.tsv"
    f.write_text('text\tlang\nhello "world"\ten\n', encoding="utf-8")
    docs, _ = read("tsv", [f])
    assert docs["text"].to_list() == ['hello "world"'] and json.loads(docs["meta"][0]) == {
        "lang": "en"
    }


def test_parquet_reader(tmp_path):
    f = tmp_path / "a.parquet"
    pl.DataFrame(
        {"content": [f"row {i}" for i in range(10)] + [None], "score": list(range(11))}
    ).write_parquet(f, row_group_size=3)
    docs, rej = read("parquet", [f], unit_bytes=1, text_field="content")
    assert docs["text"].to_list() == [f"row {i}" for i in range(10)]
    assert docs["id"][0] == f"{f.as_posix()}:1"
    assert json.loads(docs["meta"][9]) == {"score": 9}
    assert rej["reason"].to_list() == ["read:missing_text_field"]


def test_text_modes(tmp_path):
    folder = tmp_path / "txt"
    folder.mkdir()
    (folder / "a.txt").write_text(
        "Para one line one.\nline two.\n\n\nPara two.\n", encoding="utf-8"
    )
    (folder / "b.txt").write_bytes(f"{ZH}\n".encode("gbk"))
    (folder / "empty.txt").write_text("  \n", encoding="utf-8")
    files = sorted(folder.iterdir())
    docs, rej = read("text", files, mode="file")
    assert docs["id"].to_list() == [files[0].as_posix(), files[1].as_posix()]
    assert docs["text"][1].strip() == ZH
    assert rej["reason"].to_list() == ["read:empty_text"]
    docs, _ = read("text", files[:1], mode="paragraph")
    assert docs["text"].to_list() == ["Para one line one.\nline two.", "Para two."]
    assert docs["id"].to_list() == [f"{files[0].as_posix()}:1", f"{files[0].as_posix()}:5"]
    docs, _ = read("text", files[:1], mode="line")
    assert docs["text"].to_list() == ["Para one line one.", "line two.", "Para two."]


def test_text_file_truncated_is_rejected_whole(tmp_path):
    f = tmp_path / "a.txt.gz"
    data = gzip.compress(("word " * 50000).encode(), mtime=0)
    f.write_bytes(data[: len(data) // 2])
    docs, rej = read("text", [f])
    assert docs.height == 0
    assert rej["reason"].to_list() == ["read:truncated_input"] and rej["id"][0] == f.as_posix()


def test_labelled_text(tmp_path):
    f = tmp_path / "news.txt"
    f.write_text(f"体育\t{ZH}\nno label here\n\n财经\t第二条\n", encoding="utf-8")
    docs, rej = read("labelled_text", [f])
    assert docs["text"].to_list() == [ZH, "第二条"]
    assert [json.loads(m)["label"] for m in docs["meta"]] == ["体育", "财经"]
    assert docs["id"].to_list() == [f"{f.as_posix()}:1", f"{f.as_posix()}:4"]
    assert rej["reason"].to_list() == ["read:missing_label"] and rej["id"][0].endswith(":2")


def test_format_inferred_from_extension():
    assert infer_format("x.jsonl.gz") == "jsonl"
    assert infer_format("x.csv.zst") == "csv"
    assert infer_format("x.parquet") == "parquet"
    assert infer_format("x.bin") is None


LCSTS = """<doc id=0>
    <human_label>5</human_label>
    <summary>
        可穿戴技术十大设计原则
    </summary>
    <short_text>
        本文总结了十个可穿戴产品的设计原则，而这些原则同样也是这个行业最吸引人的地方。
    </short_text>
</doc>
stray text between records
<doc id="1">
    <summary>AT&amp;T 与 R&D</summary>
    <short_text>第一段</short_text>
    <short_text>第二段 &lt;b&gt;</short_text>
</doc>
<doc id=2>
    <summary>没有正文</summary>
</doc>
<doc id=3>
    <summary>结尾断了
"""


def test_sgml_records_attributes_children_and_damage(tmp_path):
    path = tmp_path / "part.txt"
    path.write_text(LCSTS, encoding="utf-8")
    docs, rejected = read("sgml", [path], text_field="short_text", id_field="id")
    assert docs["id"].to_list() == ["0", "1"]
    assert docs["text"].to_list() == [
        "本文总结了十个可穿戴产品的设计原则，而这些原则同样也是这个行业最吸引人的地方。",
        "第一段\n\n第二段 <b>",
    ]
    meta = [json.loads(m) for m in docs["meta"]]
    assert meta[0] == {"human_label": "5", "summary": "可穿戴技术十大设计原则"}
    assert meta[1] == {"summary": "AT&T 与 R&D", "human_label": None}
    # the stray text, the record without short_text, the unclosed one: nothing lost
    assert sorted(zip(rejected["reason"], rejected["detail"], strict=True)) == [
        ("read:malformed_record", f"{path}:10: text outside a record"),
        ("read:malformed_record", f"{path}:19: an unclosed record"),
        ("read:missing_text_field", f"{path}:16: no usable 'short_text'"),
    ]


def test_sgml_trec_style_and_records_without_children(tmp_path):
    path = tmp_path / "trec.sgml"
    path.write_text(
        '<?xml version="1.0"?>\n<!-- a comment -->\n'
        "<DOC>\n<DOCNO> AP880212-0001 </DOCNO>\n"
        "<TEXT>\nFirst line.\nSecond line.\n</TEXT>\n</DOC>\n"
        "<s n=7>A bare sentence.</s>\n",
        encoding="utf-8",
    )
    docs, rejected = read("sgml", [path], text_field="TEXT", id_field="DOCNO")
    assert docs["id"].to_list() == ["AP880212-0001"]
    assert docs["text"].to_list() == ["First line.\nSecond line."]
    assert rejected["reason"].to_list() == ["read:missing_text_field"]  # <s> has `text`
    docs, _ = read("sgml", [path])
    assert docs["text"].to_list() == ["A bare sentence."]
    assert json.loads(docs["meta"][0]) == {"n": "7", "DOCNO": None, "TEXT": None}

"""format: email: MIME decoding, charsets, ids, mbox, and every message accounted for."""

from __future__ import annotations

import base64
import gzip
import json
import mailbox
from email.message import EmailMessage
from pathlib import Path

import polars as pl
import pytest

from corpuskit import registry
from corpuskit.engine.run import run_recipe
from corpuskit.readers.base import InputSpec, ReadBatch, infer_format
from corpuskit.readers.email import decode_header_value, decode_text, is_mbox
from corpuskit.readers.encoding import detect_encoding
from corpuskit.recipe import recipe_from_dict
from tests.conftest import needs_shared

# GBK-only characters (not in GB2312): "——" is A8 44 A8 44, "囍" is 87 E4... in GB18030.
SUBJECT_ZH = "我失业了——西门子大裁员始末"
BODY_ZH = "这事儿还有续集。\n因为我姐她们买房子后来装修的时候没钱，她婆婆就赞助了3万块。\n"
HTML = (
    "<!DOCTYPE html><html><head><title>Newsletter</title></head><body>"
    "<article><h1>Offer</h1><p>{}</p><p>{}</p></article></body></html>"
)


def reader(**spec) -> object:
    return registry.get_reader("email")(InputSpec(path="-", format="email", **spec), 0)


def read_all(files: list[Path], **spec) -> tuple[pl.DataFrame, pl.DataFrame]:
    r = reader(**spec)
    _, units = r.plan(files, 32 << 20)
    got: list[ReadBatch] = [b for u in units for b in r.read(u)]
    docs = [b.documents for b in got if b.documents.width]
    rejected = [b.rejected for b in got if b.rejected.width]
    return (
        pl.concat(docs) if docs else pl.DataFrame(),
        pl.concat(rejected) if rejected else pl.DataFrame(schema={"reason": pl.String}),
    )


def meta(docs: pl.DataFrame, i: int = 0) -> dict:
    return json.loads(docs["meta"][i])


def encoded_word(text: str, charset: str = "gb2312", codec: str = "gb18030") -> str:
    return f"=?{charset}?B?{base64.b64encode(text.encode(codec)).decode()}?="


def raw_message(headers: dict[str, str], body: bytes) -> bytes:
    head = "".join(f"{k}: {v}\n" for k, v in headers.items()).encode("ascii")
    return head + b"\n" + body


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def test_gbk_subject_and_base64_body(tmp_path):
    body = base64.encodebytes(BODY_ZH.encode("gb18030"))
    msg = raw_message(
        {
            "Message-ID": "<abc.123@mail.example.cn>",
            "From": f"{encoded_word('张三')} <zhang@example.cn>",
            "Subject": encoded_word(SUBJECT_ZH),
            "Date": "Thu, 7 Oct 2004 15:00:35 +0800",
            "MIME-Version": "1.0",
            "Content-Type": 'text/plain; charset="gb2312"',
            "Content-Transfer-Encoding": "base64",
        },
        body,
    )
    docs, rejected = read_all([write(tmp_path / "ham" / "1", msg)])
    assert rejected.height == 0
    assert docs["title"][0] == SUBJECT_ZH  # GB2312 read as GBK: the dash survives
    assert docs["text"][0] == BODY_ZH
    assert docs["id"][0] == "abc.123@mail.example.cn"
    assert docs["source"][0] == str(tmp_path / "ham" / "1")
    assert docs["flags"][0].to_list() == []
    m = meta(docs)
    assert m["from"] == "张三 <zhang@example.cn>"
    assert m["date"] == "2004-10-07T15:00:35+08:00"
    assert m["charset"] == "gb18030" and m["content_type"] == "text/plain"
    assert m["folder"] == "ham" and m["attachments"] == 0


def test_quoted_printable_utf8_and_plain_preferred_over_html(tmp_path):
    msg = EmailMessage()
    msg["Subject"] = "Café prices — update"
    msg["From"] = "Zoë <zoe@example.org>"
    msg["Message-ID"] = "<qp@example.org>"
    plain = "Prices at the café rose by 5 € this week.\nSee you at the Brücke.\n"
    msg.set_content(plain, charset="utf-8", cte="quoted-printable")
    msg.add_alternative(HTML.format("HTML copy " * 20, "second paragraph"), subtype="html")
    msg.add_attachment(b"\x89PNG...", maintype="image", subtype="png", filename="a.png")
    data = msg.as_bytes()
    assert b"=E2=82=AC" in data  # really quoted-printable on disk
    docs, _ = read_all([write(tmp_path / "m.eml", data)])
    assert docs["text"][0] == plain
    assert docs["title"][0] == "Café prices — update"
    m = meta(docs)
    assert m["content_type"] == "text/plain" and m["from"] == "Zoë <zoe@example.org>"
    assert m["attachments"] == 2  # the HTML alternative and the image


def test_html_only_body_goes_through_extraction(tmp_path):
    msg = EmailMessage()
    msg["Subject"] = "Offer"
    para = "Our hotel offers rooms near the old town for the spring season, book early. " * 3
    msg.set_content(HTML.format(para, "Reply to this message to unsubscribe."), subtype="html")
    docs, _ = read_all([write(tmp_path / "h.eml", msg.as_bytes())])
    text = docs["text"][0]
    assert "rooms near the old town" in text and "<p>" not in text
    assert meta(docs)["content_type"] == "text/html"


def test_html_part_stored_without_markup_is_its_text(tmp_path):
    # trec06c keeps the text of HTML parts with their markup stripped
    msg = raw_message(
        {"Subject": "x", "Content-Type": "text/html; charset=gb2312"},
        "会员注册邀请书\n全国最低价--域名空间大放送\n".encode("gb18030"),
    )
    docs, _ = read_all([write(tmp_path / "1", msg)])
    assert docs["text"][0] == "会员注册邀请书\n全国最低价--域名空间大放送\n"


def test_base64_header_on_a_decoded_body_is_not_decoded_again(tmp_path):
    msg = raw_message(
        {
            "Subject": "x",
            "Content-Type": "text/plain; charset=gb2312",
            "Content-Transfer-Encoding": "base64",
        },
        BODY_ZH.encode("gb18030"),
    )
    docs, _ = read_all([write(tmp_path / "1", msg)])
    assert docs["text"][0] == BODY_ZH


def test_multipart_without_its_boundary_reads_the_body(tmp_path):
    msg = raw_message(
        {"Subject": "Re: hi", "Content-Type": 'multipart/mixed; boundary="----=_none"'},
        BODY_ZH.encode("gb18030"),
    )
    docs, _ = read_all([write(tmp_path / "1", msg)])
    assert docs["text"][0] == BODY_ZH and meta(docs)["content_type"] == "text/plain"


def test_charsets_without_or_against_the_declaration(tmp_path):
    # 8-bit GBK subject, no charset anywhere: detected
    a = b"Subject: " + "优惠代开各类发票".encode("gb18030") + b"\n\n" + BODY_ZH.encode("gb18030")
    # declared ISO-8859-1, but the message's subject says GB2312: GBK wins
    b = raw_message(
        {
            "Subject": encoded_word("弟弟今年上大学"),
            "Content-Type": "text/plain; charset=iso-8859-1",
        },
        BODY_ZH.encode("gb18030"),
    )
    # a Usenet post with one Latin-1 byte: Western, not Big5
    c = b"From: jwa@kth.se (Jon W\xe4tte)\nSubject: delays\n\ndelays of >16\xb5sec occur\n"
    files = [write(tmp_path / n, d) for n, d in (("a", a), ("b", b), ("c", c))]
    docs, _ = read_all(files)
    assert docs["title"].to_list() == ["优惠代开各类发票", "弟弟今年上大学", "delays"]
    assert docs["text"][0] == BODY_ZH and docs["text"][1] == BODY_ZH
    assert docs["text"][2] == "delays of >16µsec occur\n"
    assert meta(docs, 2)["from"] == "jwa@kth.se (Jon Wätte)"
    assert meta(docs, 1)["charset"] == "gb18030"


def test_encoding_names_the_default_charset_not_a_forced_one(tmp_path):
    gbk = b"Subject: x\n\n" + "短文".encode("gb18030") + b"\n"
    utf8 = raw_message(
        {"Subject": "y", "Content-Type": "text/plain; charset=utf-8"}, "短文\n".encode()
    )
    docs, _ = read_all([write(tmp_path / "a", gbk), write(tmp_path / "b", utf8)], encoding="gbk")
    assert docs["text"].to_list() == ["短文\n", "短文\n"]


def test_detection_falls_back_to_a_codec_that_decodes_every_byte():
    # charset_normalizer finds GBK dense with full-width brackets too chaotic (None);
    # the first candidate that decodes every byte is a better guess than Latin-1
    text = "通信方向：\n（1）《信号与系统》笔记（不是讲义课件）（共7册，（2）《通信原理》）\n" * 3
    assert detect_encoding(text.encode("gb18030")) == "gb18030"
    assert detect_encoding("Café crème, naïve résumé.".encode("latin-1")) == "cp1252"


def test_header_decoding():
    truncated = "=?gb2312?B?" + base64.b64encode("前景更好".encode("gb18030")[:-1]).decode() + "?="
    assert decode_header_value(truncated) == ("前景更", 0)  # cut by bytes: last char dropped
    assert decode_header_value("Re: =?utf-8?Q?caf=C3=A9?=\n\tmenu") == ("Re: café menu", 0)
    assert decode_text(b"plain", None, None).encoding == "ascii"


def test_ids_duplicates_and_id_field_path(tmp_path):
    one = raw_message({"Message-ID": "<same@x>", "Subject": "a"}, b"first body\n")
    two = raw_message({"Message-ID": "<same@x>", "Subject": "b"}, b"second body\n")
    three = raw_message({"Subject": "c"}, b"third body\n")
    files = [write(tmp_path / n, d) for n, d in (("1", one), ("2", two), ("3", three))]
    docs, _ = read_all(files)
    assert docs["id"].to_list() == ["same@x", "same@x", str(tmp_path / "3")]
    docs, _ = read_all(files, id_field="path")
    assert docs["id"].to_list() == [str(f) for f in files]
    assert meta(docs)["message_id"] == "same@x"


def test_rejects_name_their_reason(tmp_path):
    attachment_only = EmailMessage()
    attachment_only["Subject"] = "scan"
    attachment_only.add_attachment(b"%PDF-1.4", maintype="application", subtype="pdf")
    files = [
        write(tmp_path / "notes.txt", b"just some notes\nwithout any header\n"),
        write(tmp_path / "att.eml", attachment_only.as_bytes()),
        write(tmp_path / "empty.eml", b"Subject: nothing\n\n   \n"),
        write(tmp_path / "ok.eml", b"Subject: fine\n\nA body.\n"),
    ]
    docs, rejected = read_all(files)
    assert docs["title"].to_list() == ["fine"]
    reasons = dict(zip(rejected["id"].to_list(), rejected["reason"].to_list(), strict=True))
    assert reasons == {
        str(files[0]): "read:not_email",
        str(files[1]): "read:no_text_part",
        str(files[2]): "read:empty_text",
    }
    detail = rejected.filter(pl.col("reason") == "read:no_text_part")["detail"][0]
    assert "application/pdf" in detail


def test_a_few_undecodable_bytes_are_flagged_or_rejected(tmp_path):
    body = ("中文正文。" * 100).encode() + b"\xff" + "结尾。\n".encode()
    bad = b"Subject: ok\nContent-Type: text/plain; charset=utf-8\n\n" + body
    docs, _ = read_all([write(tmp_path / "1", bad)])
    assert docs["flags"][0].to_list() == ["decode_replaced"]
    assert docs["text"][0].endswith("。\ufffd结尾。\n")
    docs, rejected = read_all([write(tmp_path / "1", bad)], on_decode_error="reject")
    assert docs.height == 0 and rejected["reason"].to_list() == ["read:undecodable"]


def _mbox(path: Path, n: int) -> Path:
    box = mailbox.mbox(path)
    for i in range(n):
        msg = EmailMessage()
        msg["Subject"] = f"message {i}"
        msg["Message-ID"] = f"<m{i}@list.example>"
        msg.set_content(f"Body {i}.\nFrom here on, a line that starts with From.\n")
        box.add(msg)
    box.flush()
    box.close()
    return path


def test_mbox_messages_and_from_escapes(tmp_path):
    path = _mbox(tmp_path / "list.mbox", 3)
    assert b"\n>From here" in path.read_bytes()
    assert is_mbox(path)
    docs, rejected = read_all([path])
    assert rejected.height == 0
    assert docs["title"].to_list() == ["message 0", "message 1", "message 2"]
    assert docs["id"].to_list() == ["m0@list.example", "m1@list.example", "m2@list.example"]
    assert docs["text"][1] == "Body 1.\nFrom here on, a line that starts with From.\n"
    assert set(docs["source"]) == {str(path)}
    docs, _ = read_all([path], id_field="path")
    assert docs["id"].to_list() == [f"{path}:{n}" for n in (1, 2, 3)]
    # an mbox without the extension is recognised by its first line
    plain = tmp_path / "archive"
    plain.write_bytes(path.read_bytes())
    assert is_mbox(plain) and read_all([plain])[0].height == 3


def test_truncated_gzip_mbox_rejects_the_cut_message(tmp_path):
    data = gzip.compress(_mbox(tmp_path / "a.mbox", 40).read_bytes())
    cut = write(tmp_path / "cut.mbox.gz", data[: len(data) * 2 // 3])
    docs, rejected = read_all([cut])
    assert docs.height >= 10
    assert rejected["reason"].to_list() == ["read:truncated_input"]
    assert rejected["id"][0] == f"{cut}:{docs.height + 1}"


def test_engine_run_accounts_for_every_message(tmp_path):
    folder = tmp_path / "mail"
    for i in range(5):
        write(folder / "spam" / str(i), raw_message({"Subject": f"s{i}"}, b"Buy now, cheap!\n"))
    write(folder / "ham" / "0", b"no headers here at all\n")
    _mbox(folder / "list.mbox", 2)
    raw = {
        "input": {"path": str(folder), "format": "email", "id_field": "path"},
        "output": {"path": str(tmp_path / "out")},
        "executor": {"workers": 1},
    }
    m = run_recipe(recipe_from_dict(raw)).manifest
    assert m["totals"] == {**m["totals"], "read": 8, "kept": 7, "rejected": 1}
    kept = pl.read_parquet(tmp_path / "out" / "data")
    folders = kept["meta"].str.json_path_match("$.folder").value_counts()
    assert dict(folders.iter_rows()) == {"spam": 5, "mail": 2}


def test_format_inference():
    assert infer_format("a.eml") == "email"
    assert infer_format("list.mbox.gz") == "email"


# --- the real corpora -------------------------------------------------------------------------


@pytest.mark.slow
def test_trec06c_every_message_decodes():
    folder = needs_shared("trec06c_subset")
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    docs, rejected = read_all(files, id_field="path")
    assert docs.height + rejected.height == len(files) == 14838
    assert rejected.height <= 5
    # 70 subjects were cut by the sender inside a character; none is left garbled
    assert docs.filter(pl.col("title").str.contains("\ufffd")).height == 0
    assert docs.filter(pl.col("text").str.contains("\ufffd")).height <= 5
    han = docs.select(pl.col("text").str.count_matches(r"\p{Han}").gt(0).mean()).item()
    assert han > 0.97
    first = docs.filter(pl.col("id").str.ends_with("ham/1000"))
    assert first["title"][0] == "Re: 姐姐快要生孩子了，很感慨"
    assert first["text"][0].startswith("这事儿还有续集")


def test_20news_latin1_posts():
    folder = needs_shared("20news_train")
    files = sorted((folder / "comp.sys.mac.hardware").iterdir())
    docs, rejected = read_all(files)
    assert docs.height + rejected.height == len(files)
    # 6 of his 12 posts carry the Latin-1 byte (the others lost it upstream: "Jon Wtte")
    wattes = docs.filter(pl.col("meta").str.contains("Jon Wätte"))
    assert wattes.height == 6
    assert docs["meta"].str.json_path_match("$.folder").eq("comp.sys.mac.hardware").all()
    assert docs.filter(pl.col("text").str.contains("\ufffd")).height == 0
    delays = docs.filter(pl.col("text").str.contains("16µsec"))
    assert delays.height == 1

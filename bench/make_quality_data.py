"""Training data for a DCLM-style quality classifier: edited text vs. web junk, en and zh.

    .venv/bin/python bench/make_quality_data.py --out data/quality   # quality-{en,zh}.jsonl

Each line is {"text", "label", "source"}: `reference` for edited prose, `web` for what a
crawl adds around and instead of it. Passages are packed to about 600 characters on both
sides, so that length does not tell the classes apart.

reference (edited news and books)
  en: ag_news titles + descriptions; the hand-checked article bodies of
      article_extraction_html; the three Project Gutenberg books (licence header and footer
      cut, hard-wrapped lines joined into paragraphs).
  zh: cnews_subset articles; the reference main texts of zh_extraction_html; LCSTS short
      news texts.
web (negatives)
  en: the boilerplate of the article_extraction_html pages (the page's full text, lines
      that are not in the article body: menus, footers, share bars, related links, comments)
      and SMS spam.
  zh: the boilerplate of the zh_extraction_html pages (same rule) and trec06c spam bodies
      (read by the e-mail reader).

warc_samples is left out on purpose: it is where the trained model is judged against the
heuristics (BENCHMARKS.md).
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import random
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORPORA = ROOT.parent / "shared" / "corpora"
PASSAGE = 600


def pack(paragraphs: Iterable[str], size: int = PASSAGE) -> Iterator[str]:
    """Consecutive paragraphs joined (newline) into passages of about `size` characters."""
    buf: list[str] = []
    n = 0
    for p in paragraphs:
        p = p.strip()
        if not p:
            continue
        buf.append(p)
        n += len(p)
        if n >= size:
            yield "\n".join(buf)
            buf, n = [], 0
    if buf and n >= size // 3:
        yield "\n".join(buf)


def gutenberg() -> Iterator[str]:
    for path in sorted((CORPORA / "gutenberg").glob("*.txt")):
        text = path.read_text(encoding="utf-8-sig").replace("\r\n", "\n")
        start = text.find("\n", text.find("*** START OF")) + 1
        end = text.find("*** END OF")
        paras = [" ".join(p.split()) for p in re.split(r"\n\s*\n", text[start:end])]
        yield from pack(paras)


def page_text(body: bytes) -> str:
    """Every text line of a page (resiliparse, no main-content pruning), decoded as the
    HTML reader decodes pages."""
    from resiliparse.extract.html2text import extract_plain_text

    from corpuskit.readers.encoding import decode_html

    html = decode_html(body).text
    return extract_plain_text(html, main_content=False, alt_texts=False, noscript=False)


def boilerplate(page: str, article: str) -> list[str]:
    """Lines of the page that are not part of the article (compared without spaces)."""
    body = re.sub(r"\s+", "", article)
    out = []
    for line in page.splitlines():
        key = re.sub(r"\s+", "", line)
        if len(key) >= 2 and key not in body:
            out.append(line.strip())
    return out


def english() -> Iterator[tuple[str, str, str]]:
    with open(CORPORA / "ag_news" / "test.csv", newline="", encoding="utf-8") as f:
        for row in csv.reader(f):
            yield "reference", "ag_news", f"{row[1]}\n{row[2]}".replace("#39;", "'")
    for passage in gutenberg():
        yield "reference", "gutenberg", passage
    root = CORPORA / "article_extraction_html"
    truth = json.loads((root / "ground-truth.json").read_text(encoding="utf-8"))
    for key, item in sorted(truth.items()):
        article = item["articleBody"]
        yield from (("reference", "article_body", p) for p in pack(article.split("\n")))
        page = page_text(gzip.decompress((root / "html" / f"{key}.html.gz").read_bytes()))
        yield from (("web", "page_boilerplate", p) for p in pack(boilerplate(page, article)))
    for line in (CORPORA / "sms_spam" / "SMSSpamCollection").read_text("utf-8").splitlines():
        label, _, text = line.partition("\t")
        if label == "spam":
            yield "web", "sms_spam", text


def chinese(spam_limit: int, seed: int) -> Iterator[tuple[str, str, str]]:
    for line in (CORPORA / "cnews_subset" / "cnews.val.txt").read_text("utf-8").splitlines():
        _, _, text = line.partition("\t")
        yield from (("reference", "cnews", p) for p in pack(re.split(r"(?<=[。！？])", text)))
    lcsts = (CORPORA / "lcsts_part3" / "PART_III.txt").read_text(encoding="utf-8")
    for text in re.findall(r"<short_text>\s*(.*?)\s*</short_text>", lcsts, re.S):
        yield "reference", "lcsts", text
    root = CORPORA / "zh_extraction_html"
    for ref in sorted((root / "Text").glob("*.txt"), key=lambda p: int(p.stem)):
        article = ref.read_bytes().decode("gb18030", errors="replace")
        yield from (("reference", "zh_article", p) for p in pack(article.splitlines()))
        page = page_text((root / "RawHtml" / f"{ref.stem}.html").read_bytes())
        yield from (("web", "page_boilerplate", p) for p in pack(boilerplate(page, article)))
    spam = sorted((CORPORA / "trec06c_subset" / "spam").iterdir())
    random.Random(seed).shuffle(spam)
    yield from (("web", "trec06c_spam", t) for t in trec06c_bodies(spam[:spam_limit]))


def trec06c_bodies(files: list[Path]) -> Iterator[str]:
    from corpuskit.readers.email import read_message

    for path in files:
        found = read_message(path.read_bytes())
        if found is not None and found[1].text and found[1].text.strip():
            yield "\n".join(line.strip() for line in found[1].text.splitlines() if line.strip())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("data/quality"))
    parser.add_argument("--spam-limit", type=int, default=3000, help="trec06c spam messages")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for lang, rows in (("en", english()), ("zh", chinese(args.spam_limit, args.seed))):
        counts: dict[tuple[str, str], int] = {}
        path = args.out / f"quality-{lang}.jsonl"
        with open(path, "w", encoding="utf-8") as f:
            for label, source, text in rows:
                if text.strip():
                    f.write(json.dumps({"text": text, "label": label, "source": source}) + "\n")
                    counts[label, source] = counts.get((label, source), 0) + 1
        print(path, ", ".join(f"{lab}/{src}: {n}" for (lab, src), n in sorted(counts.items())))


if __name__ == "__main__":
    main()

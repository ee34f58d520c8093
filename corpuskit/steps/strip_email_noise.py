"""strip_email_noise: remove what an e-mail or Usenet body carries besides its author's text.

Four kinds of lines go, each counted (lines and characters) and each switchable:

- headers left in a body: runs of at least `min_header_run` RFC 822 header lines
  (`From:`, `Subject:`, `Content-Type:`, `X-...:`; a forwarded or quoted message's headers)
  and BBS headers (`发信人:`, `标  题:`, `发信站:`), and forward separators
  (`-----Original Message-----`, `Begin forwarded message:`);
- quoted replies: lines starting with `>`, `|>`, `#>`, `: ` (newsmth; also `：`, what a
  punctuation normalizer makes of it in Chinese text) or initials and `>` (`JB> `);
- attribution lines: "In article <id> X writes:" (also wrapped over two lines), "X writes:" /
  "X wrote:" / "On <date>, X wrote:" right before a quote, newsmth's `【 在 X 的大作中提到: 】`;
- signatures: the tail after a `-- ` (or `--`) line of at most `max_signature_lines` lines;
  a separator line (`---`, `=====`, `/\\/\\/\\`, `+----+`) followed by such a tail holding
  an e-mail address, a phone number or a URL; a final contact block
  (at most `max_contact_block_lines` short lines after the last blank line, holding an
  e-mail address, none ending a sentence, in a body without another signature); BBS
  source and edit lines (`※ 来源:`, `※ 修改:`).

Runs batch-wide in Polars: documents are exploded into lines, every line is classified by
Rust regexes, the look-ahead rules (attribution before a quote, the last marker's tail) are
window expressions over each document's lines, and the survivors are joined back. Blank
line runs left by a removal are collapsed to one blank line. `strip_one` is the same rules
as a plain per-document Python loop: the tested reference and the peer of
bench/bench_strip_email_noise.py.
"""

from __future__ import annotations

import re
from typing import ClassVar

import polars as pl
from pydantic import Field

from corpuskit.steps.base import MapStep, StepConfig
from corpuskit.text.paragraphs import ATTRIBUTION, SIGNATURE_MARK

_HEADER_NAMES = (
    "from|to|cc|bcc|subject|date|sent|message-id|newsgroups|path|organi[sz]ation|lines"
    "|reply-to|sender|references|in-reply-to|content-type|content-transfer-encoding"
    "|content-disposition|mime-version|received|return-path|nntp-posting-host|distribution"
    "|keywords|summary|followup-to|article-i\\.d\\.|expires|approved|precedence|delivered-to"
    "|importance|list-[a-z]+|thread-[a-z]+|x-[a-z0-9-]+"
)
HEADER = (
    rf"^(?i:{_HEADER_NAMES}):(?:[ \t]|$)|^(?:发信人|寄信人|标\s*题|发信站|转信站)\s*[:：]"
    # the last piece of a folded RFC 2047 encoded word ("=?gb2312?B?...", then "x+s=?=")
    r"|^[A-Za-z0-9+/=_.-]*\?=[ \t]*$"
)
# a folded header's continuation line (indented), counted with the header above it
CONTINUATION = r"^[ \t]+\S"
FORWARD = (
    r"^\s*-{3,}\s*(?i:original message|forwarded message|forwarded by)[^\n]*$"
    r"|^\s*(?i:begin forwarded message):?\s*$"
)
QUOTE = r"^[ \t]*(?:>|\|>|#>|:(?:[ \t]|$)|：|[A-Za-z]{1,4}>)"
# where a reply cut the quote: "...", "[...]", "[deleted]", "[deletions...]", "<snip>"
ELISION = (
    r"^[ \t]*(?:\.{3,}|…+|[\[<(](?:\.{3,}|…|(?i:deleted|deletions?|snip(?:ped)?|stuff deleted)"
    r"\.*)[\]>)])[ \t]*$"
)
# an unquoted line between two quoted lines, of at most this many words and ending no
# sentence, is the tail of the quoted line above it that a later wrapper moved ("...out-"
# then "out-" on a line of its own, then "> accelerate an Integra.")
QUOTE_TAIL_WORDS = 3
ATTRIBUTION_START = r"^\s*(?i:in (?:article )?<[^>\s]+>)"
ATTRIBUTION_END = ATTRIBUTION  # "... writes:" (corpuskit.text.paragraphs, letter_frame's)
BBS_ATTRIBUTION = r"^\s*【\s*在.{0,80}的(?:大作|来信)中提到\s*[:：]\s*】\s*$"
# a line of symbols only (ASCII art, rules of = - _ * ~ + / \ | .), 8 characters or more,
# or a short rule of dashes (`---`, `-----`: also what separates a reply from its quote)
SEPARATOR = r"^[ \t]*[=\-_*~+/\\|.^#<>:-]{8,}[ \t=\-_*~+/\\|.^#<>:-]*$|^-{3,7}[ \t]*$"
# an e-mail address (or mask_pii's placeholder for one)
EMAIL = r"[A-Za-z0-9._%+!-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+|<EMAIL>"
# an e-mail address, a North American phone number, a URL
CONTACT = EMAIL + r"|\(?\b[0-9]{3}\)?[ .-][0-9]{3}[ .-][0-9]{4}\b|<PHONE>|https?://|www\."
BBS_SOURCE = r"^\s*※\s*(?:来源|修改|转载|转寄)\s*[:：]"
SENTENCE_END = r"[.!?。！？]\s*$"

KINDS = ("header", "quote", "attribution", "signature")


class StripEmailNoiseConfig(StepConfig):
    headers: bool = True
    quotes: bool = True
    attributions: bool = True
    signatures: bool = True
    min_header_run: int = Field(2, ge=1)
    max_signature_lines: int = Field(15, ge=0)
    max_contact_block_lines: int = Field(5, ge=0)
    max_attribution_chars: int = Field(200, ge=1)


class StripEmailNoise(MapStep):
    """Remove headers, quoted replies, attribution lines and signatures from e-mail bodies."""

    Config = StripEmailNoiseConfig
    columns: ClassVar[dict[str, pl.DataType]] = {}

    def map(self, batch: pl.DataFrame) -> pl.DataFrame:
        c: StripEmailNoiseConfig = self.config
        text = batch["text"]
        lines = line_table(text)
        kind = classify_lines(lines, c)
        dropped = kind.filter(pl.col("kind").is_not_null())
        for k in KINDS:
            self.count(f"{k}_lines", int((dropped["kind"] == k).sum()))
        changed = dropped["doc"].unique()
        kept = (
            kind.filter(pl.col("kind").is_null() & pl.col("doc").is_in(changed.implode()))
            .group_by("doc", maintain_order=True)
            .agg(new=pl.col("line").str.join("\n"))
        )
        new = pl.DataFrame({"doc": changed}).join(kept, on="doc", how="left").fill_null("")
        new = new.with_columns(new=tidy(pl.col("new")))
        out = text.clone()
        if new.height:
            out.scatter(new["doc"], new["new"])
        before = text.str.len_chars().sum() or 0
        after = out.str.len_chars().sum() or 0
        self.count("docs_changed", int((out != text).fill_null(False).sum()))
        self.count("chars_removed", int(before - after))
        return batch.with_columns(out.alias("text"))


def line_table(text: pl.Series) -> pl.DataFrame:
    """One row per line: doc, no (line number), n (lines of the document), line."""
    return (
        pl.DataFrame({"t": text.fill_null("")})
        .with_row_index("doc")
        .select("doc", line=pl.col("t").str.replace_all("\r\n?", "\n").str.split("\n"))
        .explode("line")
        .with_columns(
            no=pl.int_range(pl.len(), dtype=pl.Int64).over("doc"),
            n=pl.len().over("doc").cast(pl.Int64),
        )
    )


def classify_lines(lines: pl.DataFrame, c: StripEmailNoiseConfig) -> pl.DataFrame:
    """`lines` with `kind`: the kind of noise a removed line is (null: kept)."""
    line = pl.col("line")
    blank = line.str.strip_chars() == ""
    f = lines.with_columns(
        blank=blank,
        header=line.str.contains(HEADER),
        cont=line.str.contains(CONTINUATION),
        forward=line.str.contains(FORWARD),
        quote=line.str.contains(QUOTE) | line.str.contains(ELISION),
        a_start=line.str.contains(ATTRIBUTION_START),
        a_end=line.str.contains(ATTRIBUTION_END)
        & (line.str.len_chars() <= c.max_attribution_chars),
        bbs_attr=line.str.contains(BBS_ATTRIBUTION),
        mark=line.str.contains(SIGNATURE_MARK),
        sep=line.str.contains(SEPARATOR),
        contact=line.str.contains(CONTACT),
        email=line.str.contains(EMAIL),
        bbs_src=line.str.contains(BBS_SOURCE),
        ends=line.str.contains(SENTENCE_END),
        long=line.str.len_chars() > 80,
    )
    doc = "doc"
    # a folded header's continuation lines belong to its header line
    f = f.with_columns(_group=(~pl.col("cont")).cum_sum().over(doc))
    f = f.with_columns(header=pl.col("header").first().over(doc, "_group"))
    # the wrapped-off tail of a quoted line, between two quoted lines
    words = line.str.count_matches(r"\S+")
    between = pl.col("quote").shift(1).over(doc).fill_null(False) & pl.col("quote").shift(-1).over(
        doc
    ).fill_null(False)
    tail_of_quote = between & ~pl.col("blank") & (words <= QUOTE_TAIL_WORDS) & ~pl.col("ends")
    f = f.with_columns(quote=pl.col("quote") | tail_of_quote)
    # the next non-blank line is a quote
    nb_quote = pl.when(~pl.col("blank")).then(pl.col("quote"))
    f = f.with_columns(
        next_quote=nb_quote.shift(-1).backward_fill().over(doc).fill_null(False),
        prev_start=pl.col("a_start").shift(1).over(doc).fill_null(False),
        next_end=pl.col("a_end").shift(-1).over(doc).fill_null(False),
        # header runs
        hrun=(pl.col("header") != pl.col("header").shift(1)).fill_null(True).cum_sum().over(doc),
        # the last blank line, and whether a contact line follows it
        last_blank=pl.when(pl.col("blank")).then(pl.col("no")).max().over(doc).fill_null(-1),
    )
    f = f.with_columns(run_len=pl.len().over(doc, "hrun"))
    tail = pl.col("n") - 1 - pl.col("no")  # lines after this one
    max_sig = c.max_signature_lines
    # a tail counts without its trailing blank lines
    last_text = pl.when(~pl.col("blank")).then(pl.col("no")).max().over(doc).fill_null(-1)
    f = f.with_columns(last_text=last_text)
    tail = pl.col("last_text") - pl.col("no")
    contact_after = (
        pl.col("contact").cast(pl.Int32).reverse().cum_sum().reverse().over(doc)
        - pl.col("contact").cast(pl.Int32)
    ) > 0
    sig_mark = pl.col("mark") & (tail <= max_sig) & (pl.col("no") > 0)
    sig_sep = pl.col("sep") & (tail <= max_sig) & (tail > 0) & contact_after & (pl.col("no") > 0)
    f = f.with_columns(
        sig_from=pl.when(sig_mark | sig_sep).then(pl.col("no")).min().over(doc),
    )
    # final contact block: after the last blank line (not the first line), short, no sentence
    in_block = (pl.col("no") > pl.col("last_blank")) & (pl.col("last_blank") >= 0)
    block = f.with_columns(in_block=in_block).filter("in_block")
    block_ok = block.group_by(doc).agg(
        ok=(pl.len() <= c.max_contact_block_lines)
        & pl.col("email").any()
        & ~pl.col("long").any()
        & ~pl.col("ends").any()
    )
    f = f.join(block_ok, on=doc, how="left").with_columns(block_ok=pl.col("ok").fill_null(False))
    header = (pl.col("header") & (pl.col("run_len") >= c.min_header_run)) | pl.col("forward")
    attribution = (
        (pl.col("a_start") & pl.col("a_end"))
        | (pl.col("a_start") & pl.col("next_end"))
        | (pl.col("a_end") & pl.col("prev_start"))
        | (pl.col("a_end") & pl.col("next_quote"))
        | pl.col("bbs_attr")
    )
    signature = (
        (pl.col("no") >= pl.col("sig_from")).fill_null(False)
        | pl.col("bbs_src")
        | (
            in_block
            & pl.col("block_ok")
            & pl.col("sig_from").is_null()
            & (c.max_contact_block_lines > 0)
        )
    )
    parts = []
    if c.signatures:
        parts.append((signature, "signature"))
    if c.headers:
        parts.append((header, "header"))
    if c.attributions:
        parts.append((attribution, "attribution"))
    if c.quotes:
        parts.append((pl.col("quote"), "quote"))
    kind = pl.lit(None, dtype=pl.String)
    for cond, name in reversed(parts):
        kind = pl.when(cond).then(pl.lit(name)).otherwise(kind)
    return f.select(doc, "no", "line", kind=kind)


def tidy(text: pl.Expr) -> pl.Expr:
    """Blank-line runs collapsed to one blank line, blank lines at both ends removed."""
    return text.str.replace_all(r"\n[ \t]*(?:\n[ \t]*){2,}", "\n\n").str.strip_chars("\n")


# --- the per-document reference ---------------------------------------------------------

_RE = {
    name: re.compile(p)
    for name, p in {
        "header": HEADER,
        "forward": FORWARD,
        "quote": QUOTE,
        "elision": ELISION,
        "cont": CONTINUATION,
        "a_start": ATTRIBUTION_START,
        "a_end": ATTRIBUTION_END,
        "bbs_attr": BBS_ATTRIBUTION,
        "mark": SIGNATURE_MARK,
        "sep": SEPARATOR,
        "contact": CONTACT,
        "email": EMAIL,
        "bbs_src": BBS_SOURCE,
        "ends": SENTENCE_END,
    }.items()
}


def strip_one(text: str, c: StripEmailNoiseConfig) -> tuple[str, dict[str, int]]:
    """The same rules for one document, as a plain Python loop: (new text, lines per kind)."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    n = len(lines)
    f = [{k: bool(r.search(s)) for k, r in _RE.items()} for s in lines]
    blank = [s.strip() == "" for s in lines]
    for i, s in enumerate(lines):
        f[i]["a_end"] = f[i]["a_end"] and len(s) <= c.max_attribution_chars
        f[i]["quote"] = f[i]["quote"] or f[i]["elision"]
    head = False  # the header state of the line a continuation line hangs from
    for g in f:
        if g["cont"]:
            g["header"] = head
        else:
            head = g["header"]
    quote = [g["quote"] for g in f]
    for i in range(1, n - 1):
        s = lines[i]
        if (
            quote[i - 1]
            and quote[i + 1]
            and s.strip()
            and len(s.split()) <= QUOTE_TAIL_WORDS
            and not f[i]["ends"]
        ):
            f[i]["quote"] = True
    texts = [i for i in range(n) if not blank[i]]
    last_text = texts[-1] if texts else -1
    blanks = [i for i in range(n) if blank[i]]
    last_blank = blanks[-1] if blanks else -1
    # from the end: a contact line after i; the next non-blank line after i is a quote
    contact_after, next_quote = [False] * n, [False] * n
    for i in range(n - 2, -1, -1):
        contact_after[i] = contact_after[i + 1] or f[i + 1]["contact"]
        next_quote[i] = f[i + 1]["quote"] if not blank[i + 1] else next_quote[i + 1]
    sig_from = None
    for i in range(1, n):
        tail = last_text - i
        if (f[i]["mark"] and tail <= c.max_signature_lines) or (
            f[i]["sep"] and 0 < tail <= c.max_signature_lines and contact_after[i]
        ):
            sig_from = i
            break
    block = list(range(last_blank + 1, n)) if last_blank >= 0 else []
    block_ok = bool(block) and (
        len(block) <= c.max_contact_block_lines
        and any(f[i]["email"] for i in block)
        and not any(len(lines[i]) > 80 or f[i]["ends"] for i in block)
    )
    run_len = [0] * n
    i = 0
    while i < n:
        j = i
        while j < n and f[j]["header"] == f[i]["header"]:
            j += 1
        for k in range(i, j):
            run_len[k] = j - i
        i = j
    kinds: list[str | None] = []
    for i in range(n):
        prev_start = i > 0 and f[i - 1]["a_start"]
        next_end = i + 1 < n and f[i + 1]["a_end"]
        g = f[i]
        signature = (
            (sig_from is not None and i >= sig_from)
            or g["bbs_src"]
            or (
                sig_from is None
                and last_blank >= 0
                and i > last_blank
                and block_ok
                and c.max_contact_block_lines > 0
            )
        )
        header = (g["header"] and run_len[i] >= c.min_header_run) or g["forward"]
        attribution = (
            (g["a_start"] and (g["a_end"] or next_end))
            or (g["a_end"] and (prev_start or next_quote[i]))
            or g["bbs_attr"]
        )
        kind = None
        for on, cond, name in (
            (c.signatures, signature, "signature"),
            (c.headers, header, "header"),
            (c.attributions, attribution, "attribution"),
            (c.quotes, g["quote"], "quote"),
        ):
            if on and cond:
                kind = name
                break
        kinds.append(kind)
    counts = {k: kinds.count(k) for k in KINDS}
    if not any(counts.values()):
        return text, counts
    kept = "\n".join(s for s, k in zip(lines, kinds, strict=True) if k is None)
    kept = re.sub(r"\n[ \t]*(?:\n[ \t]*){2,}", "\n\n", kept).strip("\n")
    return kept, counts

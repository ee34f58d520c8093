"""remove_boilerplate_lines: drop lines, sentences and tags that match maintained pattern lists.

The lists are data files (corpuskit/data/boilerplate/<language>.txt), one regular expression
per line, extendable from a recipe. Two kinds of pattern:

- a plain pattern removes the *unit* it matches in: a whole line when the line is short (up
  to `whole_line_bytes`), else the sentence of the longer line that holds the match. Long lines
  are common: scraped Chinese news often arrives as one line per article, with the widget
  text ("我要评论"), the hotline or the "声明：...转载请注明出处" notice as its last sentence;
  removing the whole line there would remove the article.
- a "cut:" pattern removes only the text it matches, for tags inside sentences such as a
  bracketed source tag "【ZOL-七天在线 it7t.com】" or Sina's link markers "(微博)".

Everything runs batch-wide in Polars (Rust regex), with few combined regexes per list:
`combine_groups` for the cut patterns, `unit_regexes` for the others (their top-level
branches regrouped by anchoring, see there):
documents are exploded into lines (`str.split("\\n")` + explode), long lines into sentences
(a sentinel is inserted after sentence ends and before 【/[ fields, then split), units are
matched, and the survivors are joined back with `str.join` in group_by order.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import reduce
from operator import or_
from typing import ClassVar

import polars as pl
from pydantic import Field

from corpuskit.steps.base import FilterStep, StepConfig
from corpuskit.steps.patterns import (
    Pattern,
    ascii_boundaries,
    check_pattern,
    collect_patterns,
    combine_groups,
    top_branches,
)
from corpuskit.text.chars import unspaced_mask
from corpuskit.text.paragraphs import rejoin
from corpuskit.text.regex_lane import RegexLane

_SENTINELS = ("\x00", "\x01", "\x02", "\ufdd0", "\ufdd1", "\ufdd2")
# Units of a long line end after a sentence end, a run of spaces (where scraped Chinese news
# had its paragraph breaks) or a URL/domain (contact blocks glue the next sentence to it).
_URL_PATH = r"(?:/[A-Za-z0-9\-._~/?#=&%+:]*)?"
_SPLIT_AFTER = (
    r"[。！？!?…]+[”’」』\"'）)\]]*|\.[”’\"'）)\]]*\s+|\s{2,}"
    rf"|(?i:(?:https?://)?[a-z0-9][a-z0-9-]*(?:\.[a-z0-9-]+)*\.(?:com|cn|net|org){_URL_PATH})"
)
# ... and start at a bracketed field ("...售价1690元【联系电话】0531-..."), a ">>" link, a
# "点击进入" link, or a Sina dateline ("新浪娱乐讯"), which often follow a link glued to them.
_SPLIT_BEFORE = r"[【\[]|>{2,}|点击(?:进入|查看|观看|阅读|收看|浏览)|新浪\p{Han}{2}讯"


_HEAD, _TAIL = r"^\W*", r"\W*$"


def _ends_with_tail(branch: str) -> bool:
    """`branch` ends with the tokens \\W * $ (not an escaped backslash and "W*$")."""
    if not branch.endswith(_TAIL):
        return False
    head = branch[: -len(_TAIL)]
    return (len(head) - len(head.rstrip("\\"))) % 2 == 0


def _alternation(parts: list[str]) -> str:
    return "|".join(f"(?:{p})" for p in parts)


def unit_regexes(patterns: list[Pattern], ignore_case: bool) -> list[str]:
    """The unit patterns as few regexes whose matches together are the patterns' matches.

    Only whether a unit matches counts here (not where), so each pattern's top-level
    branches are regrouped per list: the branches starting with "^" make one regex anchored
    at the unit start, with the "^\\W*" they mostly begin with (and the "\\W*$" many end with)
    written once; the other branches make the second regex. Per list file, like
    `combine_groups`. Written once, the Unicode \\W is compiled 6 times instead of 24 for the
    English list (Polars compiles a regex again whenever its 32-entry cache dropped it, which
    the other steps' regexes do between batches: 10.6 -> 6.7 ms for the English list, 19 ->
    13 for both), and a regex whose every branch is anchored gives up at the first
    character that fails (4.9 -> 1.4 ms over the bench's 27,750 units for the English one).
    """
    groups: dict[str, tuple[list[str], list[str], list[str], list[str]]] = {}
    for p in patterns:
        source = p.origin.rsplit(":", 1)[0].split("[", 1)[0]
        # branches after "^\W*", those of them ending with "\W*$", others after "^", the rest
        head, head_tail, anchored, loose = groups.setdefault(source, ([], [], [], []))
        regex = ascii_boundaries(p.regex)
        branches = top_branches(regex)
        if branches is None:  # a flag for the branches after it: kept whole
            loose.append(regex)
            continue
        for branch in branches:
            rest = branch[len(_HEAD) :]
            if branch.startswith(_HEAD) and rest[:1] not in ("?", "+", "{"):
                if _ends_with_tail(rest):
                    head_tail.append(rest[: -len(_TAIL)])
                else:
                    head.append(rest)
            elif branch.startswith("^") and branch[1:2] not in ("*", "+", "?", "{"):
                anchored.append(branch[1:])
            else:
                loose.append(branch)
    out = []
    for head, head_tail, anchored, loose in groups.values():
        if head_tail:
            head = [*head, f"(?:{_alternation(head_tail)}){_TAIL}"]
        if head:
            anchored = [rf"\W*(?:{_alternation(head)})", *anchored]
        bodies = ([f"^(?:{_alternation(anchored)})"] if anchored else []) + (
            [_alternation(loose)] if loose else []
        )
        out += [f"(?i:{b})" if ignore_case else b for b in bodies]
    return out


def matches_any(texts: pl.Series, regexes: list[str]) -> pl.Series:
    """Non-empty `texts` that one of `regexes` matches in.

    Eager Series calls on purpose: Polars compiles a regex again whenever its per-thread
    cache of 32 dropped it, and evaluates expressions on its worker threads, whose caches
    the other steps' expression regexes churn between two batches of this step; this
    thread's cache keeps these big regexes (6.7 ms to compile for the English list). In
    bench_filters' chain the step's matching took 9 ms at most batches of 500 documents as
    an expression, 3.1-3.5 ms as these calls.
    """
    return reduce(or_, [texts.str.contains(r) for r in regexes]) & (texts != "")


def free_sentinel(texts: pl.Series) -> str:
    """A character that occurs in none of `texts`, to mark split points."""
    for s in _SENTINELS:
        if not texts.str.contains(s, literal=True).any():
            return s
    raise ValueError("no free sentinel character in this batch")


@dataclass
class Removal:
    """What `remove_units` did, per document."""

    text: pl.Series
    lines_removed: pl.Series
    units_removed: pl.Series
    chars_removed: pl.Series


def remove_units(
    text: pl.Series,
    unit_regexes: list[str],
    cut_regexes: list[str],
    whole_line_bytes: int,
    lane: RegexLane | None = None,
) -> Removal:
    """Cut `cut_regexes` matches from lines, then drop the units a `unit_regexes` matches
    (on `lane`, the step's own regex thread, when given).

    Lines up to `whole_line_bytes` UTF-8 bytes are one unit; longer ones are split into
    sentences. Lines emptied by either are dropped; other lines keep their text exactly,
    except that a changed line is stripped of the spaces the removal left at its ends.
    """
    text = text.fill_null("")
    n = text.len()
    zeros = pl.Series([0] * n, dtype=pl.Int32)
    if n == 0 or not (unit_regexes or cut_regexes):
        return Removal(text, zeros, zeros, zeros)
    sentinel = free_sentinel(text)
    lines = (
        pl.DataFrame({"text": text})
        .with_row_index("doc")
        .select("doc", line=pl.col("text").str.split("\n"))
        .explode("line")
        .with_row_index("lid")
    )
    line = pl.col("line")
    cut = line
    for regex in cut_regexes:
        cut = cut.str.replace_all(regex, "")
    lines = lines.with_columns(cut=cut, blank=line.str.strip_chars() == "")
    if not unit_regexes:
        joined = lines.with_columns(new=pl.col("cut"), units=pl.lit(0, dtype=pl.UInt32))
    else:
        long = pl.col("cut").str.len_bytes() > whole_line_bytes
        marked = (
            pl.col("cut")
            .str.replace_all(_SPLIT_AFTER, "${0}" + sentinel)
            .str.replace_all(_SPLIT_BEFORE, sentinel + "${0}")
        )
        # a short line is one unit; only long ones are split into sentences
        units = pl.concat(
            [
                lines.filter(~long).select("lid", unit=pl.col("cut")),
                lines.filter(long).select("lid", unit=marked.str.split(sentinel)).explode("unit"),
            ]
        )
        unit, run = units["unit"], lane.run if lane else (lambda fn, *a: fn(*a))
        drop = run(matches_any, unit, unit_regexes)
        units = units.with_columns(drop=drop)
        # only lines that lose a unit are put together again; the others stay `cut`
        hit = units.filter(pl.col("drop"))["lid"].unique()
        per_line = (
            units.filter(pl.col("lid").is_in(hit.implode()))
            .group_by("lid", maintain_order=True)
            .agg(
                new=pl.col("unit").filter(~pl.col("drop")).str.join(""), units=pl.col("drop").sum()
            )
        )
        joined = lines.join(per_line, on="lid", how="left", maintain_order="left").with_columns(
            new=pl.coalesce("new", "cut"), units=pl.col("units").fill_null(0)
        )
    changed = pl.col("new") != pl.col("line")
    new = pl.when(changed).then(pl.col("new").str.strip_chars()).otherwise(pl.col("line"))
    joined = joined.with_columns(new=new).with_columns(
        gone=~pl.col("blank") & (pl.col("new").str.strip_chars() == "")
    )
    docs = joined.group_by("doc", maintain_order=True).agg(
        text=pl.col("new").filter(~pl.col("gone")).str.join("\n"),
        lines_removed=pl.col("gone").sum().cast(pl.Int32),
        units_removed=pl.col("units").sum().cast(pl.Int32),
    )
    new_text = docs["text"]
    return Removal(
        new_text,
        docs["lines_removed"],
        docs["units_removed"],
        (text.str.len_chars() - new_text.str.len_chars()).cast(pl.Int32),
    )


class BoilerplateConfig(StepConfig):
    # shipped lists to use (corpuskit/data/boilerplate/<name>.txt); [] turns them all off
    languages: tuple[str, ...] = ("zh", "en")
    # more patterns, same syntax as the files ("cut:" prefix for tag-only removal)
    extra_patterns: tuple[str, ...] = ()
    # more list files (paths relative to the working directory), same format
    pattern_files: tuple[str, ...] = ()
    # shipped patterns to leave out, by their exact text in the file (with "cut: ")
    exclude_patterns: tuple[str, ...] = ()
    ignore_case: bool = True
    # lines up to this many UTF-8 bytes are removed whole when they match, longer lines
    # lose only the matching sentence: 80 bytes is an English line of 80 characters or a
    # Chinese one of 26 (3 bytes a character), about one sentence either way
    whole_line_bytes: int = Field(80, ge=0)
    # judge paragraphs: hard-wrapped lines are rejoined first (corpuskit.text.paragraphs), so
    # a wrapped line that starts "share on sales of ..." is not a line of its own; a document
    # that loses something gets the rejoined paragraphs as its text, others keep theirs
    rejoin_lines: bool = True
    unspaced_cjk_ratio: float = Field(0.3, ge=0, le=1)


class RemoveBoilerplateLines(FilterStep):
    """Remove boilerplate lines, sentences and tags (zh/en pattern lists); reject emptied docs."""

    Config = BoilerplateConfig
    columns: ClassVar[dict[str, pl.DataType]] = {
        "boilerplate_lines_removed": pl.Int32(),
        "boilerplate_units_removed": pl.Int32(),
        "boilerplate_chars_removed": pl.Int32(),
    }

    def __init__(self, config: StepConfig | None = None, name: str | None = None) -> None:
        super().__init__(config, name)
        self._unit_regexes: list[str] = []
        self._cut_regexes: list[str] = []
        self._lane = RegexLane()

    def patterns(self) -> list[Pattern]:
        """Every pattern in force: shipped lists, minus exclusions, plus the recipe's own."""
        c: BoilerplateConfig = self.config
        return collect_patterns(
            "boilerplate",
            c.languages,
            c.exclude_patterns,
            c.extra_patterns,
            c.pattern_files,
            allow_cut=True,
        )

    def validate(self) -> None:
        for p in self.patterns():
            check_pattern(p)

    def setup(self) -> None:
        patterns = self.patterns()
        for p in patterns:
            check_pattern(p)
        c: BoilerplateConfig = self.config
        self._unit_regexes = unit_regexes([p for p in patterns if not p.cut], c.ignore_case)
        self._cut_regexes = combine_groups([p for p in patterns if p.cut], c.ignore_case)

    def annotate(self, batch: pl.DataFrame) -> pl.DataFrame:
        self.ensure_ready()
        c: BoilerplateConfig = self.config
        text = batch["text"].fill_null("")
        judged = text
        if c.rejoin_lines:
            judged = rejoin(text, unspaced_mask(batch, c.unspaced_cjk_ratio))
        r = remove_units(
            judged, self._unit_regexes, self._cut_regexes, c.whole_line_bytes, self._lane
        )
        changed = r.text != judged
        self.count("lines_removed", r.lines_removed.sum() or 0)
        self.count("units_removed", r.units_removed.sum() or 0)
        self.count("chars_removed", r.chars_removed.sum() or 0)
        self.count("docs_changed", (r.chars_removed > 0).sum())
        # a document left empty is rejected with its original text, for review
        emptied = (r.text.str.strip_chars() == "") & (r.chars_removed > 0)
        return batch.with_columns(
            pl.when(emptied | ~changed).then(pl.col("text")).otherwise(r.text).alias("text"),
            r.lines_removed.alias("boilerplate_lines_removed"),
            r.units_removed.alias("boilerplate_units_removed"),
            r.chars_removed.alias("boilerplate_chars_removed"),
            emptied.alias("_emptied"),
        )

    def rules(self) -> list[tuple[str, pl.Expr]]:
        return [("empty", pl.col("_emptied"))]

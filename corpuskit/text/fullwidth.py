"""Numbers and times written in full width, converted whole (Polars expressions).

`１６：４５` -> `16:45`, `１２：３０：４５` -> `12:30:45`, `１，６３３．８２` -> `1,633.82`,
`％` -> `%`. A character-by-character width fold (NFKC, or a punctuation map) turns the
digits into ASCII but leaves ， and ： full width, because in Chinese text they are
punctuation: `1，633.82`, `16：45`. These passes convert the separators inside a number
or a time first. Both fix_unicode (before NFKC/NFKD) and normalize_punctuation use them.
"""

from __future__ import annotations

import polars as pl

FW_DIGIT = "０-９"
ANY_DIGIT = f"0-9{FW_DIGIT}"
# 12：30(：45) -> 12:30(:45); the left and right boundaries keep longer numbers out.
# A time followed by ：and a digit (12：30：456) is left alone, but not one followed by a
# colon of the text (16：45：w): that colon may become ASCII later (16：45: w), and the
# time, no longer before a ：, would then be converted by a second pass.
_TIME_HMS = (
    rf"(^|[^{ANY_DIGIT}])([{ANY_DIGIT}]{{1,2}})：([0-5０-５][{ANY_DIGIT}])"
    rf"：([0-5０-５][{ANY_DIGIT}])($|[^{ANY_DIGIT}])"
)
_TIME_HM = (
    rf"(^|[^{ANY_DIGIT}])([{ANY_DIGIT}]{{1,2}})：([0-5０-５][{ANY_DIGIT}])"
    rf"($|[^{ANY_DIGIT}：]|：$|：[^{ANY_DIGIT}])"
)
# １，６３３ -> 1,633: a full-width comma between full-width digits, three after it.
_THOUSANDS = rf"([{FW_DIGIT}])，([{FW_DIGIT}]{{3}})($|[^{ANY_DIGIT}])"


def convert_numbers(t: pl.Expr) -> pl.Expr:
    """Full-width times and thousands separators made ASCII, ％ -> % (digits stay as
    they are: the caller's width fold turns them into ASCII)."""
    t = t.str.replace_all("％", "%", literal=True)
    t = t.str.replace_all(_TIME_HMS, "${1}${2}:${3}:${4}${5}")
    for _ in range(2):  # a match takes the character after it: 7：30-8：00, 1，234，567
        t = t.str.replace_all(_TIME_HM, "${1}${2}:${3}${4}")
        t = t.str.replace_all(_THOUSANDS, "${1},${2}${3}")
    return t


def number_rows(text: pl.Series) -> pl.Series:
    """Rows `convert_numbers` may change (a superset), by scans the regex engine runs
    fast: a range or a literal (a mixed class of full-width characters is ten times
    slower), and the digit-colon test only on rows that hold ：."""
    rows = text.str.contains(f"[{FW_DIGIT}]") | text.str.contains("％", literal=True)
    colon = (text.str.contains("：", literal=True) & ~rows).fill_null(False)
    if colon.any():
        idx = colon.arg_true()
        digit_colon = f"[0-9]：|[{FW_DIGIT}]："  # two ranges: faster than one mixed class
        rows = rows.scatter(idx, text.gather(idx).str.contains(digit_colon))
    return rows.fill_null(False)

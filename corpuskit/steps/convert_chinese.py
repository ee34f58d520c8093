"""convert_chinese: Traditional <-> Simplified Chinese with OpenCC (t2s, s2t, tw2s, s2tw, ...).

Only documents that contain a Han character (Polars regex, batch-wide) go through OpenCC;
the converter is built once per process in `setup()` and never pickled.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from corpuskit.steps.base import MapStep, StepConfig

HAN = r"\p{Han}"


def opencc_configs() -> list[str]:
    """Names of the OpenCC configs the installed package ships ("t2s", "s2twp", ...)."""
    import opencc

    return sorted(name.removesuffix(".json") for name in opencc.CONFIGS)


class ConvertChineseConfig(StepConfig):
    # an OpenCC config name: t2s, s2t, tw2s, tw2sp, s2tw, s2twp, hk2s, s2hk, t2tw, t2hk, ...
    config: str = "t2s"


class ConvertChinese(MapStep):
    """Convert Chinese text between Traditional and Simplified script with OpenCC."""

    Config = ConvertChineseConfig

    def __init__(self, config: StepConfig | None = None, name: str | None = None) -> None:
        super().__init__(config, name)
        self._converter: Any = None

    def _config_name(self) -> str:
        return self.config.config.removesuffix(".json")

    def validate(self) -> None:
        try:
            valid = opencc_configs()
        except ImportError as e:  # pragma: no cover - opencc is a dependency
            raise ValueError("convert_chinese needs the `opencc` package") from e
        if self._config_name() not in valid:
            raise ValueError(
                f"unknown OpenCC config {self.config.config!r}; valid: {', '.join(valid)}"
            )

    def setup(self) -> None:
        import opencc

        self.validate()
        self._converter = opencc.OpenCC(self._config_name())

    def _transient(self) -> tuple[str, ...]:
        return ("_converter",)

    def map(self, batch: pl.DataFrame) -> pl.DataFrame:
        text = batch["text"]
        rows = text.str.contains(HAN).fill_null(False).arg_true()
        self.count("cjk_docs", rows.len())
        if rows.len() == 0:
            self.count("changed_docs", 0)
            return batch
        before = text.gather(rows)
        convert = self._converter.convert
        after = pl.Series([convert(t) for t in before.to_list()], dtype=pl.String)
        self.count("changed_docs", (after != before).sum())
        return batch.with_columns(text.scatter(rows, after).alias("text"))

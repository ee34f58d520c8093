"""One training rank: `python -m corpuskit.training.worker RUN_DIR` (started by torchrun).

The run folder's config.yaml, written by `corpuskit train` before the ranks start,
names the trainer and holds every setting.
"""

from __future__ import annotations

import sys
from pathlib import Path

from corpuskit.training.launch import CONFIG_FILE, open_data


def main(argv: list[str] | None = None) -> int:
    from corpuskit.training.base import get_trainer, validate_config
    from corpuskit.training.config import read_config_file

    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m corpuskit.training.worker RUN_DIR", file=sys.stderr)
        return 2
    run_dir = Path(args[0])
    path = run_dir / CONFIG_FILE
    config = validate_config(read_config_file(path), origin=str(path))
    trainer = get_trainer(config.trainer)(config)
    trainer.fit(open_data(config), run_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())

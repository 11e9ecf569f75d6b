"""Where the warehouse keeps its files, all derived from ``Settings.data_dir``.

``data/warehouse.duckdb`` is the published, read-only snapshot everybody reads; the loader's
private read-write master, its lock and its staging area live in ``data/.warehouse/``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from core.settings import Settings, get_settings

RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
JOURNAL_SUFFIX = ".jsonl"
SENTINEL = ".empty.jsonl"  # keeps the live views' glob from ever matching no file


@dataclass(frozen=True, slots=True)
class WarehousePaths:
    data_dir: Path

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> WarehousePaths:
        return cls((settings or get_settings()).data_dir)

    @property
    def journal_dir(self) -> Path:
        return self.data_dir / "journal"

    @property
    def published(self) -> Path:
        return self.data_dir / "warehouse.duckdb"

    @property
    def private_dir(self) -> Path:
        return self.data_dir / ".warehouse"

    @property
    def master(self) -> Path:
        return self.private_dir / "master.duckdb"

    @property
    def lock(self) -> Path:
        return self.private_dir / "loader.lock"

    @property
    def stage(self) -> Path:
        return self.private_dir / "stage"

    @property
    def sentinel(self) -> Path:
        return self.journal_dir / SENTINEL

    def journal(self, run_id: str) -> Path:
        return self.journal_dir / f"{check_run_id(run_id)}{JOURNAL_SUFFIX}"

    def journals(self) -> list[Path]:
        """Every journal file, oldest name first; dot-files (the sentinel) are not journals."""
        if not self.journal_dir.is_dir():
            return []
        return sorted(p for p in self.journal_dir.glob(f"*{JOURNAL_SUFFIX}") if not p.name.startswith("."))

    def ensure(self) -> None:
        self.journal_dir.mkdir(parents=True, exist_ok=True)
        self.private_dir.mkdir(parents=True, exist_ok=True)
        if not self.sentinel.exists():
            self.sentinel.touch()


def check_run_id(run_id: str) -> str:
    if not isinstance(run_id, str) or not RUN_ID.match(run_id):
        raise ValueError(f"run_id: {run_id!r} is not a valid journal name; allowed: 1-128 characters "
                         "from A-Z a-z 0-9 . _ -, starting with a letter or digit")
    return run_id

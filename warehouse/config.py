"""The one place where settings are read.

Every setting is an environment variable with a documented default
(docs/configuration.md). Modules import `settings()` instead of reading
os.environ themselves, so a reader finds every knob here.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Settings:
    warehouse_url: str | None
    """WAREHOUSE_URL: PostgreSQL URL of the warehouse; unset = embedded server under var/."""
    var_dir: Path
    """VAR_DIR: runtime state (embedded PostgreSQL, landing, exports, logs). Default <repo>/var."""
    landing_dir: Path
    """LANDING_DIR: where deliveries arrive. Default $VAR_DIR/landing."""
    exports_dir: Path
    """EXPORTS_DIR: per-hospital violation exports. Default $VAR_DIR/exports."""
    data_docs_dir: Path
    """DATA_DOCS_DIR: Great Expectations Data Docs site. Default $VAR_DIR/data_docs."""
    load_chunk_bytes: int
    """LOAD_CHUNK_BYTES: bytes per COPY write while streaming a file. Default 1 MiB."""

    @property
    def embedded_dir(self) -> Path:
        return self.var_dir / "pg"


def settings() -> Settings:
    var_dir = Path(os.environ.get("VAR_DIR", REPO_ROOT / "var")).resolve()
    return Settings(
        warehouse_url=os.environ.get("WAREHOUSE_URL") or None,
        var_dir=var_dir,
        landing_dir=Path(os.environ.get("LANDING_DIR", var_dir / "landing")).resolve(),
        exports_dir=Path(os.environ.get("EXPORTS_DIR", var_dir / "exports")).resolve(),
        data_docs_dir=Path(os.environ.get("DATA_DOCS_DIR", var_dir / "data_docs")).resolve(),
        load_chunk_bytes=int(os.environ.get("LOAD_CHUNK_BYTES", str(1 << 20))),
    )

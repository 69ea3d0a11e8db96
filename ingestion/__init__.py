"""Ingestion of daily extracts and reference snapshots into the staging schema (issue 3).

Public API (the DAG and the CLI call these):
  discover(landing, up_to=None, pending_only=True, conn_url=None) -> list[DeliveryRef]
  load_kind(ref, conn_url=...) / load_kind(landing, section, date, kind, conn_url=...) -> KindLoadResult
  load_folder(landing, section, business_date, conn_url=None) -> list[KindLoadResult]
  load_pending(landing, up_to=None, conn_url=None) -> list[KindLoadResult]
  ingestion.gx_docs.build_data_docs(conn_url=None, docs_dir=None, since=None) -> Path
      GX Data Docs from meta.validation_results, once per pipeline run (imports GX: not re-exported here)
"""

from ingestion.delivery import DeliveryRef, ManifestFile, discover
from ingestion.loader import FileResult, KindLoadResult, load_folder, load_kind, load_pending

__all__ = [
    "DeliveryRef", "FileResult", "KindLoadResult", "ManifestFile",
    "discover", "load_folder", "load_kind", "load_pending",
]

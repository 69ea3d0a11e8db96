"""Render superset_assets/specs.py as a Superset asset bundle (YAML) under superset_assets/assets/.

`python -m superset_assets.build` rewrites the YAML; `--check` fails when the
committed YAML differs from the specs (run by the tests). Standard library +
PyYAML only, so it runs in either virtualenv.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import yaml

from superset_assets import specs
from superset_assets.specs import Chart, Dashboard, Dataset

ASSETS_DIR = Path(__file__).resolve().parent / "assets"
# Placeholder only: deploy.py puts the real URL (from the environment) in before importing.
URI_PLACEHOLDER = "postgresql+psycopg2://mfm_bi_readonly@127.0.0.1:5432/warehouse"

_TEMPORAL = {"timeGrain": "P1M", "columnType": "BASE_AXIS", "sqlExpression": "month", "label": "month",
             "expressionType": "SQL"}


_LEGEND = {"show_legend": True, "legendType": "scroll", "legendOrientation": "top"}


def database_yaml() -> dict[str, Any]:
    return {
        "database_name": specs.DATABASE_NAME,
        "sqlalchemy_uri": URI_PLACEHOLDER,
        "cache_timeout": None,
        "expose_in_sqllab": True,
        "allow_run_async": False,
        "allow_ctas": False,
        "allow_cvas": False,
        "allow_dml": False,
        "allow_file_upload": False,
        "extra": {},
        "uuid": specs.DATABASE_UUID,
        "version": "1.0.0",
    }


def dataset_yaml(ds: Dataset) -> dict[str, Any]:
    return {
        "table_name": ds.table,
        "main_dttm_col": ds.main_dttm_col,
        "description": ds.description,
        "default_endpoint": None,
        "offset": 0,
        "cache_timeout": None,
        "schema": ds.schema,
        "sql": ds.sql,
        "params": None,
        "template_params": None,
        "filter_select_enabled": True,
        "fetch_values_predicate": None,
        "extra": None,
        "normalize_columns": False,
        "always_filter_main_dttm": False,
        "uuid": ds.uuid,
        "metrics": [
            {"metric_name": m.name, "verbose_name": m.verbose, "metric_type": None, "expression": m.expression,
             "description": None, "d3format": m.d3format, "currency": None, "extra": {}, "warning_text": None}
            for m in ds.metrics
        ],
        "columns": [
            {"column_name": c.name, "verbose_name": c.verbose, "is_dttm": c.is_dttm, "is_active": True,
             "type": c.type, "advanced_data_type": None, "groupby": True, "filterable": True,
             "expression": None, "description": None, "python_date_format": None, "extra": {}}
            for c in ds.columns
        ],
        "version": "1.0.0",
        "database_uuid": specs.DATABASE_UUID,
    }


def _adhoc_filters(chart: Chart) -> list[dict[str, Any]]:
    # The TEMPORAL_RANGE filter is what the dashboard's month-range filter overrides.
    out: list[dict[str, Any]] = [{
        "expressionType": "SIMPLE", "subject": "month", "operator": "TEMPORAL_RANGE", "comparator": "No filter",
        "clause": "WHERE", "sqlExpression": None, "isExtra": False, "isNew": False,
        "datasourceWarning": False, "filterOptionName": f"filter_month_{chart.key}",
    }]
    if chart.where:
        out.append({"expressionType": "SQL", "sqlExpression": chart.where, "clause": "WHERE", "subject": None,
                    "operator": None, "comparator": None, "isExtra": False, "isNew": False,
                    "datasourceWarning": False, "filterOptionName": f"filter_where_{chart.key}"})
    return out


def form_data(chart: Chart, datasource: str) -> dict[str, Any]:
    base: dict[str, Any] = {"datasource": datasource, "adhoc_filters": _adhoc_filters(chart), "extra_form_data": {},
                            "dashboards": []}
    if chart.viz == "big_number":
        return {**base, "viz_type": "big_number", "x_axis": "month", "time_grain_sqla": "P1M",
                "metric": chart.metrics[0], "compare_lag": chart.compare_lag, "compare_suffix": chart.compare_suffix,
                "show_trend_line": True, "start_y_axis_at_zero": True, "show_timestamp": True,
                "y_axis_format": chart.number_format, "time_format": "%Y-%m", "rolling_type": "None",
                "header_font_size": 0.3, "subheader_font_size": 0.125, "color_picker": {"r": 31, "g": 119, "b": 180,
                                                                                         "a": 1}}
    if chart.viz in ("line", "bar"):
        return {**base, "viz_type": f"echarts_timeseries_{chart.viz}", "x_axis": "month", "time_grain_sqla": "P1M",
                "metrics": list(chart.metrics), "groupby": list(chart.groupby), "order_desc": True,
                "row_limit": chart.row_limit, "truncate_metric": True, **_LEGEND,
                "x_axis_time_format": "%Y-%m", "tooltipTimeFormat": "%Y-%m",
                "y_axis_format": chart.number_format, "rich_tooltip": True, "comparison_type": "values",
                "annotation_layers": [], "color_scheme": "supersetColors", "sort_series_type": "sum",
                "only_total": True, "zoomable": False, "markerEnabled": chart.viz == "line",
                "stack": "Stack" if chart.viz == "bar" else None, "x_axis_sort_asc": True}
    if chart.viz == "pie":
        return {**base, "viz_type": "pie", "groupby": list(chart.groupby), "metric": chart.metrics[0],
                "row_limit": 100, "sort_by_metric": True, "show_labels": True, "labels_outside": True,
                "label_type": "key_percent", "number_format": chart.number_format, "donut": True, **_LEGEND,
                "color_scheme": "supersetColors", "outerRadius": 70, "innerRadius": 30}
    if chart.viz == "table":
        return {**base, "viz_type": "table", "query_mode": "aggregate", "groupby": list(chart.groupby),
                "metrics": list(chart.metrics), "all_columns": [], "percent_metrics": [], "order_by_cols": [],
                "timeseries_limit_metric": chart.order_by, "order_desc": True, "row_limit": chart.row_limit,
                "server_page_length": 10, "table_timestamp_format": "%Y-%m-%d", "show_cell_bars": True,
                "color_pn": True, "include_search": True, "allow_render_html": False}
    if chart.viz == "raw":
        return {**base, "viz_type": "table", "query_mode": "raw", "all_columns": list(chart.columns),
                "groupby": [], "metrics": [], "percent_metrics": [],
                "order_by_cols": [json.dumps([chart.order_by, False])] if chart.order_by else [],
                "row_limit": chart.row_limit, "server_page_length": 20, "table_timestamp_format": "%Y-%m-%d",
                "include_search": True, "show_cell_bars": False, "allow_render_html": False}
    raise ValueError(chart.viz)


def query_object(chart: Chart) -> dict[str, Any]:
    """The one query /api/v1/chart/{id}/data/ runs; mirrors the frontend's buildQuery without post-processing,
    so the API answers long-format rows the tests compare with SQL."""
    q: dict[str, Any] = {
        "filters": [{"col": "month", "op": "TEMPORAL_RANGE", "val": "No filter"}],
        "extras": {"having": "", "where": f"({chart.where})" if chart.where else ""},
        "applied_time_extras": {}, "url_params": {}, "custom_params": {}, "custom_form_data": {},
        "series_limit": 0, "order_desc": True, "annotation_layers": [],
    }
    if chart.viz == "big_number":
        q.update(columns=[dict(_TEMPORAL)], metrics=list(chart.metrics), orderby=[], row_limit=10000)
        q["extras"]["time_grain_sqla"] = "P1M"
    elif chart.viz in ("line", "bar"):
        q.update(columns=[dict(_TEMPORAL), *chart.groupby], series_columns=list(chart.groupby),
                 metrics=list(chart.metrics), orderby=[[chart.metrics[0], False]], row_limit=chart.row_limit)
        q["extras"]["time_grain_sqla"] = "P1M"
    elif chart.viz in ("pie", "table"):
        order = chart.order_by or chart.metrics[0]
        q.update(columns=list(chart.groupby), metrics=list(chart.metrics), orderby=[[order, False]],
                 row_limit=100 if chart.viz == "pie" else chart.row_limit)
    elif chart.viz == "raw":
        q.update(columns=list(chart.columns), metrics=[], orderby=[[chart.order_by, False]] if chart.order_by else [],
                 row_limit=chart.row_limit)
    return q


def chart_yaml(chart: Chart, chart_number: int) -> dict[str, Any]:
    ds = specs.DATASET_BY_KEY[chart.dataset]
    # The id part of "id__table" is rewritten on import (update_chart_config_dataset).
    datasource = f"{chart_number}__table"
    params = form_data(chart, datasource)
    query_context = {
        "datasource": {"id": chart_number, "type": "table"},
        "force": False,
        "queries": [query_object(chart)],
        "form_data": params,
        "result_format": "json",
        "result_type": "full",
    }
    return {
        "slice_name": chart.title,
        "description": None,
        "certified_by": None,
        "certification_details": None,
        "viz_type": params["viz_type"],
        "params": params,
        "query_context": json.dumps(query_context, ensure_ascii=False, sort_keys=True),
        "cache_timeout": None,
        "uuid": chart.uuid,
        "version": "1.0.0",
        "dataset_uuid": ds.uuid,
    }


def _native_filter(dash: Dashboard, f: specs.NativeFilter) -> dict[str, Any]:
    common = {
        "id": f"NATIVE_FILTER-{dash.key}-{f.key}", "name": f.name, "type": "NATIVE_FILTER", "description": "",
        "cascadeParentIds": [], "scope": {"rootPath": ["ROOT_ID"], "excluded": []},
        "defaultDataMask": {"extraFormData": {}, "filterState": {}, "ownState": {}},
        "tabsInScope": [],
    }
    if f.kind == "time":
        return {**common, "filterType": "filter_time", "targets": [{}], "controlValues": {}}
    assert f.dataset and f.column
    return {**common, "filterType": "filter_select",
            "targets": [{"datasetUuid": specs.DATASET_BY_KEY[f.dataset].uuid, "column": {"name": f.column}}],
            "controlValues": {"enableEmptyFilter": False, "defaultToFirstItem": False, "multiSelect": True,
                              "searchAllOptions": False, "inverseSelection": False}}


def dashboard_yaml(dash: Dashboard, chart_numbers: dict[str, int]) -> dict[str, Any]:
    position: dict[str, Any] = {
        "DASHBOARD_VERSION_KEY": "v2",
        "ROOT_ID": {"type": "ROOT", "id": "ROOT_ID", "children": ["GRID_ID"]},
        "GRID_ID": {"type": "GRID", "id": "GRID_ID", "children": [], "parents": ["ROOT_ID"]},
        "HEADER_ID": {"id": "HEADER_ID", "type": "HEADER", "meta": {"text": dash.title}},
    }
    rows: list[list[dict[str, Any]]] = [[{"type": "MARKDOWN", "key": "subtitle", "width": 12, "height": 14,
                                          "code": f"## {dash.title}\n\n{dash.subtitle}"}]]
    rows += [[{"type": "CHART", "key": key} for key in row] for row in dash.rows]
    for r, row in enumerate(rows):
        row_id = f"ROW-{dash.key}-{r}"
        position["GRID_ID"]["children"].append(row_id)
        position[row_id] = {"type": "ROW", "id": row_id, "children": [], "parents": ["ROOT_ID", "GRID_ID"],
                            "meta": {"background": "BACKGROUND_TRANSPARENT"}}
        for item in row:
            parents = ["ROOT_ID", "GRID_ID", row_id]
            if item["type"] == "MARKDOWN":
                cid = f"MARKDOWN-{dash.key}-{item['key']}"
                position[cid] = {"type": "MARKDOWN", "id": cid, "children": [], "parents": parents,
                                 "meta": {"width": item["width"], "height": item["height"], "code": item["code"]}}
            else:
                chart = specs.CHART_BY_KEY[item["key"]]
                cid = f"CHART-{chart.key}"
                position[cid] = {"type": "CHART", "id": cid, "children": [], "parents": parents,
                                 "meta": {"width": chart.width, "height": chart.height,
                                          "chartId": chart_numbers[chart.key], "uuid": chart.uuid,
                                          "sliceName": chart.title}}
            position[row_id]["children"].append(cid)
    return {
        "dashboard_title": dash.title,
        "description": None,
        "css": "",
        "slug": dash.slug,
        "certified_by": None,
        "certification_details": None,
        "published": True,
        "uuid": dash.uuid,
        "position": position,
        "metadata": {
            "color_scheme": "supersetColors",
            "refresh_frequency": 0,
            "expanded_slices": {},
            "label_colors": {},
            "shared_label_colors": [],
            "color_scheme_domain": [],
            "timed_refresh_immune_slices": [],
            "cross_filters_enabled": False,
            "default_filters": "{}",
            "chart_configuration": {},
            "native_filter_configuration": [_native_filter(dash, f) for f in dash.filters],
        },
        "version": "1.0.0",
    }


def render() -> dict[str, str]:
    """Relative path -> YAML text of every file of the bundle."""
    dump = lambda obj: yaml.safe_dump(obj, allow_unicode=True, sort_keys=False, width=120)  # noqa: E731
    files = {
        "metadata.yaml": dump({"version": "1.0.0", "type": "assets", "timestamp": "2026-01-01T00:00:00+00:00"}),
        "databases/warehouse.yaml": dump(database_yaml()),
    }
    for ds in specs.DATASETS:
        files[f"datasets/warehouse/{ds.key}.yaml"] = dump(dataset_yaml(ds))
    chart_numbers = {c.key: i + 1 for i, c in enumerate(specs.CHARTS)}
    for chart in specs.CHARTS:
        files[f"charts/{chart.key}.yaml"] = dump(chart_yaml(chart, chart_numbers[chart.key]))
    for dash in specs.DASHBOARDS:
        files[f"dashboards/{dash.key}.yaml"] = dump(dashboard_yaml(dash, chart_numbers))
    return files


def stale_files(root: Path = ASSETS_DIR) -> list[str]:
    files = render()
    on_disk = {str(p.relative_to(root)) for p in root.rglob("*.yaml")} if root.exists() else set()
    stale = [n for n, text in files.items() if not (root / n).exists() or (root / n).read_text("utf-8") != text]
    return sorted(stale + sorted(on_disk - set(files)))


def write(root: Path = ASSETS_DIR) -> None:
    files = render()
    for old in root.rglob("*.yaml") if root.exists() else []:
        if str(old.relative_to(root)) not in files:
            old.unlink()
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, "utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail when the YAML is out of date")
    args = parser.parse_args(argv)
    if args.check:
        stale = stale_files()
        if stale:
            print("out of date (run python -m superset_assets.build):", *stale, sep="\n  ")
            return 1
        return 0
    write()
    print(f"wrote {len(render())} files under {ASSETS_DIR}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Reports and event lists as Excel (openpyxl) and CSV, with the numbers of `compute_many`.

The monthly report is small (one sheet per grouping) and built in memory with a chart. Event lists
can be 100,000 rows and more: rows come from a server-side cursor in batches (`yield_per`), the
workbook is written in openpyxl's write-only mode straight to a temporary file, and CSV is a
generator — memory stays flat whatever the row count.
"""
from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta
from typing import Iterable, Iterator

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.chart import BarChart, Reference
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from sqlalchemy import select
from sqlalchemy.orm import aliased

from gridgov.extensions import db
from gridgov.models import Area, Category, Department, Event
from gridgov.services.stats.compute import compute_many
from gridgov.services.stats.evaluation import evaluate
from gridgov.services.stats.figures import Figures, StatsQuery, event_figure_clause
from gridgov.services.stats.periods import utc_offset_minutes

GROUPING_TITLES = {
    "total": "总体", "township": "按乡镇", "village": "按村社区", "grid": "按网格", "department": "按部门",
    "category": "按大类", "subcategory": "按小类", "reporter": "按上报人", "day": "按日", "week": "按周",
    "month": "按月",
}
KEY_TITLES = {
    "total": "范围", "township": "乡镇/街道", "village": "村/社区", "grid": "网格", "department": "职能部门",
    "category": "事件大类", "subcategory": "事件小类", "reporter": "上报人", "day": "日期", "week": "周（周一）",
    "month": "月份",
}
# (attribute on Figures, Chinese header, kind) — the report's columns, in order.
FIGURE_COLUMNS = (
    ("reported", "上报数", "int"),
    ("registered", "立案数", "int"),
    ("due", "应结案数", "int"),
    ("closed", "结案数", "int"),
    ("closure_rate", "结案率", "pct"),
    ("closed_on_time", "按期结案数", "int"),
    ("on_time_rate", "按期结案率", "pct"),
    ("tasks_handled", "处置工单数", "int"),
    ("tasks_reworked", "返工工单数", "int"),
    ("rework_rate", "返工率", "pct"),
    ("overdue", "超期数", "int"),
    ("avg_handling_hours", "平均处置时长（工作小时）", "hours"),
    ("self_resolved", "自行处置数", "int"),
    ("self_resolved_rate", "自行处置率", "pct"),
    ("satisfaction_rate", "满意率", "pct"),
)
REPORT_GROUPINGS = ("total", "township", "village", "department", "category", "subcategory", "day")
NUMBER_FORMATS = {"int": "#,##0", "pct": "0.00%", "hours": "0.00"}
HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")


def _for_sheet(values: list) -> list:
    """Text as a worksheet can hold it. A control character in a description, an address or a name somebody
    typed makes openpyxl refuse the cell, and with it the whole download (a 500); each becomes U+FFFD."""
    return [ILLEGAL_CHARACTERS_RE.sub("\ufffd", v) if isinstance(v, str) else v for v in values]


def _figure_values(fig: Figures) -> list:
    return [getattr(fig, attr) for attr, _, _ in FIGURE_COLUMNS]


def report_title(q: StatsQuery, area_name: str) -> str:
    return f"{area_name} 网格化事件统计报表（{q.period.first.isoformat()} 至 {q.period.last.isoformat()}）"


def write_report_xlsx(q: StatsQuery, target, *, area_name: str = "", groupings=REPORT_GROUPINGS,
                      weights: dict | None = None) -> dict[str, list[Figures]]:
    """The monthly report: a sheet per grouping plus the evaluation; returns the figures used."""
    data = compute_many(q, groupings)
    wb = Workbook()
    wb.remove(wb.active)
    title = report_title(q, area_name or (q.area or ""))
    generated = datetime.now().strftime("%Y-%m-%d %H:%M")
    for grouping in groupings:
        ws = wb.create_sheet(GROUPING_TITLES[grouping])
        rows = data[grouping]
        ws.append(_for_sheet([title]))
        ws["A1"].font = Font(bold=True, size=14)
        ws.append([f"统计口径：上报数按上报时间，立案及结案类指标按立案时间，返工率按工单处置时间；生成于 {generated}"])
        header = ["代码", KEY_TITLES[grouping], *[h for _, h, _ in FIGURE_COLUMNS]]
        ws.append(header)
        for cell in ws[3]:
            cell.font = Font(bold=True)
            cell.fill = HEADER_FILL
            cell.alignment = Alignment(wrap_text=True, vertical="center")
        for fig in rows:
            ws.append(_for_sheet([None if fig.key is None else str(fig.key), fig.label, *_figure_values(fig)]))
        for col, (_, _, kind) in enumerate(FIGURE_COLUMNS, start=3):
            for (cell,) in ws.iter_rows(min_row=4, max_row=3 + len(rows), min_col=col, max_col=col):
                cell.number_format = NUMBER_FORMATS[kind]
        ws.freeze_panes = "C4"
        ws.column_dimensions["A"].width = 18
        ws.column_dimensions["B"].width = 18
        for col in range(3, 3 + len(FIGURE_COLUMNS)):
            ws.column_dimensions[get_column_letter(col)].width = 11
        if grouping != "total" and rows:
            _add_chart(ws, grouping, len(rows))
    evaluated = [("部门考评", "department"), ("乡镇考评", "township")]
    for sheet_title, grouping in evaluated:
        rows = data.get(grouping) or compute_many(q, [grouping])[grouping]
        ws = wb.create_sheet(sheet_title)
        ws.append(_for_sheet([f"{title} · {sheet_title}"]))
        ws["A1"].font = Font(bold=True, size=14)
        ws.append(["综合得分 = 结案率×30% + 按期结案率×30% + (100−返工率)×30% + 工作量档次×10%；A≥90 B≥80 C≥70 D≥60 E<60"])
        ws.append(["代码", "名称", "立案数", "应结案数", "结案率", "按期结案率", "返工率", "工作量档次分", "综合得分", "等级"])
        for cell in ws[3]:
            cell.font = Font(bold=True)
            cell.fill = HEADER_FILL
        for e in evaluate(rows, weights):
            f = e.figures
            ws.append(_for_sheet([str(e.key), e.label, f.registered, f.due, f.closure_rate, f.on_time_rate,
                                  f.rework_rate, e.volume_points, e.score, e.grade]))
        for row in ws.iter_rows(min_row=4, min_col=5, max_col=7):
            for cell in row:
                cell.number_format = "0.00%"
        ws.freeze_panes = "C4"
    wb.save(target)
    return data


def _add_chart(ws, grouping: str, n: int) -> None:
    chart = BarChart()
    chart.type = "col"
    chart.title = f"{GROUPING_TITLES[grouping]}：上报数与结案数"
    chart.y_axis.title = "件"
    reported_col = 3 + [a for a, _, _ in FIGURE_COLUMNS].index("reported")
    closed_col = 3 + [a for a, _, _ in FIGURE_COLUMNS].index("closed")
    for col in (reported_col, closed_col):
        chart.add_data(Reference(ws, min_col=col, min_row=3, max_row=3 + n), titles_from_data=True)
    chart.set_categories(Reference(ws, min_col=2, min_row=4, max_row=3 + n))
    chart.height, chart.width = 9, 22
    ws.add_chart(chart, f"A{n + 6}")


def report_csv(q: StatsQuery, grouping: str) -> Iterator[str]:
    rows = compute_many(q, [grouping])[grouping]
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    yield "\ufeff"  # Excel opens UTF-8 CSV as Chinese only with a BOM
    writer.writerow(["代码", KEY_TITLES[grouping], *[h for _, h, _ in FIGURE_COLUMNS]])
    for fig in rows:
        writer.writerow(["" if fig.key is None else fig.key, fig.label,
                         *["" if v is None else v for v in _figure_values(fig)]])
    yield buffer.getvalue()


# --- event lists ---------------------------------------------------------------------------------

EVENT_HEADERS = ("事件编号", "上报时间", "事件大类", "事件小类", "状态", "乡镇/街道", "村/社区", "网格", "处置部门",
                 "立案时间", "处置时限", "结案时间", "按期结案", "处置时长（工作小时）", "返工次数", "督办级别",
                 "自行处置", "地址", "描述")
STATE_LABELS = {
    "reported": "已上报", "registered": "已立案", "dispatched": "已派遣", "in_progress": "处置中",
    "handled": "已处置", "closed": "已结案", "rejected": "不予立案", "merged": "已合并", "returned": "已退回",
    "escalated": "已上报上级", "visited": "已回访",
}


def event_rows_stmt(figure: str, q: StatsQuery):
    township, village, grid = aliased(Area), aliased(Area), aliased(Area)
    major = aliased(Category)
    sub = aliased(Category)
    order = Event.reported_at if figure in ("reported", "self_resolved") else Event.registered_at
    return (
        select(Event.number, Event.reported_at, major.name_zh, sub.name_zh, Event.state, township.name,
               village.name, grid.name, Department.name, Event.registered_at, Event.deadline, Event.closed_at,
               Event.closed_on_time, Event.handling_working_seconds, Event.rework_count,
               Event.supervision_level, Event.self_resolved, Event.address, Event.description)
        .select_from(Event)
        .outerjoin(sub, sub.code == Event.category_code)
        .outerjoin(major, major.code == sub.parent_code)
        .outerjoin(township, township.code == Event.township_code)
        .outerjoin(village, village.code == Event.village_code)
        .outerjoin(grid, grid.code == Event.grid_code)
        .outerjoin(Department, Department.code == Event.department_code)
        .where(event_figure_clause(figure, q))
        .order_by(order.desc(), Event.id.desc())
    )


def _event_values(row, offset: timedelta) -> list:
    (number, reported, major, sub, state, township, village, grid, dept, registered, deadline, closed,
     on_time, seconds, reworks, supervision, self_resolved, address, description) = row

    def local(ts):
        # Text, not Excel dates: openpyxl spends ~10x longer per datetime cell than per string,
        # and "2026-10-01 08:30" sorts and filters the same in Excel.
        return (ts + offset).strftime("%Y-%m-%d %H:%M") if ts else None

    return [number, local(reported), major, sub, STATE_LABELS.get(state, state), township, village, grid, dept,
            local(registered), local(deadline), local(closed),
            None if on_time is None else ("是" if on_time else "否"),
            None if seconds is None else round(seconds / 3600, 2), reworks, supervision,
            "是" if self_resolved else "否", address, description]


def iter_event_rows(figure: str, q: StatsQuery, batch: int = 2000) -> Iterable[list]:
    offset = timedelta(minutes=utc_offset_minutes(q.period.tz, q.period.start))
    result = db.session.execute(event_rows_stmt(figure, q).execution_options(yield_per=batch))
    for row in result:
        yield _event_values(row, offset)


def write_events_xlsx(figure: str, q: StatsQuery, target) -> int:
    """Write-only workbook: rows go to disk as they come, so 100k rows need no more memory than 10."""
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("事件清单")
    ws.freeze_panes = "B2"
    widths = (18, 17, 10, 14, 9, 10, 10, 10, 14, 17, 17, 17, 8, 10, 8, 8, 8, 24, 40)
    for i, width in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(i)].width = width
    ws.append(list(EVENT_HEADERS))
    count = 0
    for values in iter_event_rows(figure, q):
        ws.append(_for_sheet(values))
        count += 1
    wb.save(target)
    return count


def events_csv(figure: str, q: StatsQuery) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    yield "\ufeff"
    writer.writerow(EVENT_HEADERS)
    for i, values in enumerate(iter_event_rows(figure, q), start=1):
        writer.writerow(["" if v is None else v for v in values])
        if i % 1000 == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()

"""The default workflow: the 7-step closed loop of 数字城管 (report, register, dispatch, handle, feed back,
verify, close), adapted to grid governance.  Written as data so a county can copy and change it.

Choices worth knowing (see DESIGN.md for the glossary):

* Verification is a flag, not a state.  `verify_pass` leaves the event `handled` and sets `verified`; the
  dispatcher's `close` requires that flag.  So the state list stays the one DESIGN.md fixes, a dispatcher still
  owns 结案, and a closed event always carries a verification unless it was self-resolved.
* `self_resolve` (自行处置) is fired from `reported` by the reporting grid worker right after the event is
  created, in the same transaction: the event is born `reported` and leaves it at once for `closed`.
* `escalate` hands the event to the county: the effect `escalate_to_county` makes the county its responsible
  area, so the 'area' rule afterwards admits county dispatchers only, and they `dispatch` from `escalated`.
* `return` pauses the clock (time spent `returned` is not charged); `redispatch` resumes it.
* Time limits are per category (a database table), not part of the workflow.
"""

from __future__ import annotations

import copy

from .definition import WorkflowDef

D, H, G, S = "dispatcher", "handler", "grid_worker", "supervisor"
OPEN = ["registered", "dispatched", "in_progress", "handled", "returned", "escalated"]

DEFAULT_DATA: dict = {
    "name": "default",
    "label_zh": "网格事件标准流程",
    "label_en": "Standard grid event workflow",
    "initial": "reported",
    "states": [
        {"name": "reported", "label_zh": "已上报", "label_en": "Reported", "terminal": False},
        {"name": "registered", "label_zh": "已立案", "label_en": "Registered", "terminal": False},
        {"name": "dispatched", "label_zh": "已派遣", "label_en": "Dispatched", "terminal": False},
        {"name": "in_progress", "label_zh": "处置中", "label_en": "In progress", "terminal": False},
        {"name": "handled", "label_zh": "已处置(待核查)", "label_en": "Handled (to verify)", "terminal": False},
        {"name": "closed", "label_zh": "已结案", "label_en": "Closed", "terminal": True},
        {"name": "rejected", "label_zh": "不予立案", "label_en": "Rejected", "terminal": True},
        {"name": "merged", "label_zh": "已合并", "label_en": "Merged", "terminal": True},
        {"name": "returned", "label_zh": "已退回", "label_en": "Returned", "terminal": False},
        {"name": "escalated", "label_zh": "已上报上级", "label_en": "Escalated", "terminal": False},
    ],
    "actions": [
        {"name": "register", "label_zh": "立案", "label_en": "Register",
         "sources": ["reported"], "dest": "registered", "roles": [D], "jurisdiction": "area",
         "effects": ["stamp_registered"]},
        {"name": "reject", "label_zh": "不予立案", "label_en": "Reject",
         "sources": ["reported"], "dest": "rejected", "roles": [D], "jurisdiction": "area",
         "requires": ["reason"], "effects": ["mark_rejected"]},
        {"name": "merge", "label_zh": "合并", "label_en": "Merge as duplicate",
         "sources": ["reported", "registered"], "dest": "merged", "roles": [D], "jurisdiction": "area",
         "requires": ["master_event"], "effects": ["link_master"]},
        {"name": "dispatch", "label_zh": "派遣", "label_en": "Dispatch",
         "sources": ["registered", "escalated"], "dest": "dispatched", "roles": [D], "jurisdiction": "area",
         "requires": ["department", "deadline"], "effects": ["set_deadline", "open_task"]},
        {"name": "redispatch", "label_zh": "改派", "label_en": "Re-dispatch",
         "sources": ["returned"], "dest": "dispatched", "roles": [D], "jurisdiction": "area",
         "requires": ["department"], "effects": ["resume_clock", "set_deadline", "open_task"]},
        {"name": "accept", "label_zh": "签收", "label_en": "Accept",
         "sources": ["dispatched"], "dest": "in_progress", "roles": [H], "jurisdiction": "department",
         "effects": ["accept_task"]},
        {"name": "return", "label_zh": "退回", "label_en": "Return",
         "sources": ["dispatched", "in_progress"], "dest": "returned", "roles": [H], "jurisdiction": "department",
         "requires": ["reason"], "effects": ["close_task", "pause_clock"], "unless": ["extension_pending"]},
        {"name": "submit_result", "label_zh": "处置反馈", "label_en": "Submit result",
         "sources": ["in_progress"], "dest": "handled", "roles": [H], "jurisdiction": "department",
         "requires": ["comment", "photos"], "effects": ["complete_task"], "unless": ["extension_pending"]},
        {"name": "verify_pass", "label_zh": "核查通过", "label_en": "Verify: passed",
         "sources": ["handled"], "dest": None, "roles": [G], "jurisdiction": "grid",
         "requires": ["photos"], "effects": ["mark_verified"], "unless": ["verified"]},
        {"name": "verify_fail", "label_zh": "核查不通过(返工)", "label_en": "Verify: failed (rework)",
         "sources": ["handled"], "dest": "dispatched", "roles": [G], "jurisdiction": "grid",
         "requires": ["reason", "photos"], "effects": ["count_rework", "reopen_task"], "unless": ["verified"]},
        {"name": "close", "label_zh": "结案", "label_en": "Close",
         "sources": ["handled"], "dest": "closed", "roles": [D], "jurisdiction": "area",
         "effects": ["close_task", "mark_closed"], "when": ["verified"]},
        {"name": "self_resolve", "label_zh": "自行处置", "label_en": "Resolve on the spot",
         "sources": ["reported"], "dest": "closed", "roles": [G], "jurisdiction": "grid",
         "requires": ["comment", "photos"], "effects": ["stamp_registered", "mark_self_resolved", "mark_closed"]},
        {"name": "escalate", "label_zh": "上报上级", "label_en": "Escalate to county",
         "sources": ["registered", "dispatched", "in_progress", "returned"], "dest": "escalated",
         "roles": [D, S], "jurisdiction": "area", "requires": ["reason"],
         "effects": ["close_task", "clear_extension", "escalate_to_county"]},
        {"name": "request_extension", "label_zh": "申请延期", "label_en": "Request extension",
         "sources": ["dispatched", "in_progress"], "dest": None, "roles": [H], "jurisdiction": "department",
         "requires": ["reason", "deadline"], "effects": ["flag_extension"], "unless": ["extension_pending"]},
        {"name": "approve_extension", "label_zh": "批准延期", "label_en": "Approve extension",
         "sources": ["dispatched", "in_progress"], "dest": None, "roles": [D], "jurisdiction": "area",
         "effects": ["extend_deadline", "clear_extension"], "when": ["extension_pending"]},
        {"name": "refuse_extension", "label_zh": "驳回延期", "label_en": "Refuse extension",
         "sources": ["dispatched", "in_progress"], "dest": None, "roles": [D], "jurisdiction": "area",
         "requires": ["reason"], "effects": ["clear_extension"], "when": ["extension_pending"]},
        {"name": "supervise", "label_zh": "督办", "label_en": "Supervise",
         "sources": OPEN, "dest": None, "roles": [S], "jurisdiction": "area",
         "requires": ["comment"], "effects": ["record_supervision"]},
        {"name": "reopen", "label_zh": "重新立案", "label_en": "Reopen",
         "sources": ["closed"], "dest": "registered", "roles": [D], "jurisdiction": "area",
         "requires": ["reason"], "effects": ["clear_closed", "clear_verified"]},
    ],
}


def default_data() -> dict:
    """A deep copy of the default definition's data, to derive county variants from."""
    return copy.deepcopy(DEFAULT_DATA)


DEFAULT = WorkflowDef.from_dict(DEFAULT_DATA)

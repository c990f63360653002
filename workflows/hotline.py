"""The 12345 hotline variant: after verification a dispatcher calls the citizen back (回访) and records the
satisfaction before closing; a dissatisfied citizen can send the case back for rework.

Built from the default definition purely as data, which is how a county adds a workflow without touching
the engine.
"""

from __future__ import annotations

from .default import default_data
from .definition import WorkflowDef


def hotline_data() -> dict:
    data = default_data()
    data.update(name="hotline", label_zh="12345热线工单流程", label_en="12345 hotline workflow")
    states = data["states"]
    at = next(i for i, s in enumerate(states) if s["name"] == "handled")
    states.insert(at + 1, {"name": "visited", "label_zh": "已回访", "label_en": "Visited (callback done)",
                           "terminal": False})
    actions = {a["name"]: a for a in data["actions"]}
    # Closing now follows the callback; the verification was already required to make the callback.
    actions["close"].update(sources=["visited"], when=[])
    actions["supervise"]["sources"].append("visited")
    at = next(i for i, a in enumerate(data["actions"]) if a["name"] == "close")
    data["actions"][at:at] = [
        {"name": "visit", "label_zh": "回访", "label_en": "Call back",
         "sources": ["handled"], "dest": "visited", "roles": ["dispatcher"], "jurisdiction": "area",
         "requires": ["satisfaction"], "effects": ["record_visit"], "when": ["verified"]},
        {"name": "visit_rework", "label_zh": "回访不满意(返工)", "label_en": "Callback: dissatisfied (rework)",
         "sources": ["visited"], "dest": "dispatched", "roles": ["dispatcher"], "jurisdiction": "area",
         "requires": ["reason"], "effects": ["count_rework", "clear_verified", "reopen_task"]},
    ]
    return data


HOTLINE = WorkflowDef.from_dict(hotline_data())

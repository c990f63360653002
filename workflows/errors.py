"""Domain errors of the workflow engine; the web layer maps each to an HTTP status and a bilingual message."""

from __future__ import annotations


class WorkflowError(Exception):
    """Base class: every error carries a stable `code`, an HTTP status hint and messages in zh and en."""

    code = "workflow_error"
    http_status = 400

    def __init__(self, message_zh: str, message_en: str, **details):
        super().__init__(message_en)
        self.message_zh = message_zh
        self.message_en = message_en
        self.details = details

    def message(self, lang: str = "zh") -> str:
        return self.message_en if lang.startswith("en") else self.message_zh

    def to_dict(self, lang: str = "zh") -> dict:
        return {"code": self.code, "message": self.message(lang), **{k: v for k, v in self.details.items()
                                                                     if isinstance(v, (str, int, float, bool, list, type(None)))}}


class WrongState(WorkflowError):
    """The action cannot be fired from the event's current state (or a state flag such as 'verified' is missing)."""

    code = "wrong_state"
    http_status = 409

    def __init__(self, action: str, state: str, reason_zh: str = "", reason_en: str = "", *,
                 labels: dict | None = None):
        lb = labels or {}
        zh = f"事件当前状态“{lb.get('state_zh', state)}”不能执行“{lb.get('action_zh', action)}”" + (
            f"：{reason_zh}" if reason_zh else "")
        en = f"'{lb.get('action_en', action)}' is not possible in state '{lb.get('state_en', state)}'" + (
            f": {reason_en}" if reason_en else "")
        super().__init__(zh, en, action=action, state=state)
        self.action = action
        self.state = state


class NotAllowed(WorkflowError):
    """The actor's role may not fire this action, or the event lies outside the actor's jurisdiction."""

    code = "not_allowed"
    http_status = 403

    def __init__(self, action: str, role: str, reason: str, *, labels: dict | None = None):
        # reason is 'role' or the name of the jurisdiction rule that failed
        lb = labels or {}
        a_zh, a_en = lb.get("action_zh", action), lb.get("action_en", action)
        if reason == "role":
            zh, en = f"您的角色无权执行“{a_zh}”", f"role '{role}' may not '{a_en}'"
        else:
            zh = f"该事件不在您的管辖范围内，不能执行“{a_zh}”"
            en = f"the event is outside your jurisdiction ({reason}) for '{a_en}'"
        super().__init__(zh, en, action=action, role=role, reason=reason)
        self.action = action
        self.role = role
        self.reason = reason


_INPUT_ZH = {
    "comment": "说明", "photos": "照片", "department": "处置部门", "deadline": "处置时限",
    "reason": "原因", "master_event": "主事件", "satisfaction": "满意度",
}


class MissingInput(WorkflowError):
    """A required input (comment, photos, department, deadline, reason, …) is absent."""

    code = "missing_input"
    http_status = 422

    def __init__(self, action: str, field: str, problem_zh: str = "缺少", problem_en: str = "is required", *,
                 labels: dict | None = None):
        lb = labels or {}
        zh = f"执行“{lb.get('action_zh', action)}”{problem_zh}{_INPUT_ZH.get(field, field)}"
        en = f"'{field}' {problem_en} for '{lb.get('action_en', action)}'"
        super().__init__(zh, en, action=action, field=field)
        self.action = action
        self.field = field


class InvalidInput(MissingInput):
    """An input is present but unusable (a naive deadline, an unknown satisfaction grade); treated like missing."""

    code = "invalid_input"

    def __init__(self, action: str, field: str, why_en: str = "is invalid", *, labels: dict | None = None):
        super().__init__(action, field, problem_zh="时输入无效：", problem_en=why_en, labels=labels)


class StaleVersion(WorkflowError):
    """Raised by the service layer when the compare-and-set on the event's version loses."""

    code = "stale_version"
    http_status = 409

    def __init__(self, expected: int | None = None, actual: int | None = None):
        super().__init__("事件已被他人修改，请刷新后重试", "the event was changed by someone else; reload and retry",
                         expected=expected, actual=actual)
        self.expected = expected
        self.actual = actual


class UnknownAction(WorkflowError):
    code = "unknown_action"
    http_status = 404

    def __init__(self, action: str, workflow: str):
        super().__init__(f"流程“{workflow}”没有操作“{action}”", f"workflow '{workflow}' has no action '{action}'",
                         action=action, workflow=workflow)
        self.action = action


class UnknownWorkflow(WorkflowError):
    code = "unknown_workflow"
    http_status = 404

    def __init__(self, name: str):
        super().__init__(f"未知流程“{name}”", f"unknown workflow '{name}'", workflow=name)
        self.name = name


class InvalidDefinition(WorkflowError, ValueError):
    """A workflow definition (usually loaded from data) is inconsistent."""

    code = "invalid_definition"
    http_status = 500

    def __init__(self, workflow: str, problem: str):
        super().__init__(f"流程定义“{workflow}”有误：{problem}", f"workflow definition '{workflow}' is invalid: {problem}",
                         workflow=workflow, problem=problem)
        self.problem = problem

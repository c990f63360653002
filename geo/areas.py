"""Administrative areas as plain records (county → township → village → grid) and their code rules."""
from __future__ import annotations

from dataclasses import dataclass

LEVELS = ("county", "township", "village", "grid")
# GB/T 2260 county code, then the statistical-division extensions, then the grid sequence.
CODE_LENGTH = {"county": 6, "township": 9, "village": 12, "grid": 15}
PARENT_LEVEL = {"county": None, "township": "county", "village": "township", "grid": "village"}
LEVEL_NAMES_ZH = {"county": "区县", "township": "乡镇/街道", "village": "村/社区", "grid": "网格"}


@dataclass
class AreaRecord:
    """One area: its code, name, level, parent's code (None for a county) and WGS-84 lon/lat polygon."""

    code: str
    name: str
    level: str
    parent_code: str | None
    geometry: object  # shapely Polygon or MultiPolygon

    @property
    def village_code(self) -> str | None:
        return self.code[:12] if len(self.code) >= 12 else None

    @property
    def township_code(self) -> str | None:
        return self.code[:9] if len(self.code) >= 9 else None


def level_of_code(code: str) -> str | None:
    """The level a code's length implies, or None when no level has that length."""
    for level, length in CODE_LENGTH.items():
        if len(code) == length:
            return level
    return None

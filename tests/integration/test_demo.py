"""The demo county is big enough to try things and shaped like a real one."""
import shapely
from shapely import unary_union

from gridgov.extensions import db
from gridgov.models import Area, Category, Department, User


def _count(level):
    return db.session.scalar(db.select(db.func.count()).select_from(Area).where(Area.level == level))


def test_demo_county_sizes(app_ctx):
    assert _count("county") == 1
    assert 4 <= _count("township") <= 6
    assert _count("village") >= 30
    assert _count("grid") >= 300


def test_grids_tile_their_village_without_gaps_or_overlaps(app_ctx):
    villages = db.session.scalars(db.select(Area).where(Area.level == "village")).all()
    for village in villages[:8]:
        grids = db.session.scalars(db.select(Area).where(Area.parent_code == village.code)).all()
        shapes = [shapely.from_wkb(g.geometry) for g in grids]
        assert all(s.is_valid for s in shapes)
        union = unary_union(shapes)
        outline = shapely.from_wkb(village.geometry)
        assert outline.symmetric_difference(union).area < outline.area * 1e-6
        assert sum(s.area for s in shapes) - union.area < outline.area * 1e-6
        assert all(g.code.startswith(village.code) and len(g.code) == 15 for g in grids)


def test_departments_categories_and_one_user_per_role(app_ctx):
    names = set(db.session.scalars(db.select(Department.name)))
    assert {"城市管理局", "市场监督管理局", "水务局", "公安局派出所", "应急管理局"} <= names
    majors = set(db.session.scalars(db.select(Category.name_zh).where(Category.parent_code.is_(None))))
    assert {"市容环境", "矛盾纠纷", "治安隐患", "安全生产", "民生服务"} <= majors
    roles = set(db.session.scalars(db.select(User.role).where(User.username.like("demo_%"))))
    assert roles == {"grid_worker", "dispatcher", "handler", "supervisor", "admin"}

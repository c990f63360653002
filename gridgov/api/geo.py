"""GET /api/v1/geo/locate: which grid, village and township a point falls in."""
from __future__ import annotations

from flask_login import login_required
from flask_smorest import Blueprint

from gridgov.api.responses import errors
from gridgov.api.schemas import LocateArgs, LocateResponse
from gridgov.services.geofence import locate_point

blp = Blueprint("geo", __name__, url_prefix="/api/v1/geo", description="Geofencing")


@blp.route("/locate", methods=["GET"])
@blp.arguments(LocateArgs, location="query")
@blp.response(200, LocateResponse)
@errors(blp, 400)
@login_required
def locate(args):
    return locate_point(args["lon"], args["lat"], args["crs"])

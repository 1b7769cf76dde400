"""The reader's preferences: for now, the time zone dates are shown in (UTC by default)."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, session, url_for
from werkzeug.wrappers import Response

from app.web.formatting import TIME_ZONE_SESSION_KEY
from app.web.forms import TimeZoneForm

blp = Blueprint("preferences", __name__)


@blp.route("/preferences", methods=["GET", "POST"])
def preferences() -> Response | tuple[str, int]:
    form = TimeZoneForm()
    if request.method == "GET":
        form.time_zone.data = session.get(TIME_ZONE_SESSION_KEY, "")
        form.next.data = local_path(request.args.get("next"))
    if form.validate_on_submit():
        if form.time_zone.data:
            session[TIME_ZONE_SESSION_KEY] = form.time_zone.data
        else:
            session.pop(TIME_ZONE_SESSION_KEY, None)
        return redirect(local_path(form.next.data) or url_for("web.preferences.preferences"))
    status = 400 if request.method == "POST" else 200
    return render_template("preferences.html", form=form), status


def local_path(target: str | None) -> str | None:
    """Only a path on this site: never an open redirect to someone else's."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return None
    return target

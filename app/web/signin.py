"""Signing in to the pages (Flask-Login): the session cookie names a user; views ask who.

Views use :func:`signed_in` (None for the public), ``@login_required`` (Flask-Login's: sends the
public to the sign-in page) and :func:`require_pot_role` (403 page without one of the roles in
that pot; a site admin passes). Sign-in failures are rate-limited like the API's
(``app.ratelimit``) and answer the same for an unknown email and a wrong password.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, Flask, redirect, render_template, request, session, url_for
from flask_login import LoginManager, current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import EmailField, HiddenField, PasswordField
from wtforms.validators import DataRequired, Length

from app.extensions import database
from app.ratelimit import failed_sign_ins, failed_sign_ins_per_email
from app.web.preferences import local_path
from ledger.errors import Forbidden, Unauthenticated
from ledger.people import accounts
from ledger.people.membership import may_act
from ledger.people.models import Role, User

blp = Blueprint("signin", __name__)
login_manager = LoginManager()
login_manager.login_view = "web.signin.sign_in"
login_manager.login_message = "Please sign in to see that page."
login_manager.session_protection = "basic"

__all__ = ["SignedIn", "blp", "init_signin", "login_required", "require_pot_role", "signed_in"]


@dataclass(frozen=True)
class SignedIn:
    """Who is signed in, as the pages need it (never the password hash)."""

    id: int
    email: str
    name: str
    is_admin: bool

    # Flask-Login's user protocol.
    is_authenticated = True
    is_active = True
    is_anonymous = False

    def get_id(self) -> str:
        return str(self.id)


def init_signin(app: Flask) -> None:
    login_manager.init_app(app)


@login_manager.user_loader
def _load(user_id: str) -> SignedIn | None:
    if not user_id.isdigit():
        return None
    with database().read() as db_session:
        user = db_session.get(User, int(user_id))
        return None if user is None else _signed_in(user)


def _signed_in(user: User) -> SignedIn:
    return SignedIn(user.id, user.email, user.display_name, user.is_admin)


def signed_in() -> SignedIn | None:
    user = current_user
    return user if isinstance(user, SignedIn) else None


def require_pot_role(slug: str, *roles: Role) -> SignedIn:
    """The signed-in person, if they hold one of ``roles`` in pot ``slug`` (any role if none)."""
    user = signed_in()
    if user is None:
        raise Unauthenticated("please sign in first")
    with database().read() as db_session:
        allowed = may_act(db_session, user, slug, roles)
    if not allowed:
        wanted = " or ".join(r.value for r in roles) if roles else "member"
        raise Forbidden(f"only a {wanted} of this pot may do this")
    return user


class SignInForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired(), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=1024)])
    next = HiddenField()


class SignOutForm(FlaskForm):
    pass


@blp.route("/sign-in", methods=["GET", "POST"])
@failed_sign_ins
@failed_sign_ins_per_email
def sign_in() -> Response | tuple[str, int]:
    form = SignInForm()
    if request.method == "GET":
        form.next.data = local_path(request.args.get("next"))
    if form.validate_on_submit():
        try:
            with database().read() as db_session:
                user = accounts.authenticate(db_session, form.email.data, form.password.data)
                person = _signed_in(user)
        except Unauthenticated as exc:
            form.password.errors = [exc.detail[0].upper() + exc.detail[1:] + "."]
            return render_template("signin/sign_in.html", form=form), 401
        session.clear()  # a new session for the signed-in person (no fixation)
        login_user(person)
        return redirect(local_path(form.next.data) or url_for("web.index"))
    status = 400 if request.method == "POST" else 200
    return render_template("signin/sign_in.html", form=form), status


@blp.post("/sign-out")
def sign_out() -> Response | tuple[str, int]:
    form = SignOutForm()
    if not form.validate_on_submit():
        return render_template(
            "errors/error.html", title="Bad request", detail="Please try again."
        ), 400
    logout_user()
    session.clear()
    return redirect(url_for("web.index"))

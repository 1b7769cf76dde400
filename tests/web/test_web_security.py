"""The web's security foundation: CSRF on forms, careful cookies, headers on every response."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from app import create_app
from helpers import dispose_app, make_app
from ledger.db import Database


def public_pages(slug: str) -> list[str]:
    return [
        "/",
        f"/pots/{slug}",
        f"/pots/{slug}/ledger",
        f"/pots/{slug}/ledger?kind=nonsense",
        f"/pots/{slug}/ledger/1",
        f"/pots/{slug}/opencollective",
        "/preferences",
        "/pots/no-such-pot",
    ]


def test_every_page_carries_the_security_headers(client: FlaskClient, busy_pot: str) -> None:
    for path in [*public_pages(busy_pot), f"/pots/{busy_pot}/feed.atom", "/api/v1/pots"]:
        response = client.get(path)
        policy = response.headers["Content-Security-Policy"]
        assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy, path
        assert "unsafe-inline" not in policy and "unsafe-eval" not in policy, path
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"


def test_pages_have_no_inline_script_or_style_and_load_nothing_from_elsewhere(
    client: FlaskClient, busy_pot: str
) -> None:
    for path in public_pages(busy_pot):
        html = client.get(path).get_data(as_text=True)
        assert "<script" not in html and "<style" not in html, path
        assert not re.search(r"\sstyle=", html), path
        assert not re.search(r'(?:src|href)="(?:https?:)?//', html), path


def test_swagger_ui_may_run_its_one_inline_script_by_hash_only(client: FlaskClient) -> None:
    response = client.get("/api/v1/docs")
    policy = response.headers["Content-Security-Policy"]
    assert re.search(r"script-src 'self' 'sha256-[A-Za-z0-9+/=]{44}'(;|$)", policy)
    assert "frame-ancestors 'none'" in policy


def test_a_form_posted_without_its_csrf_token_is_refused(client: FlaskClient) -> None:
    client.get("/preferences")  # a session exists, but the form's token is missing
    response = client.post("/preferences", data={"time_zone": "Europe/Paris"})
    assert response.status_code == 400
    assert "This form could not be accepted" in response.get_data(as_text=True)
    html = client.get("/").get_data(as_text=True)
    assert "Times in UTC" in html  # nothing was changed


def test_a_form_posted_with_a_wrong_csrf_token_is_refused(client: FlaskClient) -> None:
    client.get("/preferences")
    response = client.post(
        "/preferences", data={"time_zone": "Europe/Paris", "csrf_token": "forged"}
    )
    assert response.status_code == 400


def test_token_authenticated_routes_need_no_csrf_token(client: FlaskClient, pot_slug: str) -> None:
    # Refused for their own reasons (no operator token, unknown webhook), never for CSRF.
    link = client.post(f"/api/v1/pots/{pot_slug}/opencollective/link", json={"collective": "x"})
    assert link.status_code in (401, 403) and link.mimetype == "application/problem+json"
    hook = client.post("/integrations/opencollective/webhooks/not-a-token", json={})
    assert hook.status_code == 404


def test_the_session_cookie_is_httponly_and_samesite_lax(client: FlaskClient) -> None:
    response = client.get("/preferences")
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # tests, like development, are plain HTTP


def test_the_session_cookie_is_secure_outside_development_and_tests(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("COMMONPOT_ENV", raising=False)
    url = db.engine.url.render_as_string(False)
    production = create_app({"DATABASE_URL": url, "SECRET_KEY": "k"})
    testing = make_app(db, tmp_path)
    monkeypatch.setenv("COMMONPOT_ENV", "development")
    development = create_app({"DATABASE_URL": url, "SECRET_KEY": "k"})
    try:
        assert production.config["SESSION_COOKIE_SECURE"] is True
        cookie = production.test_client().get("/preferences").headers["Set-Cookie"]
        assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
        assert testing.config["SESSION_COOKIE_SECURE"] is False
        assert development.config["SESSION_COOKIE_SECURE"] is False
    finally:
        for application in (production, testing, development):
            dispose_app(application)

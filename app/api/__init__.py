"""The JSON API (flask-smorest): OpenAPI 3 at /api/v1/openapi.json, docs at /api/v1/docs."""

from __future__ import annotations

import http
from typing import Any

import swagger_ui_bundle
from flask import Blueprint, Flask, Response, send_from_directory
from flask_smorest import Api
from flask_smorest.utils import prepare_response
from werkzeug.exceptions import HTTPException

from app.api.schemas import ProblemSchema
from app.problems import PROBLEM_JSON, from_http_exception


class ProblemApi(Api):
    """flask-smorest's Api, answering every HTTP error as RFC 9457 problem+json."""

    ERROR_SCHEMA = ProblemSchema

    def handle_http_exception(self, error: HTTPException) -> Response:
        return from_http_exception(error)

    def _register_responses(self) -> None:
        """Document every error answer as what it is: RFC 9457 problem+json."""
        for status in http.HTTPStatus:
            response: dict[str, Any] = {"description": status.phrase}
            if status >= 400:
                response["schema"] = ProblemSchema
            prepare_response(response, self.spec, PROBLEM_JSON)
            self.spec.components.response(status.name, response, lazy=True)
        response = {"description": "Default error response", "schema": ProblemSchema}
        prepare_response(response, self.spec, PROBLEM_JSON)
        self.spec.components.response(self.DEFAULT_ERROR_RESPONSE_NAME, response, lazy=True)


API_SETTINGS: dict[str, Any] = {
    "API_TITLE": "Commonpot API",
    "API_VERSION": "v1",
    "OPENAPI_VERSION": "3.0.3",
    "OPENAPI_URL_PREFIX": "/api/v1",
    "OPENAPI_JSON_PATH": "openapi.json",
    # Interactive docs, with Swagger UI's files served by us (swagger-ui-bundle), never a CDN.
    "OPENAPI_SWAGGER_UI_PATH": "docs",
    "OPENAPI_SWAGGER_UI_URL": "/api/v1/docs/assets/",
    "OPENAPI_REDOC_PATH": None,
    "OPENAPI_RAPIDOC_PATH": None,
}


def init_api(app: Flask) -> ProblemApi:
    for key, value in API_SETTINGS.items():
        app.config.setdefault(key, value)
    api = ProblemApi(app)
    app.register_blueprint(_swagger_assets)
    from app.api import (
        auth,
        events,
        members,
        opencollective,
        pots,
        proofs,
        proposals,
        rounds,
        rules,
    )
    from app.api.access import init_access
    from app.ratelimit import init_rate_limits

    init_rate_limits(app)
    init_access(app)

    api.register_blueprint(pots.blp, url_prefix="/api/v1/pots")
    api.register_blueprint(opencollective.blp, url_prefix="/api/v1/pots")
    api.register_blueprint(proofs.blp, url_prefix="/api/v1")
    api.register_blueprint(rules.blp, url_prefix="/api/v1/pots")
    api.register_blueprint(proposals.blp, url_prefix="/api/v1")
    api.register_blueprint(auth.blp, url_prefix="/api/v1")
    api.register_blueprint(members.blp, url_prefix="/api/v1")
    api.register_blueprint(events.blp, url_prefix="/api/v1")
    api.register_blueprint(rounds.blp, url_prefix="/api/v1")
    return api


_swagger_assets = Blueprint("swagger_assets", __name__)


@_swagger_assets.get("/api/v1/docs/assets/<path:filename>")
def swagger_asset(filename: str) -> Response:
    return send_from_directory(swagger_ui_bundle.swagger_ui_path, filename, max_age=86400)

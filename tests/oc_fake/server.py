"""A real HTTP server (127.0.0.1, random port) speaking Open Collective's GraphQL v2 over POST.

Order of work for each request, the stricter choice where the real API differs:
1. parse and check the query against the real schema (schema.check_request); a request the real
   API would refuse is answered 400 with GraphQL errors AND kept in `rejected_queries`, which the
   pytest fixture asserts empty at teardown, so a bad query fails the test that sent it;
2. apply the next scripted fault, if any (status / delay / drop);
3. check the Personal-Token header (401 in the real API's error format, which echoes the token);
4. execute against the real schema (resolvers.execute) and answer 200.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import traceback
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

from .resolvers import execute
from .schema import CheckedRequest, check_request, load_schema
from .state import FakeOpenCollective, Fault, RecordedRequest

GRAPHQL_PATH = "/graphql/v2"


@dataclass(frozen=True)
class RejectedQuery:
    operation_name: str | None
    query: str | None
    variables: Any
    errors: list[str]


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    app: FakeServer


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like the real API behind its load balancer
    server: _HTTPServer
    timeout = 10  # an idle kept-alive connection does not hold a thread forever

    def setup(self) -> None:
        super().setup()
        self.server.app.track(self.connection, add=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.app.track(self.connection, add=False)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep test output clean; what matters is recorded on the fake

    def do_GET(self) -> None:
        self._send(405, {"error": {"code": 405, "message": "GraphQL v2 expects POST"}})

    def do_POST(self) -> None:
        app = self.server.app
        try:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            if self.path.split("?", 1)[0] != GRAPHQL_PATH:
                self._send(404, {"error": {"code": 404, "message": "Not found"}})
                return
            status, body = app.respond(raw, self.headers.get("Personal-Token"), self)
            if status:
                self._send(status, body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (timeout test): nothing to answer
        except Exception:
            app.internal_errors.append(traceback.format_exc())
            self._send(500, {"error": {"code": 500, "message": "fake server bug"}})

    def _send(
        self,
        status: int,
        body: Any,
        headers: dict[str, str] | None = None,
        *,
        truncate: bool = False,
    ) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if truncate:
            # Headers promise the whole body; half arrives and the connection closes.
            self.wfile.write(data[: len(data) // 2])
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.wfile.write(data)


class FakeServer:
    """Runs the fake in a background thread. Use as a context manager, or start()/stop()."""

    def __init__(self, fake: FakeOpenCollective | None = None) -> None:
        self.fake = fake if fake is not None else FakeOpenCollective()
        self.rejected_queries: list[RejectedQuery] = []
        self.internal_errors: list[str] = []
        self._stopping = threading.Event()
        self._connections: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        if self._httpd is None:
            raise RuntimeError("server not started")
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}{GRAPHQL_PATH}"

    def start(self) -> FakeServer:
        # Build the schema now (~0.7 s, cached): the first request must not be slow enough to
        # trip a test's short read timeout.
        load_schema()
        self._httpd = _HTTPServer(("127.0.0.1", 0), _Handler)
        self._httpd.app = self
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is None:
            return
        self._stopping.set()  # wakes handlers sleeping in a delay fault
        self._httpd.shutdown()
        with self._lock:
            connections = list(self._connections)
        for conn in connections:  # unblock handlers waiting on kept-alive connections
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        self._httpd.server_close()  # joins the handler threads
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = None

    def __enter__(self) -> FakeServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def track(self, conn: socket.socket, *, add: bool) -> None:
        with self._lock:
            (self._connections.add if add else self._connections.discard)(conn)

    # --- one request -------------------------------------------------------------------------

    def respond(self, raw: bytes, token: str | None, handler: _Handler) -> tuple[int, Any]:
        """Return (status, body) to send, or (0, None) when the handler already answered."""
        try:
            payload = json.loads(raw)
        except ValueError:
            payload = None
        checked = check_request(payload)
        op_name = payload.get("operationName") if isinstance(payload, dict) else None
        variables = payload.get("variables") if isinstance(payload, dict) else None
        fault = self.fake.take_fault(op_name) if isinstance(checked, CheckedRequest) else None
        self.fake.record(RecordedRequest(op_name, dict(variables or {}), token is not None, fault))
        if not isinstance(checked, CheckedRequest):
            query = payload.get("query") if isinstance(payload, dict) else None
            self.rejected_queries.append(RejectedQuery(op_name, query, variables, checked))
            errors = [
                {"message": m, "extensions": {"code": "GRAPHQL_VALIDATION_FAILED"}} for m in checked
            ]
            return 400, {"errors": errors}
        if fault is not None and fault.kind == "status":
            self._answer_status_fault(handler, fault)
            return 0, None
        status, body = self._authorised_answer(checked, token)
        if fault is not None and fault.kind == "delay":
            # The work is done (a mutation is applied); only the answer is late.
            self._stopping.wait(fault.seconds)
        if fault is not None and fault.kind == "drop":
            handler._send(status, body, truncate=True)
            return 0, None
        return status, body

    def _answer_status_fault(self, handler: _Handler, fault: Fault) -> None:
        headers = {} if fault.retry_after is None else {"Retry-After": fault.retry_after}
        message = "Rate limit exceeded" if fault.status == 429 else "Injected failure"
        handler._send(fault.status, {"error": {"code": fault.status, "message": message}}, headers)

    def _authorised_answer(self, checked: CheckedRequest, token: str | None) -> tuple[int, Any]:
        if token != self.fake.token:
            # Open Collective's auth middleware answers this way, echoing the token it refused.
            message = (
                "Personal token required"
                if token is None
                else f"Invalid Personal Token (Api Key): {token}"
            )
            return 401, {"error": {"code": 401, "type": "unauthorized", "message": message}}
        return 200, execute(self.fake, checked)

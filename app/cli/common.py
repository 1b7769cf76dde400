"""What every command shares: errors as one line and exit code 2, the database."""

from __future__ import annotations

import getpass
import logging
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from types import FrameType
from typing import Any, TypeVar

import click

from app.extensions import database
from ledger.errors import LedgerError

F = TypeVar("F", bound=Callable[..., Any])
log = logging.getLogger(__name__)


class CommandError(click.ClickException):
    """A refused request: printed as one line, exit code 2, nothing written."""

    exit_code = 2

    def format_message(self) -> str:
        return self.message


def refusals_as_errors(func: F) -> F:
    """Turn domain errors into one-line CLI errors."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except LedgerError as exc:
            raise CommandError(f"{exc.title}: {exc.detail}") from None

    return wrapper  # type: ignore[return-value]


def cli_actor() -> str:
    """Who did it: the operating-system user running the command."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


@contextmanager
def write_session() -> Iterator[Any]:
    with database().write() as session:
        yield session


@contextmanager
def stop_on_signals() -> Iterator[threading.Event]:
    """SIGTERM (the platform stopping a worker) and SIGINT end a worker's loop after the current
    step: each step's transaction commits or rolls back whole, so stopping never leaves half."""
    stop = threading.Event()

    def handler(signum: int, frame: FrameType | None) -> None:
        log.info("signal %s: stopping after the current step", signum)
        stop.set()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield stop
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


EVERY_HELP = "Keep doing it every SECONDS until SIGTERM/SIGINT (for a Procfile process)."


def once_or_every(every: int | None, step: Callable[[], None], what: str) -> None:
    """Run ``step`` once, or (``every`` seconds) until the process is told to stop; a failed
    step is logged and tried again next time, so a worker outlives a database restart."""
    if every is None:
        step()
        return
    with stop_on_signals() as stop:
        click.echo(f"{what} every {every}s until stopped")
        while not stop.is_set():
            try:
                step()
            except Exception:
                log.exception("%s failed; trying again in %ss", what, every)
            stop.wait(every)
    click.echo("stopped")

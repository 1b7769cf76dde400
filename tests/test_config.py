"""Start-up configuration: clear errors, generated secrets, and the real console script."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from app.settings import ConfigurationError, load_settings

COMMONPOT = str(Path(sys.executable).parent / "commonpot")


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("not a url", "is not a database URL"),
        ("mysql://u@h/db", "supports sqlite and postgresql"),
    ],
)
def test_bad_database_url_is_a_clear_error(url: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        load_settings(database_url=url)


def run(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "COMMONPOT_INSTANCE_PATH": str(tmp_path / "instance"), **env}
    environment.pop("SECRET_KEY", None)
    return subprocess.run(
        [COMMONPOT, *args], capture_output=True, text=True, env=environment, timeout=60
    )


def test_console_script_reports_bad_url_in_one_line(tmp_path: Path) -> None:
    result = run(tmp_path, "pot", "list", DATABASE_URL="nonsense://")
    assert result.returncode == 2
    assert result.stderr.startswith("commonpot: configuration error:"), result.stderr
    assert "Traceback" not in result.stderr


def test_secret_key_is_generated_once_and_private(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    assert run(tmp_path, "db", "upgrade", DATABASE_URL=url).returncode == 0
    key_file = tmp_path / "instance" / "secret_key"
    first = key_file.read_text()
    assert len(first) >= 40 and oct(key_file.stat().st_mode & 0o777) == "0o600"
    assert run(tmp_path, "pot", "list", DATABASE_URL=url).returncode == 0
    assert key_file.read_text() == first


def test_default_database_is_sqlite_under_instance(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("COMMONPOT_INSTANCE_PATH", str(tmp_path / "inst"))
    settings = load_settings(secret_key="x")
    assert settings.database_url == f"sqlite:///{tmp_path / 'inst' / 'commonpot.sqlite3'}"

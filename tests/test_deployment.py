"""Docker cannot run here, so the deployment files are checked as text: every service, variable, command and
port they reference must exist and agree with each other and with .env.example."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from django.core.management import get_commands

ROOT = Path(__file__).resolve().parent.parent
VAR = re.compile(r"\$\{([A-Z_][A-Z0-9_]*)(?::?[-?][^}]*)?\}")


def compose(name: str) -> dict[str, Any]:
    return yaml.safe_load((ROOT / name).read_text())


def documented() -> set[str]:
    return set(re.findall(r"^([A-Z_][A-Z0-9_]*)=", (ROOT / ".env.example").read_text(), re.M))


def settings_variables() -> set[str]:
    found: set[str] = set()
    for path in (ROOT / "aresbot").glob("*.py"):
        text = path.read_text()
        found |= set(re.findall(r"env(?:str|bool|int|float|list)\(\s*['\"]([A-Z_][A-Z0-9_]*)['\"]", text))
        found |= set(re.findall(r"os\.environ(?:\.get)?[\[(]\s*['\"]([A-Z_][A-Z0-9_]*)['\"]", text))
    return found


@pytest.mark.parametrize("name", ["docker-compose.yml", "docker-compose.worker.yml"])
def test_every_variable_a_compose_file_uses_is_documented(name):
    used = set(VAR.findall((ROOT / name).read_text()))
    assert used, "found no ${VAR} at all: the scan is broken"
    assert not used - documented(), f"{name} uses variables missing from .env.example: {used - documented()}"


@pytest.mark.parametrize("name", ["docker-compose.yml", "docker-compose.worker.yml"])
def test_the_app_containers_only_set_variables_the_app_reads(name):
    container_only = {"MYSQL_ROOT_PASSWORD", "TZ", "REDIS_PASSWORD"}
    known = settings_variables() | container_only
    for service_name, service in compose(name)["services"].items():
        if "build" not in service and service.get("image", "").startswith(("mysql", "redis", "nginx")):
            continue
        env = service.get("environment", {})
        unknown = set(env) - known
        assert not unknown, f"{name}:{service_name} sets variables nothing reads: {unknown}"


@pytest.mark.parametrize("name", ["docker-compose.yml", "docker-compose.worker.yml"])
def test_the_app_containers_use_the_compose_redis_even_with_bin_runs_redis_url_in_env(name):
    # bin/run writes REDIS_URL (its own Redis socket) into .env, which env_file passes on; REDIS_URL wins over
    # REDIS_HOST, so each app container must set it empty.
    for service_name, service in compose(name)["services"].items():
        if service.get("env_file") == ".env":
            env = service["environment"]
            assert env.get("REDIS_URL") == "" and env.get("REDIS_HOST"), service_name


def test_the_main_node_has_every_service_with_a_health_check():
    services = compose("docker-compose.yml")["services"]
    assert set(services) == {"nginx", "web", "worker", "scheduler", "mysql", "redis"}
    for name, service in services.items():
        assert "healthcheck" in service, name
    assert services["mysql"]["image"].startswith("mysql:8")
    assert services["redis"]["image"].startswith("redis:7.")
    assert "--requirepass" in services["redis"]["command"]
    assert any("MYSQL_DEFAULT_TIME_ZONE" in part for part in services["mysql"]["command"])
    assert "MYSQL_TZ" in str(services["mysql"]["environment"])
    assert {"mysql-data", "redis-data"} <= set(compose("docker-compose.yml")["volumes"])


MINOR_TAG = re.compile(r"[a-z0-9./-]+:\d+\.\d+(?:\.\d+)?(?:-[a-z0-9.]+)?")


def test_third_party_images_are_pinned_to_a_minor_version():
    checked = []
    for name in ("docker-compose.yml", "docker-compose.worker.yml"):
        for service_name, service in compose(name)["services"].items():
            if "build" in service:
                continue  # our own image, built from this checkout
            image = service["image"]
            assert MINOR_TAG.fullmatch(image), f"{name}:{service_name}: {image} is not pinned to a minor version"
            checked.append(image.split(":")[0])
    assert sorted(checked) == ["mysql", "nginx", "redis"]
    for bad in ("redis:latest", "redis:7-alpine", "nginx", "nginx:alpine", "mysql:8"):
        assert not MINOR_TAG.fullmatch(bad), bad


def test_the_image_builds_on_numbered_base_images():
    dockerfile = (ROOT / "Dockerfile").read_text()
    stages = {alias: image for image, alias in re.findall(r"^FROM (\S+)(?: AS (\w+))?", dockerfile, re.M)}
    assert re.fullmatch(r"node:\d+-slim", stages["spa"]), f"{stages['spa']}: a numbered Node line, not latest or lts"
    assert re.fullmatch(r"python:3\.\d+-slim", stages["build"]), stages["build"]
    assert stages[""] == stages["build"], "the runtime stage runs the Python the build stage compiled for"


def test_worker_nodes_join_the_main_node_through_master_host():
    worker = compose("docker-compose.worker.yml")["services"]["worker"]
    env = worker["environment"]
    assert "MASTER_HOST" in env["MYSQL_HOST"]
    assert "MASTER_HOST" in env["REDIS_HOST"]
    assert "MASTER_MYSQL_PORT" in str(env["MYSQL_PORT"])
    assert "MASTER_REDIS_PORT" in str(env["REDIS_PORT"])
    assert worker["command"] == compose("docker-compose.yml")["services"]["worker"]["command"]


def test_the_commands_the_containers_run_exist():
    commands = get_commands()
    for name in ("docker-compose.yml", "docker-compose.worker.yml"):
        for service_name, service in compose(name)["services"].items():
            text = service.get("command") if isinstance(service.get("command"), str) else ""
            text += " " + " ".join(service.get("healthcheck", {}).get("test", []))
            for command in re.findall(r"manage\.py (\w+)", text):
                assert command in commands, f"{name}:{service_name} runs unknown manage.py {command}"
    scheduler = compose("docker-compose.yml")["services"]["scheduler"]["command"]
    module = scheduler.split()[-1]
    assert (ROOT / (module.replace(".", "/") + ".py")).is_file(), module


def test_ports_agree_between_nginx_compose_gunicorn_and_the_dockerfile():
    services = compose("docker-compose.yml")["services"]
    nginx = (ROOT / "nginx.conf").read_text()
    assert "server web:8000;" in nginx
    assert "listen 80;" in nginx
    assert services["nginx"]["ports"] == ["${NGINX_PORT:-80}:80"]
    assert "./nginx.conf:/etc/nginx/conf.d/default.conf:ro" in services["nginx"]["volumes"]
    assert services["web"]["expose"] == ["8000"]
    assert "--bind 0.0.0.0:8000" in services["web"]["command"]
    assert services["mysql"]["ports"] == ["${MYSQL_PORT:-3306}:3306"]
    assert services["redis"]["ports"] == ["${REDIS_PORT:-6379}:6379"]
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "EXPOSE 8000" in dockerfile
    assert "0.0.0.0:8000" in dockerfile


def test_the_image_is_multi_stage_slim_and_not_root():
    dockerfile = (ROOT / "Dockerfile").read_text()
    stages = re.findall(r"^FROM (\S+)(?: AS (\w+))?", dockerfile, re.M)
    assert [s[1] for s in stages] == ["spa", "build", ""]
    assert stages[0][0].startswith("node:")
    assert stages[2][0].endswith("-slim")
    assert re.search(r"^USER aresbot$", dockerfile, re.M)
    for copied in re.findall(r"^COPY (?!--from)(?:--\S+ )*(\S+) ", dockerfile, re.M):
        if copied != ".":
            assert (ROOT / copied).exists(), copied
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert ".env" in ignored and ".venv" in ignored


def test_the_readme_documents_both_deployments_and_the_redis_checks():
    readme = (ROOT / "README.md").read_text()
    for needle in (
        "docker compose up -d",
        "docker-compose.worker.yml",
        "--scale worker=",
        "KEYS strategy:running:*",
        "SMEMBERS workers:active",
        "MASTER_HOST",
    ):
        assert needle in readme, needle

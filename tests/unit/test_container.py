"""The Dockerfile and compose.yaml, checked without a container engine: the compose file parses, names the
services the app needs and only settings the app reads, with values it accepts and hosts that are its own
services; every command is one `backorder` really has; the image is built from Debian and PyPI only."""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from unittest import mock
from urllib.parse import urlsplit

import pytest
import yaml

from api.cli import build_parser
from api.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "compose.yaml").read_text())
SERVICES = COMPOSE["services"]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def dockerfile() -> list[tuple[str, str]]:
    """(instruction, arguments), continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text())
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1] if " " in line else "") for line in lines]


def read_by_the_code() -> set[str]:
    names: set[str] = set()
    for package in ("api", "domain", "notifications"):
        for path in (ROOT / package).rglob("*.py"):
            names |= set(re.findall(r"[\"'](BACKORDER_[A-Z0-9_]+|PROMETHEUS_MULTIPROC_DIR)[\"']", path.read_text()))
    return names


def environment(service: str) -> dict[str, str]:
    """The service's environment as the container sees it (${VAR:-default} resolved to its default)."""
    raw = SERVICES[service].get("environment", {})
    return {k: re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", str(v)) for k, v in raw.items()}


def backorder_command(argv: list[str]) -> None:
    assert argv[0] in PYPROJECT["project"]["scripts"], argv
    build_parser().parse_args(argv[1:])  # argparse exits on anything `backorder` does not have


def test_compose_has_the_app_its_worker_and_what_they_need():
    assert set(SERVICES) == {"app", "worker", "postgres", "redis", "smtp"}
    for name in ("app", "worker"):
        backorder_command(SERVICES[name]["command"])
    assert SERVICES["worker"]["command"][1] == "worker"
    assert SERVICES["worker"]["image"] == SERVICES["app"]["image"]  # one image, built once


@pytest.mark.parametrize("service", ["app", "worker"])
def test_compose_sets_only_settings_the_app_reads_and_it_accepts_them(service):
    env = environment(service)
    unknown = set(env) - read_by_the_code()
    assert not unknown, f"{service} sets variables nothing reads: {unknown}"
    with mock.patch.dict(os.environ, env, clear=True):
        settings = Settings.from_env()  # a bad value is a SystemExit here
    database, redis = urlsplit(settings.database_url), urlsplit(settings.redis_url or "")
    smtp = settings.notifications.smtp
    assert smtp is not None
    postgres = SERVICES["postgres"]["environment"]
    assert (database.scheme, database.hostname, database.port) == ("postgres", "postgres", 5432)
    assert (database.username, database.password, database.path) == (
        postgres["POSTGRES_USER"], postgres["POSTGRES_PASSWORD"], "/" + postgres["POSTGRES_DB"])
    assert redis.hostname in SERVICES and smtp.host in SERVICES  # each points at a service of this file
    assert smtp.port == 1025  # the sink's SMTP port (Mailpit's)
    assert not settings.inprocess_worker  # the worker service sends


def test_the_app_listens_where_compose_and_its_health_check_look():
    from api.app import create_app

    command = SERVICES["app"]["command"]
    args = build_parser().parse_args(command[1:])
    assert f"{args.port}:{args.port}" in SERVICES["app"]["ports"] and args.host == "0.0.0.0"
    assert args.workers > 1  # so the two needs of --workers N are met by the file
    env = environment("app")
    assert env["BACKORDER_DATABASE_URL"].startswith("postgres://") and env["BACKORDER_REDIS_URL"]
    assert "PROMETHEUS_MULTIPROC_DIR" in env and env["PROMETHEUS_MULTIPROC_DIR"] in SERVICES["app"]["tmpfs"]
    paths = {getattr(route, "path", None) for route in create_app(Settings()).routes}
    check = " ".join(SERVICES["app"]["healthcheck"]["test"])
    [url] = re.findall(r"http://127\.0\.0\.1:(\d+)(/\w+)", check)
    assert int(url[0]) == args.port and url[1] in paths
    docker_check = dict(dockerfile())["HEALTHCHECK"]
    [(port, path)] = re.findall(r"http://127\.0\.0\.1:(\d+)(/\w+)", docker_check)
    assert int(port) == args.port and path in paths


def test_the_image_builds_from_debian_and_pypi_only_and_runs_backorder():
    steps = dockerfile()
    assert [args for op, args in steps if op == "FROM"] == ["debian:bookworm-slim"]
    assert not [op for op, _ in steps if op == "ADD"]  # ADD may fetch URLs
    for op, args in steps:
        if op == "RUN":
            assert not re.search(r"\b(curl|wget)\b|https?://", args), args  # only apt-get and pip fetch
        if op == "COPY":
            sources = args.split()[:-1]
            for source in sources:
                assert (ROOT / source).exists(), f"COPY {source}: no such file in the repository"
    ignored = (ROOT / ".dockerignore").read_text().split()
    for _, args in [s for s in steps if s[0] == "COPY"]:
        for source in args.split()[:-1]:
            assert source not in ignored, f"{source} is copied but .dockerignore leaves it out"
    cmd = dict(steps)["CMD"]
    backorder_command(yaml.safe_load(cmd))  # the exec form is a JSON (so YAML) list
    exposed = dict(steps)["EXPOSE"]
    assert str(build_parser().parse_args(yaml.safe_load(cmd)[1:]).port) == exposed


def test_the_image_installs_the_projects_own_dependencies(tmp_path, monkeypatch):
    """The Dockerfile installs pyproject's dependency list: its own one-liner, run on the real file."""
    run = next(args for op, args in dockerfile() if op == "RUN" and "tomllib" in args)
    [snippet] = re.findall(r'-c "(.*?)"', run)
    [requirements] = re.findall(r"open\('(/tmp/[\w.]+)', 'w'\)", snippet)
    assert f"pip install -r {requirements}" in run
    (tmp_path / "pyproject.toml").write_text((ROOT / "pyproject.toml").read_text())
    monkeypatch.chdir(tmp_path)
    exec(snippet.replace(requirements, "requirements.txt"), {})  # our own Dockerfile's line
    assert (tmp_path / "requirements.txt").read_text().splitlines() == PYPROJECT["project"]["dependencies"]

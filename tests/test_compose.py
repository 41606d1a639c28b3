"""The Dockerfile, .dockerignore and compose.yaml, proven without a Docker engine (this machine's
`docker` is a client with neither an engine nor the compose plugin):

- compose.yaml is valid against the Compose Specification's JSON schema (a copy:
  tests/compose_spec/), and what it says is what qbsync needs (postgres healthy first, web in
  HTTP mode, N workers, a health check on every service);
- the Dockerfile's ENTRYPOINT, CMD and HEALTHCHECK name commands that exist, it runs as a
  non-root user, installs without test extras, bakes in no secret, and .dockerignore keeps
  .env, .venv and .git out while letting in everything COPY needs;
- every service's command and health check RUN as local processes: a throwaway PostgreSQL
  (tests/pg.py) stands in for the postgres service, the sandbox for HubSpot, QuickBooks and
  Slack; `qbsync run` and `qbsync worker` get their environment from the file (.env through
  env_file, then `environment`), with the service host `postgres` mapped to the test's
  server and the container ports to free local ones. Each health check's `test` command
  passes, a `/qbsync scan` sent to web is run by a worker and its alerts reach the Slack
  stand-in, and a stopped worker's health check fails.

`docker compose config -q` (the v2 plugin) or `docker-compose config -q` (v1, Debian 12's
package) also parse the file where they are installed, and are skipped elsewhere; neither
needs an engine for that. CI has neither.
"""
from __future__ import annotations

import copy
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import tomllib
from pathlib import Path
from urllib.parse import urlsplit

import jsonschema
import pytest
from dotenv import dotenv_values

from tests import pg
from tests.compose_local import (MissingVariable, dockerfile, dockerignore, exec_form, healthcheck_command,
                                 ignored, interpolate, load_compose)
from tests.workers import ALICE, assert_each_alert_posted_once, parents, scan_runs

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = ROOT / "compose.yaml"
SCHEMA = ROOT / "tests" / "compose_spec" / "compose-spec.json"
ENV = {"POSTGRES_PASSWORD": "pw4qbsync"}


def _compose(env=ENV) -> dict:
    return load_compose(COMPOSE, env)


def _instructions() -> list[tuple[str, str]]:
    return dockerfile(ROOT / "Dockerfile")


def _one(name: str) -> str:
    found = [args for word, args in _instructions() if word == name]
    assert len(found) == 1, f"{name}: {found}"
    return found[0]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ----------------------------------------------------------------------------- static checks
def test_compose_yaml_is_valid_against_the_compose_specification_schema():
    import yaml

    validator = jsonschema.Draft7Validator(json.loads(SCHEMA.read_text(encoding="utf-8")))
    raw = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    assert list(validator.iter_errors(raw)) == []
    assert list(validator.iter_errors(_compose())) == []
    # The check can fail: a misspelt healthcheck key, a depends_on condition that does not exist.
    bad = copy.deepcopy(raw)
    bad["services"]["worker"]["healthcheck"]["intervall"] = "30s"
    assert list(validator.iter_errors(bad))
    bad = copy.deepcopy(raw)
    bad["services"]["web"]["depends_on"]["postgres"]["condition"] = "service_ready"
    assert list(validator.iter_errors(bad))


def test_compose_services_postgres_web_and_n_workers_each_with_a_health_check():
    c = _compose()
    assert set(c["services"]) == {"postgres", "web", "worker"}
    pgs, web, worker = c["services"]["postgres"], c["services"]["web"], c["services"]["worker"]
    # postgres: the official image at a pinned version, its data on a named volume.
    image, _, tag = pgs["image"].partition(":")
    assert image == "postgres" and tag[:1].isdigit() and "." in tag.split("-")[0]
    assert "pgdata:/var/lib/postgresql/data" in pgs["volumes"] and "pgdata" in c["volumes"]
    assert pgs["healthcheck"]["test"][0] == "CMD-SHELL" and "pg_isready" in pgs["healthcheck"]["test"][1]
    for svc in (web, worker):
        assert svc["build"] == "." and svc["env_file"] == ".env"
        assert svc["depends_on"] == {"postgres": {"condition": "service_healthy"}}
        assert svc["healthcheck"]["test"] == ["CMD", "python", "-m", "bot.healthcheck"]
        url = urlsplit(svc["environment"]["QBSYNC_DATABASE_URL"])
        assert (url.scheme, url.hostname, url.port) == ("postgresql", "postgres", 5432)
        assert (url.username, url.password, url.path) == (
            pgs["environment"]["POSTGRES_USER"], ENV["POSTGRES_PASSWORD"], "/" + pgs["environment"]["POSTGRES_DB"])
    assert web["command"] == ["run"] and worker["command"] == ["worker"]
    assert web["environment"]["QBSYNC_SLACK_TRANSPORT"] == "http"
    published = {p.rpartition(":")[2] for p in web["ports"]}
    assert published == {web["environment"]["QBSYNC_HTTP_PORT"]}
    # N workers: 2 unless QBSYNC_WORKERS says otherwise.
    assert worker["deploy"]["replicas"] == "2"
    assert _compose({**ENV, "QBSYNC_WORKERS": "5"})["services"]["worker"]["deploy"]["replicas"] == "5"
    # The database password is required, never defaulted.
    with pytest.raises(MissingVariable, match="POSTGRES_PASSWORD"):
        _compose({})


def test_dockerfile_names_commands_that_exist_runs_as_non_root_and_bakes_in_no_secret():
    from bot.cli import build_parser, cmd_run, cmd_worker
    from bot.config import SETTINGS

    base = _one("FROM")
    assert base.startswith("python:3.11.") and "-slim" in base and "latest" not in base
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["scripts"]
    entry = exec_form(_one("ENTRYPOINT"))
    assert entry == ["qbsync"] and entry[0] in scripts
    cmd = exec_form(_one("CMD"))
    assert cmd == ["run"] and build_parser().parse_args(cmd).func is cmd_run
    assert build_parser().parse_args(_compose()["services"]["worker"]["command"]).func is cmd_worker
    options, check = healthcheck_command(_one("HEALTHCHECK"))
    assert check == ["python", "-m", "bot.healthcheck"]
    for name in ("web", "worker"):  # compose's checks are the image's
        assert _compose()["services"][name]["healthcheck"]["test"] == ["CMD", *check]
    import bot.healthcheck as probe

    assert callable(probe.main) and float(options["timeout"].rstrip("s")) > probe.TIMEOUT_S
    user = _one("USER")
    assert user not in ("root", "0") and not user.startswith("0:")
    runs = [args for word, args in _instructions() if word == "RUN"]
    assert any("pip install ." in r for r in runs) and not any("[test]" in r for r in runs)
    secrets = {s.env for s in SETTINGS if s.secret} | {"POSTGRES_PASSWORD"}
    for word, args in _instructions():
        if word in ("ENV", "ARG"):
            assert not any(name in args for name in secrets), (word, args)
    exposed = set(_one("EXPOSE").split())
    web = _compose()["services"]["web"]["environment"]
    assert {web["QBSYNC_HTTP_PORT"], web["QBSYNC_OPS_PORT"]} <= exposed


def test_dockerignore_keeps_secrets_and_local_state_out_and_lets_in_what_copy_needs():
    patterns = dockerignore(ROOT / ".dockerignore")
    for path in (".env", ".env.production", ".venv", ".venv/bin/python", ".git", ".git/config",
                 "bot/__pycache__/cli.cpython-311.pyc", "qbsync.db", "tests/test_compose.py"):
        assert ignored(patterns, path), path
    sources = []
    for word, args in _instructions():
        if word == "COPY":
            sources += args.split()[:-1]
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    needed = {"pyproject.toml", project["project"]["readme"]}
    needed |= {inc.rstrip("*") for inc in project["tool"]["setuptools"]["packages"]["find"]["include"]}
    assert needed <= set(sources)
    for src in sources:
        assert (ROOT / src).exists() and not ignored(patterns, src), src
    # package data too (the nl/es catalogs, the scenarios)
    for package, globs in project["tool"]["setuptools"]["package-data"].items():
        for g in globs:
            files = list((ROOT / package).glob(g))
            assert files and not any(ignored(patterns, f.relative_to(ROOT).as_posix()) for f in files), g


def _build_context(dest: Path) -> None:
    """What the image's WORKDIR holds before `RUN pip install .`: each COPY source, less what
    .dockerignore excludes, at its destination."""
    patterns = dockerignore(ROOT / ".dockerignore")
    for word, args in _instructions():
        if word != "COPY":
            continue
        *sources, target = args.split()
        for src in sources:
            for path in [ROOT / src] if (ROOT / src).is_file() else sorted((ROOT / src).rglob("*")):
                rel = path.relative_to(ROOT).as_posix()
                if path.is_dir() or ignored(patterns, rel):
                    continue
                if target.endswith("/"):  # COPY a b ./ : into the directory
                    out = dest / target / path.relative_to((ROOT / src).parent)
                else:  # COPY bot ./bot : the directory's content there
                    out = dest / target / path.relative_to(ROOT / src)
                out.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, out)


@pytest.mark.timeout(120)
def test_the_files_copied_into_the_image_build_qbsync_with_its_data_and_console_script(tmp_path):
    import zipfile

    context = tmp_path / "app"
    _build_context(context)
    assert not (context / ".env").exists() and not (context / "tests").exists()
    # `pip install .` = build the wheel from these files, then install it and its dependencies
    # (the dependencies do not depend on the context; the wheel does).
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp_path / "dist"),
                           str(context)], capture_output=True, text=True, timeout=110)
    assert done.returncode == 0, done.stderr[-3000:]
    [wheel] = (tmp_path / "dist").glob("qbsync-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for needed in ("bot/cli.py", "bot/healthcheck.py", "bot/worker_health.py", "handlers/__init__.py",
                   "rules/locale/nl/LC_MESSAGES/qbsync.po", "rules/locale/es/LC_MESSAGES/qbsync.po",
                   "sandbox/scenarios/mixed.json"):
        assert needed in names, needed
    [entry_points] = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
    assert "qbsync = bot.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()
    assert not any(n.startswith(("tests/", ".env", ".venv/")) for n in names)


@pytest.mark.parametrize("compose_cli", [["docker", "compose"], ["docker-compose"]],
                         ids=["docker compose (v2 plugin)", "docker-compose (v1, Debian 12)"])
def test_docker_compose_config_accepts_the_file_where_a_compose_cli_is_here(tmp_path, compose_cli):
    exe = shutil.which(compose_cli[0])
    argv = [exe, *compose_cli[1:]] if exe else []
    if not argv or subprocess.run([*argv, "version"], capture_output=True).returncode != 0:
        pytest.skip(f"no `{' '.join(compose_cli)}` here (it parses the file without an engine)")
    shutil.copy(COMPOSE, tmp_path / "compose.yaml")
    (tmp_path / ".env").write_text("POSTGRES_PASSWORD=pw4qbsync\n")
    done = subprocess.run([*argv, "-f", "compose.yaml", "config", "-q"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    (tmp_path / ".env").write_text("")  # POSTGRES_PASSWORD is required
    assert subprocess.run([*argv, "-f", "compose.yaml", "config", "-q"], cwd=tmp_path,
                          capture_output=True, timeout=60).returncode != 0


# ----------------------------------------------------------------------------- running the services
class Service:
    """One container of a service, as a local process: ENTRYPOINT + the service's command."""

    def __init__(self, name: str, command: list[str], env: dict[str, str], workdir: Path):
        entry = exec_form(_one("ENTRYPOINT"))
        # the console script of this installation (pyproject [project.scripts]), as in the image
        argv = [str(Path(sys.executable).parent / entry[0]), *entry[1:], *command]
        self.name, self.env = name, env
        workdir.mkdir()
        self.log = workdir / "out.log"
        self._fh = open(self.log, "w")
        self.proc = subprocess.Popen(argv, cwd=workdir, env=env, stdout=self._fh, stderr=subprocess.STDOUT)

    def healthcheck(self, test: list[str]) -> subprocess.CompletedProcess:
        """The service's healthcheck `test` ("CMD", argv...), run with the container's
        environment; `python` is the image's interpreter, the one qbsync is installed in."""
        assert test[0] == "CMD"
        argv = [sys.executable if test[1] == "python" else test[1], *test[2:]]
        return subprocess.run(argv, env=self.env, capture_output=True, text=True, timeout=30)

    def wait_healthy(self, test: list[str], timeout: float) -> subprocess.CompletedProcess:
        deadline = time.monotonic() + timeout
        while True:
            done = self.healthcheck(test)
            if done.returncode == 0 or time.monotonic() > deadline:
                assert done.returncode == 0, f"{self.name}: {done.stdout}\n{self.tail()}"
                return done
            assert self.proc.poll() is None, f"{self.name} exited: {self.tail()}"
            time.sleep(0.3)

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]

    def stop(self) -> int | None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._fh.close()
        return self.proc.returncode


def _wait(predicate, timeout: float, what: str, services):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    logs = "\n".join(f"--- {s.name}\n{s.tail()}" for s in services)
    raise AssertionError(f"timed out waiting for {what}\n{logs}")


def _ok_scans(ops_port: str) -> float:
    import requests

    text = requests.get(f"http://127.0.0.1:{ops_port}/metrics", timeout=5).text
    lines = [ln for ln in text.splitlines() if ln.startswith('qbsync_scans_total{outcome="ok"}')]
    return float(lines[0].split()[-1]) if lines else 0.0


def _postgres_check(compose: dict, pg_url: str, port: int | None = None) -> subprocess.CompletedProcess:
    """The postgres service's healthcheck (CMD-SHELL: through sh, with the service's
    environment), against the test's server: libpq's PGHOST/PGPORT stand for the container's
    own socket, the server's bin directory for the image's PATH."""
    service = compose["services"]["postgres"]
    kind, command = service["healthcheck"]["test"]
    assert kind == "CMD-SHELL"
    url = urlsplit(pg_url)
    bindir = pg._binaries()
    env = {**os.environ, **service["environment"], "PGHOST": url.hostname, "PGPORT": str(port or url.port),
           "PATH": f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}" if bindir else os.environ.get("PATH", "")}
    return subprocess.run(["sh", "-c", command], env=env, capture_output=True, text=True, timeout=30)


@pytest.mark.timeout(240)
def test_the_services_run_their_health_checks_pass_and_a_scan_reaches_slack(tmp_path, pg_url):
    from sandbox.app import Sandbox

    with Sandbox(slack_post_rate_per_s=1000, slack_post_burst=1000) as sb:
        sb.load("mixed")
        # The operator's .env: the settings (here: pointing at the sandbox) and POSTGRES_PASSWORD.
        settings = {**sb.bot_environment(), "QBSYNC_FIX_ALLOWED": ALICE, "QBSYNC_POLL_INTERVAL": "3600",
                    **ENV}
        dotenv = tmp_path / ".env"
        dotenv.write_text("".join(f"{k}={v}\n" for k, v in settings.items()))
        from_file = {k: v or "" for k, v in dotenv_values(dotenv).items()}
        compose = load_compose(COMPOSE, from_file)  # compose interpolates with .env too

        # postgres: the test's server answers the service's own health check (and a closed
        # port does not: the check can fail).
        done = _postgres_check(compose, pg_url)
        assert done.returncode == 0 and "accepting connections" in done.stdout, done
        assert _postgres_check(compose, pg_url, port=_free_port()).returncode != 0

        clean = {k: v for k, v in os.environ.items()
                 if not k.startswith(("QBSYNC_", "SLACK_", "QBO_", "HUBSPOT_", "POSTGRES_"))}

        def container_env(service: dict, **local: str) -> dict[str, str]:
            env = {**clean, **from_file, **service["environment"], **local}  # environment wins over env_file
            url = urlsplit(env["QBSYNC_DATABASE_URL"])
            assert url.hostname == "postgres"  # the postgres service, here the test's server
            env["QBSYNC_DATABASE_URL"] = pg_url
            return env

        web_svc, worker_svc = compose["services"]["web"], compose["services"]["worker"]
        http_port = _free_port()  # the container's 3000
        web = Service("web", web_svc["command"],
                      container_env(web_svc, QBSYNC_HTTP_PORT=str(http_port), QBSYNC_OPS_PORT=str(_free_port())),
                      tmp_path / "web")
        services = [web]
        try:
            workers = [Service(f"worker-{n}", worker_svc["command"],
                               container_env(worker_svc, QBSYNC_OPS_PORT=str(_free_port())), tmp_path / f"worker-{n}")
                       for n in range(int(worker_svc["deploy"]["replicas"]))]
            services += workers
            assert len(workers) == 2
            for s, svc in [(web, web_svc)] + [(w, worker_svc) for w in workers]:
                out = s.wait_healthy(svc["healthcheck"]["test"], timeout=60)
                assert out.stdout.startswith("healthy (200)")

            # Slack -> web (HTTP mode) -> the job queue -> a worker -> Slack.
            sb.slack.driver.use_http(f"http://127.0.0.1:{http_port}/slack/events")
            # Slack's 3 s ack deadline is other tests' subject; here the machine may be busy.
            sb.slack.driver.ack_timeout_s = 20
            delivery = sb.slack.driver.slash(ALICE, "/qbsync", "scan")
            assert delivery.acked, delivery
            _wait(lambda: [r for r in scan_runs(pg_url) if r.outcome == "ok"], 60, "a worker's scan", services)
            _wait(lambda: len(parents(sb)) == 5, 30, "the alerts in Slack", services)
            assert_each_alert_posted_once(sb, pg_url, 5)
            [run] = scan_runs(pg_url)
            assert run.actor in {f"worker:{w.proc.pid}" for w in workers}  # web never scans
            # Each worker's /metrics counts its own scans: one in all, by the worker that ran it.
            counted = {w.proc.pid: _ok_scans(w.env["QBSYNC_OPS_PORT"]) for w in workers}
            assert counted[int(run.actor.split(":")[1])] == 1 and sum(counted.values()) == 1

            for s, svc in [(web, web_svc)] + [(w, worker_svc) for w in workers]:
                assert s.healthcheck(svc["healthcheck"]["test"]).returncode == 0, s.name
            # A stopped worker is unhealthy; the other one is not.
            assert workers[0].stop() == 0, workers[0].tail()
            assert workers[0].healthcheck(worker_svc["healthcheck"]["test"]).returncode == 1
            assert workers[1].healthcheck(worker_svc["healthcheck"]["test"]).returncode == 0
        finally:
            codes = {s.name: s.stop() for s in services}
        assert set(codes.values()) == {0}, {s.name: s.tail() for s in services}

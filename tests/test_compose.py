"""The production files (docker-compose.yml, Dockerfile), CI and README agree with the code.

CI runs the stack for real (ci/compose_check.sh); these checks read the files and fail fast, without
Docker: each long-running service has a healthcheck, each command names a real entry point (the WSGI
callable, the Celery app and its sub-commands and options, parsed by Celery's own command line), every
variable set on the shop's services is one the settings read, and that environment loads as a
production configuration.
Each check is a function returning its problems, also run on broken copies so that it can fail.
"""

import copy
import importlib
import importlib.util
import json
import logging
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = ROOT / "docker-compose.yml"
SETTINGS = ROOT / "sms4sats_site" / "settings.py"
REAL_API = "https://api2.sms4sats.com"
APP_SERVICES = ("web", "worker", "creator", "beat")
SHOP_IMAGE = "sms4sats-shop:latest"
# What an operator's .env would hold; enough to interpolate the compose file.
SAMPLE_DOTENV = {
    "POSTGRES_PASSWORD": "pw0123456789",
    "SECRET_KEY": "k" * 50,
    "ALLOWED_HOSTS": "shop.example.com",
    "PUBLIC_BASE_URL": "https://shop.example.com",
}


# --- helpers -----------------------------------------------------------------------------------

_INTERPOLATION = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)")


class MissingVariable(Exception):
    pass


def interpolate(value, dotenv):
    """Docker Compose's interpolation: $$, $VAR, ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?error}."""
    if not isinstance(value, str):
        return value

    def substitute(match):
        if match.group(0) == "$$":
            return "$"
        name = match.group(1) or match.group(4)
        op, arg = match.group(2), match.group(3)
        present = name in dotenv
        current = dotenv.get(name, "")
        if op in (":-", ":?"):
            unset = not current
        else:
            unset = not present
        if op in (":-", "-"):
            return arg if unset else current
        if op in (":?", "?"):
            if unset:
                raise MissingVariable(f"{name}: {arg}")
            return current
        return current

    return _INTERPOLATION.sub(substitute, value)


def load_compose(path=COMPOSE):
    return yaml.safe_load(path.read_text())


def environment(service):
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {str(k): ("" if v is None else str(v)) for k, v in env.items()}


def command_args(service, dotenv=SAMPLE_DOTENV):
    command = service.get("command")
    if command is None:
        return []
    if isinstance(command, str):
        return shlex.split(interpolate(command, dotenv))
    return [interpolate(str(part), dotenv) for part in command]


def healthcheck_args(service, dotenv=SAMPLE_DOTENV):
    """The healthcheck as argv (CMD-SHELL strings split like a shell would, with HOSTNAME set)."""
    test = (service.get("healthcheck") or {}).get("test")
    if isinstance(test, str):
        test = ["CMD-SHELL", test]
    if not test or test[0] not in ("CMD", "CMD-SHELL"):
        return None
    if test[0] == "CMD-SHELL":
        shell = interpolate(" ".join(test[1:]), dotenv)
        return shlex.split(shell.replace("$HOSTNAME", "container-id").replace("${HOSTNAME}", "container-id"))
    return [interpolate(str(part), dotenv) for part in test[1:]]


def settings_variables(source=None):
    """Names of the environment variables settings.py reads."""
    source = SETTINGS.read_text() if source is None else source
    patterns = (
        r"\benv_\w+\(\s*[\"']([A-Z][A-Z0-9_]*)[\"']",
        r"os\.environ\.get\(\s*[\"']([A-Z][A-Z0-9_]*)[\"']",
        r"os\.environ\[\s*[\"']([A-Z][A-Z0-9_]*)[\"']\s*\]",
        r"os\.getenv\(\s*[\"']([A-Z][A-Z0-9_]*)[\"']",
    )
    return {name for pattern in patterns for name in re.findall(pattern, source)}


def requirement_names(path=ROOT / "requirements.txt"):
    names = set()
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line or line.startswith("-"):
            continue
        name = re.split(r"[\[<>=!~;\s]", line, maxsplit=1)[0]
        names.add(re.sub(r"[-_.]+", "-", name).lower())
    return names


def parse_celery(args):
    """Parse a `celery ...` command line with Celery's own CLI; return (app, sub-command, its options)."""
    import click
    from celery.app.utils import find_app
    from celery.bin.base import CLIContext
    from celery.bin.celery import celery as cli

    ctx = cli.make_context("celery", list(args))
    app = find_app(ctx.params["app"])
    ctx.obj = CLIContext(app=app, no_color=True, workdir=None, quiet=True)
    rest = [*getattr(ctx, "_protected_args", []), *ctx.args]
    name, command, rest = cli.resolve_command(ctx, rest)
    if command is None:
        raise click.UsageError(f"no such celery command: {rest}")
    sub = command.make_context(name, list(rest), parent=ctx)
    return app, name, sub.params


def is_one_shot(name, services):
    """A job that runs to completion before the others (e.g. migrate): restart "no", awaited by them."""
    service = services[name]
    awaited = any(
        isinstance(other.get("depends_on"), dict)
        and (other["depends_on"].get(name) or {}).get("condition") == "service_completed_successfully"
        for other in services.values()
    )
    return str(service.get("restart", "no")) == "no" and awaited


def role(service):
    """web, worker, beat or None, from the service's command."""
    args = command_args(service)
    if not args:
        return None
    program = Path(args[0]).name
    if program == "gunicorn":
        return "web"
    if program == "celery":
        if "beat" in args[1:]:
            return "beat"
        if "worker" in args[1:]:
            return "worker"
    return None


# --- the checks (each returns a list of problems) -------------------------------------------------


def check_healthchecks(compose):
    services = compose.get("services") or {}
    problems = []
    for name, service in services.items():
        if is_one_shot(name, services):
            continue
        check = service.get("healthcheck")
        if not check or check.get("disable") or not healthcheck_args(service):
            problems.append(f"{name}: no healthcheck")
    for name, service in services.items():
        for needed in service.get("depends_on") or {}:
            if needed not in services:
                problems.append(f"{name}: depends on an unknown service {needed}")
    return problems


def python_snippets(service):
    """The Python programs a service runs with ``python -c`` (its healthcheck, its command)."""
    snippets = []
    for args in (healthcheck_args(service), command_args(service)):
        args = args or []
        for i, arg in enumerate(args[:-1]):
            if Path(arg).name.startswith("python") and args[i + 1] == "-c" and i + 2 < len(args):
                snippets.append(args[i + 2])
    return snippets


def check_python_imports(compose):
    """Every ``from module import name`` in a service's ``python -c`` names a module and a name that exist: a
    module moved by a refactor otherwise shows only as a container that never turns healthy."""
    import ast

    problems = []
    for service_name, service in (compose.get("services") or {}).items():
        for snippet in python_snippets(service):
            for node in ast.walk(ast.parse(snippet)):
                if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                    try:
                        module = importlib.import_module(node.module)
                    except ImportError:
                        problems.append(f"{service_name}: no module {node.module}")
                        continue
                    is_package = hasattr(module, "__path__")
                    problems += [
                        f"{service_name}: {node.module} has no {alias.name}"
                        for alias in node.names
                        if not hasattr(module, alias.name)
                        and not (is_package and importlib.util.find_spec(f"{node.module}.{alias.name}"))
                    ]
                elif isinstance(node, ast.Import):
                    for alias in node.names:
                        if importlib.util.find_spec(alias.name) is None:
                            problems.append(f"{service_name}: no module {alias.name}")
    return problems


def check_roles(compose):
    services = compose.get("services") or {}
    roles = {}
    for name, service in services.items():
        if role(service):
            roles.setdefault(role(service), []).append(name)
    problems = [f"no {r} service" for r in ("web", "worker", "beat") if not roles.get(r)]
    beats = roles.get("beat", [])
    if len(beats) > 1:
        problems.append(f"more than one beat: {beats}")
    for name in beats:
        deploy = services[name].get("deploy") or {}
        if int(deploy.get("replicas", 1)) != 1 or int(services[name].get("scale", 1)) != 1:
            problems.append(f"{name}: beat must run exactly once")
    return problems


def check_web_command(service):
    args = command_args(service)
    if not args or Path(args[0]).name != "gunicorn":
        return [f"web command is not gunicorn: {args}"]
    targets = [a for a in args[1:] if re.fullmatch(r"[A-Za-z_][\w.]*(:[A-Za-z_]\w*)?", a)]
    if len(targets) != 1:
        return [f"web command names no single WSGI target: {args}"]
    module, _, attr = targets[0].partition(":")
    try:
        application = getattr(importlib.import_module(module), attr or "application")
    except (ImportError, AttributeError) as exc:
        return [f"web: {targets[0]} is not importable ({exc})"]
    if not callable(application):
        return [f"web: {targets[0]} is not a WSGI callable"]
    return []


def check_celery_command(args, expected):
    import click
    from celery import Celery

    if not args or Path(args[0]).name != "celery":
        return [f"not a celery command: {args}"]
    try:
        app, name, _params = parse_celery(args[1:])
    except (click.ClickException, ImportError, AttributeError) as exc:
        return [f"{shlex.join(args)}: {exc}"]
    problems = []
    if not isinstance(app, Celery) or app.main != "sms4sats_site":
        problems.append(f"{shlex.join(args)}: -A does not name the shop's Celery app ({app!r})")
    if name != expected:
        problems.append(f"{shlex.join(args)}: runs {name}, expected {expected}")
    return problems


def check_environment(compose, read_by_settings):
    services = compose.get("services") or {}
    problems = []
    for name, service in services.items():
        if not (role(service) or is_one_shot(name, services)):
            continue
        env = environment(service)
        for variable in sorted(set(env) - read_by_settings):
            problems.append(f"{name}: sets {variable}, which the settings never read")
        # The real API unless .env names another (a staging upstream, CI's sandboxed one).
        if env.get("SMS4SATS_API_URL") != f"${{SMS4SATS_API_URL:-{REAL_API}}}":
            problems.append(f"{name}: SMS4SATS_API_URL is {env.get('SMS4SATS_API_URL')!r}, not .env's or {REAL_API}")
        secret = env.get("SECRET_KEY", "")
        if not (secret.startswith("${SECRET_KEY:?") and secret.endswith("}")):
            problems.append(f"{name}: SECRET_KEY must come from .env as ${{SECRET_KEY:?...}}")
        for optional in ("SMS4SATS_API_KEY", "SMS4SATS_REF"):
            value = env.get(optional, "")
            if value and not value.startswith("${"):
                problems.append(f"{name}: {optional} is written in the compose file; take it from .env")
    return problems


# --- tests -----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose():
    return load_compose()


@pytest.fixture(scope="module")
def services(compose):
    return compose["services"]


def test_compose_has_the_services(services):
    assert {"postgres", "redis", "web", "worker", "beat"} <= set(services)
    assert services["postgres"]["image"].split(":")[0] == "postgres"
    assert services["redis"]["image"].split(":")[0] == "redis"
    assert any(str(v).endswith(":/var/lib/postgresql/data") for v in services["postgres"].get("volumes", []))


def test_every_service_has_a_healthcheck(compose):
    assert check_healthchecks(compose) == []


def test_healthcheck_check_can_fail(compose):
    broken = copy.deepcopy(compose)
    del broken["services"]["worker"]["healthcheck"]
    broken["services"]["redis"]["healthcheck"] = {"disable": True}
    assert check_healthchecks(broken) == ["redis: no healthcheck", "worker: no healthcheck"]


@pytest.mark.parametrize(
    "path", [COMPOSE, ROOT / "docker-compose.small.yml", ROOT / "deploy/umbrel/sms4sats-shop/docker-compose.yml"]
)
def test_every_python_snippet_imports_what_exists(path):
    compose = load_compose(path)
    if path == COMPOSE:
        assert python_snippets(compose["services"]["beat"])  # the check reads what it should
    assert check_python_imports(compose) == []


def test_python_import_check_can_fail(compose):
    broken = copy.deepcopy(compose)
    test = broken["services"]["beat"]["healthcheck"]["test"]
    test[-1] = test[-1].replace("from orders.process_health import", "from sms4sats_site.health import")
    assert check_python_imports(broken) == [
        "beat: sms4sats_site.health has no heartbeat_age",
        "beat: sms4sats_site.health has no is_alive",
    ]


def test_database_and_redis_healthchecks(services):
    assert healthcheck_args(services["postgres"])[0] == "pg_isready"
    assert healthcheck_args(services["redis"])[:2] == ["redis-cli", "ping"]


def test_one_web_worker_and_exactly_one_beat(compose):
    assert check_roles(compose) == []


def test_beat_check_can_fail(compose):
    broken = copy.deepcopy(compose)
    broken["services"]["beat2"] = copy.deepcopy(broken["services"]["beat"])
    assert any("more than one beat" in p for p in check_roles(broken))
    broken = copy.deepcopy(compose)
    broken["services"]["beat"]["deploy"] = {"replicas": 2}
    assert check_roles(broken) == ["beat: beat must run exactly once"]


def test_web_command_names_the_wsgi_application(services):
    args = command_args(services["web"])
    assert "sms4sats_site.wsgi:application" in args
    assert check_web_command(services["web"]) == []


def test_web_command_check_can_fail(services):
    broken = copy.deepcopy(services["web"])
    broken["command"] = ["gunicorn", "sms4sats_site.nowhere:application"]
    assert check_web_command(broken)
    broken["command"] = ["gunicorn", "sms4sats_site.wsgi:app_that_is_not_there"]
    assert check_web_command(broken)


def test_gunicorn_accepts_the_web_command(services, tmp_path):
    """gunicorn --check-config parses the options and loads the application, in production settings."""
    args = command_args(services["web"])
    env = production_environment(services["web"], tmp_path)
    gunicorn = Path(sys.executable).parent / "gunicorn"
    result = subprocess.run(
        [str(gunicorn), "--check-config", *args[1:]], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_worker_and_beat_commands_name_the_celery_app(services):
    assert check_celery_command(command_args(services["worker"]), "worker") == []
    assert check_celery_command(command_args(services["creator"]), "worker") == []
    assert check_celery_command(command_args(services["beat"]), "beat") == []


def test_the_creator_consumes_the_create_queue_and_the_worker_the_main_one(services):
    worker, creator = services["worker"]["command"], services["creator"]["command"]
    assert worker[worker.index("-Q") + 1] == "${CELERY_QUEUE:-sms4sats}"
    assert creator[creator.index("-Q") + 1] == "${CELERY_QUEUE:-sms4sats}-create"
    # The settings name the same queue as the -Q options.
    assert environment(services["web"])["CELERY_QUEUE"] == "${CELERY_QUEUE:-sms4sats}"


def test_celery_command_check_can_fail():
    assert check_celery_command(["celery", "-A", "no_such_module", "worker"], "worker")
    assert check_celery_command(["celery", "-A", "sms4sats_site", "worker", "--no-such-option"], "worker")
    assert check_celery_command(["celery", "-A", "sms4sats_site", "beat"], "worker")


def test_worker_healthcheck_pings_the_celery_app(services):
    args = healthcheck_args(services["worker"])
    assert check_celery_command(args, "inspect") == []
    assert "ping" in args


@pytest.mark.parametrize("name", ["web", "beat"])
def test_python_healthchecks_compile(services, name):
    args = healthcheck_args(services[name])
    assert args[:2] == ["python", "-c"]
    compile(args[2], f"<{name} healthcheck>", "exec")


def test_web_healthcheck_asks_healthz(services):
    assert "/healthz" in healthcheck_args(services["web"])[2]


def test_entry_point_executables_are_required():
    assert {"gunicorn", "celery"} <= requirement_names()


def test_services_set_only_variables_the_settings_read(compose):
    read = settings_variables()
    assert {"DATABASE_URL", "REDIS_URL", "SECRET_KEY", "SMS4SATS_API_URL"} <= read
    assert check_environment(compose, read) == []


def test_environment_check_can_fail(compose):
    read = settings_variables()
    broken = copy.deepcopy(compose)
    broken["services"]["worker"]["environment"] = dict(environment(broken["services"]["worker"]))
    broken["services"]["worker"]["environment"]["SMS4SATS_URL"] = REAL_API
    broken["services"]["worker"]["environment"]["SMS4SATS_API_URL"] = "https://api.example.com"
    broken["services"]["worker"]["environment"]["SECRET_KEY"] = "hard-coded"
    problems = check_environment(broken, read)
    assert "worker: sets SMS4SATS_URL, which the settings never read" in problems
    assert any(p.startswith("worker: SMS4SATS_API_URL is") for p in problems)
    assert any(p.startswith("worker: SECRET_KEY must come from .env") for p in problems)


def test_settings_variables_are_found():
    source = 'X = env_int("POLL_X", 1)\nY = os.environ.get("VAR_Y", "")\nZ = env_str( "Z_Z")\n'
    assert settings_variables(source) == {"POLL_X", "VAR_Y", "Z_Z"}


def test_app_services_share_one_configuration(services):
    envs = [environment(services[name]) for name in APP_SERVICES]
    assert all(env == envs[0] for env in envs)
    if "migrate" in services:
        assert environment(services["migrate"]) == envs[0]


def test_urls_point_at_the_compose_services(services):
    env = {k: interpolate(v, SAMPLE_DOTENV) for k, v in environment(services["web"]).items()}
    database = urlsplit(env["DATABASE_URL"])
    redis = urlsplit(env["REDIS_URL"])
    assert database.scheme in ("postgres", "postgresql") and database.hostname in services
    assert services[database.hostname]["image"].startswith("postgres")
    assert database.password == SAMPLE_DOTENV["POSTGRES_PASSWORD"]
    assert redis.hostname in services and services[redis.hostname]["image"].startswith("redis")


def test_secrets_are_required_from_dotenv(services):
    env = environment(services["web"])
    for required in SAMPLE_DOTENV:
        partial = {k: v for k, v in SAMPLE_DOTENV.items() if k != required}
        with pytest.raises(MissingVariable, match=required):
            for value in env.values():
                interpolate(value, partial)
    # The optional ones may be left out of .env.
    assert interpolate(env["SMS4SATS_REF"], SAMPLE_DOTENV) == ""


def test_interpolation():
    env = {"A": "a", "E": ""}
    assert interpolate("$$A ${A} $A ${B:-b} ${E:-e} ${E-e} ${A:?x}", env) == "$A a a b e  a"
    with pytest.raises(MissingVariable):
        interpolate("${E:?set E}", env)


def production_environment(service, tmp_path, dotenv=SAMPLE_DOTENV):
    env = {k: interpolate(v, dotenv) for k, v in environment(service).items()}
    keep = {k: os.environ[k] for k in ("PATH", "HOME", "LANG") if k in os.environ}
    return {**keep, **env, "VAR_DIR": str(tmp_path / "var"), "PYTHONPATH": str(ROOT)}


def test_compose_environment_loads_as_production_settings(services, tmp_path):
    """The settings accept the compose environment: real upstream, no sandbox, no DEBUG, PostgreSQL."""
    code = (
        "import json, django; django.setup(); from django.conf import settings as s;"
        "print(json.dumps({'sandbox': s.SANDBOX, 'debug': s.DEBUG, 'apps': s.INSTALLED_APPS,"
        " 'api': s.SMS4SATS_API_URL, 'engine': s.DATABASES['default']['ENGINE'],"
        " 'hosts': s.ALLOWED_HOSTS, 'secure': s.SESSION_COOKIE_SECURE, 'ref': s.SMS4SATS_REF}))"
    )
    env = {**production_environment(services["web"], tmp_path), "DJANGO_SETTINGS_MODULE": "sms4sats_site.settings"}
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    loaded = json.loads(result.stdout.strip().splitlines()[-1])
    assert loaded["sandbox"] is False
    assert loaded["debug"] is False
    assert "sandbox" not in loaded["apps"]
    assert loaded["api"] == REAL_API
    assert loaded["engine"] == "django.db.backends.postgresql"
    assert loaded["hosts"] == ["shop.example.com"]
    assert loaded["secure"] is True
    assert loaded["ref"] is None


def test_dockerfile():
    text = (ROOT / "Dockerfile").read_text()
    instructions = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    bases = [line.split()[1] for line in instructions if line.upper().startswith("FROM ")]
    assert bases and re.fullmatch(r"python:3\.11([.-].*)?", bases[-1]), bases
    users = [line.split()[1] for line in instructions if line.upper().startswith("USER ")]
    assert users and users[-1] not in ("root", "0"), "the image must run as a user without privileges"
    assert "pip install -r requirements.txt" in text
    assert "collectstatic" in text
    cmd = next(line for line in instructions if line.upper().startswith("CMD "))
    assert json.loads(cmd[4:])[:2] == ["gunicorn", "sms4sats_site.wsgi:application"]


def test_the_image_is_built_once_and_reused_by_name(services):
    # The shop's image once; the tor service (a profile, off by default) builds its own from deploy/tor.
    assert [name for name, service in services.items() if "build" in service] == ["migrate", "tor"]
    assert services["migrate"]["build"] == "." and services["tor"]["build"] == "deploy/tor"
    assert all(services[name]["image"] == SHOP_IMAGE for name in ("migrate", *APP_SERVICES))


def test_only_the_proxy_publishes_ports_so_web_scales(services):
    assert [name for name, service in services.items() if "ports" in service] == ["proxy"]
    assert services["web"]["expose"] == ["8000"]
    caddyfile = (ROOT / "deploy" / "Caddyfile").read_text()
    assert "dynamic a web 8000" in caddyfile, "the proxy must spread requests over every web container"


def test_the_proxy_requires_its_domain_from_dotenv(services):
    with pytest.raises(MissingVariable, match="SHOP_DOMAIN"):
        interpolate(environment(services["proxy"])["SHOP_DOMAIN"], SAMPLE_DOTENV)


def test_the_image_installs_the_runtime_requirements_only_and_gives_its_user_a_home():
    dockerfile = (ROOT / "Dockerfile").read_text()
    installs = [line.strip() for line in dockerfile.splitlines() if "pip install" in line]
    assert installs == ["RUN pip install -r requirements.txt"]
    # gunicorn keeps its control socket under the home (~/.gunicorn); /app is not the shop user's to write.
    assert "--home-dir /home/shop --create-home" in dockerfile


def test_dotenv_stays_out_of_git():
    assert ".env" in (ROOT / ".gitignore").read_text().splitlines()


def test_a_wrong_host_is_one_warning_line_without_traceback(client, caplog):
    with caplog.at_level(logging.INFO):
        response = client.get("/", HTTP_HOST="wrong.example")
    assert response.status_code == 400
    [record] = [r for r in caplog.records if r.name == "django.security.DisallowedHost"]
    assert record.levelname == "WARNING"
    assert record.exc_info is None
    assert "Invalid HTTP_HOST header: 'wrong.example'" in record.getMessage()


def test_dockerignore_keeps_local_state_out():
    ignored = {line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()}
    assert {".venv", "var", ".env", ".git"} <= ignored


def makefile_recipe(target):
    lines = (ROOT / "Makefile").read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if re.match(rf"^{target}\s*:", line))
    recipe = []
    for line in lines[start + 1 :]:
        if not line.startswith("\t"):
            break
        recipe.append(line.strip())
    return recipe


def ci_commands():
    lines = (ROOT / ".ci" / "run").read_text().splitlines()
    return [line for line in lines if not line.lstrip().startswith("#")]


def test_ci_runs_the_readme_test_command_on_postgres_and_redis():
    assert any("pytest" in line for line in makefile_recipe("test"))
    ci = "\n".join(ci_commands())
    assert re.search(r"(^|[\s;&|(])make test\b", ci, re.M), ".ci/run must run `make test`"
    assert "DATABASE_URL=postgres://" in ci
    assert "REDIS_URL=redis://" in ci
    assert re.search(r"(^|[\s;&|(])make lint\b", ci, re.M)
    assert "bin/smoke_run.sh" in ci
    assert "ci/compose_check.sh" in ci, ".ci/run must run the compose stage"
    assert "make run" in (ROOT / "bin" / "smoke_run.sh").read_text()
    assert any("bin/run.py" in line for line in makefile_recipe("run"))


def test_readme_gives_the_two_commands():
    readme = (ROOT / "README.md").read_text()
    assert "make run" in readme
    assert "make test" in readme


def test_the_tor_service_is_off_unless_asked_and_keeps_its_keys(services, compose):
    tor = services["tor"]
    assert tor["profiles"] == ["tor"]
    assert "tor-keys:/var/lib/tor" in tor["volumes"] and "tor-keys" in compose["volumes"]
    # Its address reaches the shop's services read-only, and the shop knows where to find it.
    assert "onion-hostname:/onion" in tor["volumes"]
    for name in APP_SERVICES:
        assert "onion-hostname:/onion:ro" in services[name]["volumes"], name
        assert services[name]["environment"]["ONION_HOSTNAME_FILE"] == "/onion/hostname"
    # Its target is the proxy's plain-HTTP port, which the Caddyfile serves and nobody publishes.
    assert tor["environment"]["ONION_TARGET"] == "proxy:8080"
    assert "http://:8080 {" in (ROOT / "deploy" / "Caddyfile").read_text()
    assert "8080" not in str(services["proxy"]["ports"])


def test_the_small_profile_runs_one_worker_for_both_queues_with_beat_and_no_creator_or_beat(services):
    """docker-compose.small.yml (BENCHMARKS.md, "Memory"): one prefork worker with 2 processes for both queues,
    tasks only to a free process (-O fair), beat embedded; the separate creator and beat never start."""
    small = yaml.safe_load((ROOT / "docker-compose.small.yml").read_text())["services"]
    assert set(small) <= set(services)  # an override of existing services only
    worker = small["worker"]["command"]
    assert worker[worker.index("-Q") + 1] == "${CELERY_QUEUE:-sms4sats},${CELERY_QUEUE:-sms4sats}-create"
    assert worker[worker.index("-O") + 1] == "fair" and "-B" in worker
    assert "--concurrency=${WORKER_CONCURRENCY:-2}" in worker and not any(a.startswith("--pool") for a in worker)
    assert check_celery_command([interpolate(a, SAMPLE_DOTENV) for a in worker], "worker") == []
    for name in ("creator", "beat"):
        assert small[name] == {"profiles": ["separate-workers"]}
    web = small["web"]["command"]
    assert "--workers=${WEB_WORKERS:-1}" in web and "--threads=${WEB_THREADS:-8}" in web

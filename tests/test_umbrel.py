"""The Umbrel package (deploy/umbrel/): a community app store holding the shop's app, checked against the rules of
Umbrel's app framework (github.com/getumbrel/umbrel-apps, README "umbrel-app.yml" and "docker-compose.yml"):
the manifest's fields, the id used for the folder and the container names, the category, a semantic version,
the app_proxy pointing at the port web listens on, images pinned by digest in a release, persistent data only
under ${APP_DATA_DIR}, secrets derived from APP_SEED, and an environment the shop's settings accept."""

import json
import re
import subprocess
import sys

import pytest

from tests.test_compose import ROOT, environment, interpolate, load_compose
from tests.test_docs import variables_read

STORE = ROOT / "deploy" / "umbrel"
APP = STORE / "sms4sats-shop"
# umbrelOS's app store categories (umbrel-apps' manifest schema).
CATEGORIES = {"files", "bitcoin", "media", "networking", "social", "automation", "finance", "ai", "developer"}
REQUIRED = {
    "manifestVersion", "id", "category", "name", "version", "tagline", "description", "releaseNotes", "developer",
    "website", "dependencies", "repo", "support", "port", "gallery", "path", "submitter",
}  # fmt: skip
SEMVER = re.compile(r"(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?")
# What umbrelOS sets for an app (the README's list), as test values.
UMBREL_ENV = {
    "APP_DATA_DIR": "/home/umbrel/umbrel/app-data/sms4sats-shop",
    "APP_HIDDEN_SERVICE": "2gzyxa5ihm7nsggfxnu52rck2vv4rvmdlkiu3zzui5du4xyclen53wid.onion",
    "APP_PASSWORD": "umbrel-app-password",
    "APP_SEED": "ab" * 32,
}


@pytest.fixture(scope="module")
def manifest():
    import yaml

    return yaml.safe_load((APP / "umbrel-app.yml").read_text())


@pytest.fixture(scope="module")
def compose():
    return load_compose(APP / "docker-compose.yml")


def manifest_problems(manifest, compose, folder):
    """What Umbrel would refuse (or a buyer would miss) in a manifest and its compose file."""
    problems = [f"missing field {field}" for field in sorted(REQUIRED - set(manifest))]
    if str(manifest.get("manifestVersion")) not in ("1", "1.1"):
        problems.append(f"manifestVersion {manifest.get('manifestVersion')!r}: expected 1 or 1.1")
    app_id = manifest.get("id", "")
    # The README says letters and dashes; the official store also has digits (n8n).
    if not re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", app_id) or len(app_id) > 64:
        problems.append(f"id {app_id!r}: lowercase letters, digits and dashes only")
    if app_id != folder:
        problems.append(f"id {app_id!r} is not its folder's name {folder!r}")
    if manifest.get("category") not in CATEGORIES:
        problems.append(f"category {manifest.get('category')!r} is not one of Umbrel's")
    version = str(manifest.get("version", ""))
    if not SEMVER.fullmatch(version):
        problems.append(f"version {version!r} is not semantic (MAJOR.MINOR.PATCH)")
    port = manifest.get("port")
    if not isinstance(port, int) or not 1024 <= port <= 65535:
        problems.append(f"port {port!r}: expected a number from 1024 to 65535")
    if manifest.get("defaultPassword") is None and not manifest.get("deterministicPassword"):
        problems.append("the admin's password is shown nowhere (defaultPassword or deterministicPassword)")
    services = compose.get("services", {})
    proxy = environment(services.get("app_proxy", {}))
    host = proxy.get("APP_HOST", "")
    if not host.startswith(f"{app_id}_") or host.removeprefix(f"{app_id}_").removesuffix("_1") not in services:
        problems.append(f"APP_HOST {host!r} is not <id>_<service>_1 of a service here")
    else:
        target = services[host.removeprefix(f"{app_id}_").removesuffix("_1")]
        listens = re.search(r"--bind=[^:]*:(\d+)", " ".join(target.get("command", [])))
        if not listens or listens.group(1) != proxy.get("APP_PORT"):
            problems.append(f"APP_PORT {proxy.get('APP_PORT')!r} is not the port {host} listens on")
    release = SEMVER.fullmatch(version) and not SEMVER.fullmatch(version).group(4)
    for name, service in services.items():
        image = service.get("image", "")
        if name != "app_proxy" and release and not re.search(r"@sha256:[0-9a-f]{64}$", image):
            problems.append(f"{name}: image {image!r} is not pinned by digest in release {version}")
        if "build" in service:
            problems.append(f"{name}: Umbrel pulls images, it builds nothing")
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if not source.startswith("${APP_DATA_DIR}/"):
                problems.append(f"{name}: volume {volume!r} is not under ${{APP_DATA_DIR}}")
        if service.get("ports"):
            problems.append(f"{name}: publishes ports; app_proxy is the only way in")
    return problems


def test_the_store_holds_the_app(manifest):
    import yaml

    store = yaml.safe_load((STORE / "umbrel-app-store.yml").read_text())
    # A community store's apps carry its id as their prefix.
    assert manifest["id"].startswith(f"{store['id']}-")
    assert sorted(p.name for p in STORE.iterdir() if p.is_dir()) == [manifest["id"]]


def test_the_manifest_follows_umbrels_rules(manifest, compose):
    assert manifest_problems(manifest, compose, APP.name) == []
    assert manifest["defaultUsername"] == "admin" and manifest["deterministicPassword"] is True
    # Buyer pages are public: Umbrel's login never stands in front of the shop.
    assert environment(compose["services"]["app_proxy"])["PROXY_AUTH_ADD"] == "false"


def test_the_rules_catch_a_broken_package(manifest, compose):
    import copy

    bad, bad_compose = dict(manifest), copy.deepcopy(compose)
    bad.update(id="sms4sats_shop", category="shopping", version="1.0", port="http")
    del bad["tagline"]
    # The missing field, the id (its form, its folder, APP_HOST), the category, the version, the port.
    assert len(manifest_problems(bad, compose, APP.name)) == 7
    released = dict(manifest, version="1.0.0")  # a release with the development images
    assert any("not pinned by digest" in p for p in manifest_problems(released, compose, APP.name))
    bad_compose["services"]["web"]["volumes"] = ["shop-data:/data"]
    bad_compose["services"]["app_proxy"]["environment"]["APP_PORT"] = 9000
    problems = manifest_problems(manifest, bad_compose, APP.name)
    assert any("not under ${APP_DATA_DIR}" in p for p in problems) and any("APP_PORT" in p for p in problems)


def exported(seed):
    script = f'APP_SEED={seed}; . "{APP / "exports.sh"}"; env | grep ^APP_SMS4SATS_SHOP_'
    result = subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=True)
    return dict(line.split("=", 1) for line in result.stdout.split())


def test_secrets_are_derived_from_the_seed():
    first, again, other = exported("ab" * 32), exported("ab" * 32), exported("cd" * 32)
    assert first == again and set(first) == {"APP_SMS4SATS_SHOP_SECRET_KEY", "APP_SMS4SATS_SHOP_METRICS_TOKEN"}
    assert all(re.fullmatch(r"[0-9a-f]{64}", value) for value in first.values())
    assert len(set(first.values())) == 2  # one secret per purpose
    assert not set(first.values()) & set(other.values())


def test_the_package_environment_loads_as_the_shop_expects(compose, tmp_path):
    """Every variable the package sets is one the shop reads; the settings accept them: production, onion mode
    on APP_HIDDEN_SERVICE, plain HTTP on the home network."""
    umbrel = {**UMBREL_ENV, **exported(UMBREL_ENV["APP_SEED"])}
    for name in ("web", "worker", "setup"):
        env = environment(compose["services"][name])
        assert set(env) - variables_read() <= {"HOME", "DJANGO_SUPERUSER_PASSWORD"}, name
    env = {k: interpolate(v, umbrel) for k, v in environment(compose["services"]["web"]).items()}
    env.update(VAR_DIR=str(tmp_path), DATABASE_URL=f"sqlite:///{tmp_path}/db.sqlite3", PATH="/usr/bin:/bin")
    code = (
        "import json, django; django.setup(); from django.conf import settings as s;"
        "print(json.dumps([s.SANDBOX, s.ONION_ADDRESS, s.SECURE_SSL_REDIRECT, s.SESSION_COOKIE_SECURE,"
        " s.PUBLIC_BASE_URL, len(s.SECRET_KEY)]))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**env, "DJANGO_SETTINGS_MODULE": "sms4sats_site.settings", "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    onion = UMBREL_ENV["APP_HIDDEN_SERVICE"]
    assert json.loads(result.stdout.splitlines()[-1]) == [False, onion, False, False, f"http://{onion}", 64]

"""A bad configuration value stops start-up with one line that names the variable."""

import os
import subprocess
import sys

import pytest

from sms4sats_site.settings import BASE_DIR


def start(env_overrides):
    env = {k: v for k, v in os.environ.items() if k not in ("SANDBOX", "SMS4SATS_API_URL", "SECRET_KEY", "DEBUG")}
    env.update(env_overrides)
    return subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize(
    "overrides, variable",
    [
        ({"DEBUG": "maybe"}, "DEBUG"),
        ({"DATABASE_URL": "not a url"}, "DATABASE_URL"),
        ({"DATABASE_URL": "mysql://x@y/z"}, "DATABASE_URL"),
        ({"SMS4SATS_API_URL": "https://api2.sms4sats.com"}, "SECRET_KEY"),
        ({"SMS4SATS_API_URL": "ftp://nowhere"}, "SMS4SATS_API_URL"),
        ({"REDIS_URL": "localhost:6379"}, "REDIS_URL"),
        ({"SMS4SATS_REF": "not-an-address"}, "SMS4SATS_REF"),
        ({"SANDBOX": "perhaps"}, "SANDBOX"),
        ({"SANDBOX": "on", "SMS4SATS_API_URL": "https://api2.sms4sats.com"}, "SANDBOX"),
        ({"TRUSTED_PROXIES": "127.0.0.1,nginx"}, "TRUSTED_PROXIES"),
        ({"ORDER_RATE_PER_IP": "ten a minute"}, "ORDER_RATE_PER_IP"),
        ({"ORDER_RATE_PER_SESSION": "5"}, "ORDER_RATE_PER_SESSION"),
        ({"CATALOG_TIMEOUT": "soon"}, "CATALOG_TIMEOUT"),
        ({"WEBHOOK_TIMEOUT_SECONDS": "soon"}, "WEBHOOK_TIMEOUT_SECONDS"),
        ({"WEBHOOK_TIMEOUT_SECONDS": "0"}, "WEBHOOK_TIMEOUT_SECONDS"),
        ({"ONION_ADDRESS": "shop.example"}, "ONION_ADDRESS"),
        ({"ONION_ADDRESS": "abc.onion"}, "ONION_ADDRESS"),  # a v2 address or a typo
        ({"ONION_ADDRESS": "1" * 56 + ".onion"}, "ONION_ADDRESS"),  # base32 has no 0, 1, 8, 9
        ({"ONION_ADDRESS": "http://" + "a" * 56 + ".onion"}, "ONION_ADDRESS"),  # a host name, not a URL
        ({"SHOP_CONTACT": "call me maybe"}, "SHOP_CONTACT"),
        ({"SHOP_CONTACT": "javascript:alert(1)"}, "SHOP_CONTACT"),
        ({"SHOP_TERMS_URL": "terms.html"}, "SHOP_TERMS_URL"),
        ({"SHOP_NAME": "x" * 61}, "SHOP_NAME"),
    ],
)
def test_bad_value_fails_in_one_line_naming_the_variable(overrides, variable):
    result = start(overrides)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"Configuration error: {variable}:")
    assert "Traceback" not in result.stderr


def test_defaults_start_in_sandbox_mode():
    result = start({})
    assert result.returncode == 0, result.stderr


def test_production_with_secret_key_starts():
    result = start(
        {"SMS4SATS_API_URL": "https://api2.sms4sats.com", "SECRET_KEY": "x" * 50, "ALLOWED_HOSTS": "shop.example"}
    )
    assert result.returncode == 0, result.stderr


def test_the_sandbox_never_fronts_a_real_upstream():
    result = start({"SANDBOX": "1", "SMS4SATS_API_URL": "https://api2.sms4sats.com/"})
    [line] = result.stderr.strip().splitlines()
    assert "SANDBOX" in line and "SMS4SATS_API_URL" in line and "api2.sms4sats.com" in line
    # Its own API on this machine (another port, as the bench and tests run it) is still accepted.
    assert start({"SANDBOX": "1", "SMS4SATS_API_URL": "http://127.0.0.1:8123/sandbox/api"}).returncode == 0
    assert (
        start({"SANDBOX": "0", "SMS4SATS_API_URL": "https://api2.sms4sats.com", "SECRET_KEY": "x" * 50}).returncode == 0
    )


def test_operator_settings_are_read_from_the_environment():
    code = (
        "import django; django.setup(); from django.conf import settings as s;"
        "print(s.TRUSTED_PROXIES, s.ORDER_RATE_PER_IP, s.ORDER_RATE_PER_SESSION, s.CATALOG_TIMEOUT,"
        " s.STATUS_POLL_SECONDS)"
    )
    env = {
        "TRUSTED_PROXIES": " 127.0.0.1, 172.16.0.0/12 ,",
        "ORDER_RATE_PER_IP": "30/m",
        "ORDER_RATE_PER_SESSION": "100/h",
        "CATALOG_TIMEOUT": "1.5",
        "DJANGO_SETTINGS_MODULE": "sms4sats_site.settings",
    }
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=BASE_DIR, env={**os.environ, **env}, capture_output=True, text=True
    )
    assert result.stdout.split("\n")[0] == "['127.0.0.1', '172.16.0.0/12'] 30/m 100/h 1.5 2", result.stderr


# The settings touch no file; the entry points make the local ones --------------------------------------------

WATCH_FILE_WRITES = """
import sys
writes = []
def watch(event, args):
    if event in ("os.mkdir", "os.rename", "os.remove", "os.chmod", "shutil.rmtree"):
        writes.append((event, str(args[0])))
    elif event == "open" and args[1] is not None and any(flag in str(args[1]) for flag in "wax+"):
        writes.append((event, str(args[0])))
    elif event == "open" and isinstance(args[2], int) and args[2] & 0o3:  # os.open for writing
        writes.append((event, str(args[0])))
sys.addaudithook(watch)
import sms4sats_site.settings as s
print(repr(writes))
print(bool(s.SECRET_KEY))
"""


def test_importing_the_settings_touches_no_file(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "DJANGO_SETTINGS_MODULE")}
    env["VAR_DIR"] = str(tmp_path / "var")
    result = subprocess.run(
        [sys.executable, "-c", WATCH_FILE_WRITES], cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    writes, has_key = result.stdout.strip().splitlines()[-2:]
    assert writes == "[]"
    assert has_key == "True"  # a key of its own for this process
    assert not (tmp_path / "var").exists()


def test_the_entry_points_make_var_and_keep_one_secret_key(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "DJANGO_SETTINGS_MODULE")}
    env["VAR_DIR"] = str(tmp_path / "var")
    show_key = ["shell", "-c", "from django.conf import settings; print(settings.SECRET_KEY)"]

    def key():
        result = subprocess.run(
            [sys.executable, "manage.py", *show_key], cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=60
        )
        assert result.returncode == 0, result.stderr
        return result.stdout.strip().splitlines()[-1]

    first = key()
    key_file = tmp_path / "var" / "secret_key"
    assert key_file.read_text() == first
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert key() == first  # kept across restarts (and shared by web, worker and beat)

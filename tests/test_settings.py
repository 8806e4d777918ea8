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

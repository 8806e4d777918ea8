"""`make run` (bin/run.py) and `manage.py` read the checkout's .env as Docker Compose does; the environment wins."""

import os
import socket
import subprocess
import sys

from sms4sats_site.settings import BASE_DIR

ENV_FILE = """\
# the operator's settings
SMS4SATS_REF=shop@example.com
FIAT_CURRENCIES="EUR,USD"   # a comment after a quoted value
ALERT_URLS='json://127.0.0.1:9/a b'
export ALERT_REFUNDS_PER_HOUR=7
ALERT_BALANCE_MIN_SATS=100
CACHE_KEY_PREFIX=${ALERT_BALANCE_MIN_SATS}-prefix
"""

SHOW = (
    "from django.conf import settings as s;"
    "print(s.SMS4SATS_REF, s.FIAT_CURRENCIES, repr(s.ALERT_URLS), s.ALERT_REFUNDS_PER_HOUR,"
    " s.ALERT_BALANCE_MIN_SATS, s.CACHE_KEY_PREFIX)"
)


def environment(env_file, **overrides):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ALERT_", "FIAT_", "SMS4SATS_", "CACHE_"))}
    return {**env, "ENV_FILE": str(env_file), **overrides}


def test_manage_py_reads_the_env_file_and_the_environment_wins(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text(ENV_FILE)
    env = environment(env_file, ALERT_BALANCE_MIN_SATS="500")
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-v", "0", "-c", SHOW],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    # ${VAR} sees the environment's value, as Compose's interpolation does.
    assert result.stdout.split("\n")[0] == "shop@example.com ['EUR', 'USD'] 'json://127.0.0.1:9/a b' 7 500 500-prefix"


def test_without_the_file_nothing_changes(tmp_path):
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-v", "0", "-c", SHOW],
        cwd=BASE_DIR,
        env=environment(tmp_path / "missing.env"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("None ['USD', 'EUR'")


def test_make_run_reads_the_env_file(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env_file = tmp_path / ".env"
        env_file.write_text(f"SHOP_BIND=127.0.0.1:{port}\n")
        env = environment(env_file)
        env.pop("SHOP_BIND", None)
        result = subprocess.run(
            [sys.executable, "bin/run.py"], cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=60
        )
    # It checked the address the file gave (taken here) before starting anything.
    assert result.returncode == 1
    assert f"127.0.0.1:{port} is already in use" in result.stderr

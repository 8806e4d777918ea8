"""The local shop's files: ``VAR_DIR`` (SQLite database, secret key, beat schedule), ``STATIC_ROOT`` and
the checkout's ``.env``.

Importing the settings touches no file. The entry points (``manage.py``, WSGI, ASGI, the Celery app, the
tests' conftest) call ``prepare()`` before the settings load, so a fresh checkout's ``make run`` finds
its folders and keeps one secret key across restarts and processes. Nothing here imports the settings,
nor anything of the project (bin/run.py loads this file alone).
"""

import os
import secrets
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
STATIC_ROOT = BASE_DIR / "staticfiles"
SECRET_KEY_FILE = "secret_key"


def load_env_file():
    """Read the checkout's ``.env`` (or ENV_FILE; empty: none) into the environment, as Docker Compose reads
    it: KEY=VALUE lines, comments, quotes, ${VAR} references; a variable already in the environment wins.
    ``make run`` and ``manage.py`` call it first, so a second terminal's ``manage.py`` talks to the same shop."""
    from dotenv import load_dotenv  # here: the settings and the workers never need it

    path = os.environ.get("ENV_FILE", str(BASE_DIR / ".env")).strip()
    if path:
        load_dotenv(path, override=False)


def var_dir():
    return Path(os.environ.get("VAR_DIR") or BASE_DIR / "var")


def stored_secret_key():
    """The key ``prepare()`` kept under VAR_DIR, or None when there is none (yet)."""
    try:
        return (var_dir() / SECRET_KEY_FILE).read_text().strip() or None
    except OSError:
        return None


def prepare():
    """Create VAR_DIR, STATIC_ROOT (whitenoise warns without it) and, when SECRET_KEY is not set, a random
    key under VAR_DIR (readable by its owner only). Safe to call from several processes at once."""
    directory = var_dir()
    directory.mkdir(parents=True, exist_ok=True)
    STATIC_ROOT.mkdir(exist_ok=True)
    if os.environ.get("SECRET_KEY", "").strip():
        return
    try:
        # O_EXCL: of two processes starting together, one writes the key and both read that one.
        fd = os.open(directory / SECRET_KEY_FILE, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    with os.fdopen(fd, "w") as key_file:
        key_file.write(secrets.token_urlsafe(50))

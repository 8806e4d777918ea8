#!/usr/bin/env python
"""`make run`: migrate, create a local admin (sandbox only), then web + worker + beat with honcho."""

import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from with_redis import BASE_DIR, redis_url, run_child  # noqa: E402

VENV_BIN = Path(sys.executable).parent


def manage(*args, env):
    subprocess.run([sys.executable, "manage.py", *args], cwd=BASE_DIR, env=env, check=True)


def main():
    os.chdir(BASE_DIR)
    with redis_url() as url:
        env = dict(os.environ, REDIS_URL=url, PATH=f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}")
        env.setdefault("PYTHONUNBUFFERED", "1")
        try:
            manage("migrate", "--noinput", "-v", "0", env=env)
            manage("create_local_admin", env=env)
        except subprocess.CalledProcessError as exc:
            return exc.returncode
        print("The shop: http://127.0.0.1:8000/  (admin: http://127.0.0.1:8000/admin/)", flush=True)
        return run_child([str(VENV_BIN / "honcho"), "start", "-f", "Procfile", "--no-prefix"], env)


if __name__ == "__main__":
    sys.exit(main())

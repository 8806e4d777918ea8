# The shop's image: one image for web (gunicorn), the Celery workers and beat; see docker-compose.yml.
# Every pinned wheel exists for x86_64 and arm64 (ci/check_wheels.sh), so it builds on both.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DJANGO_SETTINGS_MODULE=sms4sats_site.settings \
    VAR_DIR=/app/var

WORKDIR /app

# A user without privileges runs the shop. Its home is its own: gunicorn keeps its control socket
# there (~/.gunicorn), and /app stays read-only to it.
RUN groupadd --system --gid 10001 shop \
    && useradd --system --uid 10001 --gid shop --home-dir /home/shop --create-home shop

# The runtime requirements only: the local-only tools (embedded Redis, process manager) stay out.
COPY requirements.txt ./
RUN pip install -r requirements.txt

COPY . .

# The translations, compiled from the .po files (the .mo files are build products, not in git).
RUN python bin/compile_messages.py --force

# Static files are collected into the image (served by whitenoise). The settings insist on a
# SECRET_KEY outside the sandbox: a throwaway one is enough here, the real one comes at run time.
RUN SECRET_KEY=collectstatic-only-not-a-secret SMS4SATS_API_URL=https://api2.sms4sats.com \
        python manage.py collectstatic --noinput -v 0 \
    && rm -rf /app/var && mkdir -p /app/var \
    && chown -R shop:shop /app/var

USER shop

EXPOSE 8000

CMD ["gunicorn", "sms4sats_site.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3", "--threads", "4", "--access-logfile", "-", "--error-logfile", "-"]

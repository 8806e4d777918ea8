# The shop's image: one image for web (gunicorn), worker and beat (celery); see docker-compose.yml.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DJANGO_SETTINGS_MODULE=sms4sats_site.settings \
    VAR_DIR=/app/var

WORKDIR /app

# A user without privileges runs the shop.
RUN groupadd --system --gid 10001 shop \
    && useradd --system --uid 10001 --gid shop --home-dir /app --no-create-home shop

COPY requirements.txt ./
RUN pip install -r requirements.txt

COPY . .

# Static files are collected into the image (served by whitenoise). The settings insist on a
# SECRET_KEY outside the sandbox: a throwaway one is enough here, the real one comes at run time.
RUN SECRET_KEY=collectstatic-only-not-a-secret SMS4SATS_API_URL=https://api2.sms4sats.com \
        python manage.py collectstatic --noinput -v 0 \
    && rm -rf /app/var && mkdir -p /app/var \
    && chown -R shop:shop /app/var

USER shop

EXPOSE 8000

CMD ["gunicorn", "sms4sats_site.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3", "--threads", "4", "--access-logfile", "-", "--error-logfile", "-"]

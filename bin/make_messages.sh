#!/usr/bin/env bash
# Extract the buyer-facing strings into locale/<lang>/LC_MESSAGES/django.po for every shipped language
# (Django's makemessages; needs GNU gettext: apt-get install gettext). New strings come in untranslated,
# changed ones marked fuzzy: translate them, then `make run` / `make test` compile them.
# The admin, the sandbox and the tests are not extracted (they stay English).
#
# Usage: bin/make_messages.sh [-l LANG]...   (default: every language in locale/)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PYTHON="${PYTHON:-.venv/bin/python}"
langs=("$@")
if [ ${#langs[@]} -eq 0 ]; then
    for dir in locale/*/; do langs+=(-l "$(basename "$dir")"); done
fi
exec "$PYTHON" manage.py makemessages "${langs[@]}" --no-obsolete --add-location=file \
    --ignore='.venv/*' --ignore='var/*' --ignore='staticfiles/*' --ignore='tests/*' --ignore='bench/*' \
    --ignore='sandbox/*' --ignore='templates/admin/*' --ignore='ci/*' --ignore='deploy/*' --ignore='bin/*'

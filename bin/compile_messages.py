#!/usr/bin/env python3
"""Compile the translations: each locale/<lang>/LC_MESSAGES/django.po into the django.mo Django reads.

The .mo files are build products (not in git): `make run`, `make test`, the Docker image and the test
session (tests/conftest.py) run this. It uses polib (requirements.txt), not GNU gettext, so the image needs
no system package. Only catalogs whose .mo is missing or older than the .po are compiled; a .po that cannot
be read stops with its name and a non-zero exit.

Usage: bin/compile_messages.py [--force] [PO_FILE...]   (default: every catalog under locale/)
"""

import sys
from pathlib import Path

import polib

LOCALE = Path(__file__).resolve().parent.parent / "locale"


def compile_messages(force=False, po_paths=None):
    """Compile the stale catalogs (``po_paths``, default all); return the .mo paths written."""
    written = []
    for po_path in po_paths or sorted(LOCALE.glob("*/LC_MESSAGES/*.po")):
        po_path = Path(po_path).resolve()
        mo_path = po_path.with_suffix(".mo")
        if not force and mo_path.exists() and mo_path.stat().st_mtime >= po_path.stat().st_mtime:
            continue
        try:
            catalog = polib.pofile(str(po_path))
        except (OSError, ValueError) as exc:
            raise SystemExit(f"compile_messages: cannot read {po_path}: {exc}") from None
        # Like msgfmt: fuzzy entries are not used (a fuzzy guess must never be shown as a translation).
        for entry in catalog.fuzzy_entries():
            catalog.remove(entry)
        catalog.save_as_mofile(str(mo_path))
        written.append(mo_path)
    return written


if __name__ == "__main__":
    args = sys.argv[1:]
    for path in compile_messages(force="--force" in args, po_paths=[a for a in args if a != "--force"]):
        print(f"compile_messages: wrote {path.relative_to(LOCALE.parent)}")

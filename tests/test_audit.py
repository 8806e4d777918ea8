"""`make audit` (bin/audit.py): which versions it audits and how it reads pip-audit's report. The audit itself
needs the network and is not part of the tests."""

import importlib.util
import re

from packaging.requirements import Requirement

from sms4sats_site.settings import BASE_DIR

spec = importlib.util.spec_from_file_location("audit", BASE_DIR / "bin" / "audit.py")
audit = importlib.util.module_from_spec(spec)
spec.loader.exec_module(audit)


def test_requirements_files_are_read_with_their_includes(tmp_path):
    (tmp_path / "base.txt").write_text("# runtime\nDjango==5.2.19\npsycopg[binary]==3.3.9  # the driver\n")
    (tmp_path / "dev.txt").write_text("-r base.txt\n--extra-index-url https://example.invalid/simple\npytest==9.2.0\n")
    names = [str(r) for r in audit.pinned_requirements(tmp_path / "dev.txt")]
    assert names == ["Django==5.2.19", "psycopg[binary]==3.3.9", "pytest==9.2.0"]


def test_the_audited_versions_are_the_installed_closure():
    versions = audit.installed_closure([Requirement("Django"), Requirement("psycopg[binary]")])
    # Dependencies and extras are followed; versions are the installed ones.
    assert {"django", "asgiref", "sqlparse", "psycopg", "psycopg-binary"} <= set(versions)
    assert all(re.fullmatch(r"[0-9][0-9A-Za-z.+-]*", version) for version in versions.values())


def test_a_report_gives_each_advisory_and_the_packages_left_unchecked():
    report = {
        "dependencies": [
            {"name": "django", "version": "5.2.0", "vulns": [{"id": "PYSEC-1", "fix_versions": ["5.2.1"]}]},
            {"name": "redis", "version": "8.1.0", "vulns": []},
            {"name": "httpx", "skip_reason": "Dependency not found on PyPI and could not be audited"},
        ]
    }
    vulnerable, unchecked = audit.summarize(report)
    assert vulnerable == ["django 5.2.0: PYSEC-1 (fixed in: 5.2.1)"]
    assert unchecked == ["httpx"]


def test_make_test_does_not_run_the_audit():
    makefile = (BASE_DIR / "Makefile").read_text()
    test_recipe = makefile.split("\ntest:")[1].split("\n\n")[0]
    assert "audit" not in test_recipe
    assert re.search(r"^audit:.*\n\t.*bin/audit\.py", makefile, re.M)

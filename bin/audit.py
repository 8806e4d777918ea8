#!/usr/bin/env python
"""`make audit`: check the pinned requirements, and what they pull in, against known vulnerability advisories.

Runs pip-audit (pinned in requirements-audit.txt, installed into var/audit-venv so that it never mixes with
the shop's own packages) on the exact versions the shop runs: every package named in the given requirements
files plus everything they depend on, as installed in this virtual environment (``make setup`` installs the
pins). Run it with the project's Python: ``.venv/bin/python bin/audit.py requirements.txt``.

Exit 1 when an advisory matches a version in use (each one listed, with the fixed versions). When the advisory
service cannot be reached (offline, a mirror that does not serve it), say so clearly and exit 0: no advisory
was checked, and the warning names how many packages were left unchecked.
"""

import json
import re
import subprocess
import sys
import tempfile
import venv
from importlib import metadata
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

BASE_DIR = Path(__file__).resolve().parent.parent
TOOL_DIR = BASE_DIR / "var" / "audit-venv"
TOOL_REQUIREMENTS = BASE_DIR / "requirements-audit.txt"
# PyPI's own advisory data (the default); `AUDIT_SERVICE=osv make audit` asks osv.dev instead.
SERVICE_CHOICES = ("pypi", "osv")


def warn(text):
    print(f"WARNING: {text}", file=sys.stderr, flush=True)


def pinned_requirements(path, seen=None):
    """The requirements named in a pip requirements file (following ``-r other.txt``)."""
    seen = seen if seen is not None else set()
    path = Path(path).resolve()
    if path in seen:
        return []
    seen.add(path)
    found = []
    for raw in path.read_text().splitlines():
        line = raw.split(" #")[0].strip()
        if not line or line.startswith("#"):
            continue
        nested = re.match(r"^(-r|--requirement)\s+(\S+)$", line)
        if nested:
            found += pinned_requirements(path.parent / nested.group(2), seen)
            continue
        if line.startswith("-"):
            continue  # other pip options (index URLs, constraints): not packages
        try:
            found.append(Requirement(line))
        except InvalidRequirement:
            warn(f"{path.name}: cannot read {line!r}; left out of the audit")
    return found


def installed_closure(requirements, distribution=metadata.distribution):
    """{name: version} for the requirements and everything they need (extras included), as installed here."""
    environment = default_environment()

    def needed(dependency, extras):
        marker = dependency.marker
        return marker is None or any(marker.evaluate({**environment, "extra": e}) for e in ("", *extras))

    versions, seen = {}, set()
    todo = [requirement for requirement in requirements if needed(requirement, ())]
    while todo:
        requirement = todo.pop()
        name = canonicalize_name(requirement.name)
        if (name, frozenset(requirement.extras)) in seen:
            continue
        seen.add((name, frozenset(requirement.extras)))
        try:
            dist = distribution(requirement.name)
        except metadata.PackageNotFoundError:
            warn(f"{requirement.name} is not installed here (run `make setup`); left out of the audit")
            continue
        versions[name] = dist.version
        dependencies = [Requirement(line) for line in dist.requires or []]
        todo += [dependency for dependency in dependencies if needed(dependency, requirement.extras)]
    return versions


def summarize(report):
    """(vulnerable, unchecked) from pip-audit's JSON: lines describing each advisory, and the names that
    the service could not answer for."""
    vulnerable, unchecked = [], []
    for dependency in report.get("dependencies", []):
        if dependency.get("skip_reason"):
            unchecked.append(dependency["name"])
        for vuln in dependency.get("vulns", []):
            fixed = ", ".join(vuln.get("fix_versions") or []) or "no fixed version yet"
            vulnerable.append(
                f"{dependency['name']} {dependency.get('version', '?')}: {vuln['id']} (fixed in: {fixed})"
            )
    return vulnerable, unchecked


def pip_audit_command():
    """The pip-audit of the tool environment, installed on first use; None when it cannot be installed."""
    executable = TOOL_DIR / "bin" / "pip-audit"
    if executable.exists():
        return str(executable)
    print(f"Installing pip-audit into {TOOL_DIR.relative_to(BASE_DIR)} (once)…", flush=True)
    venv.create(TOOL_DIR, with_pip=True, clear=True)
    result = subprocess.run(
        [str(TOOL_DIR / "bin" / "pip"), "install", "--quiet", "-r", str(TOOL_REQUIREMENTS)],
        capture_output=True,
        text=True,
    )
    if result.returncode != 0 or not executable.exists():
        last = (result.stderr.strip().splitlines() or ["no output"])[-1]
        warn(f"pip-audit could not be installed ({last}); no advisory was checked.")
        return None
    return str(executable)


def audit(requirement_files, service="pypi"):
    requirements = [r for path in requirement_files for r in pinned_requirements(path)]
    versions = installed_closure(requirements)
    command = pip_audit_command()
    if command is None:
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        locked = Path(tmp) / "locked.txt"
        locked.write_text("".join(f"{name}=={version}\n" for name, version in sorted(versions.items())))
        output = Path(tmp) / "report.json"
        result = subprocess.run(
            [
                command,
                "--requirement",
                str(locked),
                "--no-deps",
                "--disable-pip",
                "--vulnerability-service",
                service,
                "--format",
                "json",
                "--output",
                str(output),
                "--progress-spinner",
                "off",
                "--timeout",
                "15",
            ],
            capture_output=True,
            text=True,
        )
        if not output.exists():
            last = (result.stderr.strip().splitlines() or ["no output"])[-1]
            warn(f"the advisory service ({service}) could not be reached: {last}")
            warn(f"no advisory was checked for the {len(versions)} packages in use. Try again online.")
            return 0
        report = json.loads(output.read_text())
    vulnerable, unchecked = summarize(report)
    for line in vulnerable:
        print(f"VULNERABLE: {line}", flush=True)
    if unchecked:
        names = ", ".join(unchecked[:5]) + (", …" if len(unchecked) > 5 else "")
        warn(
            f"the advisory service ({service}) had no answer for {len(unchecked)} of {len(versions)} packages "
            f"({names}): those were not checked."
        )
    if vulnerable:
        print(f"{len(vulnerable)} known vulnerabilities in the pinned packages: upgrade them (see above).")
        return 1
    checked = len(versions) - len(unchecked)
    if checked:
        print(f"No known vulnerabilities in the {checked} packages checked ({service}).")
    else:
        warn("no advisory was checked. Try again online, or with AUDIT_SERVICE=osv.")
    return 0


def main(argv):
    import os

    service = os.environ.get("AUDIT_SERVICE", "pypi")
    if service not in SERVICE_CHOICES:
        sys.exit(f"AUDIT_SERVICE: expected one of {', '.join(SERVICE_CHOICES)}, got {service!r}")
    return audit(argv or ["requirements.txt"], service)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

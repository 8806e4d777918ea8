"""The documentation stays true: every setting documented once, every relative link reaching its target.

Settings are documented in docs/configuration.md only, one table row each (a row starting with | `NAME` |).
The code side is every environment variable the shop's packages read (the settings' ``env_*`` helpers,
``os.environ`` and ``os.getenv``) and every variable docker-compose.yml interpolates. Links are checked in the
README, docs/ and BENCHMARKS.md: the file must exist and, for a link to a heading, the heading too.
Each check is a function returning its problems, also run on broken copies so that it can fail.
"""

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONFIGURATION = ROOT / "docs" / "configuration.md"
COMPOSE = ROOT / "docker-compose.yml"
DOC_FILES = [ROOT / "README.md", ROOT / "BENCHMARKS.md", *sorted((ROOT / "docs").glob("*.md"))]
# Tooling, not the shop: its knobs (BENCH_*, AUDIT_SERVICE, SHOTS_DIR…) are described in docs/developing.md.
NOT_THE_SHOP = {"tests", "bench", "bin", "ci"}

SETTING_ROW = re.compile(r"^\| `([A-Z][A-Z0-9_]*)` \|", re.M)
ENV_NAME = re.compile(r"[A-Z][A-Z0-9_]*")
COMPOSE_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)|\$([A-Za-z_][A-Za-z0-9_]*)")


# --- what the code reads --------------------------------------------------------------------------


def shop_sources():
    """The shop's Python files: every top-level package (new apps included) and manage.py."""
    files = [ROOT / "manage.py"]
    for package in sorted(p.parent for p in ROOT.glob("*/__init__.py")):
        if package.name not in NOT_THE_SHOP:
            files.extend(sorted(package.rglob("*.py")))
    return files


def _is_os_environ(node):
    return isinstance(node, ast.Attribute) and node.attr == "environ" and getattr(node.value, "id", None) == "os"


def environment_reads(source):
    """Names a module reads from the environment: env_*("NAME"), os.environ.get/[…]/in, os.getenv."""
    names = set()
    for node in ast.walk(ast.parse(source)):
        key = None
        if isinstance(node, ast.Call) and node.args:
            func = node.func
            if isinstance(func, ast.Name) and func.id.startswith("env_"):
                key = node.args[0]
            elif isinstance(func, ast.Attribute) and func.attr == "get" and _is_os_environ(func.value):
                key = node.args[0]
            elif isinstance(func, ast.Attribute) and func.attr == "getenv" and getattr(func.value, "id", None) == "os":
                key = node.args[0]
        elif isinstance(node, ast.Subscript) and _is_os_environ(node.value) and isinstance(node.ctx, ast.Load):
            key = node.slice
        elif isinstance(node, ast.Compare) and any(_is_os_environ(c) for c in node.comparators):
            key = node.left
        if isinstance(key, ast.Constant) and isinstance(key.value, str) and ENV_NAME.fullmatch(key.value):
            names.add(key.value)
    return names


def compose_variables(text):
    """Variables docker-compose.yml interpolates (${NAME…} or $NAME; $$ is a literal dollar)."""
    text = text.replace("$$", "")
    return {a or b for a, b in COMPOSE_VARIABLE.findall(text)}


def variables_read():
    names = set()
    for path in shop_sources():
        names |= environment_reads(path.read_text())
    # The Procfile (`make run`) and the small profile's override interpolate the same way.
    for path in (COMPOSE, ROOT / "docker-compose.small.yml", ROOT / "Procfile"):
        names |= compose_variables(path.read_text())
    return names


# --- what the docs say ----------------------------------------------------------------------------


def setting_problems(read, docs):
    """docs: {file name: text}. Each variable read has one row, in docs/configuration.md; each row is read."""
    problems = []
    rows = {}
    for name, text in docs.items():
        for variable in SETTING_ROW.findall(strip_code_blocks(text)):
            rows.setdefault(variable, []).append(name)
            if name != "docs/configuration.md":
                problems.append(f"{variable}: its row is in {name}; move it to docs/configuration.md")
    for variable in sorted(read):
        where = rows.get(variable, [])
        if not where:
            problems.append(f"{variable}: read by the code but has no row in docs/configuration.md")
        elif len(where) > 1:
            problems.append(f"{variable}: documented {len(where)} times ({', '.join(where)}); keep one row")
    for variable in sorted(set(rows) - read):
        problems.append(f"{variable}: documented but nothing reads it (the shop's code or docker-compose.yml)")
    return problems


def strip_code_blocks(text):
    """The text with fenced code blocks blanked (line numbers kept): they hold no headings or links."""
    out, fenced = [], False
    for line in text.splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
            out.append("")
        else:
            out.append("" if fenced else line)
    return "\n".join(out)


def heading_anchors(text):
    """GitHub's anchors for a Markdown file's headings: lower case, punctuation dropped, spaces to hyphens."""
    anchors, seen = set(), {}
    for line in strip_code_blocks(text).splitlines():
        match = re.match(r"#{1,6}\s+(.*?)\s*#*\s*$", line)
        if not match:
            continue
        slug = re.sub(r"[^\w\- ]", "", match.group(1).lower()).replace(" ", "-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        anchors.add(slug if count == 0 else f"{slug}-{count}")
    return anchors


LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")


def link_problems(path, text, read_file=lambda p: p.read_text()):
    """Relative links in one Markdown file whose file, or heading, does not exist."""
    problems = []
    prose = re.sub(r"`[^`\n]*`", "", strip_code_blocks(text))  # inline code is not a link
    for target in LINK.findall(prose):
        if re.match(r"[a-z][a-z0-9+.-]*:", target):  # https:, mailto:…: not ours to check
            continue
        file_part, _, anchor = target.partition("#")
        linked = (path.parent / file_part).resolve() if file_part else path
        where = f"{path.relative_to(ROOT)}: ({target})"
        if not linked.exists():
            problems.append(f"{where}: no such file")
        elif anchor and linked.suffix == ".md" and anchor not in heading_anchors(read_file(linked)):
            problems.append(f"{where}: no heading with the anchor #{anchor}")
    return problems


def current_docs():
    return {str(path.relative_to(ROOT)): path.read_text() for path in DOC_FILES}


# --- the checks -----------------------------------------------------------------------------------


def test_the_reader_finds_the_settings_the_shop_reads():
    read = variables_read()
    # The parser sees what it should: helpers, os.environ outside the settings, docker-compose.yml.
    assert {"SECRET_KEY", "FIAT_RATES_URL", "VAR_DIR", "SANDBOX_RENTAL_SMS_COUNT", "SHOP_DOMAIN"} <= read
    assert "DJANGO_SETTINGS_MODULE" not in read  # set (setdefault) by the entry points, not a setting


def test_every_setting_is_documented_once_in_configuration_md():
    problems = setting_problems(variables_read(), current_docs())
    assert problems == [], "\n".join(problems)


def test_the_settings_check_fails_on_a_missing_a_doubled_a_misplaced_or_an_unknown_row():
    read, docs = variables_read(), current_docs()
    config = docs["docs/configuration.md"]
    row = next(line for line in config.splitlines() if line.startswith("| `SECRET_KEY` |"))

    def new_problems(changed):
        # Only what the change adds: the check is about the change even if the docs had a problem already.
        return [p for p in setting_problems(read, changed) if p not in setting_problems(read, docs)]

    without = dict(docs, **{"docs/configuration.md": config.replace(row + "\n", "")})
    assert new_problems(without) == ["SECRET_KEY: read by the code but has no row in docs/configuration.md"]
    doubled = dict(docs, **{"docs/configuration.md": config + "\n" + row + "\n"})
    assert new_problems(doubled) == [
        "SECRET_KEY: documented 2 times (docs/configuration.md, docs/configuration.md); keep one row"
    ]
    in_readme = dict(without, **{"README.md": docs["README.md"] + "\n" + row + "\n"})
    assert new_problems(in_readme) == ["SECRET_KEY: its row is in README.md; move it to docs/configuration.md"]
    fake = dict(docs, **{"docs/configuration.md": config + "\n| `NOT_A_SETTING` | `1` | nothing |\n"})
    assert new_problems(fake) == [
        "NOT_A_SETTING: documented but nothing reads it (the shop's code or docker-compose.yml)"
    ]
    # A setting the code starts reading without a row is caught, whether read by a helper or os.environ.
    assert environment_reads('X = env_int("NEW_LIMIT", 3)\nY = os.environ["OTHER"]\n') == {"NEW_LIMIT", "OTHER"}
    assert "NEW_LIMIT: read by the code but has no row in docs/configuration.md" in setting_problems(
        read | {"NEW_LIMIT"}, docs
    )


def test_every_relative_link_reaches_its_file_and_heading():
    problems = [p for path in DOC_FILES for p in link_problems(path, path.read_text())]
    assert problems == [], "\n".join(problems)


def test_the_link_check_fails_on_a_missing_file_or_heading():
    readme = ROOT / "README.md"
    broken = "[a](docs/nowhere.md) [b](docs/operating.md#no-such-part) [c](#quick-start) [d](https://x.example/y)"
    assert link_problems(readme, broken) == [
        "README.md: (docs/nowhere.md): no such file",
        "README.md: (docs/operating.md#no-such-part): no heading with the anchor #no-such-part",
    ]
    # Headings get GitHub's anchors, and code is not taken for a link or a heading.
    assert {"metrics-prometheus", "310-prepaid-account-post-fund-get-balance-get-history-doc"} <= heading_anchors(
        "## Metrics (Prometheus)\n### 3.10 Prepaid account: `POST /fund`, `GET /balance`, `GET /history` **[DOC]**\n"
    )
    assert link_problems(readme, "```\n[x](nowhere.md)\n```\n`[y](nowhere.md)`") == []

"""The three tiers of tests, given by what a test uses rather than by the folder it sits in (tests/conftest.py
calls ``mark_tiers`` on every collected test; tests/test_tiers.py checks the rule):

- ``browser``: drives Chromium (the ``browser``, ``new_page`` or ``page`` fixtures);
- ``integration``: starts something real beside the test: a live server, a real Celery worker, a local HTTP or
  SMTP server, or another process (``subprocess``, named by the test, by one of its fixtures or by a helper of
  their module that they call);
- ``unit``: everything else, `make test-fast`.

Each test gets exactly one of the three; a marker written by hand is replaced by the one the rule gives, so a
test cannot be filed in a tier it does not belong to (a Chromium test marked only ``integration`` or not at
all is still ``browser``).
"""

import inspect
import types

import pytest

TIERS = ("unit", "integration", "browser")

BROWSER_FIXTURES = {"browser", "new_page", "page"}
INTEGRATION_FIXTURES = {
    "live_server",
    "sandbox_url",
    "celery_worker",
    "shop",
    "receiver",
    "json_receiver",
    "smtp_receiver",
}
# Names that start another process when a test's code (or a helper it calls) refers to them.
PROCESS_NAMES = {"subprocess", "Popen"}


def tier_of(item):
    fixtures = set(getattr(item, "fixturenames", ()))
    if fixtures & BROWSER_FIXTURES:
        return "browser"
    if fixtures & INTEGRATION_FIXTURES or any(starts_processes(f) for f in functions_run(item)):
        return "integration"
    return "unit"


def functions_run(item):
    """The test function and the functions of the fixtures it uses."""
    yield getattr(item, "function", None)
    info = getattr(item, "_fixtureinfo", None)
    for definitions in info.name2fixturedefs.values() if info else ():
        yield from (definition.func for definition in definitions)


def mark_tiers(items):
    for item in items:
        tier = tier_of(item)
        for name in TIERS:
            if name != tier:
                # own_markers: the test's own; a module's pytestmark is in the module node's, cleared below.
                item.own_markers[:] = [mark for mark in item.own_markers if mark.name != name]
        item.add_marker(getattr(pytest.mark, tier))
    # Hand-written tier markers on modules and classes (pytestmark) would add a second tier to every test below.
    for node in {parent for item in items for parent in item.listchain()[:-1]}:
        node.own_markers[:] = [mark for mark in node.own_markers if mark.name not in TIERS]


def starts_processes(function):
    """Whether the function, or a function of its module that it calls (transitively), names subprocess."""
    if function is None:
        return False
    function = inspect.unwrap(function)
    module_globals = getattr(function, "__globals__", {})
    seen, todo = set(), [function.__code__]
    while todo:
        code = todo.pop()
        if code in seen:
            continue
        seen.add(code)
        if PROCESS_NAMES & set(code.co_names):
            return True
        # Nested functions and lambdas, and the module's own functions the code names.
        todo.extend(const for const in code.co_consts if isinstance(const, types.CodeType))
        for name in code.co_names:
            helper = module_globals.get(name)
            if isinstance(helper, types.FunctionType) and helper.__module__ == function.__module__:
                todo.append(helper.__code__)
    return False


def marked_tier(item):
    """The tier ``mark_tiers`` gave a test."""
    return next(name for name in TIERS if item.get_closest_marker(name))

"""The layout stays readable: the import graph of the project's packages (read from the sources with ast, every
import counted, also those inside functions) has no cycle, the engine imports none of the apps built on it,
and statuses are compared with the named sets of orders/models.py, not spelled-out tuples."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APPS = ("orders", "shop", "backoffice", "webhooks", "alerts", "sandbox", "shopsettings", "sms4sats_site")
# The project's wiring: settings, URLs, the WSGI/ASGI/Celery entry points and the /healthz view import the apps;
# no app imports them. The rest of sms4sats_site is infrastructure every app may use (shared Redis, ...).
SITE = {"sms4sats_site", "sms4sats_site.settings", "sms4sats_site.urls", "sms4sats_site.wsgi", "sms4sats_site.asgi"}
SITE |= {"sms4sats_site.celery", "sms4sats_site.health"}
# The engine: what the side apps are built on, and which must not know them.
ENGINE_MUST_NOT_IMPORT = ("shop", "backoffice", "webhooks", "alerts", "sandbox")


def module_name(path):
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_modules(path, known=()):
    """The absolute names of the modules one source file imports (relative imports resolved). ``from pkg import
    mod`` counts as importing ``pkg.mod`` alone when ``mod`` is one of the ``known`` modules."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                source = ".".join([*base, *([node.module] if node.module else [])])
            else:
                source = node.module
            names = [f"{source}.{alias.name}" for alias in node.names]  # a submodule, or an attribute
            found.update(names)
            if not all(name in known for name in names):
                found.add(source)
    return found


def node_of(module):
    """The graph's node of a module: its top-level package, the site's wiring apart."""
    if module in SITE:
        return "site"
    return module.split(".")[0]


def import_edges():
    """{(from node, to node): an example "module -> module"} over the project's source files."""
    modules = {}
    for app in APPS:
        for path in (ROOT / app).rglob("*.py"):
            modules[module_name(path)] = path
    edges = {}
    for name, path in sorted(modules.items()):
        for target in sorted(imported_modules(path, modules)):
            if target not in modules:
                continue  # a third-party module, or an attribute of a module already counted
            a, b = node_of(name), node_of(target)
            if a != b:
                edges.setdefault((a, b), f"{name} -> {target}")
    return edges


def find_cycle(edges):
    """One cycle of the graph as a list of nodes, or None."""
    graph = {}
    for a, b in edges:
        graph.setdefault(a, set()).add(b)
    state, stack = {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                return stack[stack.index(nxt) :] + [nxt]
            if nxt not in state:
                cycle = visit(nxt)
                if cycle:
                    return cycle
        stack.pop()
        state[node] = "done"
        return None

    for node in sorted(graph):
        if node not in state:
            cycle = visit(node)
            if cycle:
                return cycle
    return None


def test_the_packages_import_each_other_without_a_cycle():
    edges = import_edges()
    cycle = find_cycle(edges)
    assert cycle is None, "a package cycle: " + "; ".join(edges[a, b] for a, b in zip(cycle, cycle[1:], strict=False))


def test_no_app_imports_the_site_wiring():
    edges = import_edges()
    into_site = [example for (a, b), example in edges.items() if b == "site" and a != "site"]
    assert not into_site, into_site


def test_the_engine_imports_none_of_the_apps_built_on_it():
    edges = import_edges()
    wrong = [example for (a, b), example in edges.items() if a == "orders" and b in ENGINE_MUST_NOT_IMPORT]
    assert not wrong, wrong


def test_the_graph_sees_a_cycle_and_the_engine_importing_a_side_app():
    """The checks above can fail: a made-up edge back from the engine to the buyer pages is a cycle."""
    edges = import_edges()
    assert ("shop", "orders") in edges and ("backoffice", "orders") in edges
    edges[("orders", "shop")] = "orders.x -> shop.y"
    assert find_cycle(edges) is not None
    assert find_cycle({("a", "b"): "", ("b", "c"): ""}) is None


STATUS_ENUMS = ("Status", "SmsStatus")


def spelled_out_statuses(path):
    """Lines where a status is compared against a literal tuple, list or set of statuses (``in``, ``__in=``)."""

    def names_a_status(node):
        return isinstance(node, (ast.Tuple, ast.List, ast.Set)) and any(
            isinstance(e, ast.Attribute) and isinstance(e.value, ast.Name) and e.value.id in STATUS_ENUMS
            for e in node.elts
        )

    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Compare):
            for op, right in zip(node.ops, node.comparators, strict=True):
                if isinstance(op, (ast.In, ast.NotIn)) and names_a_status(right):
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
        elif isinstance(node, ast.keyword) and (node.arg or "").endswith("__in") and names_a_status(node.value):
            found.append(f"{path.relative_to(ROOT)}:{node.value.lineno}")
    return found


def test_statuses_are_compared_with_the_named_sets():
    found = [line for app in APPS for path in sorted((ROOT / app).rglob("*.py")) for line in spelled_out_statuses(path)]
    assert not found, f"use (or name) a set in orders/models.py: {found}"


def test_a_spelled_out_status_tuple_is_seen(tmp_path):
    example = ROOT / "tests" / "_layout_example.py"
    example.write_text(
        "def f(order, Status, Order):\n"
        "    return order.status in (Status.NEW, Status.CREATING) or Order.objects.filter(status__in=[Status.HELD])\n"
    )
    try:
        assert len(spelled_out_statuses(example)) == 2
    finally:
        example.unlink()

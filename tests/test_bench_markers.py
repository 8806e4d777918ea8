"""The benches read the pages the way a browser would see them: bench/code_to_eyes.py's "the code is shown" test
must match the status part of an order with its code, and not one still waiting (a template change once made the
bench see no code at all over HTTP)."""

import importlib.util
import sys
from pathlib import Path

from django.test import Client

from orders.models import Status
from tests.factories import make_order

BENCH = Path(__file__).resolve().parent.parent / "bench"


def code_to_eyes():
    sys.path.insert(0, str(BENCH))
    try:
        spec = importlib.util.spec_from_file_location("code_to_eyes", BENCH / "code_to_eyes.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(BENCH))


def status_part(order):
    return Client().get(order.get_absolute_url() + "status", HTTP_HX_REQUEST="true").content.decode()


def test_the_bench_sees_a_code_exactly_when_the_page_shows_one(db):
    shown = code_to_eyes().CODE_SHOWN
    assert shown.search(status_part(make_order(Status.COMPLETED, code="482913", number="4915123456789")))
    assert not shown.search(status_part(make_order(Status.WAITING_CODE, number="4915123456789")))

"""Every Celery task has a soft and a hard time limit (sms4sats_site/celery.py says how they apply), and the tasks
where it matters end cleanly on the soft one."""

import pytest
from celery.exceptions import Retry, SoftTimeLimitExceeded

from sms4sats_site.celery import app


def shop_tasks():
    app.loader.import_default_modules()  # the apps' tasks modules, as a worker imports them
    return sorted(name for name in app.tasks if not name.startswith("celery."))


def test_the_shop_has_tasks():
    assert {"orders.tasks.poll_due_orders", "alerts.tasks.deliver_alert", "webhooks.tasks.deliver"} <= set(shop_tasks())
    assert "sandbox.tasks.deliver_due_webhooks" in shop_tasks()


@pytest.mark.parametrize("name", shop_tasks())
def test_every_task_has_a_soft_and_a_hard_time_limit(name):
    task = app.tasks[name]
    assert task.soft_time_limit and task.time_limit, f"{name} has no time limits"
    assert 0 < task.soft_time_limit < task.time_limit, f"{name}: the soft limit must come first"


def test_a_webhook_attempt_is_killed_before_its_lease_runs_out(settings):
    from webhooks import delivery, tasks

    lease = 3 * settings.WEBHOOK_TIMEOUT_SECONDS + delivery.LEASE_MARGIN_SECONDS
    assert tasks.deliver.time_limit < lease


def test_the_minute_checks_end_before_the_next_minute():
    assert app.tasks["alerts.tasks.check_conditions"].time_limit < 60


def test_a_cancel_out_of_time_is_retried(monkeypatch):
    from orders import lifecycle, tasks

    def slow(order_id):
        raise SoftTimeLimitExceeded()

    monkeypatch.setattr(lifecycle, "cancel_upstream", slow)
    retried = []
    monkeypatch.setattr(tasks.cancel_order, "retry", lambda **kw: retried.append(kw) or Retry())
    with pytest.raises(Retry):
        tasks.cancel_order.run(1)
    assert isinstance(retried[0]["exc"], SoftTimeLimitExceeded)


def test_a_poll_cycle_out_of_time_ends_quietly(monkeypatch, caplog):
    from orders import polling, tasks

    def slow():
        raise SoftTimeLimitExceeded()

    monkeypatch.setattr(polling, "poll_cycle", slow)
    assert tasks.poll_due_orders.run() is None
    assert "time limit" in caplog.text


def test_an_alert_delivery_out_of_time_is_retried(monkeypatch):
    from alerts import delivery, tasks

    def slow(*args, **kwargs):
        raise SoftTimeLimitExceeded()

    monkeypatch.setattr(delivery, "deliver", slow)
    retried = []
    monkeypatch.setattr(tasks.deliver_alert, "retry", lambda **kw: retried.append(kw) or Retry())
    with pytest.raises(Retry):
        tasks.deliver_alert.run(7)
    assert retried[0]["args"] == (7, None)

"""What the engine announces, so that the side apps (webhooks/, and any other) follow orders without the engine
importing them: they connect their receivers in their AppConfig.ready.

``order_changed`` is sent by ``orders.lifecycle`` wherever an order's row changes (``transition`` and
``record_change``), inside the transaction of that change and only when the change was made: what a receiver
writes commits or rolls back with it, and an exception in a receiver undoes the change. Arguments:
``order`` (as it was before the change), ``to_status`` (the same status for a change that is not a move),
``fields`` (the fields written) and ``at`` (the moment of the change).
"""

from django.dispatch import Signal

order_changed = Signal(use_caching=True)  # sent on the poll cycle's hot path: the receivers looked up once

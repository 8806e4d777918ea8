"""The sandbox: a simulated sms4sats API at /sandbox/api (SMS4SATS_API_URL = <site>/sandbox/api), a test
wallet at /sandbox/wallet/ and a control switch at /sandbox/control. Installed only when settings.SANDBOX.

Modules: ``api`` (the simulated API's views), ``models`` (its orders, whose state is derived from time),
``wallet`` (paying its invoices, and the wallet pages), ``control`` (global scenarios and faults, and the
control view), ``tasks`` (webhooks), ``catalog``, ``invoices``, ``clock``.

Shapes and JSON types follow docs/sms4sats-api.md (``receive``/``s4s`` strings, ``send``/``rent``
numbers, bare arrays for lists, ``code``/``number``/``id`` numbers for receive orders, ``id`` "SM..." for
send orders, country and service NAMES in /orderstatus, timestamps in ms). Errors are
``{"status": "error", "reason": ...}``: 400 for the caller's mistakes (unknown country/service/order,
bad phone, message > 140, missing fields, body not JSON, missing or wrong X-API-Key, insufficient
balance, refused cancel), 404 for an unknown endpoint, 500 for faults.

Invoices are real BOLT11 (``lnbcrt``, regtest), signed by a fixed sandbox key; orderId = payment hash.
Prices are deterministic: a receive invoice = /price computed.price, a rental = its country's
/getRentalCountries price, a send = /price send (3000), a fund = the amount.

Time drives everything (see SandboxOrder.timeline; nothing is stored but timestamps):
- receive: paid (held) -> number after SANDBOX_NUMBER_DELAY -> code SANDBOX_CODE_DELAY later (settled).
  With no code, auto-canceled SANDBOX_AUTO_CANCEL seconds after payment.
- rental: paid (held) -> number after SANDBOX_NUMBER_DELAY -> its first SMS SANDBOX_CODE_DELAY later, then
  one SMS every SANDBOX_RENTAL_SMS_INTERVAL seconds, SANDBOX_RENTAL_SMS_COUNT in all, none after the rental's
  end (payment + its weeks). /orderstatus's ``code`` is the latest SMS's code (a sandbox choice: the
  contract does not say how later SMS show; most likely so), each one different; there is no message text
  field. No auto-cancel and no /cancelorder (400: rentals are not refundable). Scenario "no_number": the
  no-number error at the number's time, the payment returned; "no_code": the number, and never an SMS.
- send: paid -> smsStatus "created" -> "sent" after SANDBOX_SMS_SENT_DELAY -> "delivered"
  SANDBOX_SMS_DELIVERED_DELAY later; or "failed" (payment canceled) in the sms_fail scenario.
- fund: credited to the API key's balance when paid. Immediate orders (immediate: true + key) are
  paid from the balance at once (payreq "paid"); if their payment is later canceled (no number,
  timeout, cancel, failed SMS) the sats count back into the balance.
- An unpaid invoice can be paid until SANDBOX_INVOICE_EXPIRY; after that the wallet refuses it and
  /orderstatus keeps saying {"status": "OK", "paid": false}.

/orderstatus after the payment was canceled (the contract leaves it open), always 200:
- no number: {"status":"OK","paid":true,"error":"No available number, payment request is canceled. ..."}
  (verbatim from the contract);
- auto-cancel: the number fields plus "error": "No code received in time, payment request is canceled. ...";
- /cancelorder: the number fields (if a number was assigned) plus "error": "Order canceled, ...".
/cancelorder (GET ?orderId=, POST accepted too) is refused with 400 when the order is unpaid (an unpaid
invoice just expires), before SANDBOX_CANCEL_AFTER seconds after payment, after the code, when already
canceled, and for rental or send orders.

Scenarios (magic values):
- service ``nonumber``: no number is available after payment (the payment is returned);
- service ``nocode``: a number is assigned, the code never comes (auto-cancel);
- send order to a phone ending in ``0000``: the SMS fails;
- globally (the only way for rentals, whose service is always "full"): POST /sandbox/control
  {"scenario": null|"no_number"|"no_code"|"sms_fail", "error_rate": 0..1,
  "slow_seconds": float, "malformed_rate": 0..1} (GET reads it; stored in the cache, shared by all
  processes). A scenario applies to orders created while it is set. Faults apply to /sandbox/api/*:
  error_rate -> 500 {"status":"error","reason":"backend error"}, slow_seconds -> a delay before the
  answer, malformed_rate -> 200 with a cut-off JSON body. A request can force one fault with the header
  ``X-Sandbox-Fault: error|malformed|slow``.
  The control takes only a same-origin JSON POST: ``Content-Type: application/json`` and an ``Origin`` (or
  ``Referer``) naming this site or PUBLIC_BASE_URL; anything else is refused with 403 (a cross-site form
  or ``text/plain`` POST cannot switch a tester's sandbox). From a script:
  ``curl -H 'Origin: http://127.0.0.1:8000' --json '{"scenario": "no_code"}' http://127.0.0.1:8000/sandbox/control``.

Webhooks: a send order's webhookUrl gets a JSON POST of the /orderstatus body at each smsStatus change,
from Celery tasks scheduled when it is paid, and from the beat task sandbox.tasks.deliver_due_webhooks.
A sandbox choice (the real sms4sats takes any URL): the webhookUrl must be on the shop's own address
(the origin of PUBLIC_BASE_URL), else /createsendorder refuses it with 400, and a stored one that is not
(the shop moved) is never posted; an open sandbox never POSTs wherever a caller asks.
"""

"""Real BOLT11 invoices for the sandbox: regtest (``lnbcrt``) so no wallet could pay real money,
signed by a fixed sandbox key. The order id is the payment hash; we keep the preimage."""

import hashlib
import os
from dataclasses import dataclass
from datetime import datetime, timedelta

import bolt11
from bolt11 import Bolt11, MilliSatoshi, Tag, TagChar, Tags
from django.conf import settings

# A constant key: invoices are reproducibly "from the sandbox node", and nobody needs a secret for it.
SANDBOX_PRIVATE_KEY = hashlib.sha256(b"sms4sats-sandbox").hexdigest()
CURRENCY = "bcrt"


@dataclass
class Invoice:
    payreq: str
    payment_hash: str
    preimage: str
    expires_at: datetime


def new_preimage():
    """A random preimage and its payment hash (both hex). Immediate orders use this without an invoice."""
    preimage = os.urandom(32)
    return preimage.hex(), hashlib.sha256(preimage).hexdigest()


def make_invoice(sats, description, created_at):
    preimage, payment_hash = new_preimage()
    expiry = int(settings.SANDBOX_INVOICE_EXPIRY)
    tags = Tags(
        [
            Tag(TagChar.payment_hash, payment_hash),
            Tag(TagChar.description, description),
            Tag(TagChar.expire_time, expiry),
            Tag(TagChar.payment_secret, os.urandom(32).hex()),
        ]
    )
    date = int(created_at.timestamp())
    invoice = Bolt11(currency=CURRENCY, amount_msat=MilliSatoshi(sats * 1000), date=date, tags=tags)
    payreq = bolt11.encode(invoice, SANDBOX_PRIVATE_KEY)
    return Invoice(payreq, payment_hash, preimage, created_at.replace(microsecond=0) + timedelta(seconds=expiry))


def payment_hash_of(payreq):
    """The payment hash of a BOLT11 string (a ``lightning:`` prefix is fine). ValueError if it isn't one."""
    text = payreq.strip()
    if text.lower().startswith("lightning:"):
        text = text[len("lightning:") :]
    try:
        return bolt11.decode(text.lower()).payment_hash
    except Exception as exc:  # the decoder raises several kinds of errors for garbage
        raise ValueError("not a valid BOLT11 invoice") from exc

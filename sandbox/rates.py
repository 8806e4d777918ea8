"""The sandbox's BTC price ticker (/sandbox/ticker), in the format of the default rates source
(https://blockchain.info/ticker): a new shop shows fiat amounts at once, with no outside call.

Fixed, round prices: nothing real is priced in the sandbox."""

from django.http import JsonResponse
from django.views.decorators.http import require_GET

# The price of one bitcoin, per currency (and the symbol the real ticker carries).
PRICES = {
    "USD": (100_000, "$"),
    "EUR": (92_000, "€"),
    "GBP": (79_000, "£"),
    "BRL": (540_000, "R$"),
    "RUB": (8_000_000, "₽"),
    "CHF": (88_000, "CHF"),
    "CAD": (138_000, "$"),
    "AUD": (152_000, "$"),
    "JPY": (15_000_000, "¥"),
    "PLN": (400_000, "zł"),
    "SEK": (1_050_000, "kr"),
    "INR": (8_500_000, "₹"),
}


@require_GET
def ticker(request):
    return JsonResponse(
        {
            code: {"15m": price, "last": price, "buy": price, "sell": price, "symbol": symbol}
            for code, (price, symbol) in PRICES.items()
        }
    )

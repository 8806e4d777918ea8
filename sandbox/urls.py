"""Mounted at /sandbox/ (only when settings.SANDBOX). The API lives under /sandbox/api, so
SMS4SATS_API_URL = <site>/sandbox/api."""

from django.urls import path, re_path

from . import api, control, rates, wallet

app_name = "sandbox"
urlpatterns = [
    path("api", api.root, name="api-root-noslash"),
    path("api/", api.root, name="api-root"),
    path("api/getCountries", api.get_countries, name="get-countries"),
    path("api/getnumbersstatus", api.get_numbers_status, name="get-numbers-status"),
    path("api/getRentalCountries", api.get_rental_countries, name="get-rental-countries"),
    path("api/price", api.price, name="price"),
    path("api/createorder", api.create_order, name="create-order"),
    path("api/orderstatus", api.order_status, name="order-status"),
    path("api/cancelorder", api.cancel_order, name="cancel-order"),
    path("api/createsendorder", api.create_send_order, name="create-send-order"),
    path("api/fund", api.fund, name="fund"),
    path("api/balance", api.get_balance, name="balance"),
    path("api/history", api.history, name="history"),
    # Anything else under the API answers the JSON envelope too, never Django's HTML 404.
    re_path(r"^api/(?P<rest>.*)$", api.not_found, name="api-not-found"),
    path("control", control.control_view, name="control"),
    path("ticker", rates.ticker, name="ticker"),
    path("wallet/", wallet.wallet, name="wallet"),
    path("wallet/pay", wallet.wallet_pay, name="wallet-pay"),
]

"""Mounted at /sandbox/ (only when settings.SANDBOX). The API lives under /sandbox/api, so
SMS4SATS_API_URL = <site>/sandbox/api."""

from django.urls import path, re_path

from . import views

app_name = "sandbox"
urlpatterns = [
    path("api", views.root, name="api-root-noslash"),
    path("api/", views.root, name="api-root"),
    path("api/getCountries", views.get_countries, name="get-countries"),
    path("api/getnumbersstatus", views.get_numbers_status, name="get-numbers-status"),
    path("api/getRentalCountries", views.get_rental_countries, name="get-rental-countries"),
    path("api/price", views.price, name="price"),
    path("api/createorder", views.create_order, name="create-order"),
    path("api/orderstatus", views.order_status, name="order-status"),
    path("api/cancelorder", views.cancel_order, name="cancel-order"),
    path("api/createsendorder", views.create_send_order, name="create-send-order"),
    path("api/fund", views.fund, name="fund"),
    path("api/balance", views.get_balance, name="balance"),
    path("api/history", views.history, name="history"),
    # Anything else under the API answers the JSON envelope too, never Django's HTML 404.
    re_path(r"^api/(?P<rest>.*)$", views.not_found, name="api-not-found"),
    path("control", views.control_view, name="control"),
    path("wallet/", views.wallet, name="wallet"),
    path("wallet/pay", views.wallet_pay, name="wallet-pay"),
]

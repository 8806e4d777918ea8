from django.urls import path

from orders import sms_hooks

from . import currency, views

app_name = "orders"
urlpatterns = [
    # The hottest URL of the site (every open order page, every 2 s) is tried first.
    path("o/<uuid:public_id>/status", views.order_status, name="status"),
    path("", views.home, name="home"),
    path("catalog/services", views.services_fragment, name="services"),
    path("catalog/show", views.show_services, name="show_services"),
    path("catalog/price", views.price_fragment, name="price"),
    path("send/", views.send, name="send"),
    path("rent/", views.rent, name="rent"),
    path("catalog/open", views.orders_open, name="orders_open"),
    path("orders/", views.my_orders, name="my_orders"),
    path("how-it-works/", views.how_it_works, name="how"),
    path("currency/", currency.choose_currency, name="currency"),
    path("o/<uuid:public_id>/", views.order_detail, name="detail"),
    path("o/<uuid:public_id>/cancel", views.order_cancel, name="cancel"),
    path("o/<uuid:public_id>/receipt", views.order_receipt, name="receipt"),
    path("o/<uuid:public_id>/receipt.txt", views.order_receipt_file, name="receipt_file"),
    path("hooks/send/<uuid:public_id>/<str:secret>", sms_hooks.send_status, name="send_webhook"),
]

from django.urls import path
from django.views.i18n import set_language

from . import views, views_auth

app_name = "portal"

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", views_auth.login, name="login"),
    path("login/code/", views_auth.login_code, name="login_code"),
    path("logout/", views_auth.logout, name="logout"),
    path("activate/<uidb64>/<token>/", views_auth.activate, name="activate"),
    path("password/reset/", views_auth.PasswordReset.as_view(), name="password_reset"),
    path("password/reset/sent/", views_auth.PasswordResetDone.as_view(), name="password_reset_done"),
    path(
        "password/reset/<uidb64>/<token>/",
        views_auth.PasswordResetConfirm.as_view(),
        name="password_reset_confirm",
    ),
    path("language/", set_language, name="language"),
    path("account/", views.account, name="account"),
    path("orders/", views.orders, name="orders"),
    path("orders/<int:pk>/", views.order, name="order"),
    path("products/", views.units, name="units"),
    path("products/<int:pk>/", views.unit, name="unit"),
    path("billing/", views.billing, name="billing"),
    path("tickets/", views.tickets, name="tickets"),
    path("tickets/new/", views.ticket_new, name="ticket_new"),
    path("tickets/<int:pk>/", views.ticket, name="ticket"),
    path("tickets/<int:pk>/close/", views.ticket_close, name="ticket_close"),
    path("tickets/<int:pk>/rate/", views.ticket_rate, name="ticket_rate"),
    path("attachments/<int:pk>/", views.attachment, name="attachment"),
    path("help/", views.kb, name="kb"),
    path("help/<int:pk>/", views.article, name="article"),
    path("preferences/", views.preferences, name="preferences"),
    path("privacy/", views.privacy, name="privacy"),
    path("security/", views.security, name="security"),
    path("deals/", views.deals, name="deals"),
    path("deals/new/", views.deal_new, name="deal_new"),
]

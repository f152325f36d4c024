from django.urls import path

from . import views

app_name = "security"
urlpatterns = [
    path("", views.my_security, name="mine"),
    path("two-factor/", views.two_factor, name="two_factor"),
    path("two-factor/recovery-codes/", views.recovery_codes, name="recovery_codes"),
    path("two-factor/off/", views.two_factor_off, name="two_factor_off"),
    path("sign-out-everywhere/", views.sign_out_everywhere, name="sign_out_everywhere"),
    path("sign-ins/", views.logins, name="logins"),
    path("users/<int:pk>/", views.user_action, name="user_action"),
    path("roles/", views.role_policies, name="roles"),
]

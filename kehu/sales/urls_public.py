from django.urls import path

from . import views_public

app_name = "public"
urlpatterns = [path("leads/<str:key>/", views_public.lead_form, name="lead_form")]

from django.urls import path

from . import views_public

app_name = "marketing_public"
urlpatterns = [
    path("o/<str:token>/", views_public.open_pixel, name="open"),
    path("c/<str:token>/<int:index>/", views_public.click, name="click"),
    path("u/<str:token>/", views_public.unsubscribe, name="unsubscribe"),
]

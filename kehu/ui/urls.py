from django.urls import path

from . import generic, views

app_name = "ui"
urlpatterns = [
    path("", views.home, name="home"),
    path("search/", views.search_view, name="search"),
    path("notifications/", views.notifications, name="notifications"),
    path("me/", views.profile, name="profile"),
    path("me/token/", views.token, name="token"),
    path("language/", views.set_language, name="set_language"),
    path("soon/<slug:key>/", views.arriving, name="arriving"),
    path("views/save/", generic.SavedViewCreate.as_view(), name="saved_view_create"),
    path("views/<int:pk>/delete/", generic.SavedViewDelete.as_view(), name="saved_view_delete"),
]

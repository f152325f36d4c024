from django.urls import path

from kehu.ui.generic import BulkActionView, RecordDeleteView

from . import views
from .models import Interaction, Task

app_name = "interactions"
urlpatterns = [
    path("", views.InteractionList.as_view(), name="list"),
    path("bulk/", BulkActionView.as_view(model=Interaction), name="bulk"),
    path("<int:pk>/", views.InteractionDetail.as_view(), name="detail"),
    path("<int:pk>/edit/", views.InteractionEdit.as_view(), name="edit"),
    path("customer/<int:pk>/timeline/", views.timeline_page, name="timeline"),
    path("customer/<int:pk>/log/", views.quick_log, name="log"),
    path("customer/<int:pk>/task/", views.quick_task, name="quick_task"),
    path("tasks/", views.TaskList.as_view(), name="tasks"),
    path("tasks/bulk/", BulkActionView.as_view(model=Task), name="tasks_bulk"),
    path("tasks/new/", views.TaskEdit.as_view(), name="task_create"),
    path("tasks/<int:pk>/", views.TaskDetail.as_view(), name="task"),
    path("tasks/<int:pk>/edit/", views.TaskEdit.as_view(), name="task_edit"),
    path("tasks/<int:pk>/complete/", views.task_complete, name="task_complete"),
    path(
        "tasks/<int:pk>/delete/",
        RecordDeleteView.as_view(model=Task, success_url_name="interactions:tasks"),
        name="task_delete",
    ),
    path("calendar/", views.calendar_view, name="calendar"),
]

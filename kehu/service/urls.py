from django.urls import path

from kehu.ui.generic import BulkActionView

from . import views
from .models import Ticket

app_name = "service"
urlpatterns = [
    path("", views.queue_page, name="queue"),
    path("availability/", views.availability_set, name="availability"),
    path("tickets/", views.TicketList.as_view(), name="tickets"),
    path("tickets/bulk/", BulkActionView.as_view(model=Ticket), name="tickets_bulk"),
    path("tickets/new/", views.TicketEdit.as_view(), name="ticket_create"),
    path("tickets/<int:pk>/", views.ticket_detail, name="ticket"),
    path("tickets/<int:pk>/edit/", views.TicketEdit.as_view(), name="ticket_edit"),
    path("tickets/<int:pk>/take/", views.ticket_take, name="ticket_take"),
    path("tickets/<int:pk>/assign/", views.ticket_assign, name="ticket_assign"),
    path("tickets/<int:pk>/status/", views.ticket_status, name="ticket_status"),
    path("tickets/<int:pk>/message/", views.ticket_message, name="ticket_message"),
    path("tickets/<int:pk>/canned/<int:canned_pk>/", views.canned_text, name="canned_text"),
    path("tickets/<int:pk>/merge/", views.ticket_merge, name="ticket_merge"),
    path("tickets/<int:pk>/split/", views.ticket_split, name="ticket_split"),
    path("tickets/<int:pk>/watch/", views.ticket_watch, name="ticket_watch"),
    path("attachments/<int:pk>/", views.attachment_download, name="attachment"),
    path("customer/<int:customer_pk>/ticket/", views.quick_ticket, name="quick_ticket"),
]

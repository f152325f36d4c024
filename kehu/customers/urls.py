from django.urls import path

from kehu.ui.generic import BulkActionView, RecordDeleteView

from . import views, views_dedup, views_import
from .models import Customer

app_name = "customers"
urlpatterns = [
    path("", views.CustomerList.as_view(), name="list"),
    path("bulk/", BulkActionView.as_view(model=Customer), name="bulk"),
    path("contacts/", views.ContactList.as_view(), name="contacts"),
    path("contacts/bulk/", BulkActionView.as_view(model=Customer), name="contacts_bulk"),
    path("new/", views.CustomerEdit.as_view(), name="create"),
    path("lookup/<slug:kind>/", views.lookup, name="lookup"),
    path("<int:pk>/", views.CustomerDetail.as_view(), name="detail"),
    path("<int:pk>/edit/", views.CustomerEdit.as_view(), name="edit"),
    path(
        "<int:pk>/delete/",
        RecordDeleteView.as_view(model=Customer, success_url_name="customers:list"),
        name="delete",
    ),
    path("<int:pk>/points/", views.contact_point_add, name="point_add"),
    path("<int:pk>/addresses/", views.address_add, name="address_add"),
    path("<int:pk>/points/<slug:kind>/<int:item>/remove/", views.contact_point_remove, name="point_remove"),
    path("<int:pk>/consent/", views.consent_add, name="consent"),
    path("<int:pk>/lifecycle/", views.lifecycle_change, name="lifecycle"),
    path("duplicates/", views_dedup.duplicates, name="duplicates"),
    path("duplicates/scan/", views_dedup.duplicates_scan, name="duplicates_scan"),
    path("duplicates/auto-merge/", views_dedup.auto_merge, name="duplicates_auto_merge"),
    path("duplicates/<int:pk>/", views_dedup.compare, name="duplicate"),
    path("duplicates/<int:pk>/merge/", views_dedup.merge_pair, name="duplicate_merge"),
    path("duplicates/<int:pk>/dismiss/", views_dedup.dismiss, name="duplicate_dismiss"),
    path("merges/<int:pk>/undo/", views_dedup.undo, name="merge_undo"),
    path("imports/", views_import.import_list, name="imports"),
    path("imports/new/", views_import.import_new, name="import_new"),
    path("imports/template.<slug:fmt>", views_import.import_template, name="import_template"),
    path("imports/<int:pk>/", views_import.import_detail, name="import_detail"),
    path("imports/<int:pk>/mapping/", views_import.import_mapping, name="import_mapping"),
    path("imports/<int:pk>/values/", views_import.import_values, name="import_values"),
    path("imports/<int:pk>/file/", views_import.import_reread, name="import_reread"),
    path("imports/<int:pk>/progress/", views_import.import_progress, name="import_progress"),
    path("imports/<int:pk>/errors.<slug:fmt>", views_import.import_errors, name="import_errors"),
    *[
        path(
            f"imports/<int:pk>/{action}/",
            views_import.import_act,
            {"action": action},
            name=f"import_{action}",
        )
        for action in views_import.ACTIONS
    ],
]

app_name = "salesmgmt"
urlpatterns: list = []

import os

from django.core.wsgi import get_wsgi_application

from kehu.core.runtime import tune_gc

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kehu.settings.production")
application = get_wsgi_application()
tune_gc()  # after start-up: the loaded modules are frozen out of the collector's passes (kehu.core.runtime)

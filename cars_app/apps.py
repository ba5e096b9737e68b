from django.apps import AppConfig


class CarsAppConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "cars_app"
    verbose_name = "Cars"

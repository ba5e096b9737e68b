from django.contrib.auth.models import User
from django.db.models.signals import post_save
from django.dispatch import receiver

from .services import settings_seed


# Users are created by Django itself (createsuperuser, the admin), outside our services, so a
# signal is the one place that sees every new user.
@receiver(post_save, sender=User, dispatch_uid="plugtrack_seed_settings_for_new_user")
def seed_settings_for_new_user(sender, instance: User, created: bool, raw: bool = False, **kwargs):
    if created and not raw:
        settings_seed(users=[instance])

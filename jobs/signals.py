from django.dispatch import Signal

# Sent when `manage.py db_worker` starts, before it takes any task: an app that keeps work of its own
# queued (the hourly scheduled backups) makes sure it is, whatever happened while no worker ran.
worker_started = Signal()

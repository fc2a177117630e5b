from django.db import models


class DesiredState(models.TextChoices):
    STOPPED = "stopped", "Stopped"
    RUNNING = "running", "Running"


class StoppedBy(models.TextChoices):
    """Who made the last stop: the strategy's owner (the API, the web app), an administrator (the admin, the
    operator's command), or the system itself."""

    OWNER = "owner", "Owner"
    ADMIN = "admin", "Admin"
    SYSTEM = "system", "System"

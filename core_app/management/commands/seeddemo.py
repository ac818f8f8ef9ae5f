"""Create the demo organization and admin user for `make run` (idempotent)."""

import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from core_app.models import Organization
from core_app.roles import Role
from core_app.services import create_organization, set_membership


class Command(BaseCommand):
    help = "Create the 'demo' organization and an 'admin' superuser; print the credentials."

    def add_arguments(self, parser):
        parser.add_argument("--username", default="admin")

    def handle(self, username, **options):
        org = Organization.objects.filter(slug="demo").first() or create_organization("demo", "Demo")
        password_file = settings.VAR_DIR / "admin-password.txt"
        user = get_user_model().objects.filter(username=username).first()
        if user is None or not password_file.exists():
            password = secrets.token_urlsafe(12)
            user = user or get_user_model()(username=username)
            user.is_staff = user.is_superuser = True
            user.set_password(password)
            user.save()
            settings.VAR_DIR.mkdir(parents=True, exist_ok=True)
            password_file.write_text(password + "\n")
            password_file.chmod(0o600)
        set_membership(org, user, Role.OWNER)
        password = password_file.read_text().strip()
        self.stdout.write(f"FlowGate admin: user '{username}', password '{password}' (kept in {password_file})")

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from core_app.models import Organization
from core_app.roles import Role
from core_app.services import set_membership


class Command(BaseCommand):
    help = "Add a user (created if missing) to an organization with a role. Prints the username."

    def add_arguments(self, parser):
        parser.add_argument("org_slug")
        parser.add_argument("username")
        parser.add_argument("--role", default=Role.VIEWER, choices=Role.values)
        parser.add_argument("--password", default=None, help="Set this password (new or existing user).")
        parser.add_argument("--email", default="")

    def handle(self, org_slug, username, role, password, email, **options):
        org = Organization.objects.filter(slug=org_slug).first()
        if org is None:
            raise CommandError(f"No organization with slug '{org_slug}'.")
        user, created = get_user_model().objects.get_or_create(username=username, defaults={"email": email})
        # Members use the admin too, so they need staff status; what they see is limited by membership.
        user.is_staff = True
        if password:
            user.set_password(password)
        elif created:
            user.set_unusable_password()
        user.save()
        set_membership(org, user, role)
        self.stdout.write(user.username)

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from core_app.services import create_api_token


class Command(BaseCommand):
    help = "Create a personal API token for a user. Prints the token (it is shown only once)."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--name", default="cli")

    def handle(self, username, name, **options):
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user named '{username}'.")
        _, plaintext = create_api_token(user, name=name)
        self.stdout.write(plaintext)

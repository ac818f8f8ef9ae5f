from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.core.validators import validate_slug

from core_app.models import Organization
from core_app.services import create_organization


class Command(BaseCommand):
    help = "Create an organization. Prints its slug."

    def add_arguments(self, parser):
        parser.add_argument("slug")
        parser.add_argument("--name", default=None)

    def handle(self, slug, name, **options):
        try:
            validate_slug(slug)
        except ValidationError as exc:
            raise CommandError(f"slug: {exc.messages[0]}")
        if Organization.objects.filter(slug=slug).exists():
            raise CommandError(f"An organization with slug '{slug}' already exists.")
        org = create_organization(slug, name)
        self.stdout.write(org.slug)

"""`manage.py createregistrationtoken <org-slug>`: print a new registration token (only the token)."""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from core_app.models import Organization
from gateways_app.services import create_registration_token


class Command(BaseCommand):
    help = "Create a registration token for an organization and print it (and nothing else) on stdout."

    def add_arguments(self, parser):
        parser.add_argument("org_slug", help="Slug of the organization the gateways will join.")
        parser.add_argument("--ttl", type=int, default=None, help="Lifetime in seconds (default: the org's setting).")
        parser.add_argument("--uses", type=int, default=1, help="How many gateways may enroll with it (default 1).")
        parser.add_argument("--name", default="created with manage.py", help="A name to recognise the token by.")
        parser.add_argument(
            "--allow-re-enroll",
            action="store_true",
            help="Let gateways take over the identity of an existing gateway with the same name (lost state).",
        )

    def handle(self, *args, org_slug, ttl, uses, name, allow_re_enroll, **options):
        org = Organization.objects.filter(slug=org_slug).first()
        if org is None:
            raise CommandError(f"No organization with slug {org_slug!r}.")
        if ttl is not None and ttl <= 0:
            raise CommandError("--ttl must be a positive number of seconds.")
        if uses < 1:
            raise CommandError("--uses must be at least 1.")
        try:
            _, raw = create_registration_token(
                org, name=name[:100], created_by=None, ttl=ttl, max_uses=uses, allow_re_enroll=allow_re_enroll
            )
        except ValidationError as error:
            raise CommandError(" ".join(error.messages))
        self.stdout.write(raw)

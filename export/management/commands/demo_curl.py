from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from rest_framework.authtoken.models import Token


class Command(BaseCommand):
    help = "Print the documented curl line for a user's export, creating the user's API token if needed."

    def add_arguments(self, parser):
        parser.add_argument("--user", default="demo", help="username (default: demo, from fixtures/demo.json)")
        parser.add_argument("--base-url", default="http://127.0.0.1:8000", help="where the service listens")

    def handle(self, *args, user, base_url, **options):
        User = get_user_model()
        try:
            owner = User.objects.get(**{User.USERNAME_FIELD: user})
        except User.DoesNotExist:
            raise CommandError(f"No user named {user!r}: load fixtures/demo.json first.")
        token, _ = Token.objects.get_or_create(user=owner)
        # The request of the original API documentation, header for header (README, "POST /v1/export/google").
        self.stdout.write(
            f"curl \"{base_url.rstrip('/')}/v1/export/google\" -d '' -X POST "
            '-H "Content-Type: application/json" -H "Accept: text/plain" '
            f'-H "Authorization: Token token={token.key}"'
        )

"""Reproducible, realistic slots for the benchmark (import after django.setup()).

The text is what makes an export expensive, so it is the awkward kind:
accents, CJK, emoji, the separators the format escapes (`,` `;` `\\`),
newlines (also CRLF), and descriptions of several hundred characters that
fold over many lines. Some slots are all-day, some have an open end, the
visibility is mixed. The same seed and username always give the same slots.
"""
import random
import uuid
from datetime import datetime, timedelta, timezone

from django.contrib.auth import get_user_model
from django.db import transaction
from rest_framework.authtoken.models import Token

from slots.models import Slot

BATCH_SIZE = 5000

TITLES = (
    "Team stand-up",
    "Réunion d'équipe, salle 3",
    "Zahnarzt Dr. Müller; Kontrolle",
    "四半期計画の会議",
    "Café ☕ avec Zoë et Chloé",
    "Lunch, then gym; maybe sauna",
    "C:\\Users\\Nora",
    "Release 2.3 \\ hotfix",
    "Ørestad møde 🚲",
    "Встреча с клиентом",
    "Παρουσίαση έργου",
    "生日派对 🎂🎉",
    "Flight LH 400 ✈️ FRA→JFK",
    "Yoga 🧘‍♀️",
    "Review: Q3; budget, hiring",
    "1:1 with Søren",
    "Kita-Eingewöhnung",
    "दंत चिकित्सक",
)

PHRASES = (
    "Bring the printed agenda, the signed contract and the laptop charger.",
    "Agenda: 1) status, 2) risks; 3) next steps, 4) any other business.",
    "Prière d'arriver dix minutes en avance; le badge est à l'accueil.",
    "Bitte Versichertenkarte mitbringen, Überweisung liegt vor.",
    "会議室は3階です。資料は共有フォルダにあります。",
    "记得带上礼物和蛋糕 🎁🍰，晚上七点开始。",
    "Path of the shared files: \\\\fileserver\\team\\2024\\Q3; ask Nora for access.",
    "Dial-in: +49 30 1234567, PIN 4711; backup line +1 555 0100.",
    "Don't forget: umbrella ☔, keys 🔑, passport 🛂.",
    "Σημειώσεις: φέρτε τις διαφάνειες, τον προβολέα και καφέ.",
    "Notes from last time:\nthe vendor wants a decision by Friday, the budget is fixed.",
    "Zoë's flight lands at 18:05; pick-up at gate B, terminal 2.",
    "Parking is free after 6 pm; use the entrance on Rue de la Paix, not the main one.",
    "Списки участников и повестка дня будут разосланы заранее.",
    "If you are late, text me: I'll wait in the café on the corner.",
    "Menu ideas; pasta, salad, tiramisù 🍝🥗.",
)

LOCATIONS = (
    "",
    "",
    "Room 4.12",
    "Straße des 17. Juni 135, 10623 Berlin",
    "東京都渋谷区神南1-2-3",
    "Café de Flore; table 7",
    "https://meet.example.org/abc-defg-hij",
    "C:\\Shared\\Rooms\\Blue",
    "Praxis Dr. Müller, 2. OG",
    "Home 🏠",
)

EPOCH = datetime(2023, 1, 1, tzinfo=timezone.utc)
QUARTER_HOURS_IN_THREE_YEARS = 3 * 365 * 24 * 4
DURATIONS = tuple(timedelta(minutes=minutes) for minutes in (15, 30, 45, 60, 90, 120, 240, 480, 1440, 4320))


def description(rng: random.Random) -> str:
    """Empty, a sentence or two, or several hundred characters over a few paragraphs."""
    kind = rng.random()
    if kind < 0.15:
        return ""
    count = rng.randint(1, 2) if kind < 0.5 else rng.randint(4, 12)
    separators = (" ", " ", "\n", "\r\n", "\n\n")
    text = rng.choice(PHRASES)
    for _ in range(count - 1):
        text += rng.choice(separators) + rng.choice(PHRASES)
    return text


def title(rng: random.Random) -> str:
    text = rng.choice(TITLES)
    return f"{text} #{rng.randint(1, 999)}" if rng.random() < 0.6 else text


def times(rng: random.Random) -> tuple[datetime, datetime | None, bool]:
    """Start, end (None for an open end) and the all-day flag."""
    start = EPOCH + timedelta(minutes=15 * rng.randrange(QUARTER_HOURS_IN_THREE_YEARS))
    if rng.random() < 0.1:
        day = start.replace(hour=0, minute=0)
        end = None if rng.random() < 0.3 else day + timedelta(days=rng.randint(1, 3))
        return day, end, True
    end = None if rng.random() < 0.1 else start + rng.choice(DURATIONS)
    return start, end, False


def slot(rng: random.Random, creator) -> Slot:
    start, end, all_day = times(rng)
    return Slot(
        uuid=uuid.UUID(int=rng.getrandbits(128), version=4),
        title=title(rng),
        description=description(rng),
        location=rng.choice(LOCATIONS),
        start=start,
        end=end,
        all_day=all_day,
        visibility=rng.choice(Slot.Visibility.values),
        creator=creator,
    )


@transaction.atomic
def user_with_slots(username: str, count: int, *, seed: int) -> str:
    """Create the user, an API token and count slots; the token's key."""
    user = get_user_model().objects.create(username=username)
    rng = random.Random(f"{seed}:{username}")
    for first in range(0, count, BATCH_SIZE):
        batch = [slot(rng, user) for _ in range(min(BATCH_SIZE, count - first))]
        Slot.objects.bulk_create(batch, batch_size=BATCH_SIZE)
    return Token.objects.create(user=user).key

"""What long work (an import, an export) tells whoever watches it: the stages it goes through and how far
along each is. The work calls these; a command draws them (export/management/progress.py); the API watches
nothing."""


class Progress:
    """Watches nothing: what work is given when nobody looks."""

    def stage(self, name: str, total: int, unit: str) -> None:
        """A new stage, of total units (slots, bytes)."""

    def advance(self, done: int) -> None:
        """The units of the stage done so far."""

    def finish(self) -> None:
        """The work is over."""


UNWATCHED = Progress()

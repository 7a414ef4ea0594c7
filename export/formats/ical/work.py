"""What an import may spend on the work whose amount a file decides: running its zones' rules
(zone_rules.py) and walking its series' rules (series.py). Each kind has its own budget of steps,
charged before the work is done, so a file that would spend more is refused before it has."""


class Work:
    """The steps an import has taken of one kind of work, and how many it may take."""

    # The budget of this kind, and what running out of it raises (with the budget as its argument).
    STEPS = 0
    exhausted: type[Exception] = Exception

    def __init__(self, steps: int | None = None):
        self.steps = self.STEPS if steps is None else steps
        self.spent = 0

    def charge(self, steps: int) -> None:
        self.spent += steps
        if self.spent > self.steps:
            raise self.exhausted(self.steps)

"""What an iCalendar import may cost, whatever the file says: its folded lines.

Costs are counted, never timed: the characters unfolding copies.
"""
from export.imports.ical_reader import unfolded


class Counted(str):
    """A physical line that counts the characters of every string made by slicing it or adding to it."""

    copied = [0]

    def __add__(self, other):
        Counted.copied[0] += len(self) + len(other)
        return Counted(str.__add__(self, other))

    def __getitem__(self, key):
        piece = str.__getitem__(self, key)
        Counted.copied[0] += len(piece)
        return Counted(piece)


def test_unfolding_copies_each_character_of_a_folded_line_a_bounded_number_of_times():
    folds = 20_000
    lines = [Counted("DESCRIPTION:x"), *(Counted(" y") for _ in range(folds)), Counted("END:VEVENT")]
    Counted.copied[0] = 0

    (first, second) = list(unfolded(lines))

    assert first == (1, "DESCRIPTION:x" + "y" * folds)
    assert second == (folds + 2, "END:VEVENT")
    # Slicing the fold's space off copies each character once; building the line by adding each
    # fold to it would copy about folds² / 2 = 200 million.
    assert Counted.copied[0] <= 2 * sum(map(len, lines))

"""A file's VTIMEZONE rules, run at a cost bounded whatever they say.

dateutil, which runs them (icalendar builds a file's zones with dateutil's tzical), finds a
time's offset by walking each observance's RRULE from its DTSTART to that time: a rule that
repeats every minute since 1970 walks millions of times for an event in 2030, and one that never
matches walks every year up to 9999. So an import refuses, before parsing, the rules no real
zone writes (observance_problem), and runs the others on copies that never walk far (Bounded),
each walk paid from the import's ZoneWork. docs/formats.md gives the figures.
"""
from bisect import bisect_left, bisect_right
from datetime import MAXYEAR, datetime

from dateutil.rrule import YEARLY, rrule, rruleset

from export.formats.ical.work import Work

# Real zones change their offset once or twice a year, at a time their DTSTART gives: every
# observance of icalendar's interop calendars is FREQ=YEARLY, some with one BYHOUR and BYMINUTE.
OBSERVANCE_FREQUENCY = "YEARLY"
ONE_VALUE_PARTS = ("BYHOUR", "BYMINUTE", "BYSECOND")
# dateutil applies EXDATE and EXRULE after the walk; leaving occurrences out of a zone's rule
# also breaks the repetition Bounded relies on. No generator of VTIMEZONEs writes them.
REFUSED_IN_OBSERVANCES = ("EXDATE", "EXRULE")
# A VTIMEZONE's text, unfolded: real ones are a few hundred characters, Thunderbird's with their
# RDATE lists 13,000. dateutil unfolds a zone's lines in a time that grows with its square.
MAX_ZONE_CHARACTERS = 65_536
# The Gregorian calendar repeats itself, weekdays and leap days alike, every 400 years, and so
# does a YEARLY rule of INTERVAL 1 without COUNT: the offset of 9998 is that of 1998.
CYCLE_YEARS = 400
# The years a rule's walk may take (Walk): two cycles.
MAX_RULE_YEARS = 2 * CYCLE_YEARS
# What one import may spend running its zones' rules, in steps: each year a rule may walk (its
# 366 days are the most it looks at, one time of day each), charged before the walk, and each
# occurrence it expands or RDATE it lists. A rule walks MAX_RULE_YEARS at most; a real one, yearly,
# expands one or two cycles of occurrences. 100 zones of two rules, the most a file may define,
# each asked about the year 9998, take at most 240,400 steps; the worst file, about 5 s of a CPU.
ZONE_WORK_STEPS = 250_000


class ZoneWorkExhausted(Exception):
    """The import's zones need more work than an import may take."""


class ZoneWork(Work):
    """The steps an import's zone rules have taken, and how many they may take."""

    STEPS = ZONE_WORK_STEPS
    exhausted = ZoneWorkExhausted


def observance_problem(name: str, value: str) -> str | None:
    """Why a property of a VTIMEZONE's STANDARD or DAYLIGHT cannot be run at a bounded cost, or None."""
    if name in REFUSED_IN_OBSERVANCES:
        return f"A time zone's observance cannot leave out occurrences ({name})."
    if name != "RRULE":
        return None
    named = [part.partition("=")[::2] for part in value.upper().split(";")]
    parts = dict(named)
    if len(parts) < len(named):
        return "A time zone's observance names a part of its RRULE twice."
    frequency = parts.get("FREQ", "")
    if frequency != OBSERVANCE_FREQUENCY:
        return f"A time zone's observance repeats at most yearly (FREQ=YEARLY); this one is FREQ={frequency[:20]}."
    if parts.get("INTERVAL", "1").strip() != "1":
        return "A time zone's observance repeats every year (INTERVAL=1)."
    many = [part for part in ONE_VALUE_PARTS if "," in parts.get(part, "")]
    if many:
        return f"A time zone's observance changes at one time of day ({', '.join(many)} with one value)."
    return None


def bounded(zone, work: ZoneWork):
    """dateutil's zone with each observance's rule replaced by a Bounded one, paid from work.

    The zone keeps dateutil's reading of its observances (which one applies, folds and gaps);
    only the search of each rule for its last occurrence before a time changes.
    """
    for observance in zone._comps:
        observance.rrule = Bounded(observance.rrule, work)
    return zone


def moved(moment: datetime, cycles: int) -> datetime:
    """The same wall-clock time, weekday and all, a whole number of 400-year cycles later (or earlier)."""
    return moment.replace(year=moment.year + cycles * CYCLE_YEARS)


class Bounded:
    """An observance's rule that answers before() without walking from its DTSTART.

    Its RDATEs (and DTSTART, which dateutil counts as one) are searched as a sorted list, each
    RRULE by a Walk.
    """

    def __init__(self, rules: rrule | rruleset, work: ZoneWork):
        if isinstance(rules, rrule):
            rules = [rules]
            self.dates = []
        elif rules._exrule or rules._exdate:
            raise ValueError("a time zone's observance cannot leave out occurrences")
        else:
            rules, self.dates = rules._rrule, sorted(rules._rdate)
        work.charge(len(self.dates))
        self.rules = [Walk(rule, work) for rule in rules]

    def before(self, moment: datetime, inc: bool = True) -> datetime | None:
        """The last occurrence at or before the moment (dateutil's zones only ask inc=True)."""
        found = [walk.before(moment) for walk in self.rules]
        at = bisect_right(self.dates, moment)
        if at:
            found.append(self.dates[at - 1])
        found = [occurrence for occurrence in found if occurrence is not None]
        return max(found) if found else None


class Walk:
    """One RRULE of an observance, walked once, on a moved copy, only as far as it is asked.

    The copy starts a whole number of cycles after the rule, in the last two cycles before the
    year 9999: whatever the rule says, its walk ends within 800 years.
    """

    def __init__(self, rule: rrule, work: ZoneWork):
        if rule._freq != YEARLY or rule._interval != 1 or len(rule._timeset) != 1:
            # What observance_problem refuses, should a rule reach dateutil some other way.
            raise ValueError("a time zone's observance repeats at most yearly, at one time of day")
        self.start, self.until, self.count = rule._dtstart, rule._until, rule._count
        self.shift = max(0, (MAXYEAR - CYCLE_YEARS - self.start.year) // CYCLE_YEARS)
        # UNTIL is applied to the time asked; the copy keeps COUNT, whose occurrences do not repeat.
        copy = rule.replace(dtstart=moved(self.start, self.shift), until=None, cache=False)
        work.charge(MAXYEAR - copy._dtstart.year + 1)
        self.work = work
        self.pending = iter(copy)
        self.occurrences: list[datetime] = []
        self.complete = False

    def before(self, moment: datetime) -> datetime | None:
        """The rule's last occurrence at or before the moment."""
        if self.until is not None and moment > self.until:
            moment = self.until
        if moment < self.start:
            return None
        if self.count is not None:
            return self.counted_before(moment)
        # The moment's cycle, counted from the rule's start; in the copy, the same place of its first.
        cycles = (moment.year - self.start.year) // CYCLE_YEARS
        if moved(moment, -cycles) < self.start:
            cycles -= 1
        found = self.last(moved(moment, self.shift - cycles))
        if found is None and cycles:
            # Nothing yet in this cycle: the answer is the last occurrence of the one before.
            found, cycles = self.last(moved(self.start, self.shift + 1), inclusive=False), cycles - 1
        return None if found is None else moved(found, cycles - self.shift)

    def counted_before(self, moment: datetime) -> datetime | None:
        if moment.year + self.shift * CYCLE_YEARS <= MAXYEAR:
            found = self.last(moved(moment, self.shift))
        else:
            found = self.last(datetime.max)
            if len(self.occurrences) < self.count:
                raise ValueError(f"an observance repeats COUNT={self.count} times, past the year {MAXYEAR}")
        return None if found is None else moved(found, -self.shift)

    def last(self, moment: datetime, inclusive: bool = True) -> datetime | None:
        """The copy's last occurrence at (or before) the moment, walking on as far as it needs."""
        while not self.complete and (not self.occurrences or self.occurrences[-1] <= moment):
            occurrence = next(self.pending, None)
            if occurrence is None:
                self.complete = True
            else:
                self.work.charge(1)
                self.occurrences.append(occurrence)
        at = (bisect_right if inclusive else bisect_left)(self.occurrences, moment)
        return self.occurrences[at - 1] if at else None

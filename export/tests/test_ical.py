"""The RFC 5545 writer, read back with the icalendar library as the independent parser."""
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from export.formats.chunks import CHUNK_OCTETS
from export.formats.ical.writer import (
    DATE_TIME,
    DURATION,
    TEXT,
    ComponentWriter,
    calendar_chunks,
    content_line,
    escape_text,
    format_duration,
)
from export.tests.ical_reader import parse_calendar, parse_events

UTC = timezone.utc
# Everything RFC 5545 TEXT cannot carry: C0 controls but TAB (CR and LF become \n), DEL, C1.
DROPPED = {chr(c) for c in [*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), *range(0x7F, 0xA0)]}


def value_type(value) -> str:
    return TEXT if isinstance(value, str) else DURATION if isinstance(value, timedelta) else DATE_TIME


def written(event, *, shared=()) -> bytes:
    """An event given as (name, value) pairs, written by a ComponentWriter laid out for them."""
    writer = ComponentWriter("VEVENT", [(name, value_type(value)) for name, value in event], shared=shared)
    return writer([value for _, value in event])


def write(events, calendar=(("VERSION", "2.0"), ("PRODID", "-//test//EN"))) -> bytes:
    return b"".join(calendar_chunks(list(calendar), map(written, events)))


def expected_text(text: str) -> str:
    """What a reader gets back: line breaks (and Unicode's line and paragraph separators) as LF,
    untransmittable controls gone."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\u2028", "\n").replace("\u2029", "\n")
    return "".join(char for char in text if char not in DROPPED)


def test_text_separators_are_escaped():
    assert escape_text("a\\b;c,d\ne") == b"a\\\\b\\;c\\,d\\ne"


def test_every_line_break_form_becomes_one_escaped_newline():
    assert escape_text("one\r\ntwo\rthree\nfour") == b"one\\ntwo\\nthree\\nfour"


def test_line_and_paragraph_separators_become_escaped_newlines():
    assert escape_text("one\u2028two\u2029three \u2014 four") == "one\\ntwo\\nthree \u2014 four".encode()


def test_control_characters_are_dropped_but_tab_is_kept():
    assert escape_text("a\x00b\x07c\x1bd\x7fe\x85f\tg\u00a0h") == "abcdef\tg\u00a0h".encode()


def test_a_floating_time_is_refused():
    with pytest.raises(ValueError, match="floating"):
        content_line("DTSTART", datetime(2026, 1, 1, 9))


def test_a_literal_backslash_n_stays_text():
    (event,) = parse_events(write([[("UID", "1"), ("SUMMARY", "C:\\Users\\Nora")]]))

    assert str(event["SUMMARY"]) == "C:\\Users\\Nora"


def test_datetimes_are_written_in_utc():
    berlin = datetime(2026, 7, 1, 9, 30, tzinfo=ZoneInfo("Europe/Berlin"))

    assert content_line("DTSTART", berlin) == b"DTSTART:20260701T073000Z"


def test_dates_are_written_as_value_date():
    assert content_line("DTSTART", date(2026, 12, 24)) == b"DTSTART;VALUE=DATE:20261224"


@pytest.mark.parametrize(
    ("duration", "text"),
    [
        (timedelta(0), "PT0S"),
        (timedelta(days=1), "P1D"),
        (timedelta(hours=1, minutes=30), "PT1H30M"),
        (timedelta(days=2, seconds=5), "P2DT5S"),
        (-timedelta(minutes=15), "-PT15M"),
    ],
)
def test_durations_are_written_as_rfc_5545_durations(duration, text):
    assert format_duration(duration) == text.encode()
    (event,) = parse_events(write([[("UID", "1"), ("DURATION", duration)]]))
    assert event.decoded("DURATION") == duration


def test_short_lines_are_not_folded():
    assert content_line("SUMMARY", "x" * 67) == b"SUMMARY:" + b"x" * 67


def test_long_lines_fold_at_75_octets_with_a_leading_space():
    folded = content_line("DESCRIPTION", "x" * 200)

    lines = folded.split(b"\r\n")
    assert [len(line) for line in lines] == [75, 75, 64]
    assert all(line.startswith(b" ") for line in lines[1:])


def test_folding_never_splits_a_utf8_character():
    # 73 ASCII octets, then 4-octet characters that cannot fit the 75-octet line.
    folded = content_line("SUMMARY", "a" * 65 + "🚀" * 30)

    for line in folded.split(b"\r\n"):
        assert len(line) <= 75
        line.decode("utf-8")  # raises if a character was cut
    assert folded.split(b"\r\n")[0] == b"SUMMARY:" + b"a" * 65


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=400))
def test_any_text_folds_into_valid_lines_that_unfold_to_the_original(text):
    line = b"DESCRIPTION:" + escape_text(text)

    folded = content_line("DESCRIPTION", text)

    physical = folded.split(b"\r\n")
    assert all(len(part) <= 75 for part in physical)
    assert all(part.startswith(b" ") for part in physical[1:])
    assert b"".join(part[1:] if n else part for n, part in enumerate(physical)) == line
    for part in physical:
        part.decode("utf-8")  # raises if a character was cut


@settings(max_examples=300, deadline=None)
@given(st.text(), st.text(), st.text())
def test_any_text_reads_back_exactly_and_injects_nothing(title, description, location):
    events = [[("UID", "only"), ("SUMMARY", title), ("DESCRIPTION", description), ("LOCATION", location)]]

    data = write(events)

    calendar = parse_calendar(data)
    (event,) = calendar.walk("VEVENT")
    assert [component.name for component in calendar.walk()] == ["VCALENDAR", "VEVENT"]
    assert sorted(event.keys()) == ["DESCRIPTION", "LOCATION", "SUMMARY", "UID"]
    assert str(event["SUMMARY"]) == expected_text(title)
    assert str(event["DESCRIPTION"]) == expected_text(description)
    assert str(event["LOCATION"]) == expected_text(location)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from("ab ,;\\\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"), max_size=200))
def test_any_text_stays_whole_content_lines_when_split_as_python_splits_lines(text):
    data = write([[("UID", "1"), ("SUMMARY", text), ("DESCRIPTION", text * 3)]])

    # vdirsyncer reads a calendar with str.splitlines(): each piece must still be a content line or a fold.
    lines = data.decode().splitlines()
    assert [line.partition(":")[0] for line in lines if not line.startswith(" ")] == [
        "BEGIN", "VERSION", "PRODID", "BEGIN", "UID", "SUMMARY", "DESCRIPTION", "END", "END"
    ]


def test_a_title_cannot_inject_a_property_or_a_component():
    hostile = "x\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nUID:evil\r\nSUMMARY:injected\nATTACH:http://evil"

    data = write([[("UID", "1"), ("SUMMARY", hostile)]])

    (event,) = parse_events(data)
    assert str(event["UID"]) == "1"
    assert "ATTACH" not in event
    assert data.count(b"\r\nBEGIN:VEVENT\r\n") == 1


def test_every_line_ends_in_crlf():
    data = write([[("UID", "1"), ("SUMMARY", "line\nbreak"), ("DESCRIPTION", "y" * 300)]])

    assert data.endswith(b"\r\n")
    assert b"\n" not in data.replace(b"\r\n", b"")
    assert b"\r" not in data.replace(b"\r\n", b"")


def test_the_calendar_wraps_its_properties_and_events_in_order():
    start = datetime(2026, 1, 1, tzinfo=UTC)
    events = [[("UID", str(n)), ("DTSTART", start + timedelta(days=n))] for n in range(3)]

    calendar = parse_calendar(write(events, [("VERSION", "2.0"), ("NAME", "Team; A, B")]))

    assert str(calendar["NAME"]) == "Team; A, B"
    assert [str(event["UID"]) for event in calendar.walk("VEVENT")] == ["0", "1", "2"]
    assert [event.decoded("DTSTART") for event in calendar.walk("VEVENT")] == [
        start, start + timedelta(days=1), start + timedelta(days=2)
    ]


def test_properties_of_every_event_are_written_into_each_event_after_its_own():
    stamp = datetime(2026, 11, 28, 8, tzinfo=UTC)
    events = [[("UID", str(n))] for n in range(3)]
    shared = [("DTSTAMP", stamp), ("STATUS", "CONFIRMED")]

    data = b"".join(calendar_chunks([], (written(event, shared=shared) for event in events)))

    parsed = parse_events(data)
    assert [(str(e["UID"]), e.decoded("DTSTAMP"), str(e["STATUS"])) for e in parsed] == [
        (str(n), stamp, "CONFIRMED") for n in range(3)
    ]
    assert written(events[0], shared=shared) == (
        b"BEGIN:VEVENT\r\nUID:0\r\nDTSTAMP:20261128T080000Z\r\nSTATUS:CONFIRMED\r\nEND:VEVENT\r\n"
    )


def test_a_component_leaves_out_the_lines_whose_value_is_none():
    layout = [("UID", TEXT), ("DTEND", DATE_TIME), ("DURATION", DURATION), ("LOCATION", TEXT)]

    data = ComponentWriter("VEVENT", layout)(["1", None, timedelta(0), None])

    assert data == b"BEGIN:VEVENT\r\nUID:1\r\nDURATION:PT0S\r\nEND:VEVENT\r\n"


def test_a_component_writes_a_duration_given_as_text_with_its_parameters_as_it_is():
    data = ComponentWriter("VEVENT", [("DURATION", DURATION)])([";X-TEST=TRUE:PT0S"])

    assert data == b"BEGIN:VEVENT\r\nDURATION;X-TEST=TRUE:PT0S\r\nEND:VEVENT\r\n"
    (event,) = parse_events(data)
    assert (event.decoded("DURATION"), event["DURATION"].params["X-TEST"]) == (timedelta(0), "TRUE")


def test_a_component_writes_a_date_time_as_utc_a_date_as_value_date_and_the_databases_text_as_it_is():
    writer = ComponentWriter("VEVENT", [("CREATED", DATE_TIME), ("DTSTART", DATE_TIME), ("DTEND", DATE_TIME)])

    berlin = datetime(2026, 7, 1, 9, 30, tzinfo=ZoneInfo("Europe/Berlin"))

    data = writer([berlin, date(2026, 12, 24), "20261225T000000Z"])

    assert data.split(b"\r\n")[1:4] == [
        b"CREATED:20260701T073000Z", b"DTSTART;VALUE=DATE:20261224", b"DTEND:20261225T000000Z"
    ]


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_a_components_text_line_is_the_content_line_of_the_same_text(text):
    writer = ComponentWriter("VEVENT", [("DESCRIPTION", TEXT)])

    assert writer([text]) == b"BEGIN:VEVENT\r\n" + content_line("DESCRIPTION", text) + b"\r\nEND:VEVENT\r\n"


def test_an_empty_calendar_is_one_chunk_with_no_event():
    chunks = list(calendar_chunks([("VERSION", "2.0")], []))

    assert chunks == [b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nEND:VCALENDAR\r\n"]


def test_large_calendars_stream_in_bounded_chunks_of_whole_events():
    writer = ComponentWriter("VEVENT", [("UID", TEXT), ("DESCRIPTION", TEXT)])
    events = (writer([str(n), "d" * 500]) for n in range(1000))

    chunks = list(calendar_chunks([("VERSION", "2.0")], events))

    assert len(chunks) > 5
    assert all(len(chunk) < CHUNK_OCTETS + 1024 for chunk in chunks)
    assert all(chunk.endswith(b"END:VEVENT\r\n") for chunk in chunks[:-1])
    assert chunks[-1].endswith(b"END:VCALENDAR\r\n")
    assert len(parse_events(b"".join(chunks))) == 1000

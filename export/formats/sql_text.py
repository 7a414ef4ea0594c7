"""Columns the database hands over as the text a calendar carries, so that Python builds no object for them.

Building a datetime or a UUID for each value of each row, then formatting it
back, cost an export about as much as the database's whole fetch
(docs/performance.md). For PostgreSQL and SQLite, the databases of this service.
"""
from django.db.models import CharField, Func


class UTCDateTimeText(Func):
    """A date-time as the text of an RFC 5545 UTC DATE-TIME (§3.3.5, form 2): 20261128T080000Z.

    Fractions of a second are cut off, not rounded, as export/formats/ical/writer.py's format_datetime() does.
    """

    output_field = CharField()
    template = """to_char(%(expressions)s AT TIME ZONE 'UTC', 'YYYYMMDD"T"HH24MISS"Z"')"""

    def as_sqlite(self, compiler, connection, **extra_context):
        # Django stores 'YYYY-MM-DD HH:MM:SS[.ffffff]' in UTC. The fraction goes first: SQLite
        # reads it to the millisecond, rounded, so 09:59:59.9996 would become 10:00:00. A literal %
        # is %% in Django's SQL (its SQLite cursor and its query log both apply % formatting).
        template = "strftime('%%%%Y%%%%m%%%%dT%%%%H%%%%M%%%%SZ', substr(%(expressions)s, 1, 19))"
        return self.as_sql(compiler, connection, template=template, **extra_context)


class UUIDText(Func):
    """A uuid as text in its standard form, 8-4-4-4-12 lowercase hex digits, as str(UUID) writes it."""

    output_field = CharField()
    template = "%(expressions)s::text"

    def as_sqlite(self, compiler, connection, **extra_context):
        # Django stores a uuid as its 32 lowercase hex digits.
        template = (
            "substr(%(expressions)s, 1, 8) || '-' || substr(%(expressions)s, 9, 4) || '-' || "
            "substr(%(expressions)s, 13, 4) || '-' || substr(%(expressions)s, 17, 4) || '-' || "
            "substr(%(expressions)s, 21, 12)"
        )
        return self.as_sql(compiler, connection, template=template, **extra_context)

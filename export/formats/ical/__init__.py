"""iCalendar (RFC 5545): the writer, the mapping of a slot to an event and back, the reader, and its time zones."""

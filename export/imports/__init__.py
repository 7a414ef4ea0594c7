"""Reading slots back in: the one write path for iCalendar, the Outlook CSV and the JSON backup, whose readers
are in export/formats/ (docs/formats.md, "Import")."""

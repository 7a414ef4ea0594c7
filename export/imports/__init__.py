"""Reading slots back in: iCalendar, the Outlook CSV and the JSON backup (docs/formats.md, "Import")."""

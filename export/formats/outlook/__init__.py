"""The CSV that Outlook's and Google Calendar's imports read: the writer, and the reader that takes it back."""

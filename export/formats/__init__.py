"""The formats, each one room holding both directions (writer and reader), and what they share.

A format knows files and slots, nothing of HTTP: export/api/ calls the formats, never the other way round.
"""

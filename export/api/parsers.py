"""The API's JSON parser: DRF's, reading with export.formats.bounded_json: no body nests or counts past its bounds."""
import codecs

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser, get_encoding
from rest_framework.utils.json import strict_constant

from export.formats import bounded_json


class BoundedJSONParser(JSONParser):
    """A body nested deeper than bounded_json.MAX_DEPTH, or with a longer integer, is a 400 as broken JSON is."""

    def parse(self, stream, media_type=None, parser_context=None):
        encoding = get_encoding(parser_context or {})
        try:
            text = codecs.getreader(encoding)(stream).read()
            return bounded_json.loads(text, parse_constant=strict_constant if self.strict else None)
        except ValueError as exc:
            raise ParseError(f"JSON parse error - {exc}")

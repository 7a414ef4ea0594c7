"""The HTTP face: views, authentication, throttles and limits, negotiation, parameters, the schema, the export log.

It calls the read path (export/exports.py), the write path (export/imports/) and the formats (export/formats/);
the formats never import from here.
"""

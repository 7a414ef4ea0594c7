from rest_framework.negotiation import DefaultContentNegotiation

# What the legacy clients send (the documented `Accept: text/plain`) and what
# download tools send: each is read as "whatever this view serves".
LEGACY_ACCEPT = frozenset({"text/plain", "application/octet-stream"})


class ExportNegotiation(DefaultContentNegotiation):
    """DRF's negotiation, with the legacy Accept values standing for */*."""

    def get_accept_list(self, request):
        accepted = []
        for token in super().get_accept_list(request):
            media_type, separator, params = token.partition(";")
            if media_type.strip().lower() in LEGACY_ACCEPT:
                token = "*/*" + separator + params
            accepted.append(token)
        return accepted


class WhateverAccepted(DefaultContentNegotiation):
    """The view's one format whatever the Accept header: calendar apps send all sorts, and a subscription
    that answered 406 would silently stop updating."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type

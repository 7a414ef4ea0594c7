"""/v1/feeds: the owner manages feeds with their token; a calendar app fetches one with its secret alone."""
import functools
from collections.abc import Mapping
from datetime import datetime

from django.http import HttpResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import get_conditional_response
from django.utils.http import http_date
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from export import metrics
from export.api.audit import ExportAudit
from export.api.authentication import LegacyTokenAuthentication
from export.api.limits import FetchRecord
from export.api.negotiation import ExportNegotiation, WhateverAccepted
from export.api.parameters import InvalidParameters, requested_group
from export.api.schema import FEED_CALENDAR, FEED_CHANGE, FEED_CREATE, FEED_DELETE, FEED_LIST, FEED_ROTATE
from export.api.serializers import FeedSerializer, FeedSettings
from export.api.throttling import (
    FeedChangeThrottle,
    address_throttle,
    refuse_too_many_exports,
    refuse_too_many_fetches,
)
from export.api.views import JSONErrorsMixin, Replayed, streamed_within_limits, streaming_response
from export.feed_access import access_keys, opened_feed
from export.feed_bodies import kept_body, kept_keys, kept_once_complete
from export.feed_versions import cached_feed_version, version_keys
from export.feeds import (
    FeedVersion,
    change_feed,
    create_feed,
    feed_export,
    held,
    listed,
    revoke_feed,
    rotate_feed,
    subscription_links,
)
from export.fetch_counts import client_kind, count_fetch
from export.models import CalendarFeed, ExportLog
from export.renderers import FEED_REFRESH, ICalendarFeedRenderer
from timeslot.db_routers import replica_reads

# How long a client may keep a feed's answer without asking again: a quarter of the REFRESH-INTERVAL the
# calendar asks for, so that a change reaches an app at most that much later than its own schedule would.
FEED_MAX_AGE = int(FEED_REFRESH.total_seconds()) // 4


class FeedAPIView(APIView):
    """The owner's side: the same token and the same negotiation as the export, answers in JSON; each
    change (a feed created, changed, rotated or deleted) counted in the user's rate of them."""

    authentication_classes = (LegacyTokenAuthentication,)
    permission_classes = (IsAuthenticated,)
    throttle_classes = (FeedChangeThrottle,)
    renderer_classes = (JSONRenderer,)
    content_negotiation_class = ExportNegotiation

    def subscription_links(self, secret: str) -> dict[str, str]:
        return subscription_links(self.request.build_absolute_uri(reverse("feed-calendar", kwargs={"secret": secret})))


def requested_settings(request) -> dict:
    """The window and detail the body sets, those it leaves out untouched; 422 naming the field for a bad value."""
    if not isinstance(request.data, Mapping):
        raise InvalidParameters({"non_field_errors": ["Expected a JSON object or form fields."]})
    given = FeedSettings(data=request.data)
    if not given.is_valid():
        raise InvalidParameters(given.errors)
    return dict(given.validated_data)


def secret_shown(body: dict, **kwargs) -> Response:
    """An answer that holds a feed's secret URL, its only copy: no cache, the browser's or a proxy's, keeps it."""
    response = Response(body, **kwargs)
    response["Cache-Control"] = "no-store"
    return response


class FeedListView(FeedAPIView):
    http_method_names = ("get", "post")

    def get_throttles(self):
        # The list changes nothing.
        return super().get_throttles() if self.request.method == "POST" else []

    @extend_schema(**FEED_LIST)
    def get(self, request, *args, **kwargs):
        feeds = CalendarFeed.objects.filter(owner=request.user).select_related("owner", "group")
        return Response(FeedSerializer(listed(feeds), many=True).data)

    @extend_schema(**FEED_CREATE)
    def post(self, request, *args, **kwargs):
        group = requested_group(request)
        feed, secret = create_feed(owner=request.user, group=group, **requested_settings(request))
        # The only time the secret leaves the server.
        body = {**self.subscription_links(secret), **FeedSerializer(held(feed)).data}
        # Nothing fetched it yet.
        del body["last_fetched_at"], body["fetch_clients"]
        return secret_shown(body, status=status.HTTP_201_CREATED)


class FeedRotateView(FeedAPIView):
    http_method_names = ("post",)

    @extend_schema(**FEED_ROTATE)
    def post(self, request, feed_id, *args, **kwargs):
        try:
            secret = rotate_feed(owner=request.user, uuid=feed_id)
        except CalendarFeed.DoesNotExist:
            raise exceptions.NotFound()
        return secret_shown({"id": str(feed_id), **self.subscription_links(secret)})


class FeedDetailView(FeedAPIView):
    http_method_names = ("patch", "delete")

    @extend_schema(**FEED_CHANGE)
    def patch(self, request, feed_id, *args, **kwargs):
        changes = requested_settings(request)
        try:
            feed = change_feed(owner=request.user, uuid=feed_id, **changes)
        except CalendarFeed.DoesNotExist:
            raise exceptions.NotFound()
        # No secret here (only its hash is stored), but the answer is the owner's alone all the same.
        return secret_shown(FeedSerializer(held(feed)).data)

    @extend_schema(**FEED_DELETE)
    def delete(self, request, feed_id, *args, **kwargs):
        try:
            revoke_feed(owner=request.user, uuid=feed_id)
        except CalendarFeed.DoesNotExist:
            raise exceptions.NotFound()
        return Response(status=status.HTTP_204_NO_CONTENT)


class FeedCalendarView(JSONErrorsMixin, APIView):
    """The export's calendar for a calendar app, revalidated with ETag or Last-Modified."""

    # The secret in the path is the credential: calendar apps send no Authorization header, and an
    # API token, wherever it is put, opens nothing here.
    http_method_names = ("get", "head")
    authentication_classes = ()
    permission_classes = (AllowAny,)
    renderer_classes = (ICalendarFeedRenderer,)
    content_negotiation_class = WhateverAccepted

    def finalize_response(self, request, response, *args, **kwargs):
        """Every answer counts in the metrics, a refusal (404, 429) too: the fetches a feed's URL draws."""
        response = super().finalize_response(request, response, *args, **kwargs)
        metrics.feed_fetched(response.status_code)
        return response

    @extend_schema(**FEED_CALENDAR)
    def get(self, request, secret: str, *args, **kwargs):
        audit = ExportAudit.of_request(ExportLog.Kind.FEED, request)
        # A wrong secret is a guess: counted against the address as a failed authentication is. What the secret
        # opens is read from the cache in the same round trip (export/feed_access.py).
        throttle = address_throttle(request, read_along=access_keys(secret))
        try:
            feed = opened_feed(secret, found=throttle.found)
        except CalendarFeed.DoesNotExist:
            # Unknown, revoked, rotated away, or its group out of reach: one answer for all.
            throttle.failed(request)
            raise exceptions.NotFound()
        # Every fetch counts, a 304 or HEAD too. The feed's version is read from the cache in the same round trip.
        found = refuse_too_many_fetches(feed, read_along=version_keys(feed))
        # The version and the calendar from the replica, unless it has not replayed the owner's last write; the
        # stream is drawn within the scope too (timeslot/db_routers.py).
        with replica_reads(feed.owner):
            return self.answered(request, feed, audit, found)

    def answered(self, request, feed: CalendarFeed, audit: ExportAudit, found: dict):
        """The feed's calendar, or 304, 412 or HEAD's headers, by its version."""
        version = cached_feed_version(feed, found=found)
        # HTTP dates count whole seconds; the ETag carries the microseconds.
        response = get_conditional_response(
            request, etag=version.etag, last_modified=int(version.modified.timestamp())
        )
        # Only the first fetch of a feed in each interval writes: the log row of a calendar sent, and the
        # fetch counts waiting in the cache (the metrics count every one).
        record = FetchRecord(feed)
        client = client_kind(request.headers.get("User-Agent", ""))
        renderer = request.accepted_renderer
        if response is None and request.method == "GET":
            # The calendar sent is an export of its owner's, and counts in their rate: feeds must not be a way
            # around it. A revalidation sends none, so polling costs the owner's budget next to nothing.
            # The calendar's kept bytes are read in the same round trip.
            found = refuse_too_many_exports(feed.owner, read_along=sendable_keys(version))
            recorded = record.take()
            # Recorded and counted at the end of its stream, once the read's transaction is over: a write
            # within it would be undone with it when the client goes away.
            audit.logged = recorded
            audit.then = functools.partial(count_fetch, feed, write=recorded, client=client)
            response = calendar_sent(feed, version, renderer, audit, found)
        else:
            if response is None:
                response = HttpResponse(content_type=f"{renderer.media_type}; charset={renderer.charset}")
            # A 304, 412 or HEAD: nothing of the calendar was sent, and no log row is written (the feed counts
            # it), only the metrics. Its record taken with its counts, in one round trip.
            count_fetch(feed, response.status_code, write=record, client=client)
            audit.logged = False
            audit.record(user=feed.owner, group=feed.group, status=response.status_code)
        response["ETag"] = version.etag
        response["Last-Modified"] = http_date(announced_last_modified(version.modified, timezone.now()))
        # Never public: the URL is a secret.
        response["Cache-Control"] = f"private, max-age={FEED_MAX_AGE}"
        return response


def sendable_keys(version: FeedVersion) -> list[str]:
    """The keys calendar_sent() reads: those of the version's kept bytes, if a fetch of it may be sent at all."""
    return kept_keys(version) if version.sendable else []


def calendar_sent(feed: CalendarFeed, version: FeedVersion, renderer: ICalendarFeedRenderer, audit: ExportAudit,
                  found: dict | None = None):
    """The calendar of this version as a stream: the bytes it was last sent as, if they are kept
    (export/feed_bodies.py), else written now and kept once they have all gone. Either way logged and counted
    at its end, the same row, counts and metrics. found: what the cache held of sendable_keys(version), if read."""
    kept = kept_body(version, found) if version.sendable else None
    if kept is not None:
        # No place among the owner's running exports: nothing is read, nothing runs on past this answer.
        replay = Replayed(kept.body, kept.slot_count, user=feed.owner, group=feed.group, audit=audit)
        return streaming_response(replay, renderer)
    response = streamed_within_limits(feed_export(feed, version), renderer, audit=audit)
    response.streaming_content = kept_once_complete(response.streaming_content, version, lambda: audit.slot_count)
    return response


def announced_last_modified(modified: datetime, now: datetime) -> int:
    """The Last-Modified to send, in whole seconds.

    While the second of the last change is still running, another change may
    come within it; a client revalidating with that second would then get a
    304 and miss it. So until that second is over, announce the one before:
    every change in this second is newer than it.
    """
    second = int(modified.timestamp())
    return second - 1 if now.timestamp() < second + 1 else second

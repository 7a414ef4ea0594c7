"""The reference: the same calendar through django-ical's ICalFeed (import after django.setup()).

ICalFeed is how a Django project usually serves a calendar: it loads the
slots as model instances, builds an icalendar.Calendar of them and renders
it into one HttpResponse. It maps the fields as export.formats.ical.mapping does (an open
end as a DURATION); the syndication framework also adds a URL property to
every event, which the project's export does not write. It is used by the benchmark only and is on
none of the project's URLs.
"""
from django.utils import timezone
from django_ical.views import ICalFeed

from export.exports import DEFAULT_NAME, FILENAME_STEM
from export.formats.ical.mapping import CLASS_BY_VISIBILITY, OPEN_END, OPEN_END_ALL_DAY, all_day_dates
from slots.selectors import slot_list


class SlotFeed(ICalFeed):
    product_id = "-//Timeslot//Timeslot Export//EN"
    title = DEFAULT_NAME
    file_name = f"{FILENAME_STEM}.ics"

    def __init__(self):
        super().__init__()
        # One moment for the whole file, like the project's export.
        self.stamp = timezone.now()

    def get_object(self, request, *args, **kwargs):
        return request.user

    def items(self, user):
        return slot_list(user=user)

    def item_guid(self, slot):
        return str(slot.uuid)

    def item_title(self, slot):
        return slot.title

    def item_description(self, slot):
        return slot.description or None

    def item_location(self, slot):
        return slot.location or None

    def item_link(self, slot):
        return ""

    def item_timestamp(self, slot):
        return self.stamp

    def item_created(self, slot):
        return slot.created_at

    def item_updateddate(self, slot):
        return slot.updated_at

    def item_start_datetime(self, slot):
        return all_day_dates(slot.start, slot.end, slot.time_zone)[0] if slot.all_day else slot.start

    def item_end_datetime(self, slot):
        return all_day_dates(slot.start, slot.end, slot.time_zone)[1] if slot.all_day else slot.end

    def item_status(self, slot):
        return "CONFIRMED"

    def item_transparency(self, slot):
        return "OPAQUE"

    def item_extra_kwargs(self, slot):
        # CLASS and DURATION are in django-ical's field map but not among the item_* hooks it reads.
        extra = {**super().item_extra_kwargs(slot), "class": CLASS_BY_VISIBILITY.get(slot.visibility, "PRIVATE")}
        if slot.end is None:
            extra["duration"] = OPEN_END_ALL_DAY if slot.all_day else OPEN_END
        return extra

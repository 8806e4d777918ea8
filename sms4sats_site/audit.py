"""The audit trail: who did what from the admin, on the object's History page.

Every staff action that is not a plain model save (cancel, refresh, an order paid from the balance, a
replacement, a webhook redelivered, a test alert) is recorded here as a ``django.contrib.admin.models.LogEntry``,
the same record ``ModelAdmin.log_change`` writes for a save (endpoint changes are recorded that way by the admin
itself). Why LogEntry rather than an audit library: it is built in, the admin already shows it on each object's
History page with the user and the time, and it adds no dependency.
"""

from django.contrib.admin.models import CHANGE, LogEntry


def record(request, obj, message):
    """Note on ``obj``'s History that the request's user did ``message`` (plain words, shown as written)."""
    LogEntry.objects.log_actions(
        user_id=request.user.pk, queryset=[obj], action_flag=CHANGE, change_message=message, single_object=True
    )


def staff_name(request):
    """The user as the order's timeline names them ("Cancel requested by alice")."""
    return request.user.get_username()

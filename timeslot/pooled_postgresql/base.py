"""Django's PostgreSQL backend, for a connection pooler in transaction mode (PgBouncer's pool_mode = transaction)
between the service and PostgreSQL: DATABASE_TRANSACTION_POOLING=1 (timeslot/settings.py) selects it.

Such a pooler lends a server connection to a client for one transaction at a time, so nothing that lasts a
session is the service's own beyond its transaction: the pooler refuses the `options` startup parameter that
sets the timeouts for a direct session, and a cursor held past its transaction may be on a server connection
that another client holds by the time its next rows are fetched.
https://www.pgbouncer.org/features.html
https://docs.djangoproject.com/en/5.2/ref/databases/#transaction-pooling-server-side-cursors
"""
from django.conf import settings
from django.db.backends.postgresql import base

# Set for the transaction alone (SET LOCAL): the next one may run on another server connection, which other
# clients of the pooler share. One statement, its values bound.
TRANSACTION_TIMEOUTS = (
    "SELECT set_config('statement_timeout', %s, true), set_config('idle_in_transaction_session_timeout', %s, true)"
)


class DatabaseWrapper(base.DatabaseWrapper):
    def _set_autocommit(self, autocommit):
        """Each transaction (every atomic() block, Django's own too) begins with the timeouts a direct connection
        has for its whole session. Statements outside one keep the server's: the role's (README, Behind
        PgBouncer)."""
        super()._set_autocommit(autocommit)
        if not autocommit:
            with self.wrap_database_errors, self.connection.cursor() as cursor:
                cursor.execute(TRANSACTION_TIMEOUTS, [
                    str(settings.STATEMENT_TIMEOUT_MS), str(settings.IDLE_IN_TRANSACTION_TIMEOUT_MS),
                ])

    def chunked_cursor(self):
        """QuerySet.iterator()'s cursor: a server-side one inside a transaction, which the pooler keeps on one
        server connection and the cursor ends with (an export streams so: export/exports.py); outside one, a
        plain cursor that takes the whole result at once, as DISABLE_SERVER_SIDE_CURSORS would everywhere.
        Django's server-side cursor outside a transaction is WITH HOLD and outlives its statement on a server
        connection the pooler may lend to another client before the next chunk is fetched (the admin's choice
        fields, dumpdata)."""
        if self.get_autocommit():
            return self.cursor()
        return super().chunked_cursor()

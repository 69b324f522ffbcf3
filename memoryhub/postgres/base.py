"""Django's PostgreSQL backend; pooled connections are checked without a round trip.

With ``CONN_HEALTH_CHECKS`` Django has the psycopg pool send an empty query
before it hands a connection out, so a connection the server dropped
(restart, failover, an administrator's ``pg_terminate_backend``) is
replaced instead of failing a request. That is one more round trip on every
request — about 90 µs on 127.0.0.1, a network round trip to a remote server.

A dropped connection shows itself without one: the server sends a FATAL
message and closes the socket, so an idle connection whose socket has
anything to read is suspect. :class:`DatabaseWrapper` hands out a pooled
connection as it is when its socket has nothing to read and it went back
to the pool less than ``settings.DB_CHECK_IDLE_SECONDS`` ago; any other
(something arrived, idle for longer, or never seen) gets the pool's real
check, and one that fails it is discarded and the next one taken. The idle
limit covers what no socket shows: a connection a firewall or NAT dropped
in silence answers the real check with an error, not the first query.
"""

import select
import time
import weakref

from django.conf import settings
from django.db.backends.postgresql import base
from psycopg import pq
from psycopg_pool import ConnectionPool

# When each pooled connection went back to its pool (per process).
_returned_at: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def quiet_since_returned(connection, now: float | None = None) -> bool:
    """Whether an idle pooled connection can be used without asking the server.

    True when it is open, outside a transaction, went back to the pool
    within ``settings.DB_CHECK_IDLE_SECONDS`` and its socket has nothing to
    read (a dropped connection has the server's FATAL message or the end of
    the stream waiting). Costs one ``poll`` system call, no round trip.
    """
    returned = _returned_at.get(connection)
    if returned is None or connection.closed or connection.broken:
        return False
    if (time.monotonic() if now is None else now) - returned > (
        settings.DB_CHECK_IDLE_SECONDS
    ):
        return False
    if connection.info.transaction_status != pq.TransactionStatus.IDLE:
        return False
    poller = select.poll()  # not select(): descriptors above 1024 are fine
    poller.register(connection.fileno(), select.POLLIN | select.POLLPRI)
    return not poller.poll(0)


class DatabaseWrapper(base.DatabaseWrapper):
    """PostgreSQL with the no-round-trip check of pooled connections (module doc).

    Settings: ``CONN_HEALTH_CHECKS`` off when pooling (this class checks
    instead); without a pool Django's own check applies unchanged.
    """

    def get_new_connection(self, conn_params):
        connection = super().get_new_connection(conn_params)
        pool = self.pool
        if pool is None:
            return connection
        # Every dropped connection in the pool can come out in turn; each is
        # discarded, and the pool opens new ones (or times out: a 503).
        while not quiet_since_returned(connection):
            try:
                ConnectionPool.check_connection(connection)
            except Exception:  # what fails psycopg_pool's own check
                connection.close()
                pool.putconn(connection)  # closed: the pool drops it
                connection = super().get_new_connection(conn_params)
            else:
                return connection
        return connection

    def _close(self):
        if self.connection is not None and self.pool:
            _returned_at[self.connection] = time.monotonic()
        return super()._close()

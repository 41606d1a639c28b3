"""HubSpot OAuth for connections (`qbsync connect hubspot`): NOT WRITTEN YET in this commit.

`current_access_token` will return a connection's access token, refreshing it with the stored
refresh token when it has expired. Until then a connection whose HubSpot credential is OAuth
cannot be scanned, and says so; Service Keys and private-app tokens work.
"""
from __future__ import annotations

from .errors import ConfigError


def current_access_token(settings, main_store, connection, secret: dict, *, cipher) -> str:
    raise ConfigError([f"connection {connection.id!r}: HubSpot OAuth connections are not supported yet; "
                       "connect it with a Service Key (qbsync connect hubspot --service-key)"])

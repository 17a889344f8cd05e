"""The service: the one process that holds the zone and audit keys, signs people in and runs the
library for them, so that roles are enforced rather than declared (see docs/service.md)."""

from linkhaven.service.app import create_app
from linkhaven.service.settings import ServiceSettings, check_key_directory

__all__ = ["ServiceSettings", "check_key_directory", "create_app"]

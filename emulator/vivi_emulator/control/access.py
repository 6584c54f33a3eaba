"""Who may use the control endpoints.

On a loopback address only local processes can reach them, so they are open. On any other
address they could reset or re-key a shared emulator, so they need the configured admin token
(header ``x-vivi-admin-token``) and are refused outright when none is configured.
"""

from __future__ import annotations

import hmac
import ipaddress

from vivi_emulator.errors import Forbidden, Unauthorized
from vivi_emulator.settings import Settings

ADMIN_HEADER = "x-vivi-admin-token"


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to anything


def check_admin(settings: Settings, presented: str | None) -> None:
    if is_loopback(settings.host):
        return
    if settings.admin_token is None:
        raise Forbidden(
            f"control endpoints are off on a non-loopback address ({settings.host}); "
            "set admin_token (VIVI_EMULATOR_ADMIN_TOKEN) to use them"
        )
    expected = settings.admin_token.get_secret_value().encode()
    given = (presented or "").encode("utf-8", "surrogateescape")
    if not hmac.compare_digest(given, expected):
        raise Unauthorized(f"control endpoints need the admin token in '{ADMIN_HEADER}'")

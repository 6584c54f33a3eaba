"""Who may use the control endpoints (control/access.py)."""

from __future__ import annotations

import httpx
import pytest

from vivi_emulator.app import create_app
from vivi_emulator.settings import load_settings


@pytest.mark.parametrize("headers", [{}, {"x-vivi-admin-token": ""}])
async def test_an_empty_admin_token_never_opens_the_control_api(headers: dict[str, str]) -> None:
    """VIVI_EMULATOR_ADMIN_TOKEN= (an unset variable in a compose file) matched an absent or
    empty header: the control API was open to anyone on a non-loopback address."""
    settings = load_settings(
        environ={"VIVI_EMULATOR_ADMIN_TOKEN": "", "VIVI_EMULATOR_HOST": "0.0.0.0"},
        overrides={"access_log": False, "reload_fixtures": False},
    )
    assert settings.admin_token is None
    transport = httpx.ASGITransport(app=create_app(settings))
    async with httpx.AsyncClient(transport=transport, base_url="http://emulator.test") as client:
        response = await client.post("/_emulator/reset", headers=headers)
    assert response.status_code == 403
    assert "control endpoints are off" in response.json()["detail"]

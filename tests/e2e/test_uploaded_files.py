"""An uploaded file opened in a real browser is a download, never a page of the emulator's
origin (issue 12, item 5; docs/decisions.md, row 37).

The attack: upload an HTML or SVG file whose script drives the control API (or reads the key the
playground keeps in session storage), and get someone to open its URL. Served inline, the script
ran on the emulator's origin.
"""

from __future__ import annotations

import httpx
import pytest
from playwright.sync_api import Error, Page

from tests.e2e.conftest import Watch
from tests.server import Running
from tests.support import AUTH, url

# Each would queue a reply through the control API if it ran, and mark the page.
SCRIPT = (
    "fetch('/_emulator/queue', {method: 'POST', headers: {'content-type': 'application/json'},"
    " body: JSON.stringify({text: 'pwned'})}); document.title = 'ran';"
)
FILES = {
    "page.html": ("text/html", f"<html><body><script>{SCRIPT}</script></body></html>"),
    "image.svg": (
        "image/svg+xml",
        f'<svg xmlns="http://www.w3.org/2000/svg"><script>{SCRIPT}</script></svg>',
    ),
}


@pytest.mark.parametrize("name", FILES)
def test_opening_an_uploaded_file_downloads_it_and_runs_nothing(
    page: Page, watch: Watch, emulator: Running, name: str
) -> None:
    content_type, text = FILES[name]
    with httpx.Client(base_url=emulator.base_url, timeout=10) as http:
        http.post("/_emulator/reset").raise_for_status()
        upload = http.post(
            url("files"), headers=AUTH, files={"files": (name, text.encode(), content_type)}
        )
        (file_url,) = upload.json()["urls"]
        page.goto("/")  # the emulator's origin, as a victim would have it open
        # A navigation that turns into a download is reported as aborted.
        aborted = pytest.raises(Error, match=r"ERR_ABORTED|Download")
        with page.expect_download() as download, aborted:
            page.goto(file_url)
        assert download.value.suggested_filename == name
        assert page.title() != "ran"
        assert page.url.rstrip("/") == emulator.base_url  # still the playground
        assert http.get("/_emulator/queue").json()["queue"] == []
    assert not [r for r in watch.requests if "/_emulator/queue" in r]

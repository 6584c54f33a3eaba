"""5. An uploaded file is never rendered as a page of the emulator's origin.

A file uploaded as ``text/html`` or ``image/svg+xml`` was served inline, on the origin of the
playground (whose session storage holds the typed key) and of the control API: stored XSS. The
browser's own proof is ``tests/e2e/test_uploaded_files.py``.
"""

from __future__ import annotations

import pytest

from tests.adversarial.conftest import Served
from tests.support import AUTH, url

PAYLOADS = {
    "page.html": ("text/html", b"<script>fetch('/_emulator/reset', {method: 'POST'})</script>"),
    "image.svg": (
        "image/svg+xml",
        b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
    ),
    "notes.txt": ("text/plain", b"<html><script>alert(1)</script>"),
    "data.bin": ("application/octet-stream", b"<script>alert(1)</script>"),
}


@pytest.mark.parametrize("name", PAYLOADS)
def test_an_uploaded_file_is_served_as_an_attachment_in_a_sandbox(
    served: Served, name: str
) -> None:
    content_type, data = PAYLOADS[name]
    upload = served.http.post(
        url("files"), files={"files": (name, data, content_type)}, headers=AUTH
    )
    assert upload.status_code == 200, upload.text
    (file_url,) = upload.json()["urls"]
    response = served.http.get(file_url)
    assert response.status_code == 200
    assert response.content == data  # the bytes as uploaded
    assert response.headers["content-disposition"] == f'attachment; filename="{name}"'
    assert response.headers["x-content-type-options"] == "nosniff"
    csp = response.headers["content-security-policy"]
    assert "default-src 'none'" in csp
    assert "sandbox" in csp

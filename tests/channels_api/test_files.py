"""Uploads (decisions 14 to 16, 37): stored, served back byte for byte as downloads, limited,
never a path."""

from __future__ import annotations

import httpx
import pytest

from vivi_emulator.app import create_app
from vivi_emulator.files import safe_file_name
from vivi_emulator.service import Emulator
from vivi_emulator.settings import Limits, Settings

from tests.support import AUTH, url

BASE = "http://emulator.test"


async def test_upload_returns_absolute_urls_that_serve_the_bytes_back(
    client: httpx.AsyncClient,
) -> None:
    pdf = b"%PDF-1.4\n\x00\xff binary"
    png = bytes(range(256))
    response = await client.post(
        url("files"),
        headers=AUTH,
        files=[
            ("files", ("report.pdf", pdf, "application/pdf")),
            ("files", ("pic.png", png, "image/png")),
        ],
    )
    assert response.status_code == 200, response.text
    urls = response.json()["urls"]
    assert len(urls) == 2
    assert urls[0].startswith("http://emulator.test/channelsApi/demo-channel/files/")
    assert urls[0].endswith("/report.pdf")
    assert urls[1].endswith("/pic.png")
    first = await client.get(urls[0])  # no key: like a pre-signed storage URL
    assert first.status_code == 200
    assert first.content == pdf
    assert first.headers["content-type"] == "application/pdf"
    assert (await client.get(urls[1])).content == png


async def test_a_file_is_served_as_a_download_never_as_a_page(client: httpx.AsyncClient) -> None:
    page = b"<html><script>alert(document.domain)</script></html>"
    response = await client.post(
        url("files"), headers=AUTH, files={"files": ("page.html", page, "text/html")}
    )
    served = await client.get(response.json()["urls"][0])
    assert served.content == page
    assert served.headers["content-type"].startswith("text/html")  # as uploaded
    assert served.headers["content-disposition"] == 'attachment; filename="page.html"'
    assert served.headers["x-content-type-options"] == "nosniff"
    assert served.headers["content-security-policy"] == "default-src 'none'; sandbox"


async def test_file_ids_are_unguessable(client: httpx.AsyncClient) -> None:
    ids = set()
    for _ in range(5):
        response = await client.post(url("files"), headers=AUTH, files={"files": ("a.txt", b"x")})
        ids.add(response.json()["urls"][0].split("/")[-2])
    assert len(ids) == 5
    assert all(len(file_id) >= 20 for file_id in ids)


@pytest.mark.parametrize(
    ("given", "safe"),
    [
        ("../../etc/passwd", "passwd"),
        ("C:\\Windows\\system32\\evil.dll", "evil.dll"),
        ("..", "file"),
        ("", "file"),
        (None, "file"),
        ("résumé final.pdf", "r_sum_final.pdf"),
        ("/abs/path/x.txt", "x.txt"),
    ],
)
def test_client_file_names_never_become_paths(given: str | None, safe: str) -> None:
    assert safe_file_name(given) == safe


async def test_hostile_file_name_is_served_under_a_safe_name(client: httpx.AsyncClient) -> None:
    response = await client.post(
        url("files"), headers=AUTH, files={"files": ("../../etc/passwd", b"data")}
    )
    file_url = response.json()["urls"][0]
    assert file_url.endswith("/passwd")
    assert ".." not in file_url
    assert (await client.get(file_url)).content == b"data"


async def test_unknown_or_mismatched_file_is_404(client: httpx.AsyncClient) -> None:
    response = await client.post(url("files"), headers=AUTH, files={"files": ("a.txt", b"x")})
    file_url = response.json()["urls"][0]
    assert (await client.get(file_url.replace("/a.txt", "/b.txt"))).status_code == 404
    assert (await client.get(url("files/nope/a.txt"))).status_code == 404
    other_channel = file_url.replace("/demo-channel/", "/other-channel/")
    assert (await client.get(other_channel)).status_code == 404


async def test_files_expire() -> None:
    now = [1000.0]
    settings = Settings(access_log=False, limits=Limits(file_ttl_seconds=60))
    app = create_app(settings, Emulator(settings, clock=lambda: now[0]))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as client:
        response = await client.post(url("files"), headers=AUTH, files={"files": ("a.txt", b"x")})
        file_url = response.json()["urls"][0]
        now[0] += 59.9
        assert (await client.get(file_url)).status_code == 200
        now[0] += 0.1
        expired = await client.get(file_url)
        assert expired.status_code == 404
        assert "expired" in expired.json()["detail"]


@pytest.mark.parametrize(
    "settings", [Settings(access_log=False, limits=Limits(max_file_bytes=100, max_files=2))]
)
async def test_upload_limits(client: httpx.AsyncClient) -> None:
    too_big = await client.post(
        url("files"), headers=AUTH, files={"files": ("big.bin", b"x" * 101)}
    )
    assert too_big.status_code == 413
    assert "big.bin" in too_big.json()["detail"]
    three = [("files", (f"f{i}.txt", b"x", "text/plain")) for i in range(3)]
    too_many = await client.post(url("files"), headers=AUTH, files=three)
    assert too_many.status_code == 422
    assert too_many.json()["errors"][0]["field"] == "files"
    huge = [("files", (f"f{i}.txt", b"x" * 100, "text/plain")) for i in range(2000)]
    way_over = await client.post(url("files"), headers=AUTH, files=huge)
    assert way_over.status_code == 413


async def test_upload_needs_a_files_part(client: httpx.AsyncClient) -> None:
    response = await client.post(url("files"), headers=AUTH, files={"other": ("a.txt", b"x")})
    assert response.status_code == 422
    assert response.json()["errors"] == [{"field": "files", "reason": "is required"}]


async def test_upload_text_field_is_not_a_file(client: httpx.AsyncClient) -> None:
    response = await client.post(
        url("files"), headers=AUTH, data={"files": "plain text"}, files={"x": ("x", b"")}
    )
    assert response.status_code == 422
    assert response.json()["errors"] == [
        {"field": "files", "reason": "must be file parts, not text fields"}
    ]


async def test_upload_with_json_content_type_is_415(client: httpx.AsyncClient) -> None:
    response = await client.post(url("files"), headers=AUTH, json={"files": []})
    assert response.status_code == 415
    assert "multipart/form-data" in response.json()["detail"]


async def test_broken_multipart_is_422(client: httpx.AsyncClient) -> None:
    response = await client.post(
        url("files"),
        headers={**AUTH, "content-type": "multipart/form-data"},  # no boundary
        content=b"--x\r\n",
    )
    assert response.status_code == 422


@pytest.mark.parametrize(
    "settings", [Settings(access_log=False, public_url="https://files.example.com/")]
)
async def test_public_url_sets_the_base_of_file_urls(client: httpx.AsyncClient) -> None:
    response = await client.post(url("files"), headers=AUTH, files={"files": ("a.txt", b"x")})
    assert response.json()["urls"][0].startswith(
        "https://files.example.com/channelsApi/demo-channel/files/"
    )

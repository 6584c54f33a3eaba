"""The VIVI docs' own Python sample, unchanged but for the URL: it points at the emulator.

Run it against `scripts/serve`: .venv/bin/python docs/examples/requests_sample.py
(VIVI_BASE_URL overrides the emulator's default address; the test suite uses that.)
"""

import os

import requests

channelId = "demo-channel"  # the docs' names
apiKey = "demo-key"

base = os.environ.get("VIVI_BASE_URL", "http://127.0.0.1:8000")
url = f"{base}/channelsApi/{channelId}/stream"

headers = {"Content-Type": "application/json", "vivi-api-key": apiKey}

data = {
    "message": "hello",
    "threadId": "0b6f2a70-6a43-4d3c-9c55-6f7d4c1d2e10",  # the docs say UUID; use one
    "userId": None,  # optional
    "attachedFiles": None,  # alternatively, the URLs the upload endpoint returned
}

response = requests.post(url, headers=headers, json=data, stream=True, timeout=30)

for line in response.iter_lines():
    if line:
        print(line.decode("utf-8"))

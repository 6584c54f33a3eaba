"""A simple streaming client with httpx: its line iterator, and `data: ` lines as JSON.

Prints the reply's text as it streams; a failed request or a broken stream raises (exit 1).
Run it against `scripts/serve`: .venv/bin/python docs/examples/httpx_stream.py "hello"
(VIVI_BASE_URL, VIVI_CHANNEL_ID and VIVI_API_KEY override the emulator's defaults.)
"""

import json
import os
import sys

import httpx

base = os.environ.get("VIVI_BASE_URL", "http://127.0.0.1:8000")
channel_id = os.environ.get("VIVI_CHANNEL_ID", "demo-channel")
api_key = os.environ.get("VIVI_API_KEY", "demo-key")
message = sys.argv[1] if len(sys.argv) > 1 else "hello"

body = {"message": message, "threadId": "0b6f2a70-6a43-4d3c-9c55-6f7d4c1d2e10"}
headers = {"vivi-api-key": api_key}
url = f"{base}/channelsApi/{channel_id}/stream"

with httpx.stream("POST", url, json=body, headers=headers, timeout=30) as response:
    response.raise_for_status()
    for line in response.iter_lines():
        if line.startswith("data: "):
            event = json.loads(line[len("data: ") :])
            if event["event"] == "on_chat_model_stream":
                print(event["message"], end="", flush=True)
print()

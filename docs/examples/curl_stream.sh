#!/usr/bin/env bash
# Stream a reply from the emulator with curl (-N: print each event as it arrives).
base=${VIVI_BASE_URL:-http://127.0.0.1:8000}
curl -sN "$base/channelsApi/demo-channel/stream" \
  -H 'vivi-api-key: demo-key' \
  -H 'Content-Type: application/json' \
  -d '{"message": "hello", "threadId": "0b6f2a70-6a43-4d3c-9c55-6f7d4c1d2e10"}'

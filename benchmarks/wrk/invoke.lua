-- wrk script: POST the JSON message with the channel's key (benchmarks/README.md)
wrk.method = "POST"
wrk.body = '{"message": "hello", "threadId": "0b6f2a70-6a43-4d3c-9c55-6f7d4c1d2e10"}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Accept"] = "application/json"
wrk.headers["vivi-api-key"] = "demo-key"

#!/usr/bin/env python3
"""A scripted OpenAI-compatible chat server for the engine's LLM tests:
it answers the n-th request with the n-th reply of a script file (the last
one again when the script runs out), with usage tokens, and logs every
request body. Standard library only; loopback; stops by itself.

usage: llm_script_server.py SCRIPT.json PORT_FILE LOG_FILE [LIFETIME_S]
SCRIPT.json: a list of reply texts.
"""
import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

script = json.load(open(sys.argv[1]))
port_file, log_file = sys.argv[2], sys.argv[3]
lifetime = float(sys.argv[4]) if len(sys.argv) > 4 else 120.0
count = [0]
lock = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b'{"data": [{"id": "scripted"}]}')

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        raw = self.rfile.read(n)
        with lock:
            i = count[0]
            count[0] += 1
            with open(log_file, "a") as f:
                f.write(json.dumps({"headers": {k.lower(): v for k, v in self.headers.items()},
                                    "body": json.loads(raw)}) + "\n")
        text = script[min(i, len(script) - 1)]
        body = json.dumps({"id": "x", "object": "chat.completion", "created": 0, "model": "scripted",
                           "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                                        "finish_reason": "stop"}],
                           "usage": {"prompt_tokens": 100, "completion_tokens": 20, "total_tokens": 120}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
threading.Thread(target=srv.serve_forever, daemon=True).start()
with open(port_file + ".tmp", "w") as f:
    f.write(str(srv.server_address[1]))
os.replace(port_file + ".tmp", port_file)
parent = os.getppid()
deadline = time.monotonic() + lifetime
while time.monotonic() < deadline and os.getppid() == parent:
    time.sleep(0.2)
os._exit(0)

#!/usr/bin/env python3
"""tests/llm/bad_server.py - a misbehaving LLM server for the failure paths
of the LLM client (tests/unit/test_llm.c). Standard library only.

    bad_server.py --port-file FILE [--log-dir DIR] [--lifetime SECONDS]

Listens on 127.0.0.1 on a free port, writes the port to FILE (atomically)
once it accepts connections, and serves until --lifetime seconds have
passed (default 120) or its parent process is gone, whichever comes first:
it never outlives a crashed test.

The first path segment picks the behaviour, so one server serves every case:
POST /<scenario>/v1/chat/completions (OpenAI format) or
POST /<scenario>/v1/messages (Anthropic format). Scenarios:

  ok                 200, a valid chat completion (a ```c block)
  params             200, a reply holding a JSON parameter choice
  flaky500           500 on the first request, then ok
  ratelimit          429 with Retry-After: 1 on the first request, then ok
  ratelimit_long     429 with Retry-After: 3600 (over any sane cap)
  always503          503 every time
  badreq             400 with an OpenAI-style error object
  auth               401 whose body echoes the Authorization header (redaction)
  echo               200, a successful reply that echoes the key it was sent
                     (Authorization: Bearer or x-api-key) in the text, the
                     model and the raw body: as is, percent-encoded and with
                     '/' JSON-escaped; the text holds a parameter choice
                     {"x": n, "y": 0} (n = 1..5 by request) for the toy spec;
                     Anthropic's format when the path ends in /messages
  slow               sleeps 3 s before answering (beyond the client's timeout)
  cut                promises 5000 bytes, sends 100, closes the connection
  garbage            200, an HTML page
  truncated          200, JSON cut in the middle of a string
  empty              200, "choices": []
  nocontent          200, choices[0].message.content null
  refusal            200, choices[0].message.refusal set
  huge               200, a 2 MiB body (over the client's 1 MiB cap)
  anthropic          200, fixtures/anthropic_response.json
  anthropic_overloaded  529 (fixtures/anthropic_error_529.json) once, then as anthropic
  anthropic_refusal  200, fixtures/anthropic_refusal.json
  anthropic_badreq   400, fixtures/anthropic_error_400.json
  anthropic_maxtokens  200, fixtures/anthropic_max_tokens.json

Every request is appended to DIR/<scenario>.jsonl as one JSON object
{"method", "path", "headers" (names lower-cased), "body" (parsed JSON, or
the raw text when it is not JSON)} so tests can check what was sent.
"""
import argparse
import json
import os
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "fixtures")
MAX_REQUEST = 4 << 20

counts = {}
lock = threading.Lock()
log_dir = None


def fixture(name):
    with open(os.path.join(FIXTURES, name), "rb") as f:
        return f.read()


def completion(text, **extra):
    msg = {"role": "assistant", "content": text}
    msg.update(extra)
    return json.dumps({
        "id": "chatcmpl-bad-server", "object": "chat.completion", "created": 0, "model": "bad-server-model",
        "choices": [{"index": 0, "message": msg, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18},
    }).encode()


OK_BODY = completion("Here it is:\n```c\nvoid spak_kernel(float *x) { x[0] = 1.0f; }\n```\n"
                     "{\"prediction\": {\"metric\": 3.5, \"why\": \"a test\"}}")
PARAMS_BODY = completion("Choice: {\"params\": {\"BM\": 64, \"UNROLL\": 4}, "
                         "\"prediction\": {\"metric\": 12.5, \"why\": \"bigger tiles\"}}")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "bad-server/1"

    def log_message(self, fmt, *args):  # quiet: the TAP output is the test's
        pass

    def send(self, status, body, ctype="application/json", headers=()):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        try:
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def do_GET(self):
        if self.path in ("/health", "/v1/models"):
            self.send(200, b'{"ok": true}')
        else:
            self.send(404, b'{"error": {"message": "not found"}}')

    def do_POST(self):
        try:
            n = int(self.headers.get("Content-Length", "0"))
        except ValueError:
            n = 0
        if n < 0 or n > MAX_REQUEST:
            self.send(413, b'{"error": {"message": "request too large"}}')
            return
        raw = self.rfile.read(n)
        scen = self.path.strip("/").split("/")[0]
        with lock:
            counts[scen] = counts.get(scen, 0) + 1
            nth = counts[scen]
            if log_dir:
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = raw.decode("utf-8", "replace")
                rec = {"method": "POST", "path": self.path,
                       "headers": {k.lower(): v for k, v in self.headers.items()}, "body": body}
                with open(os.path.join(log_dir, scen + ".jsonl"), "a") as f:
                    f.write(json.dumps(rec) + "\n")
        getattr(self, "s_" + scen, self.s_unknown)(nth)

    def s_unknown(self, nth):
        self.send(404, b'{"error": {"message": "unknown scenario"}}')

    def s_ok(self, nth):
        self.send(200, OK_BODY)

    def s_params(self, nth):
        self.send(200, PARAMS_BODY)

    def s_flaky500(self, nth):
        if nth == 1:
            self.send(500, b'{"error": {"message": "internal error, try again"}}')
        else:
            self.send(200, OK_BODY)

    def s_ratelimit(self, nth):
        if nth == 1:
            self.send(429, b'{"error": {"message": "slow down"}}', headers=[("Retry-After", "1")])
        else:
            self.send(200, OK_BODY)

    def s_ratelimit_long(self, nth):
        self.send(429, b'{"error": {"message": "come back in an hour"}}', headers=[("Retry-After", "3600")])

    def s_always503(self, nth):
        self.send(503, b'{"error": {"message": "service unavailable"}}')

    def s_badreq(self, nth):
        self.send(400, b'{"error": {"message": "unknown model bad-model", "type": "invalid_request_error"}}')

    def s_auth(self, nth):
        echo = self.headers.get("Authorization", "")
        self.send(401, json.dumps({"error": {"message": "invalid key in header: " + echo}}).encode())

    def s_echo(self, nth):
        auth = self.headers.get("Authorization", "")
        key = auth[7:] if auth.startswith("Bearer ") else self.headers.get("x-api-key", "")
        enc = urllib.parse.quote(key, safe="")
        text = ("Your key is %s (in a URL: %s). {\"params\": {\"x\": %d, \"y\": 0}, "
                "\"prediction\": {\"metric\": 90, \"why\": \"key %s\"}}" % (key, enc, (nth - 1) % 5 + 1, key))
        if self.path.endswith("/messages"):
            body = {"id": "msg_echo", "type": "message", "role": "assistant", "model": "echo-" + key,
                    "content": [{"type": "text", "text": text}], "stop_reason": "end_turn",
                    "usage": {"input_tokens": 5, "output_tokens": 5}}
        else:
            body = json.loads(completion(text))
            body["model"] = "echo-" + key
        raw = json.dumps(body)
        # an encoder that escapes '/' (PHP's json_encode does): the key's JSON-escaped form in the raw body
        raw = raw[:-1] + ', "system_fingerprint": "%s"}' % key.replace("/", "\\/")
        self.send(200, raw.encode())

    def s_slow(self, nth):
        time.sleep(3)
        self.send(200, OK_BODY)

    def s_cut(self, nth):
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", "5000")
        self.end_headers()
        try:
            self.wfile.write(OK_BODY[:100])
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            pass
        self.close_connection = True

    def s_garbage(self, nth):
        self.send(200, b"<html><body>502 Bad Gateway (not really)</body></html>", ctype="text/html")

    def s_truncated(self, nth):
        self.send(200, b'{"id": "x", "choices": [{"message": {"role": "assistant", "content": "hel')

    def s_empty(self, nth):
        self.send(200, b'{"id": "x", "choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 0}}')

    def s_nocontent(self, nth):
        self.send(200, b'{"choices": [{"message": {"role": "assistant", "content": null}, "finish_reason": "stop"}]}')

    def s_refusal(self, nth):
        self.send(200, completion(None, refusal="I can't help with that."))

    def s_huge(self, nth):
        total = 2 << 20
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(total))
        self.end_headers()
        chunk = b"x" * 65536
        try:
            for _ in range(total // len(chunk)):
                self.wfile.write(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass
        self.close_connection = True

    def s_anthropic(self, nth):
        self.send(200, fixture("anthropic_response.json"))

    def s_anthropic_overloaded(self, nth):
        if nth == 1:
            self.send(529, fixture("anthropic_error_529.json"))
        else:
            self.send(200, fixture("anthropic_response.json"))

    def s_anthropic_refusal(self, nth):
        self.send(200, fixture("anthropic_refusal.json"))

    def s_anthropic_badreq(self, nth):
        self.send(400, fixture("anthropic_error_400.json"))

    def s_anthropic_maxtokens(self, nth):
        self.send(200, fixture("anthropic_max_tokens.json"))


def main():
    global log_dir
    ap = argparse.ArgumentParser()
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--log-dir")
    ap.add_argument("--lifetime", type=float, default=120.0)
    a = ap.parse_args()
    log_dir = a.log_dir
    parent = os.getppid()
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    tmp = a.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % srv.server_address[1])
    os.replace(tmp, a.port_file)
    deadline = time.monotonic() + a.lifetime
    while time.monotonic() < deadline and os.getppid() == parent:
        time.sleep(0.2)
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main())

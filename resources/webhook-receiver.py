#!/usr/bin/env python3
"""A Timecard webhook receiver: checks each delivery's signature and
processes every event once.

    TIMECARD_WEBHOOK_SECRET=whsec_… python3 webhook-receiver.py 8000

Put it behind your HTTPS proxy and register https://your.host/… on the
server's Webhooks page. Python 3 standard library only.
"""
import hashlib
import hmac
import json
import os
import sys
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

SECRET = os.environ["TIMECARD_WEBHOOK_SECRET"].encode()
REPLAY_WINDOW = 300  # seconds
seen = set()  # event ids already processed; keep them in your database


def signed(header, body):
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    try:
        t = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs(time.time() - t) > REPLAY_WINDOW:
        return False
    want = hmac.new(SECRET, f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(want, parts.get("v1", ""))


class Hook(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if not signed(self.headers.get("Timecard-Signature", ""), body):
            self.send_response(401)
            self.end_headers()
            return
        event = json.loads(body)
        if event["id"] not in seen:  # a repeat is acknowledged, not redone
            seen.add(event["id"])
            print(event["type"], event["contract_id"], json.dumps(event["data"]), flush=True)
        self.send_response(204)
        self.end_headers()


HTTPServer(("127.0.0.1", int(sys.argv[1]) if len(sys.argv) > 1 else 8000), Hook).serve_forever()

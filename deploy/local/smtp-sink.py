#!/usr/bin/env python3
"""A real SMTP server on loopback for tests and local runs: every message it accepts is written,
as received, to DIR/NNNNN.eml. Usage: smtp-sink.py PORT DIR [REPLY_DELAY_SECONDS]

With REPLY_DELAY_SECONDS it waits that long before every reply (a slow relay), to show that a
send's timeout bounds the whole session."""
import os
import socketserver
import sys
import time
import warnings

warnings.simplefilter("ignore", DeprecationWarning)
import asyncore  # noqa: E402  (Python 3.11: smtpd and asyncore are deprecated, still shipped)
import smtpd  # noqa: E402

port, out = int(sys.argv[1]), sys.argv[2]
delay = float(sys.argv[3]) if len(sys.argv) > 3 else 0.0
os.makedirs(out, exist_ok=True)


def store(data):
    name = os.path.join(out, "%05d.eml" % len(os.listdir(out)))
    with open(name + ".tmp", "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())
    os.rename(name + ".tmp", name)


class Sink(smtpd.SMTPServer):
    def process_message(self, peer, mailfrom, rcpttos, data, **kwargs):
        store(data)


class Slow(socketserver.StreamRequestHandler):
    """Just enough SMTP for one message, each reply after `delay` seconds."""

    def reply(self, line):
        time.sleep(delay)
        self.wfile.write((line + "\r\n").encode())

    def handle(self):
        self.reply("220 slow sink")
        while True:
            line = self.rfile.readline()
            if not line:
                return
            verb = line.decode(errors="replace").strip().upper()
            if verb.startswith("DATA"):
                self.reply("354 go on")
                body = b""
                while not body.endswith(b"\r\n.\r\n"):
                    chunk = self.rfile.readline()
                    if not chunk:
                        return
                    body += chunk
                store(body)
                self.reply("250 stored")
            elif verb.startswith("QUIT"):
                self.reply("221 bye")
                return
            else:
                self.reply("250 ok")


if delay > 0:
    socketserver.ThreadingTCPServer.allow_reuse_address = True
    server = socketserver.ThreadingTCPServer(("127.0.0.1", port), Slow)
    print("smtp sink listening on 127.0.0.1:%d (replies after %.1f s)" % (port, delay), flush=True)
    server.serve_forever()
else:
    Sink(("127.0.0.1", port), None, decode_data=False)
    print("smtp sink listening on 127.0.0.1:%d" % port, flush=True)
    asyncore.loop()

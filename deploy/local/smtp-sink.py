#!/usr/bin/env python3
"""A real SMTP server on loopback for tests and local runs: every message it accepts is written,
as received, to DIR/NNNNN.eml. Usage: smtp-sink.py PORT DIR"""
import os
import sys
import warnings

warnings.simplefilter("ignore", DeprecationWarning)
import asyncore  # noqa: E402  (Python 3.11: smtpd and asyncore are deprecated, still shipped)
import smtpd  # noqa: E402

port, out = int(sys.argv[1]), sys.argv[2]
os.makedirs(out, exist_ok=True)


class Sink(smtpd.SMTPServer):
    def process_message(self, peer, mailfrom, rcpttos, data, **kwargs):
        name = os.path.join(out, "%05d.eml" % len(os.listdir(out)))
        with open(name + ".tmp", "wb") as f:
            f.write(data if isinstance(data, bytes) else data.encode())
        os.rename(name + ".tmp", name)


Sink(("127.0.0.1", port), None, decode_data=False)
print("smtp sink listening on 127.0.0.1:%d" % port, flush=True)
asyncore.loop()

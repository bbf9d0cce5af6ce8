#!/usr/bin/env python3
"""A real TLS mail server on loopback for the notification tests and the bench (aiosmtpd, PyPI).

Usage: smtp_tls_server.py PORT DIR MODE CERT KEY [--user U --password P] [--hold-first S] [--mechanisms PLAIN,LOGIN]

MODE is `starttls` (plain, STARTTLS required before MAIL and AUTH, as on port 587) or `implicit`
(TLS from the first byte, as on port 465). AUTH is required when --user is given, and only over
TLS (aiosmtpd's auth_require_tls). Every accepted message is written to DIR/NNNNN.eml; every
connection, TLS upgrade, AUTH and DATA (with the client's port) is written as a line to
DIR/events.log, so a test can count the connections that carried messages (reuse) and the DATA
commands (a second send). --hold-first holds the answer to the first message's DATA that long
after the message was stored (a send in flight, for a kill -9)."""
import argparse
import asyncio
import os
import signal
import ssl

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

parser = argparse.ArgumentParser()
parser.add_argument("port", type=int)
parser.add_argument("dir")
parser.add_argument("mode", choices=["starttls", "implicit"])
parser.add_argument("cert")
parser.add_argument("key")
parser.add_argument("--user")
parser.add_argument("--password")
parser.add_argument("--hold-first", type=float, default=0.0)
parser.add_argument("--mechanisms", default="PLAIN,LOGIN")
args = parser.parse_args()
os.makedirs(args.dir, exist_ok=True)
events = os.path.join(args.dir, "events.log")


def tls(session):
    # aiosmtpd knows of TLS it started (STARTTLS); with implicit TLS the whole connection is TLS.
    return session.ssl is not None or args.mode == "implicit"


def log(line):
    with open(events, "a") as f:
        f.write(line + "\n")


held = []


class Handler:
    async def handle_DATA(self, server, session, envelope):
        name = os.path.join(args.dir, "%05d.eml" % len([n for n in os.listdir(args.dir) if n.endswith(".eml")]))
        with open(name + ".tmp", "wb") as f:
            f.write(envelope.original_content or envelope.content)
        os.rename(name + ".tmp", name)
        log("DATA %s tls=%s auth=%s peer=%s" % (envelope.rcpt_tos[0], tls(session), session.authenticated, session.peer[1]))
        if args.hold_first > 0 and not held:
            held.append(True)
            await asyncio.sleep(args.hold_first)
        return "250 stored"


def authenticator(server, session, envelope, mechanism, auth_data):
    ok = isinstance(auth_data, LoginPassword) and auth_data.login.decode() == args.user and auth_data.password.decode() == args.password
    log("AUTH %s %s tls=%s" % (mechanism, "ok" if ok else "refused", tls(session)))
    return AuthResult(success=ok)


class LoggingSMTP(SMTP):
    def connection_made(self, transport):
        log("CONNECT")
        super().connection_made(transport)

    async def smtp_STARTTLS(self, arg):
        log("STARTTLS")
        return await super().smtp_STARTTLS(arg)


context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
context.load_cert_chain(args.cert, args.key)
excluded = [m for m in ["PLAIN", "LOGIN"] if m not in args.mechanisms.split(",")]
smtp_options = dict(
    # With implicit TLS aiosmtpd cannot tell the connection is TLS and would hide AUTH: it is.
    auth_required=args.user is not None, auth_require_tls=args.mode == "starttls", authenticator=authenticator if args.user else None,
    auth_exclude_mechanism=excluded,
)


class TLSController(Controller):
    def factory(self):
        if args.mode == "starttls":
            return LoggingSMTP(self.handler, hostname="localhost", tls_context=context, require_starttls=True, **smtp_options)
        return LoggingSMTP(self.handler, hostname="localhost", **smtp_options)


controller = TLSController(Handler(), hostname="127.0.0.1", port=args.port,
                           ssl_context=context if args.mode == "implicit" else None)
# Stopped at once: a controller with clients still connected would wait for them. (A parent may
# have started it with SIGTERM blocked: Foundation's Process does.)
signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGTERM, signal.SIGINT])
signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
controller.start()
print("smtp tls server listening on 127.0.0.1:%d (%s)" % (args.port, args.mode), flush=True)
while True:
    signal.pause()

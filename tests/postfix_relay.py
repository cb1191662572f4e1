"""A private Postfix instance relaying everything to one host: a real MTA as the gateway's client (issue 21).

    with PostfixRelay(free_port(), relayhost_port=gateway_port, sasl=("acme", "pw")) as mta:
        queue_id = mta.submit("news@news.demo.example", ["a@example.com"], message)
        mta.wait_for(queue_id, ["a@example.com"])  # {"a@example.com": Delivery(status="sent", ...)}

Nothing of the system's Postfix is used or started: the instance has its own config_directory (main.cf and
master.cf written here), queue_directory, data_directory, `syslog_name` and log file, and listens on one
127.0.0.1 port; several run at once. It delivers nothing locally (`mydestination =`): every recipient goes
to `relayhost = [127.0.0.1]:PORT`, optionally over STARTTLS (`smtp_tls_security_level = encrypt`) with SASL
(a static password map, `smtp_send_dummy_mail_auth = yes`). The non-delivery notices Postfix writes to the
sender (`MAIL FROM:<>`) are discarded rather than relayed, so that only the mail submitted reaches the
relay host; the log still says `sender non-delivery notification: QUEUEID`. Postfix's own timings (the
queue's back-off, the relay's concurrency, 50 recipients per transaction) are left at their defaults: a
test that needs a retry asks for it (`flush()`, which is `postqueue -f`).

Postfix's master must start as root (it drops to the `postfix` user for its daemons, which must reach
the instance's directories: pytest's temporary directories are private to root, so the instance lives in
a directory of its own under /tmp, removed when it stops). Only the standard library is used, so bench/
imports this module too.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import smtplib
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Self

POSTFIX, POSTQUEUE = "/usr/sbin/postfix", "/usr/sbin/postqueue"
QUEUES = ("maildrop", "incoming", "active", "deferred", "hold")  # where a message waits for delivery

MASTER_CF = """\
127.0.0.1:{port} inet n - n - - smtpd
pickup    unix  n - n 60    1 pickup
cleanup   unix  n - n -     0 cleanup
qmgr      unix  n - n 300   1 qmgr
tlsmgr    unix  - - n 1000? 1 tlsmgr
rewrite   unix  - - n -     - trivial-rewrite
bounce    unix  - - n -     0 bounce
defer     unix  - - n -     0 bounce
trace     unix  - - n -     0 bounce
verify    unix  - - n -     1 verify
flush     unix  n - n 1000? 0 flush
proxymap  unix  - - n -     - proxymap
smtp      unix  - - n -     - smtp
relay     unix  - - n -     - smtp
showq     unix  n - n -     - showq
error     unix  - - n -     - error
retry     unix  - - n -     - error
discard   unix  - - n -     - discard
anvil     unix  - - n -     1 anvil
scache    unix  - - n -     1 scache
postlog   unix-dgram n - n - 1 postlogd
"""

# One delivery attempt for one recipient, as the delivery agents log it.
_DELIVERY = re.compile(
    r"\]: (?P<queue_id>[0-9A-F]+): to=<(?P<recipient>[^>]*)>, (?:orig_to=<[^>]*>, )?relay=(?P<relay>[^,]+), "
    r".*?dsn=(?P<dsn>[^,]+), status=(?P<status>\w+) \((?P<reason>.*)\)$"
)


@dataclass(frozen=True)
class Delivery:
    queue_id: str
    recipient: str
    relay: str
    dsn: str
    status: str  # sent, bounced, deferred (or expired)
    reason: str  # the relay host's reply, or Postfix's own words


class PostfixRelay:
    """A private Postfix (in a new directory under /tmp) taking mail on 127.0.0.1:`port` and relaying it
    all to [127.0.0.1]:`relayhost_port`. `tls`: STARTTLS required towards the relay host (its certificate
    is not verified); `sasl`: (user, password) to log in there with, sending `AUTH=<>` on MAIL FROM.
    `settings`: more main.cf lines (they override these). `keep_log`: where to copy the log at the stop."""

    def __init__(
        self,
        port: int,
        relayhost_port: int,
        *,
        tls: bool = False,
        sasl: tuple[str, str] | None = None,
        settings: Mapping[str, str] | None = None,
        keep_log: Path | None = None,
    ) -> None:
        if os.geteuid() != 0:
            raise RuntimeError("a Postfix instance's master must start as root")
        self.folder, self.port = Path(tempfile.mkdtemp(prefix=f"postfix-{port}-")), port
        self.folder.chmod(0o755)  # its daemons run as the postfix user
        folder = self.folder
        self.config_dir, self.queue_dir = folder / "conf", folder / "queue"
        self.log_path, self.keep_log = folder / "maillog", keep_log
        main = {
            "compatibility_level": "3.7",
            "queue_directory": str(self.queue_dir),
            "data_directory": str(folder / "data"),  # created by Postfix, owned by its user
            "syslog_name": f"postfix-{port}",
            "maillog_file": str(self.log_path),
            "maillog_file_prefixes": str(folder),
            "myhostname": f"relay{port}.test",
            "mydestination": "",
            "relay_domains": "",
            "local_recipient_maps": "",
            "local_transport": "error:5.1.1 local delivery is disabled",
            "alias_maps": "",
            "alias_database": "",
            "inet_interfaces": "loopback-only",
            "inet_protocols": "ipv4",
            "mynetworks": "127.0.0.0/8",
            "smtpd_relay_restrictions": "permit_mynetworks, reject",
            "relayhost": f"[127.0.0.1]:{relayhost_port}",
            "smtpd_peername_lookup": "no",  # no DNS anywhere
            "smtp_host_lookup": "native",
            "smtp_dns_support_level": "disabled",
            "biff": "no",
            "notify_classes": "",  # no notices to a postmaster (they would go to the relay host)
            # non-delivery notices (MAIL FROM:<>) are discarded, not relayed
            "sender_dependent_default_transport_maps": "inline:{ <>=discard: }",
        }
        if tls:
            main |= {"smtp_tls_security_level": "encrypt", "smtp_tls_loglevel": "1"}
        if sasl:
            main |= {
                "smtp_sasl_auth_enable": "yes",
                "smtp_sasl_password_maps": f"static:{{{sasl[0]}:{sasl[1]}}}",
                # PLAIN and LOGIN (what the gateway offers), over TLS or not
                "smtp_sasl_security_options": "noanonymous",
                "smtp_sasl_tls_security_options": "noanonymous",
                "smtp_send_dummy_mail_auth": "yes",
            }
        self.main = main | dict(settings or {})
        self.pid: int | None = None

    # -- starting and stopping -------------------------------------------------------------------------------

    def start(self) -> Self:
        self.config_dir.mkdir(parents=True, exist_ok=True)
        self.queue_dir.mkdir(exist_ok=True)  # the queues inside are made by `postfix start`
        (self.config_dir / "main.cf").write_text("".join(f"{k} = {v}\n" for k, v in self.main.items()))
        (self.config_dir / "master.cf").write_text(MASTER_CF.format(port=self.port))
        for name in ("main.cf", "master.cf"):  # Postfix waits (up to 2 s) for a file changed this second
            os.utime(self.config_dir / name, (time.time() - 60, time.time() - 60))
        # its output to a file, not a pipe: the master it leaves running would hold a pipe open
        with open(self.folder / "postfix-start.out", "w+") as out:
            started = subprocess.run(
                [POSTFIX, "-c", str(self.config_dir), "start"], stdout=out, stderr=out, timeout=60
            )
            if started.returncode != 0:
                out.seek(0)
                raise RuntimeError(f"postfix start failed: {out.read()}\n{self.log()}")
        self.pid = int((self.queue_dir / "pid" / "master.pid").read_text().split()[0])
        _wait_for_port(self.port)
        return self

    def stop(self) -> None:
        """As `postfix stop` does (SIGTERM to the master, which ends its children), without its one-second
        sleeps; whatever of this instance is left after 10 s is killed. Then its directory is removed."""
        if self.pid is None:
            self._remove()
            return
        try:
            os.kill(self.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        deadline = time.monotonic() + 10
        while self.processes() and time.monotonic() < deadline:
            time.sleep(0.02)
        for pid in self.processes():  # still in the master's session after 10 s
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.pid = None
        self._remove()

    def _remove(self) -> None:
        if self.keep_log is not None and self.log_path.exists():
            shutil.copyfile(self.log_path, self.keep_log)
        shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def command(self, program: str, *args: str) -> subprocess.CompletedProcess:
        """A Postfix command (postfix, postqueue, postsuper, postconf...) run against this instance."""
        return subprocess.run(
            [program, "-c", str(self.config_dir), *args], capture_output=True, text=True, timeout=60
        )

    # -- mail in ---------------------------------------------------------------------------------------------

    def submit(self, sender: str, recipients: Iterable[str], data: bytes) -> str:
        """One message over SMTP; its queue ID (from smtpd's `250 2.0.0 Ok: queued as ID`). A refused
        recipient or message raises."""
        with smtplib.SMTP("127.0.0.1", self.port, local_hostname="client.example", timeout=60) as client:
            client.ehlo()
            code, text = client.mail(sender)
            if code != 250:
                raise smtplib.SMTPSenderRefused(code, text, sender)
            for recipient in recipients:
                code, text = client.rcpt(recipient)
                if code != 250:
                    raise smtplib.SMTPRecipientsRefused({recipient: (code, text)})
            code, text = client.data(data)
            if code != 250:
                raise smtplib.SMTPDataError(code, text)
        return text.decode().rsplit(" ", 1)[1]

    # -- mail out --------------------------------------------------------------------------------------------

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def deliveries(self, queue_id: str | None = None) -> list[Delivery]:
        """Every delivery attempt logged so far (of one message), in order."""
        found = []
        for line in self.log().splitlines():
            m = _DELIVERY.search(line)
            if m and (queue_id is None or m["queue_id"] == queue_id):
                found.append(Delivery(**m.groupdict()))
        return found

    def wait_for(
        self,
        queue_id: str,
        recipients: Iterable[str],
        statuses: Iterable[str] = ("sent", "bounced"),
        timeout: float = 30,
    ) -> dict[str, Delivery]:
        """Each recipient's latest attempt, once every one has a status in `statuses`."""
        wanted, statuses = set(recipients), set(statuses)
        latest: dict[str, Delivery] = {}

        def done() -> bool:
            latest.clear()
            for d in self.deliveries(queue_id):
                latest[d.recipient] = d
            return all(r in latest and latest[r].status in statuses for r in wanted)

        _wait(done, timeout, f"{queue_id}: not every recipient {sorted(statuses)}")
        return {r: latest[r] for r in wanted}

    def queued(self) -> int:
        """Messages in the queue (files in its queues, read directly: no Postfix process is asked)."""
        return sum(len(files) for q in QUEUES for _, _, files in os.walk(self.queue_dir / q))

    def wait_until_empty(self, timeout: float = 30, poll: float = 0.01) -> None:
        """Until every message has left the queue: delivered, bounced or discarded, never just deferred."""
        _wait(lambda: self.queued() == 0, timeout, "the queue is not empty", poll)

    def mailq(self) -> str:
        """`postqueue -p`: what `mailq` shows."""
        return self.command(POSTQUEUE, "-p").stdout

    def flush(self) -> None:
        """`postqueue -f`: every deferred message tried again now."""
        flushed = self.command(POSTQUEUE, "-f")
        if flushed.returncode != 0:
            raise RuntimeError(f"postqueue -f failed: {flushed.stderr}")

    # -- the instance's processes ----------------------------------------------------------------------------

    def processes(self, zombies: bool = False) -> list[int]:
        """The master and every process it started: its session (the master calls setsid). Those that
        have exited and wait for the master to read their status (zombies) only when asked for."""
        if self.pid is None:
            return []
        found = []
        for entry in os.scandir("/proc"):
            if entry.name.isdigit():
                fields = _stat(int(entry.name))
                if fields and fields[3] == str(self.pid) and (zombies or fields[0] != "Z"):
                    found.append(int(entry.name))
        return found

    def cpu_seconds(self) -> float:
        """User and system CPU seconds used so far by the whole instance: its processes (the master first,
        with its figures for the children it has reaped: every daemon that has exited), then the others."""
        if self.pid is None:
            return 0.0
        fields = _stat(self.pid)
        total = sum(int(f) for f in fields[11:15]) if fields else 0  # utime, stime, cutime, cstime
        for pid in self.processes(zombies=True):
            fields = _stat(pid)
            if fields and pid != self.pid:
                total += int(fields[11]) + int(fields[12])
        return total / os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str] | None:
    """/proc/PID/stat after the command name: state, ppid, pgrp, session, ... utime (11), stime (12),
    cutime (13), cstime (14)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def _wait(predicate, timeout: float, what: str, poll: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} after {timeout} s")
        time.sleep(poll)


def _wait_for_port(port: int, timeout: float = 20) -> None:
    def listening() -> bool:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            return False

    _wait(listening, timeout, f"nothing listening on {port}", 0.02)

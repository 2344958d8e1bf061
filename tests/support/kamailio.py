"""A real Kamailio 5.6 in front of the Trunkline switch database, driven by sipp, on loopback.

The processes and scenarios behind the fixtures of tests/kamailio/conftest.py, in a module so
test files import them by a name of their own (``from conftest import`` finds whichever folder's
conftest was imported first when several folders run together).

- `SwitchDb`: a SQLite switch database that `trunkline apply` writes (example passwords set to
  known values, see ``EXAMPLE_PASSWORDS``).
- `Kamailio`: ``examples/kamailio/kamailio.cfg`` on 127.0.0.1:<free UDP port> with a private ctl
  socket (``Kamailio.rpc`` runs kamcmd).
- `SippUas`: a sipp UAS (the termination side: answers every call); `uac_scenario`: the UAC's.
- `wait_for_cdrs`: poll ``trunkline cdr export`` until the CDRs are there.
- `source_lock`: sipp UACs that must bind a fixed 127.0.0.x:port (the example IP authentications
  name port 5060) take turns across pytest-xdist workers on a flock in /tmp.

kamailio, kamcmd and sipp missing: the tests skip with the reason, unless ``CI`` is set (then
they fail: a CI run that skipped every switch test would prove nothing).
Debian: ``apt-get install kamailio kamailio-sqlite-modules kamailio-utils-modules
kamailio-json-modules sip-tester`` (scripts/install-system-deps.sh), plus
``kamailio-postgres-modules`` for the PostgreSQL run in test_kamailio_sidecar.py.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from support.polling import Timeout, wait_until
from support.tools import require_programs

ROOT = Path(__file__).resolve().parents[2]
CFG = ROOT / "examples" / "kamailio" / "kamailio.cfg"

EXAMPLE_PASSWORDS = {
    f"TRUNKLINE_EXAMPLE_{name}_PASSWORD": f"e2e-{name.lower()}-secret"
    for name in ("ACME_NOC", "BLUEFIN_OPS", "ACME1001", "COBALT_OFFICE", "BLUEFIN_ROAMING", "COBALT_TRUNK")
}


_PACKAGES = "apt-get install kamailio kamailio-sqlite-modules kamailio-utils-modules kamailio-json-modules sip-tester"


def require(*programs: str) -> None:
    require_programs(*programs, where="tests/kamailio", install=_PACKAGES)


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def free_tcp_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on right now (for a sidecar URL)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def trunkline(*args: str, db_url: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "reconciler.cli", *args, "--db", db_url],
        cwd=ROOT,
        env={**os.environ, **EXAMPLE_PASSWORDS},
        capture_output=True,
        text=True,
        timeout=120,
        check=check,
    )


def exported_cdrs(db_url: str, dialed: str, *, customer: str = "acme-voip") -> list[dict[str, Any]]:
    """``trunkline cdr export`` for ``customer``: the CDRs that mention ``dialed``."""
    out = trunkline("cdr", "export", "--customer", customer, db_url=db_url).stdout
    rows = [json.loads(line) for line in out.splitlines() if line.strip()]
    return [row for row in rows if dialed in json.dumps(row)]


#: Kamailio posts a CDR to the sidecar when the dialog ends, and the sidecar rates and stores it;
#: each poll is a `trunkline cdr export` process. Generous for a loaded CI machine.
CDR_TIMEOUT = 60


def wait_for_cdrs(
    db_url: str, dialed: str, n: int, *, switch: Kamailio | None = None, sidecar_log: Path | None = None
) -> list[dict[str, Any]]:
    """At least ``n`` CDRs for ``dialed``; on a timeout the failure shows Kamailio's CDR errors.

    Kamailio queues each CDR and a timer posts the queue in batches; a batch the sidecar did not
    take is queued again ("sidecar did not take ..."), one it refused is logged ("sidecar CDR
    post failed ..."). On a timeout those lines say why.
    """
    try:
        return wait_until(
            lambda: (rows := exported_cdrs(db_url, dialed)) and len(rows) >= n and rows,
            timeout=CDR_TIMEOUT,
            interval=0.5,
            what=f"{n} CDR(s) for {dialed}",
        )
    except Timeout as exc:
        if switch is None:
            raise
        failed = [line for line in switch.log_text().splitlines() if "sidecar CDR" in line or "did not take" in line]
        raise Timeout(
            f"{exc}\nKamailio's CDR posts that failed: {failed or 'none logged'}\n"
            f"Kamailio's log ({switch.log}), last lines:\n{switch.log_text()[-3000:]}\n"
            + (
                f"the sidecar's log ({sidecar_log}):\n{sidecar_log.read_text(errors='replace')[-3000:]}"
                if sidecar_log
                else ""
            )
        ) from None


@dataclass
class SwitchDb:
    path: Path

    @property
    def url(self) -> str:
        return f"sqlite:///{self.path}"

    def apply(self, manifests: Path) -> str:
        return trunkline("apply", "-y", str(manifests), db_url=self.url).stdout


class Kamailio:
    """kamailio -DD -E with the example cfg; stopped with SIGTERM. ``shm_mb``: shared memory (-m),
    small for tests; a load test needs more (every transaction stays ~5 s after its final reply)."""

    def __init__(
        self, workdir: Path, db: SwitchDb, destination: str, defines: dict[str, str | None], *, shm_mb: int = 32
    ) -> None:
        self.port = free_udp_port()
        self.ctl = workdir / "kamailio_ctl"
        self.log = workdir / "kamailio.log"
        all_defines: dict[str, str | None] = {
            "TL_LISTEN": f"udp:127.0.0.1:{self.port}",
            "TL_DB_URL": f'"{db.url}"',
            "TL_CTL": f'"unix:{self.ctl}"',
            "TL_DESTINATION": f'"{destination}"',
            "TL_CHILDREN": "2",
            "TL_AUTHORIZE_GROUP": '"name=authorize;workers=4;nonblock=0;usleep=0"',  # test-sized, like TL_CHILDREN
            **defines,
        }
        args: list[str] = []
        for name, value in all_defines.items():
            args += ["-A", name if value is None else f"{name}={value}"]
        command = ["kamailio", "-f", str(CFG), *args, "-DD", "-E", "-m", str(shm_mb), "-M", "8", "-Y", str(workdir)]
        self._out = self.log.open("ab")
        self.process = subprocess.Popen(command, stdout=self._out, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 30
        while True:
            if self.process.poll() is not None:
                raise AssertionError(f"kamailio exited with {self.process.returncode}:\n{self.log_text()}")
            if self.ctl.exists() and self.rpc("core.psx", check=False).returncode == 0:
                break
            if time.monotonic() > deadline:
                self.stop()
                raise AssertionError(f"kamailio did not start within 30 s:\n{self.log_text()}")
            time.sleep(0.1)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def rpc(self, *command: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["kamcmd", "-s", f"unix:{self.ctl}", *command], capture_output=True, text=True, timeout=15, check=check
        )

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")[-20000:]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(15)
        self._out.close()


# The SDP every scenario here offers or answers: one PCMU stream (sipp fills in the addresses).
_SDP = """v=0
o=user1 53655765 2353687637 IN IP[local_ip_type] [local_ip]
s=-
c=IN IP[media_ip_type] [media_ip]
t=0 0
m=audio [media_port] RTP/AVP 0
a=rtpmap:0 PCMU/8000
"""

# sipp's built-in uas does not copy Record-Route into its 200 OK, so in-dialog requests would
# bypass (and confuse) the proxy; this one does.
_UAS = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<scenario name="trunkline uas">
  <recv request="INVITE" crlf="true"/>
  <send><![CDATA[
SIP/2.0 180 Ringing
[last_Via:]
[last_From:]
[last_To:];tag=[pid]SIPpTag01[call_number]
[last_Call-ID:]
[last_CSeq:]
[last_Record-Route:]
Contact: <sip:[local_ip]:[local_port];transport=[transport]>
Content-Length: 0
]]></send>
  <send retrans="500"><![CDATA[
SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:];tag=[pid]SIPpTag01[call_number]
[last_Call-ID:]
[last_CSeq:]
[last_Record-Route:]
Contact: <sip:[local_ip]:[local_port];transport=[transport]>
Content-Type: application/sdp
Content-Length: [len]

{sdp}]]></send>
  <recv request="ACK" crlf="true"/>
  <recv request="BYE"/>
  <send><![CDATA[
SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:]
[last_Call-ID:]
[last_CSeq:]
Contact: <sip:[local_ip]:[local_port];transport=[transport]>
Content-Length: 0
]]></send>
  <timewait milliseconds="500"/>
</scenario>
"""


class _Exited(Exception):
    """A helper process died while we waited for it (not worth polling on)."""


class SippUas:
    def __init__(self, workdir: Path) -> None:
        self.port = free_udp_port()
        self.log = workdir / "uas.log"
        self._out = self.log.open("ab")
        scenario = workdir / "uas.xml"
        scenario.write_text(_UAS.replace("{sdp}", _SDP))
        self.process = subprocess.Popen(
            ["sipp", "-sf", str(scenario), "-i", "127.0.0.1", "-p", str(self.port), "-nostdin", "-bind_local"],
            stdout=subprocess.DEVNULL,
            stderr=self._out,
            cwd=workdir,
        )
        # Ready once its UDP port is taken (a fixed sleep was either too short or wasted).
        try:
            wait_until(self._listening, timeout=10, interval=0.05, what=f"sipp UAS :{self.port}", fatal=(_Exited,))
        except BaseException:
            self.stop()
            raise

    def _listening(self) -> bool:
        if self.process.poll() is not None:
            raise _Exited(f"sipp UAS exited with {self.process.returncode}: {self.log.read_text(errors='replace')}")
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            try:
                sock.bind(("127.0.0.1", self.port))
            except OSError:
                return True
        return False

    @property
    def uri(self) -> str:
        return f"sip:127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self._out.close()


# ----- sipp UAC -------------------------------------------------------------------------------

# The UAC's INVITE: CSeq 1 bare, CSeq 2 with the digest answer to a 407.
_INVITE = """<send retrans="500"><![CDATA[
INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: <sip:[cli]@[from_domain]>;tag=[pid]SIPpTag00[call_number]
To: <sip:[service]@[remote_ip]:[remote_port]>
Call-ID: [call_id]
CSeq: {cseq} INVITE
Contact: <sip:[cli]@[local_ip]:[local_port]>
{auth}Max-Forwards: 70
{pai}Content-Type: application/sdp
Content-Length: [len]

{sdp}]]></send>"""

# One INVITE (answered by a digest challenge if one comes), then either the expected final
# code (ACKed) or 200 → ACK → pause → BYE, all with the Record-Route set.
_UAC = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<scenario name="trunkline uac">
  {invite_1}
  <recv response="100" optional="true"/>
  <recv response="407" optional="true" auth="true" next="auth"/>
  {expect_first}
  <label id="auth"/>
  <send><![CDATA[
ACK sip:[service]@[remote_ip]:[remote_port] SIP/2.0
[last_Via:]
From: <sip:[cli]@[from_domain]>;tag=[pid]SIPpTag00[call_number]
[last_To:]
Call-ID: [call_id]
CSeq: 1 ACK
Max-Forwards: 70
Content-Length: 0
]]></send>
  {invite_2}
  <recv response="100" optional="true"/>
  {expect_second}
  {finish}
</scenario>
"""

ANSWERED_RECV = """<recv response="180" optional="true"/>
  <recv response="183" optional="true"/>
  <recv response="200" rrs="true" rtd="true" next="answered"/>"""

# The ACK of an answered INVITE, sent along the Record-Route set.
ANSWERED_ACK = """<label id="answered"/>
  <send><![CDATA[
ACK [next_url] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: <sip:[cli]@[from_domain]>;tag=[pid]SIPpTag00[call_number]
[last_To:]
[routes]
Call-ID: [call_id]
CSeq: [last_cseq_number] ACK
Max-Forwards: 70
Content-Length: 0
]]></send>"""

ANSWERED_FINISH = (
    ANSWERED_ACK
    + """
  <pause milliseconds="{hold_ms}"/>
  <send retrans="500"><![CDATA[
BYE [next_url] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: <sip:[cli]@[from_domain]>;tag=[pid]SIPpTag00[call_number]
[last_To:]
[routes]
Call-ID: [call_id]
CSeq: 3 BYE
Max-Forwards: 70
Content-Length: 0
]]></send>
  <recv response="200" crlf="true"/>"""
)

REFUSED_RECV = """<recv response="{code}" next="refused"/>"""

REFUSED_FINISH = """<label id="refused"/>
  <send><![CDATA[
ACK sip:[service]@[remote_ip]:[remote_port] SIP/2.0
[last_Via:]
From: <sip:[cli]@[from_domain]>;tag=[pid]SIPpTag00[call_number]
[last_To:]
Call-ID: [call_id]
CSeq: [last_cseq_number] ACK
Max-Forwards: 70
Content-Length: 0
]]></send>"""


def uac_scenario(expect: int, *, hold_ms: int = 200, pai: str | None = None) -> str:
    pai_header = f"P-Asserted-Identity: <sip:{pai}@[from_domain]>\n" if pai else ""
    if expect == 200:
        recv, finish = ANSWERED_RECV, ANSWERED_FINISH.replace("{hold_ms}", str(hold_ms))
    else:
        recv, finish = REFUSED_RECV.replace("{code}", str(expect)), REFUSED_FINISH
    invite = _INVITE.replace("{pai}", pai_header).replace("{sdp}", _SDP)
    return (
        _UAC.replace("{invite_1}", invite.replace("{cseq}", "1").replace("{auth}", ""))
        .replace("{invite_2}", invite.replace("{cseq}", "2").replace("{auth}", "[authentication]\n"))
        .replace("{expect_first}", recv)
        .replace("{expect_second}", recv)
        .replace("{finish}", finish)
    )


@dataclass
class UacResult:
    returncode: int
    successful: int
    failed: int
    errors: str

    def describe(self) -> str:
        return f"sipp exit {self.returncode}, {self.successful} successful, {self.failed} failed\n{self.errors[-4000:]}"


@contextlib.contextmanager
def source_lock(ip: str, port: int) -> Iterator[None]:
    # The example's IP authentications name port 5060, so a UAC for a customer binds
    # 127.0.0.x:5060; parallel test workers take turns on it.
    with open(f"/tmp/trunkline-sipp-{ip}-{port}.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)

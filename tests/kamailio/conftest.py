"""A real Kamailio 5.6 in front of the Trunkline switch database, driven by sipp, on loopback.

- `switch_db`: a temp SQLite file holding ``trunkline apply examples/`` (example passwords set
  to known values, see ``EXAMPLE_PASSWORDS``).
- `uas`: a sipp UAS on 127.0.0.1:<free port> (the termination side: answers every call).
- `kamailio`: ``examples/kamailio/kamailio.cfg`` started on 127.0.0.1:<free UDP port> with the
  DB, the UAS as destination and a private ctl socket (``Kamailio.rpc`` runs kamcmd).
- `kamailio_factory`: the same with extra defines (``WITH_SIDECAR``).
- `run_uac(...)`: a sipp UAC from a 127.0.0.x source address, expecting a final code.

kamailio, kamcmd and sipp missing: the tests skip with the reason, unless ``CI`` is set (then
they fail: a CI run that skipped every switch test would prove nothing).
Debian: ``apt-get install kamailio kamailio-sqlite-modules kamailio-utils-modules
kamailio-json-modules sip-tester`` (scripts/install-system-deps.sh), plus
``kamailio-postgres-modules`` for the PostgreSQL run in test_kamailio_sidecar.py.
"""

from __future__ import annotations

import contextlib
import csv
import fcntl
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CFG = ROOT / "examples" / "kamailio" / "kamailio.cfg"

EXAMPLE_PASSWORDS = {
    f"TRUNKLINE_EXAMPLE_{name}_PASSWORD": f"e2e-{name.lower()}-secret"
    for name in ("ACME_NOC", "BLUEFIN_OPS", "ACME1001", "COBALT_OFFICE", "BLUEFIN_ROAMING", "COBALT_TRUNK")
}


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def _require(*programs: str) -> None:
    missing = [p for p in programs if shutil.which(p) is None]
    if missing:
        reason = (
            f"{', '.join(missing)} not installed (apt-get install kamailio kamailio-sqlite-modules "
            "kamailio-utils-modules kamailio-json-modules sip-tester)"
        )
        if _in_ci():
            pytest.fail(f"{reason}; CI is set, so this fails instead of skipping")
        print(f"SKIP: {reason}", file=sys.stderr)
        pytest.skip(reason)


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
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


@dataclass
class SwitchDb:
    path: Path

    @property
    def url(self) -> str:
        return f"sqlite:///{self.path}"

    def apply(self, manifests: Path) -> str:
        return trunkline("apply", "-y", str(manifests), db_url=self.url).stdout


@pytest.fixture
def switch_db(tmp_path: Path) -> SwitchDb:
    _require("kamailio", "kamcmd", "sipp")
    db = SwitchDb(tmp_path / "switch.db")
    db.apply(ROOT / "examples")
    return db


class Kamailio:
    """kamailio -DD -E with the example cfg; stopped with SIGTERM."""

    def __init__(self, workdir: Path, db: SwitchDb, destination: str, defines: dict[str, str | None]) -> None:
        self.port = free_udp_port()
        self.ctl = workdir / "kamailio_ctl"
        self.log = workdir / "kamailio.log"
        all_defines: dict[str, str | None] = {
            "TL_LISTEN": f"udp:127.0.0.1:{self.port}",
            "TL_DB_URL": f'"{db.url}"',
            "TL_CTL": f'"unix:{self.ctl}"',
            "TL_DESTINATION": f'"{destination}"',
            "TL_CHILDREN": "2",
            **defines,
        }
        args: list[str] = []
        for name, value in all_defines.items():
            args += ["-A", name if value is None else f"{name}={value}"]
        command = ["kamailio", "-f", str(CFG), *args, "-DD", "-E", "-m", "32", "-M", "8", "-Y", str(workdir)]
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

v=0
o=user1 53655765 2353687637 IN IP[local_ip_type] [local_ip]
s=-
c=IN IP[media_ip_type] [media_ip]
t=0 0
m=audio [media_port] RTP/AVP 0
a=rtpmap:0 PCMU/8000
]]></send>
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


class SippUas:
    def __init__(self, workdir: Path) -> None:
        self.port = free_udp_port()
        self.log = workdir / "uas.log"
        self._out = self.log.open("ab")
        scenario = workdir / "uas.xml"
        scenario.write_text(_UAS)
        self.process = subprocess.Popen(
            ["sipp", "-sf", str(scenario), "-i", "127.0.0.1", "-p", str(self.port), "-nostdin", "-bind_local"],
            stdout=subprocess.DEVNULL,
            stderr=self._out,
            cwd=workdir,
        )
        time.sleep(0.3)
        if self.process.poll() is not None:
            raise AssertionError(f"sipp UAS exited: {self.log.read_text(errors='replace')}")

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


@pytest.fixture
def uas(tmp_path: Path) -> Iterator[SippUas]:
    _require("sipp")
    server = SippUas(tmp_path)
    yield server
    server.stop()


@pytest.fixture
def kamailio_factory(tmp_path: Path, switch_db: SwitchDb, uas: SippUas) -> Iterator[Callable[..., Kamailio]]:
    started: list[Kamailio] = []

    def start(**defines: str | None) -> Kamailio:
        workdir = tmp_path / f"kamailio-{len(started)}"
        workdir.mkdir()
        switch = Kamailio(workdir, switch_db, uas.uri, defines)
        started.append(switch)
        return switch

    yield start
    for switch in started:
        switch.stop()


@pytest.fixture
def kamailio(kamailio_factory: Callable[..., Kamailio]) -> Kamailio:
    return kamailio_factory()


# ----- sipp UAC -------------------------------------------------------------------------------

# One INVITE (answered by a digest challenge if one comes), then either the expected final
# code (ACKed) or 200 → ACK → pause → BYE, all with the Record-Route set.
_UAC = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<scenario name="trunkline uac">
  <send retrans="500"><![CDATA[
INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: <sip:[cli]@[from_domain]>;tag=[pid]SIPpTag00[call_number]
To: <sip:[service]@[remote_ip]:[remote_port]>
Call-ID: [call_id]
CSeq: 1 INVITE
Contact: <sip:[cli]@[local_ip]:[local_port]>
Max-Forwards: 70
{pai}Content-Type: application/sdp
Content-Length: [len]

v=0
o=user1 53655765 2353687637 IN IP[local_ip_type] [local_ip]
s=-
c=IN IP[media_ip_type] [media_ip]
t=0 0
m=audio [media_port] RTP/AVP 0
a=rtpmap:0 PCMU/8000
]]></send>
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
  <send retrans="500"><![CDATA[
INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: <sip:[cli]@[from_domain]>;tag=[pid]SIPpTag00[call_number]
To: <sip:[service]@[remote_ip]:[remote_port]>
Call-ID: [call_id]
CSeq: 2 INVITE
Contact: <sip:[cli]@[local_ip]:[local_port]>
[authentication]
Max-Forwards: 70
{pai}Content-Type: application/sdp
Content-Length: [len]

v=0
o=user1 53655765 2353687637 IN IP[local_ip_type] [local_ip]
s=-
c=IN IP[media_ip_type] [media_ip]
t=0 0
m=audio [media_port] RTP/AVP 0
a=rtpmap:0 PCMU/8000
]]></send>
  <recv response="100" optional="true"/>
  {expect_second}
  {finish}
</scenario>
"""

_ANSWERED_RECV = """<recv response="180" optional="true"/>
  <recv response="183" optional="true"/>
  <recv response="200" rrs="true" rtd="true" next="answered"/>"""

_ANSWERED_FINISH = """<label id="answered"/>
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
]]></send>
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

_REFUSED_RECV = """<recv response="{code}" next="refused"/>"""

_REFUSED_FINISH = """<label id="refused"/>
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
        recv, finish = _ANSWERED_RECV, _ANSWERED_FINISH.replace("{hold_ms}", str(hold_ms))
    else:
        recv, finish = _REFUSED_RECV.replace("{code}", str(expect)), _REFUSED_FINISH
    return (
        _UAC.replace("{pai}", pai_header)
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
def _source_lock(ip: str, port: int) -> Iterator[None]:
    # The example's IP authentications name port 5060, so a UAC for a customer binds
    # 127.0.0.x:5060; parallel test workers take turns on it.
    with open(f"/tmp/trunkline-sipp-{ip}-{port}.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@pytest.fixture
def run_uac(tmp_path: Path) -> Callable[..., UacResult]:
    counter = iter(range(1_000_000))

    def run(
        switch: Kamailio,
        *,
        source: str = "127.0.0.2",
        source_port: int = 5060,
        dialed: str = "15125550199",
        cli: str = "15125550100",
        from_domain: str | None = None,
        pai: str | None = None,
        expect: int = 200,
        calls: int = 1,
        username: str | None = None,
        password: str | None = None,
        hold_ms: int = 200,
    ) -> UacResult:
        n = next(counter)
        workdir = tmp_path / f"uac-{n}"
        workdir.mkdir()
        scenario = workdir / "uac.xml"
        scenario.write_text(uac_scenario(expect, hold_ms=hold_ms, pai=pai))
        stats, errors = workdir / "stats.csv", workdir / "errors.log"
        command = [
            "sipp", switch.address, "-sf", str(scenario), "-s", dialed,
            "-i", source, "-p", str(source_port), "-bind_local",
            "-key", "cli", cli, "-key", "from_domain", from_domain or source,
            "-m", str(calls), "-l", "5", "-r", "10", "-timeout", "20s", "-timeout_error",
            "-nostdin", "-trace_err", "-error_file", str(errors),
            "-trace_stat", "-stf", str(stats), "-fd", "1",
        ]  # fmt: skip
        if username is not None:
            command += ["-au", username, "-ap", password or ""]
        with _source_lock(source, source_port):
            process = subprocess.run(command, cwd=workdir, capture_output=True, text=True, timeout=40)
        successful = failed = 0
        if stats.exists():
            rows = list(csv.DictReader(stats.open(), delimiter=";"))
            if rows:
                successful = int(rows[-1]["SuccessfulCall(C)"])
                failed = int(rows[-1]["FailedCall(C)"])
        text = errors.read_text(errors="replace") if errors.exists() else ""
        return UacResult(process.returncode, successful, failed, text + process.stderr)

    return run

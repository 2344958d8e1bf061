"""A real Kamailio 5.6 reading the switch database that `trunkline apply examples/` wrote; sipp
UACs from 127.0.0.x addresses, a sipp UAS as the termination side. See conftest.py."""

from __future__ import annotations

import shutil
import subprocess
import time

import pytest
from support.kamailio import EXAMPLE_PASSWORDS, ROOT, free_udp_port, wait_for_cdrs

pytestmark = pytest.mark.e2e


def test_ip_authenticated_customer_completes_calls(kamailio, run_uac):
    result = run_uac(kamailio, source="127.0.0.2", calls=3)
    assert (result.returncode, result.successful, result.failed) == (0, 3, 0), result.describe()


def test_unknown_source_gets_403(kamailio, run_uac):
    result = run_uac(kamailio, source="127.0.0.9", expect=403)
    assert (result.returncode, result.successful) == (0, 1), result.describe()


def test_sip_user_with_the_right_password_completes(kamailio, run_uac):
    result = run_uac(
        kamailio,
        source="127.0.0.5",
        source_port=free_udp_port(),
        from_domain="sip.kestrel.example",
        cli="acme1001",
        username="acme1001",
        password=EXAMPLE_PASSWORDS["TRUNKLINE_EXAMPLE_ACME1001_PASSWORD"],
        calls=2,
    )
    assert (result.returncode, result.successful, result.failed) == (0, 2, 0), result.describe()


def test_sip_user_with_a_wrong_password_is_refused(kamailio, run_uac):
    result = run_uac(
        kamailio,
        source="127.0.0.5",
        source_port=free_udp_port(),
        from_domain="sip.kestrel.example",
        cli="acme1001",
        username="acme1001",
        password="not-the-password",
        expect=403,
    )
    assert (result.returncode, result.successful) == (0, 1), result.describe()
    assert "refused" in kamailio.log_text()


def test_removing_ip_authentication_takes_effect_after_the_reload_rpc(kamailio, run_uac, switch_db, tmp_path):
    assert run_uac(kamailio, source="127.0.0.2").successful == 1

    manifests = tmp_path / "manifests"
    shutil.copytree(ROOT / "examples", manifests)
    auth = manifests / "auth.yaml"
    documents = auth.read_text().split("\n---\n")
    kept = [d for d in documents if "name: acme-pbx\n" not in d and "name: acme-pbx-premium\n" not in d]
    assert len(kept) == len(documents) - 2
    auth.write_text("\n---\n".join(kept))
    output = switch_db.apply(manifests)
    assert "acme-pbx" in output

    reload = subprocess.run(
        [str(ROOT / "scripts" / "kamailio-reload.sh"), f"unix:{kamailio.ctl}"],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert reload.returncode == 0, reload.stderr
    started = time.monotonic()
    result = run_uac(kamailio, source="127.0.0.2", expect=403)
    assert (result.returncode, result.successful) == (0, 1), result.describe()
    assert time.monotonic() - started < 10
    # other customers' addresses are untouched
    assert "127.0.0.4" in kamailio.rpc("permissions.addressDump").stdout


@pytest.fixture
def sidecar(switch_db, tmp_path):
    from support.sidecar import SidecarProcess

    process = SidecarProcess(switch_db.url, tmp_path / "sidecar.log")
    yield process
    process.stop()


def test_with_sidecar_inactive_customer_gets_its_reason_and_calls_are_rated(
    kamailio_factory, sidecar, run_uac, switch_db
):
    switch = kamailio_factory(WITH_SIDECAR=None, TL_SIDECAR=f'"{sidecar.url}"')
    result = run_uac(switch, source="127.0.0.3", source_port=5061, cli="4930123456", dialed="4930987654", expect=403)
    assert (result.returncode, result.successful) == (0, 1), result.describe() + switch.log_text()[-3000:]
    assert "403 customer inactive" in switch.log_text()

    result = run_uac(switch, source="127.0.0.2", cli="15125550100", pai="15125550100", dialed="12125550123", calls=2)
    assert (result.returncode, result.successful) == (0, 2), result.describe() + switch.log_text()[-3000:]
    cdrs = wait_for_cdrs(switch_db.url, "12125550123", 2, switch=switch, sidecar_log=sidecar.log)
    assert len(cdrs) == 2, cdrs

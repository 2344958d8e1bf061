"""Secrets committed encrypted (age, SOPS): decrypted in memory at sync time, never shown or stored in clear."""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import subprocess
from pathlib import Path

import pytest
import sqlalchemy as sa
from support.tools import skip_or_fail

from reconciler import sync as syncing
from reconciler.cli import main
from reconciler.gitsource import GitSource
from reconciler.watch import Watcher

try:
    import pyrage
except ImportError:  # pragma: no cover - pyrage is a dependency
    pyrage = None

PROD = "clusters/prod"
REALM = "sip.kestrel.example"
PASSWORD = "Kx9-acme1001-Sup3r-S3cret"


@pytest.fixture(scope="module")
def age_available() -> None:
    if pyrage is None:
        skip_or_fail("pyrage (the age implementation) is not installed", where="tests/gitops")


@pytest.fixture(scope="module")
def sops() -> str:
    """The sops program; missing, the SOPS tests skip (fail under CI, which builds it)."""
    found = shutil.which("sops")
    if found is None:
        skip_or_fail(
            "sops is not installed (TRUNKLINE_INSTALL_SOPS=1 scripts/install-system-deps.sh)", where="tests/gitops"
        )
    return found


def credential(file: str) -> str:
    return f"""\
apiVersion: trunkline.dev/v1alpha1
kind: CredentialAuthentication
metadata:
  name: acme-1001
spec:
  customerRef: acme-voip
  username: acme1001
  realm: {REALM}
  passwordRef: {{file: {file}}}
  channels: 10
"""


def commit_files(remote, files: dict[str, bytes | str], subject: str) -> str:
    for name, content in files.items():
        target = remote.path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content.encode() if isinstance(content, str) else content)
        remote.repo.index.add([name])
    return remote.repo.index.commit(subject).hexsha


@pytest.fixture
def identity(age_available, monkeypatch):
    key = pyrage.x25519.Identity.generate()
    monkeypatch.setenv("TRUNKLINE_AGE_KEY", str(key))
    monkeypatch.delenv("TRUNKLINE_AGE_KEY_FILE", raising=False)
    return key


def ha1(engine: sa.Engine) -> str:
    with engine.connect() as conn:
        return conn.execute(sa.text("SELECT ha1 FROM credential_authentications WHERE name = 'acme-1001'")).scalar_one()


def files_under(root: Path) -> bytes:
    return b"\n".join(p.read_bytes() for p in root.rglob("*") if p.is_file())


def assert_nowhere(password: str, *blobs: str | bytes) -> None:
    for blob in blobs:
        data = blob if isinstance(blob, bytes) else blob.encode()
        assert password.encode() not in data


@pytest.mark.parametrize("armored", [False, True], ids=["binary", "armored"])
def test_an_age_encrypted_password_file_is_decrypted_at_sync_and_never_stored_or_shown(
    engine, remote, cache_dir, manifests, identity, armored, caplog, dump
):
    ciphertext = pyrage.encrypt(f"{PASSWORD}\n".encode(), [identity.to_public()], armored=armored)
    remote.commit(manifests(), "Onboard Acme VoIP")
    commit_files(
        remote,
        {f"{PROD}/credentials.yaml": credential("secrets/acme-1001.age"), f"{PROD}/secrets/acme-1001.age": ciphertext},
        "Add SIP user acme1001",
    )
    watcher = Watcher(engine, GitSource(remote.url, "main", cache_dir=cache_dir), PROD, actor="t", interval=60)

    with caplog.at_level(logging.DEBUG):
        tick = watcher.tick()
        assert watcher.tick().outcome == "unchanged"  # decrypting again gives the same digest

    assert tick.outcome == "applied", tick.error
    assert ha1(engine) == hashlib.md5(f"acme1001:{REALM}:{PASSWORD}".encode()).hexdigest()
    plan_json = json.dumps(syncing.plan_once(engine, watcher.source, PROD)[1].to_json())
    assert_nowhere(PASSWORD, caplog.text, json.dumps(tick.plan.to_json()), plan_json, repr(dump(engine)))
    assert_nowhere(PASSWORD, files_under(cache_dir))


def test_the_cli_decrypts_with_a_key_file_and_prints_no_password(
    db_url, remote, cache_dir, manifests, identity, monkeypatch, tmp_path, capsys
):
    key_file = tmp_path / "keys.txt"
    key_file.write_text(f"# created: by age-keygen\n# public key: {identity.to_public()}\n{identity}\n")
    monkeypatch.delenv("TRUNKLINE_AGE_KEY")
    monkeypatch.setenv("TRUNKLINE_AGE_KEY_FILE", str(key_file))
    remote.commit(manifests(), "Onboard Acme VoIP")
    ciphertext = pyrage.encrypt(PASSWORD.encode(), [identity.to_public()], armored=True)
    commit_files(remote, {f"{PROD}/credentials.yaml": credential("acme.age"), f"{PROD}/acme.age": ciphertext}, "SIP")

    outputs = []
    for output in ("text", "json"):
        with pytest.raises(SystemExit) as exited:
            main(["sync", "--repo", remote.url, "--ref", "main", "--path", PROD, "--db", db_url, "-o", output])
        outputs.append(capsys.readouterr())
        assert exited.value.code in (0, None), outputs[-1]

    assert "+ CredentialAuthentication/default/acme-1001" in outputs[0].out
    assert "(sensitive)" in outputs[0].out
    assert_nowhere(PASSWORD, *(o.out + o.err for o in outputs), files_under(cache_dir))


@pytest.mark.parametrize(
    ("key", "message"),
    [
        pytest.param("other", "cannot decrypt ", id="wrong-key"),
        pytest.param(None, "no age identity: set TRUNKLINE_AGE_KEY", id="no-key"),
        pytest.param("AGE-SECRET-KEY-1NOTBECH32", "holds a malformed age identity", id="malformed-key"),
    ],
)
def test_an_undecryptable_secret_is_an_invalid_commit_that_names_the_file_not_the_key(
    db_url, remote, cache_dir, manifests, identity, monkeypatch, capsys, key, message
):
    ciphertext = pyrage.encrypt(PASSWORD.encode(), [identity.to_public()])
    remote.commit(manifests(), "Onboard Acme VoIP")
    commit_files(remote, {f"{PROD}/credentials.yaml": credential("acme.age"), f"{PROD}/acme.age": ciphertext}, "SIP")
    if key is None:
        monkeypatch.delenv("TRUNKLINE_AGE_KEY")
    else:
        key = str(pyrage.x25519.Identity.generate()) if key == "other" else key
        monkeypatch.setenv("TRUNKLINE_AGE_KEY", key)

    with pytest.raises(SystemExit) as exited:
        main(["sync", "--repo", remote.url, "--ref", "main", "--path", PROD, "--db", db_url])
    out, err = capsys.readouterr()

    assert exited.value.code == 2
    assert "cannot resolve secret" in out + err and message in out + err
    assert "credentials.yaml" in out + err
    assert_nowhere(str(identity), out, err)
    if key is not None:
        assert_nowhere(key, out, err)


@pytest.mark.parametrize(
    ("name", "cleartext", "args"),
    [
        pytest.param("acme.sops.yaml", f"password: {PASSWORD}\n", ["--input-type", "yaml"], id="yaml"),
        pytest.param(
            "acme.sops.json", f"{PASSWORD}\n", ["--input-type", "binary", "--output-type", "json"], id="binary"
        ),
    ],
)
def test_a_sops_file_is_decrypted_with_the_age_key(
    engine, remote, cache_dir, manifests, identity, tmp_path, name, cleartext, args, caplog, dump, sops
):
    plain = tmp_path / "plain"
    plain.write_text(cleartext)
    encrypted = subprocess.run(
        [sops, "encrypt", "--age", str(identity.to_public()), *args, str(plain)], capture_output=True, check=True
    ).stdout
    remote.commit(manifests(), "Onboard Acme VoIP")
    files = {f"{PROD}/credentials.yaml": credential(name), f"{PROD}/{name}": encrypted}
    files[f"{PROD}/.trunklineignore"] = "*.sops.yaml\n"  # not a manifest: the loader must not read it
    commit_files(remote, files, "SIP")

    with caplog.at_level(logging.DEBUG):
        result = syncing.sync_once(engine, GitSource(remote.url, "main", cache_dir=cache_dir), PROD, actor="t")

    assert result.changed
    assert ha1(engine) == hashlib.md5(f"acme1001:{REALM}:{PASSWORD}".encode()).hexdigest()
    assert_nowhere(PASSWORD, caplog.text, json.dumps(result.to_json()), repr(dump(engine)), files_under(cache_dir))


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        pytest.param(b"plain-password\n", None, id="plain-text"),
        pytest.param(b"age-encryption.org/v1\n-> X25519 abc\n", "age", id="age-binary-header"),
        pytest.param(b"-----BEGIN AGE ENCRYPTED FILE-----\nYWdl\n", "age", id="age-armored-header"),
        pytest.param(b"\n-----BEGIN AGE ENCRYPTED FILE-----\nYWdl\n", "age", id="armor-after-blank-line"),
        pytest.param(b"x age-encryption.org/v1\n", None, id="header-not-at-start-is-a-password"),
        pytest.param(b"data: ENC[AES]\nsops:\n  mac: ENC[x]\n  version: 3.13.3\n", "sops", id="sops-yaml"),
        pytest.param(b'{"data": "ENC[x]", "sops": {"mac": "ENC[y]"}}', "sops", id="sops-json"),
        pytest.param(b"sops-and-mac-in-a-password", None, id="words-in-a-password"),
        pytest.param(b"\xff\xfe binary", None, id="binary-garbage"),
    ],
)
def test_detect(data, expected):
    from reconciler.encrypted import detect

    assert detect(data) == expected

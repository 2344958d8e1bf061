"""A throwaway Kubernetes API server for tests: etcd plus a real kube-apiserver, no nodes.

Why a real server: the operator (Kopf) and `kubectl apply -f crds/` talk to Kubernetes, and what
matters there (structural-schema checks on the CRDs, OpenAPI validation and defaulting of CRs,
discovery, watches, core v1 namespaces and events) is the API server's own code. A fake would
only agree with our assumptions.

How: `etcd` (Debian package `etcd-server`, or `$TRUNKLINE_ETCD`) serves a temporary data
directory on two free loopback ports. `openssl` makes a throwaway CA, a serving certificate for
127.0.0.1/localhost and a service-account signing key (EC P-256: fast to generate).
`kube-apiserver` (built by tests/k8s/build.sh) then serves HTTPS on a free port of 127.0.0.1 with:

- a static token file holding one admin token in group `system:masters` (RBAC lets that group do
  anything; RBAC itself is on, as in a real cluster, so tests can check the operator's Roles);
- the service-account issuer and keys (required flags, even with no controller-manager running);
- the `ServiceAccount` admission plugin off: it needs the controller-manager's token controller.

No controller-manager, scheduler or kubelet runs: objects are stored and validated, watches and
events work, but nothing reacts to Pods or Deployments. The API server's own bootstrap creates
the `default`, `kube-system`, `kube-public` and `kube-node-lease` namespaces; `start()` waits for
`/readyz` and for `default` (creating it if the bootstrap did not), then writes a kubeconfig
(`.kubeconfig`) that trusts the CA and carries the token.

`KubeCluster` is a context manager; `.kubectl(*args)` runs the built kubectl against it. Each
pytest-xdist worker starts its own cluster (a few seconds, a few hundred MB). Ports are picked by
binding to port 0 and the start is retried when another process took one in between.

Exceptions: `KubeUnavailable` (binaries, etcd or openssl missing: a reason to skip outside CI),
`KubeStartError` (everything is there but the cluster did not come up: always a failure) and
`KubectlError` (a kubectl command failed, with its output). All derive from `KubeError`.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = [
    "KubeCluster",
    "KubeError",
    "KubeStartError",
    "KubeUnavailable",
    "KubectlError",
    "find_etcd",
]

HOST = "127.0.0.1"
ADMIN_USER = "trunkline-test-admin"
SERVICE_CLUSTER_IP_RANGE = "10.96.0.0/24"
SERVICE_ACCOUNT_ISSUER = "https://kubernetes.default.svc.cluster.local"

_READY_TIMEOUT = 90.0
_START_ATTEMPTS = 5
_PORT_TAKEN = ("address already in use", "bind: address already in use")


class KubeError(Exception):
    """Base of the errors this module raises."""


class KubeUnavailable(KubeError):
    """A program the cluster needs is not installed (or not built)."""


class KubeStartError(KubeError):
    """Everything is installed, but etcd or the API server did not come up."""


class KubectlError(KubeError):
    """A kubectl command exited non-zero."""

    def __init__(self, args: Sequence[str], returncode: int, stdout: str, stderr: str) -> None:
        self.args_ = list(args)
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr
        super().__init__(f"kubectl {' '.join(args)} exited with status {returncode}:\n{stderr or stdout}")


def find_etcd() -> Path | None:
    """`$TRUNKLINE_ETCD` when set (the only place looked at), else `etcd` on PATH, else /usr/bin/etcd."""
    if override := os.environ.get("TRUNKLINE_ETCD"):
        return Path(override) if os.access(override, os.X_OK) else None
    found = shutil.which("etcd") or ("/usr/bin/etcd" if os.access("/usr/bin/etcd", os.X_OK) else None)
    return Path(found) if found else None


class KubeCluster:
    """etcd + kube-apiserver in a temporary directory, for the lifetime of a test session.

    `bin_dir` holds `kube-apiserver` and `kubectl` (tests/k8s/build.sh prints it). Use as a
    context manager, or call `start()` and `stop()`.
    """

    host = HOST

    def __init__(
        self,
        bin_dir: Path | str,
        *,
        etcd: Path | None = None,
        base_dir: Path | None = None,
        apiserver_args: Sequence[str] = (),
    ) -> None:
        self.bin_dir = Path(bin_dir)
        self.apiserver_bin = self.bin_dir / "kube-apiserver"
        self.kubectl_bin = self.bin_dir / "kubectl"
        for binary in (self.apiserver_bin, self.kubectl_bin):
            if not os.access(binary, os.X_OK):
                raise KubeUnavailable(f"{binary} is missing; build it with tests/k8s/build.sh")
        found_etcd = etcd or find_etcd()
        if found_etcd is None:
            raise KubeUnavailable(
                "etcd is not installed (Debian package `etcd-server`; tests/k8s/build.sh installs it, "
                "or point $TRUNKLINE_ETCD at a binary)"
            )
        self.etcd_bin = found_etcd
        self.openssl = shutil.which("openssl")
        if self.openssl is None:
            raise KubeUnavailable("openssl is not installed (needed to make the test certificates)")
        self._base_dir = base_dir
        self._apiserver_args = list(apiserver_args)
        self.root: Path | None = None
        self.port: int | None = None
        self.etcd_port: int | None = None
        self.token = uuid.uuid4().hex
        self._etcd: subprocess.Popen[bytes] | None = None
        self._apiserver: subprocess.Popen[bytes] | None = None

    # -- lifecycle -------------------------------------------------------------------------

    def __enter__(self) -> KubeCluster:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> None:
        """Start etcd and the API server; return once the API is ready and `default` exists."""
        if self.root is not None:
            return
        self.root = Path(tempfile.mkdtemp(prefix="trunkline-kube-", dir=self._base_dir))
        atexit.register(self.stop)
        try:
            self._make_certificates()
            self._write_token_file()
            self._start_etcd()
            self._start_apiserver()
            self._write_kubeconfig()
            self._ensure_namespace("default")
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Stop the API server, then etcd, and remove the temporary directory."""
        root, self.root = self.root, None
        if root is None:
            return
        try:
            for attr in ("_apiserver", "_etcd"):
                process = getattr(self, attr)
                setattr(self, attr, None)
                if process is not None:
                    _terminate(process)
        finally:
            shutil.rmtree(root, ignore_errors=True)
            atexit.unregister(self.stop)
            self.port = self.etcd_port = None

    # -- public API ------------------------------------------------------------------------

    @property
    def server(self) -> str:
        """The API server's URL, e.g. https://127.0.0.1:40123."""
        if self.port is None:
            raise KubeError("the cluster is not running")
        return f"https://{self.host}:{self.port}"

    @property
    def kubeconfig(self) -> Path:
        """Path of a kubeconfig for the admin user (context `trunkline-test`)."""
        return self._root / "kubeconfig"

    @property
    def ca_file(self) -> Path:
        return self._root / "pki" / "ca.crt"

    @property
    def apiserver_log(self) -> Path:
        return self._root / "kube-apiserver.log"

    @property
    def etcd_log(self) -> Path:
        return self._root / "etcd.log"

    def env(self) -> dict[str, str]:
        """os.environ with KUBECONFIG pointing at this cluster (for kubectl, Kopf, trunkline...)."""
        env = dict(os.environ)
        env["KUBECONFIG"] = str(self.kubeconfig)
        # kubectl's discovery cache would otherwise go to ~/.kube/cache, shared between clusters.
        env["KUBECACHEDIR"] = str(self._root / "kube-cache")
        return env

    def kubectl(
        self,
        *args: str,
        input: str | None = None,
        check: bool = True,
        timeout: float = 60,
    ) -> subprocess.CompletedProcess[str]:
        """Run the built kubectl against this cluster; raise KubectlError when it fails and `check`."""
        done = subprocess.run(
            [str(self.kubectl_bin), *args],
            env=self.env(),
            input=input,
            stdin=None if input is not None else subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and done.returncode != 0:
            raise KubectlError(args, done.returncode, done.stdout, done.stderr)
        return done

    def kubectl_json(self, *args: str, **kwargs: Any) -> Any:
        """`kubectl ARGS -o json`, parsed."""
        return json.loads(self.kubectl(*args, "-o", "json", **kwargs).stdout)

    def request(self, method: str, path: str, body: Any = None, *, timeout: float = 30) -> tuple[int, Any]:
        """One HTTPS call to the API as admin; returns (status, parsed JSON body or text)."""
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.server + path, data=data, method=method)
        req.add_header("Authorization", f"Bearer {self.token}")
        req.add_header("Accept", "application/json")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, context=self._ssl_context(), timeout=timeout) as resp:
                status, raw = resp.status, resp.read()
        except urllib.error.HTTPError as exc:
            status, raw = exc.code, exc.read()
        text = raw.decode(errors="replace")
        try:
            return status, json.loads(text)
        except ValueError:
            return status, text

    # -- internals: files ------------------------------------------------------------------

    @property
    def _root(self) -> Path:
        if self.root is None:
            raise KubeError("the cluster is not running")
        return self.root

    def _openssl(self, *args: str) -> None:
        done = subprocess.run(
            [str(self.openssl), *args],
            cwd=self._root / "pki",
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if done.returncode != 0:
            raise KubeStartError(f"openssl {' '.join(args)} failed:\n{done.stderr}")

    def _make_certificates(self) -> None:
        pki = self._root / "pki"
        pki.mkdir(mode=0o700)
        ec = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")
        # A CA, so clients (kubectl, Kopf's aiohttp) verify the server instead of skipping TLS.
        self._openssl(
            "req",
            "-x509",
            *ec,
            "-keyout",
            "ca.key",
            "-out",
            "ca.crt",
            "-days",
            "2",
            "-subj",
            "/CN=trunkline-test-ca",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        )
        self._openssl(
            "req", "-new", *ec, "-keyout", "apiserver.key", "-out", "apiserver.csr", "-subj", "/CN=kube-apiserver"
        )
        (pki / "apiserver.ext").write_text(
            "basicConstraints=CA:FALSE\n"
            "keyUsage=critical,digitalSignature,keyEncipherment\n"
            "extendedKeyUsage=serverAuth\n"
            "subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,"
            "DNS:kubernetes.default.svc,IP:10.96.0.1\n"
        )
        self._openssl(
            "x509",
            "-req",
            "-in",
            "apiserver.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "apiserver.crt",
            "-days",
            "2",
            "-extfile",
            "apiserver.ext",
        )
        # Service-account tokens: signed with the private key, verified with the public one.
        self._openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-out", "sa.key")
        self._openssl("pkey", "-in", "sa.key", "-pubout", "-out", "sa.pub")

    def _write_token_file(self) -> None:
        # token,user,uid,"group1,group2"
        path = self._root / "tokens.csv"
        path.write_text(f'{self.token},{ADMIN_USER},{ADMIN_USER},"system:masters"\n')
        path.chmod(0o600)

    def _write_kubeconfig(self) -> None:
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": "trunkline-test",
                    "cluster": {"server": self.server, "certificate-authority": str(self.ca_file)},
                }
            ],
            "users": [{"name": ADMIN_USER, "user": {"token": self.token}}],
            "contexts": [
                {
                    "name": "trunkline-test",
                    "context": {"cluster": "trunkline-test", "user": ADMIN_USER, "namespace": "default"},
                }
            ],
            "current-context": "trunkline-test",
            "preferences": {},
        }
        # JSON is YAML: every kubeconfig reader (kubectl, client-go, Kopf/pykube) accepts it.
        self.kubeconfig.write_text(json.dumps(config, indent=2) + "\n")
        self.kubeconfig.chmod(0o600)

    # -- internals: processes --------------------------------------------------------------

    def _start_etcd(self) -> None:
        last_log = ""
        for _ in range(_START_ATTEMPTS):
            client, peer = _free_port(), _free_port()
            data_dir = self._root / "etcd-data"
            shutil.rmtree(data_dir, ignore_errors=True)
            argv = [
                str(self.etcd_bin),
                "--name",
                "default",
                "--data-dir",
                str(data_dir),
                "--listen-client-urls",
                f"http://{HOST}:{client}",
                "--advertise-client-urls",
                f"http://{HOST}:{client}",
                "--listen-peer-urls",
                f"http://{HOST}:{peer}",
                "--initial-advertise-peer-urls",
                f"http://{HOST}:{peer}",
                "--initial-cluster",
                f"default=http://{HOST}:{peer}",
                "--initial-cluster-state",
                "new",
                "--log-level",
                "warn",
                "--quota-backend-bytes",
                str(2 * 1024**3),
            ]
            self._etcd = _spawn(argv, self.etcd_log, cwd=self._root, env=_etcd_env())
            try:
                self._wait(
                    lambda port=client: _http_ok(f"http://{HOST}:{port}/health"),
                    self._etcd,
                    self.etcd_log,
                    "etcd",
                )
            except KubeStartError as exc:
                last_log = str(exc)
                _terminate(self._etcd)
                self._etcd = None
                if any(marker in last_log.lower() for marker in _PORT_TAKEN):
                    continue
                raise
            self.etcd_port = client
            return
        raise KubeStartError(f"etcd did not start after {_START_ATTEMPTS} attempts:\n{last_log}")

    def _start_apiserver(self) -> None:
        pki = self._root / "pki"
        last_log = ""
        for _ in range(_START_ATTEMPTS):
            port = _free_port()
            argv = [
                str(self.apiserver_bin),
                f"--etcd-servers=http://{HOST}:{self.etcd_port}",
                f"--bind-address={HOST}",
                f"--advertise-address={HOST}",
                f"--secure-port={port}",
                f"--tls-cert-file={pki / 'apiserver.crt'}",
                f"--tls-private-key-file={pki / 'apiserver.key'}",
                f"--client-ca-file={pki / 'ca.crt'}",
                f"--token-auth-file={self._root / 'tokens.csv'}",
                "--anonymous-auth=false",
                "--authorization-mode=RBAC",
                f"--service-account-issuer={SERVICE_ACCOUNT_ISSUER}",
                f"--service-account-key-file={pki / 'sa.pub'}",
                f"--service-account-signing-key-file={pki / 'sa.key'}",
                f"--service-cluster-ip-range={SERVICE_CLUSTER_IP_RANGE}",
                # The `kubernetes` Service's Endpoints may not point at loopback; nothing needs them.
                "--endpoint-reconciler-type=none",
                # Needs the controller-manager (token controller, `default` service accounts).
                "--disable-admission-plugins=ServiceAccount",
                f"--cert-dir={pki}",
                "--profiling=false",
                "--allow-privileged=true",
                "--v=1",
                *self._apiserver_args,
            ]
            self.port = port
            self._apiserver = _spawn(argv, self.apiserver_log, cwd=self._root, env=_clean_env())
            try:
                self._wait(self._ready, self._apiserver, self.apiserver_log, "kube-apiserver")
            except KubeStartError as exc:
                last_log = str(exc)
                _terminate(self._apiserver)
                self._apiserver = None
                self.port = None
                if any(marker in last_log.lower() for marker in _PORT_TAKEN):
                    continue
                raise
            return
        raise KubeStartError(f"kube-apiserver did not start after {_START_ATTEMPTS} attempts:\n{last_log}")

    def _ready(self) -> bool:
        try:
            status, _ = self.request("GET", "/readyz", timeout=5)
        except (OSError, ssl.SSLError):
            return False
        return status == 200

    def _ensure_namespace(self, name: str) -> None:
        """Wait for the bootstrap controller to create `name`; create it ourselves if it does not."""
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            status, _ = self.request("GET", f"/api/v1/namespaces/{name}")
            if status == 200:
                return
            time.sleep(0.2)
        status, body = self.request(
            "POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
        )
        if status not in (201, 409):
            raise KubeStartError(f"cannot create namespace {name}: HTTP {status}: {body}")

    @staticmethod
    def _wait(probe: Any, process: subprocess.Popen[bytes], log: Path, what: str) -> None:
        deadline = time.monotonic() + _READY_TIMEOUT
        while True:
            if process.poll() is not None:
                raise KubeStartError(f"{what} exited with status {process.returncode}:\n{_tail(log)}")
            if probe():
                return
            if time.monotonic() > deadline:
                raise KubeStartError(f"{what} not ready after {_READY_TIMEOUT:.0f}s:\n{_tail(log)}")
            time.sleep(0.2)

    def _ssl_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca_file))


def _spawn(argv: list[str], log: Path, *, cwd: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    # Output to a file, not a pipe: nobody reads a pipe while the tests run, and a full one blocks.
    with log.open("ab") as out:
        return subprocess.Popen(
            argv,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )


def _die_with_parent() -> None:
    """In the child: get SIGTERM when the test process dies, even by SIGKILL (Linux only)."""
    with contextlib.suppress(Exception):
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def _terminate(process: subprocess.Popen[bytes], grace: float = 15) -> None:
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        process.send_signal(signal.SIGTERM)
    try:
        process.wait(grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        process.wait(10)


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return resp.status == 200
    except (OSError, ValueError):
        return False


def _tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _free_port() -> int:
    """A port nobody listens on right now; another process may still take it before we do."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def _clean_env() -> dict[str, str]:
    # A caller's KUBECONFIG or proxy settings must not leak into the servers.
    drop = {"KUBECONFIG", "HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"}
    return {key: value for key, value in os.environ.items() if key not in drop}


def _etcd_env() -> dict[str, str]:
    # ETCD_* variables are read as flags by etcd; only ours count.
    return {key: value for key, value in _clean_env().items() if not key.startswith("ETCD_")}

"""A git repository as a source of manifests: fetch, resolve a ref to one commit, check it out.

The sync front end never reads a working copy someone may be editing: it keeps its own bare
cache of the remote (one per URL, keyed by a hash of the URL, under ``$TRUNKLINE_CACHE`` or
``~/.cache/trunkline/git``), fetches branches and tags into it, resolves the ref to an exact
commit, and materialises that commit's tree into a clean directory of its own. What gets
applied is therefore exactly one commit, and the revision row can name it.

The URL is passed to every fetch and never written into the cache's config, so a token in an
``https://user:token@host`` URL does not land on disk; every message shows it redacted.

Errors (all ``SourceError``, exit code 1; gitpython's exceptions never leave this module)::

    SourceError
      "cannot fetch <url>: <reason>"    unreachable repository, bad credentials, not a repository
      "ref <ref> not found in <url>"    no branch, tag or commit of that name
      "cannot check out <sha> ...: ..." the cache could not be written
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import git

from resources.errors import TrunklineError

CACHE_ENV = "TRUNKLINE_CACHE"
KEEP_CHECKOUTS = 5  # older checkouts of the same repository are removed
_REFSPECS = ("+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*")
# Never prompt for a password on a terminal (a sync loop has nobody to answer it); fail instead.
_GIT_ENV = {"GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "true", "SSH_ASKPASS": "true", "LC_ALL": "C"}
# What git forbids in ref names (git-check-ref-format), and what would make one a revision expression.
_NOT_IN_REF_NAMES = re.compile(r"[\x00-\x20\x7f~^:?*\[\\]|\.\.|@\{")
_SHA = re.compile(r"[0-9a-fA-F]{4,40}")
_CREDENTIALS = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<user>[^/@:\s]*):(?P<secret>[^/@\s]*)@")


class SourceError(TrunklineError):
    """The git source could not be fetched, resolved or checked out."""

    exit_code = 1


@dataclass(frozen=True)
class Checkout:
    """One commit's tree on disk, with what a revision row records about it."""

    commit_sha: str
    author: str  # "Name <email>"
    subject: str
    path: Path


def redact(text: str) -> str:
    """Hide the password/token of every URL in ``text``: ``https://user:***@host``."""
    return _CREDENTIALS.sub(lambda m: f"{m['scheme']}{m['user']}:***@", text)


def default_cache_dir() -> Path:
    explicit = os.environ.get(CACHE_ENV)
    if explicit:
        return Path(explicit)
    return Path.home() / ".cache" / "trunkline" / "git"


def _normalise(url_or_path: str) -> str:
    """A URL as given; a local path (no scheme, not scp-like ``host:path``) made absolute."""
    if "://" in url_or_path or re.match(r"^[^/\\]+@[^/:]+:", url_or_path):
        return url_or_path
    return str(Path(url_or_path).expanduser().resolve())


def _reason(exc: git.GitCommandError) -> str:
    """The last meaningful line git printed, without its ``fatal:``/``error:`` prefix."""
    stderr = exc.stderr if isinstance(exc.stderr, str) else str(exc.stderr or "")
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    lines = [line.removeprefix("stderr: ").strip("'").strip() for line in lines]
    meaningful = [line for line in lines if line.startswith(("fatal:", "error:"))] or lines
    if not meaningful:
        return f"git exited with status {exc.status}"
    line = meaningful[0]
    for prefix in ("fatal:", "error:"):
        line = line.removeprefix(prefix).strip()
    return redact(line)


class GitSource:
    """A remote repository and a ref in it; ``checkout()`` fetches and materialises the ref's commit."""

    def __init__(self, url_or_path: str, ref: str, *, cache_dir: str | Path | None = None) -> None:
        self.url = _normalise(url_or_path)
        self.ref = ref
        # Absolute: git runs inside the cache repository, so relative paths would point elsewhere.
        self.cache_dir = (Path(cache_dir) if cache_dir is not None else default_cache_dir()).expanduser().resolve()
        key = hashlib.sha256(self.url.encode()).hexdigest()[:16]
        self.root = self.cache_dir / key
        self.repo_dir = self.root / "repo.git"
        self.checkouts_dir = self.root / "checkouts"

    @property
    def display_url(self) -> str:
        """The URL with any password or token replaced by ``***``: safe for logs and revision rows."""
        return redact(self.url)

    def checkout(self) -> Checkout:
        """Fetch, resolve ``ref`` to a commit and check that commit out (reused if already there)."""
        with self._locked():
            repo = self._fetch()
            try:
                return self._materialise(repo, self._resolve(repo))
            finally:
                repo.close()  # gitpython keeps `git cat-file` processes alive until closed

    def fetch(self) -> None:
        """Bring the cache up to date with the remote's branches and tags."""
        with self._locked():
            self._fetch().close()

    def resolve(self) -> str:
        """The full SHA ``ref`` names in the cache (call ``fetch`` first)."""
        with self._locked():
            repo = self._open()
            try:
                return self._resolve(repo)
            finally:
                repo.close()

    # -- steps --------------------------------------------------------------------------------

    @contextmanager
    def _locked(self) -> Iterator[None]:
        # Two syncs of the same repository (a loop and a person) must not fetch into one cache at once.
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            handle = open(self.root / "lock", "a+")  # noqa: SIM115  (closed below, after the lock)
        except OSError as exc:
            raise SourceError(f"cannot use cache directory {self.root}: {exc.strerror or exc}") from exc
        try:
            fcntl.flock(handle, fcntl.LOCK_EX)
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
            handle.close()

    def _open(self) -> git.Repo:
        if not (self.repo_dir / "HEAD").exists():
            try:
                return git.Repo.init(self.repo_dir, bare=True)
            except (git.GitError, OSError) as exc:
                raise SourceError(f"cannot create cache for {self.display_url}: {exc}") from exc
        try:
            return git.Repo(self.repo_dir)
        except git.GitError as exc:
            raise SourceError(f"cannot open cache {self.repo_dir} of {self.display_url}: {exc}") from exc

    def _fetch(self) -> git.Repo:
        repo = self._open()
        try:
            repo.git.fetch("--prune", "--no-write-fetch-head", "--", self.url, *_REFSPECS, env=_GIT_ENV)
        except git.GitCommandError as exc:
            # Not chained: gitpython's message repeats the command line, and with it the URL's token.
            raise SourceError(f"cannot fetch {self.display_url}: {_reason(exc)}") from None
        return repo

    def _resolve(self, repo: git.Repo) -> str:
        not_found = SourceError(f"ref {redact(self.ref)} not found in {self.display_url}")
        if not self.ref or self.ref.startswith("-") or _NOT_IN_REF_NAMES.search(self.ref):
            raise not_found
        # Branches and tags first, so a tag named like a short SHA means the tag, then a SHA. Nothing
        # else: the cache's own HEAD and expressions like main~1 would name commits the remote never
        # pointed a ref at, which a revision row could not explain.
        candidates = [f"refs/heads/{self.ref}", f"refs/tags/{self.ref}"]
        if self.ref.startswith(("refs/heads/", "refs/tags/")) or _SHA.fullmatch(self.ref):
            candidates.append(self.ref)
        for candidate in candidates:
            try:
                return repo.git.rev_parse("--verify", "--quiet", f"{candidate}^{{commit}}", env=_GIT_ENV).strip()
            except git.GitCommandError:
                continue
        raise not_found

    def _materialise(self, repo: git.Repo, sha: str) -> Checkout:
        commit = repo.commit(sha)
        target = self.checkouts_dir / sha
        if not target.is_dir():
            try:
                self.checkouts_dir.mkdir(parents=True, exist_ok=True)
                staging = Path(tempfile.mkdtemp(prefix=f".{sha[:12]}-", dir=self.checkouts_dir))
                # A throwaway index: the cache stays bare, and the tree comes out exactly as committed.
                env = {**_GIT_ENV, "GIT_INDEX_FILE": str(staging / ".trunkline-index")}
                tree = staging / "tree"
                tree.mkdir()
                repo.git.read_tree(sha, env=env)
                repo.git(work_tree=str(tree)).checkout_index("--all", "--force", env=env)
                tree.rename(target)
                shutil.rmtree(staging, ignore_errors=True)
            except (git.GitCommandError, OSError) as exc:
                detail = _reason(exc) if isinstance(exc, git.GitCommandError) else (exc.strerror or str(exc))
                raise SourceError(f"cannot check out {sha} of {self.display_url}: {detail}") from exc
        os.utime(target)  # most recently used: kept by the pruning below
        self._prune_checkouts(keep=target)
        return Checkout(
            commit_sha=sha,
            author=f"{commit.author.name} <{commit.author.email}>",
            subject=commit.summary if isinstance(commit.summary, str) else commit.summary.decode(),
            path=target,
        )

    def _prune_checkouts(self, *, keep: Path) -> None:
        entries = [p for p in self.checkouts_dir.iterdir() if p.is_dir() and p != keep]
        entries.sort(key=lambda p: p.stat().st_mtime, reverse=True)
        for old in entries[KEEP_CHECKOUTS - 1 :]:
            shutil.rmtree(old, ignore_errors=True)

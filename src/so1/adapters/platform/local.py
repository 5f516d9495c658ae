"""The local platform: services on this machine run by supervisord, driven over its XML-RPC
interface, so the railway-deployer agent can act on real processes.

``<root>/<service>/`` (supervisord program ``<service>``, command ``python -m
so1.adapters.platform.local_launcher <root>/<service>``) holds ``releases/<release>/release.json``
(immutable builds), ``env.json``, ``current`` (the active release) and ``deployments.json``
(oldest first; absent until SO1 first acts: the current release then counts as ``<service>-1``).
Files are replaced atomically; an action holds a lock file, so rollouts never interleave.
"""

from __future__ import annotations

import fcntl
import http.client
import json
import logging
import os
import re
import tempfile
import time
import xmlrpc.client
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from so1.domain.platform import FAILED, SUCCESS, LogLine, PlatformDeployment
from so1.errors import AuthFailed, Conflict, NotFound, Rejected, Unavailable, ValidationFailed

log = logging.getLogger("so1.platform.local")

LIVE = {
    "RUNNING": SUCCESS,
    "STARTING": "DEPLOYING",
    "BACKOFF": "CRASHED",
    "FATAL": "CRASHED",
    "EXITED": "CRASHED",
    "STOPPED": "REMOVED",
    "STOPPING": "REMOVING",
}
BAD_NAME, NOT_RUNNING, ALREADY_STARTED = 10, 70, 60
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")  # services and releases: safe as directories
VARIABLE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
STAMP = re.compile(r"\[?(\d{4}-\d\d-\d\d[T ]\d\d:\d\d(?::\d\d(?:[.,]\d+)?)?(?:Z|[+-]\d\d:?\d\d)?)")
LEVEL = re.compile(r"\b(DEBUG|INFO|WARN|WARNING|ERROR|CRITICAL|FATAL)\b", re.IGNORECASE)
TAIL_BYTES = 64 * 1024
RPC_TIMEOUT = 120.0  # stopProcess waits for the program's stopwaitsecs
POLL_SECONDS = 0.1


def add_release(
    root: Path, service: str, release: str, command: list[str], cwd: str | None = None
) -> Path:
    """Create release ``release`` of ``service``; the first release becomes ``current``."""
    for name in (service, release):
        if not NAME.fullmatch(name):
            raise ValidationFailed(f"'{name}' cannot name a service or release (use A-z0-9_.-)")
    folder = root / service / "releases" / release
    if folder.exists():
        raise Conflict(f"release {release} of {service} exists; releases are immutable")
    folder.mkdir(parents=True)
    spec: dict[str, Any] = {"command": list(command)} | ({"cwd": cwd} if cwd else {})
    _write(folder / "release.json", json.dumps(spec, indent=2))
    if not (root / service / "current").exists():
        _write(root / service / "current", release)
    return folder


class LocalPlatform:
    name = "local"

    def __init__(
        self,
        root: Path,
        supervisor_url: str,
        username: str | None = None,
        password: str | None = None,
        start_timeout: float = 30.0,
    ) -> None:
        """``supervisor_url``: supervisord's ``inet_http_server``, e.g. http://127.0.0.1:9001."""
        self._root, self._start_timeout = root, start_timeout
        self._where = supervisor_url.rstrip("/")
        credentials = f"{quote(username, '')}:{quote(password or '', '')}@" if username else ""
        self._rpc_url = self._where.replace("://", f"://{credentials}", 1) + "/RPC2"

    def deployments(self, service: str, limit: int = 10) -> list[PlatformDeployment]:
        folder = self._folder(service)
        live = self._state(service)
        newest_first = list(reversed(_records(folder, live)))[: max(limit, 0)]
        return [
            _deployment(folder, record, live if index == 0 else None)
            for index, record in enumerate(newest_first)
        ]

    def deployment(self, service: str, deployment_id: str) -> PlatformDeployment:
        folder = self._folder(service)
        live = self._state(service)
        records = _records(folder, live)
        index = _find(records, service, deployment_id)
        return _deployment(folder, records[index], live if index == len(records) - 1 else None)

    def deploy(self, service: str, release: str) -> str:
        """Ship a new ``release`` (see add_release); not in the port, the demo ships builds."""
        with self._locked(service) as folder:
            _release_dir(folder, release)
            return self._roll_out(folder, release, f"deploy of release {release}")

    def rollback(self, service: str, deployment_id: str) -> str:
        with self._locked(service) as folder:
            records, index = self._find(folder, deployment_id)
            target = records[index]
            if target is records[-1]:
                raise Rejected(f"{deployment_id} is the current deployment of {service}")
            if target["status"] != SUCCESS:
                raise Rejected(f"cannot roll back to {deployment_id}: it ended {target['status']}")
            _release_dir(folder, target["release"])
            return self._roll_out(folder, target["release"], f"rollback to {deployment_id}")

    def redeploy(self, service: str, deployment_id: str) -> str:
        with self._locked(service) as folder:
            records, index = self._find(folder, deployment_id)
            release = records[index]["release"]
            _release_dir(folder, release)
            return self._roll_out(folder, release, f"redeploy of {deployment_id}")

    def restart(self, service: str, deployment_id: str) -> None:
        with self._locked(service) as folder:
            records, index = self._find(folder, deployment_id)
            if index != len(records) - 1:
                current = records[-1]["id"]
                raise Rejected(f"only the current deployment {current} can be restarted")
            log.info("restarting %s (%s)", service, deployment_id)
            failure = self._restart(service)
            if failure:
                raise Rejected(f"{service} did not come back after a restart: {failure}")

    def variables(self, service: str) -> dict[str, str]:
        found = _read_json(self._folder(service) / "env.json", {})
        return {str(name): str(value) for name, value in found.items()}

    def set_variables(self, service: str, variables: Mapping[str, str], apply: bool) -> str | None:
        for name, value in variables.items():
            if not isinstance(name, str) or not VARIABLE.fullmatch(name):
                raise Rejected(f"'{name}' is not a valid environment variable name")
            if not isinstance(value, str) or "\0" in value:
                raise Rejected(f"the value of {name} must be a string without NUL characters")
        with self._locked(service) as folder:
            env = _read_json(folder / "env.json", {}) | dict(variables)
            _write(folder / "env.json", json.dumps(env, indent=2, sort_keys=True), 0o600)
            log.info("set %s on %s (apply=%s)", ", ".join(sorted(variables)), service, apply)
            if not apply:
                return None
            release = _current(folder)
            if release is None:
                raise Rejected(f"{service} has no current release to apply the variables to")
            return self._roll_out(folder, release, f"variables {', '.join(sorted(variables))}")

    def scale(self, service: str, replicas: int) -> None:
        self._folder(service)
        raise Rejected(
            f"the local platform runs one process per service; it cannot scale to {replicas}"
        )

    def logs(self, service: str, deployment_id: str, limit: int = 100) -> list[LogLine]:
        """The program's stdout log: every deployment of the service writes to the same one."""
        self.deployment(service, deployment_id)
        return self._tail(service, limit)

    def _roll_out(self, folder: Path, release: str, reason: str) -> str:
        """A new deployment record serving ``release``; the program restarted on it."""
        service = folder.name
        live = self._state(service)
        records = _records(folder, live)
        if records and records[-1]["status"] != SUCCESS and records[-1]["status"] not in FAILED:
            records[-1]["status"] = LIVE.get(live, "FAILED")  # how the interrupted one ended
        record = {
            "id": f"{service}-{len(records) + 1}",
            "release": release,
            "created_at": datetime.now(UTC).isoformat(),
            "status": "DEPLOYING",
            "reason": reason,
        }
        _write(folder / "deployments.json", json.dumps([*records, record], indent=2))
        _write(folder / "current", release)
        log.info("%s: %s, release %s, as %s", service, reason, release, record["id"])
        failure = self._restart(service)
        record["status"] = "FAILED" if failure else SUCCESS
        _write(folder / "deployments.json", json.dumps([*records, record], indent=2))
        if failure:
            log.warning("%s: %s FAILED: %s", service, record["id"], failure)
            raise Rejected(f"{record['id']} ({release}) of {service} failed: {failure}")
        return str(record["id"])

    def _restart(self, service: str) -> str | None:
        """Stop, start, and wait until RUNNING; None, or why not. Started without supervisord's
        wait so that ``start_timeout`` bounds the wait rather than one blocking RPC, and failed
        on the first crash (BACKOFF) as ``startProcess(wait=True)`` would."""
        self._stop(service)
        try:
            self._call("startProcess", service, False)
        except xmlrpc.client.Fault as fault:
            if fault.faultCode != ALREADY_STARTED:
                return f"supervisord could not start it: {fault.faultString}"
        deadline = time.monotonic() + self._start_timeout
        info: dict[str, Any] = {}
        while time.monotonic() < deadline:
            info = self._call("getProcessInfo", service)
            if info["statename"] == "RUNNING":
                return None
            if info["statename"] != "STARTING":
                break
            time.sleep(POLL_SECONDS)
        self._stop(service)
        state = f"{info.get('statename', 'STARTING')} ({info.get('description') or 'no detail'})"
        lines = " | ".join(line.message for line in self._tail(service, 10))
        return f"not RUNNING within {self._start_timeout:g}s: {state}; last log lines: {lines}"

    def _stop(self, service: str) -> None:
        try:
            self._call("stopProcess", service, True)
        except xmlrpc.client.Fault as fault:
            if fault.faultCode != NOT_RUNNING:
                raise Rejected(f"supervisord did not stop {service}: {fault.faultString}") from None

    def _tail(self, service: str, limit: int) -> list[LogLine]:
        try:
            text, _, overflow = self._call("tailProcessStdoutLog", service, 0, TAIL_BYTES)
        except xmlrpc.client.Fault as fault:
            raise Rejected(f"no stdout log of {service}: {fault.faultString}") from None
        lines = str(text).splitlines()[1 if overflow else 0 :]  # the first one is cut
        now = datetime.now(UTC)
        found = [_line(line, now) for line in lines if line.strip()]
        return found[-limit:] if limit > 0 else []

    def _find(self, folder: Path, deployment_id: str) -> tuple[list[dict[str, Any]], int]:
        records = _records(folder, self._state(folder.name))
        return records, _find(records, folder.name, deployment_id)

    def _state(self, service: str) -> str:
        return str(self._call("getProcessInfo", service)["statename"])

    def _folder(self, service: str) -> Path:
        folder = self._root / service
        if not NAME.fullmatch(service) or not folder.is_dir():
            raise NotFound(f"the local platform has no service '{service}' (no {folder})")
        return folder

    @contextmanager
    def _locked(self, service: str) -> Iterator[Path]:
        """One action at a time per service, across threads and processes (flock)."""
        folder = self._folder(service)
        with (folder / ".lock").open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            yield folder

    def _call(self, method: str, *args: Any) -> Any:
        """One supervisord RPC on a fresh connection (ServerProxy is not thread-safe)."""
        proxy = xmlrpc.client.ServerProxy(self._rpc_url, transport=_Transport(RPC_TIMEOUT))
        try:
            return getattr(proxy.supervisor, method)(*args)
        except xmlrpc.client.Fault as fault:
            if fault.faultCode == BAD_NAME:
                raise NotFound(f"supervisord at {self._where} has no program '{args[0]}'") from None
            raise
        except xmlrpc.client.ProtocolError as exc:
            if exc.errcode == 401:
                raise AuthFailed(f"supervisord at {self._where} refused the credentials") from None
            raise Unavailable(f"supervisord at {self._where} answered {exc.errcode}") from None
        except (OSError, http.client.HTTPException) as exc:
            raise Unavailable(f"supervisord at {self._where} did not answer: {exc}") from exc
        finally:
            proxy("close")()


class _Transport(xmlrpc.client.Transport):
    """xmlrpc's transport with a socket timeout, so a hung supervisord cannot hang SO1."""

    def __init__(self, timeout: float) -> None:
        super().__init__()
        self._timeout = timeout

    def make_connection(self, host: tuple[str, dict[str, str]] | str) -> http.client.HTTPConnection:
        connection = super().make_connection(host)
        connection.timeout = self._timeout
        return connection


def _records(folder: Path, live: str) -> list[dict[str, Any]]:
    """Oldest first. Without a file: the current release as ``<service>-1``, live status."""
    stored: list[dict[str, Any]] | None = _read_json(folder / "deployments.json", None)
    if stored is not None:
        return stored
    release = _current(folder)
    if release is None:
        return []
    created = datetime.fromtimestamp((folder / "current").stat().st_mtime, UTC).isoformat()
    status, reason = LIVE.get(live, "FAILED"), "running before SO1 acted on it"
    return [
        {
            "id": f"{folder.name}-1",
            "release": release,
            "created_at": created,
            "status": status,
            "reason": reason,
        }
    ]


def _deployment(folder: Path, record: Mapping[str, Any], live: str | None) -> PlatformDeployment:
    """``live``: supervisord's state when ``record`` is the newest; a FAILED rollout stays so."""
    stored = str(record["status"])
    status = LIVE.get(live, "FAILED") if live is not None and stored not in FAILED else stored
    release = str(record["release"])
    return PlatformDeployment(
        id=str(record["id"]),
        service=folder.name,
        status=status,
        created_at=datetime.fromisoformat(str(record["created_at"])),
        version=release,
        can_rollback=stored == SUCCESS and (folder / "releases" / release).is_dir(),
        can_redeploy=True,
        meta={"reason": record.get("reason", ""), "stored_status": stored},
    )


def _find(records: list[dict[str, Any]], service: str, deployment_id: str) -> int:
    for index, record in enumerate(records):
        if record["id"] == deployment_id:
            return index
    raise NotFound(f"{service} has no deployment '{deployment_id}' on the local platform")


def _release_dir(folder: Path, release: str) -> Path:
    found = folder / "releases" / release
    if not NAME.fullmatch(release) or not (found / "release.json").is_file():
        raise Rejected(f"release {release} of {folder.name} is gone ({found})")
    return found


def _current(folder: Path) -> str | None:
    path = folder / "current"
    return (path.read_text(encoding="utf-8").strip() or None) if path.exists() else None


def _line(text: str, now: datetime) -> LogLine:
    """A log line, dated by its leading ISO-8601 timestamp if it has one (else: now)."""
    at, stamp, level = now, STAMP.match(text), LEVEL.search(text[:80])
    with suppress(ValueError):
        at = datetime.fromisoformat(stamp.group(1).replace("Z", "+00:00")) if stamp else now
    at = at if at.tzinfo else at.replace(tzinfo=UTC)
    return LogLine(at, text, level.group(1).lower() if level else None)


def _read_json(path: Path, default: Any) -> Any:
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else default


def _write(path: Path, text: str, mode: int = 0o644) -> None:
    """Atomically: a reader sees the old file or the new one. A file keeps its permissions
    (the program may run as another user, to whom the operator granted env.json)."""
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.chmod(temp, path.stat().st_mode & 0o777 if path.exists() else mode)
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise

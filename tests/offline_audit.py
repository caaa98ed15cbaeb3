"""An audit hook that stops every network call leaving this machine, installed at interpreter start.

:func:`sitecustomize_dir` writes a folder holding this file and a ``sitecustomize.py`` that installs it; put
that folder first on ``PYTHONPATH`` and every Python process started with it (children included) runs
under the hook. CPython raises the audit events below *before* it performs the call, so the hook refuses
it with :class:`NetworkRefused` and no packet is sent; each refusal is also appended, as one JSON line, to
the file named by ``$OFFLINE_AUDIT_LOG``, so an attempt is seen even when the library that made it
swallows the exception.

Checked: ``socket.connect``, ``socket.sendto``, ``socket.sendmsg`` (the address), ``socket.getaddrinfo``,
``socket.gethostbyname(_ex)``, ``socket.gethostbyaddr``, ``socket.getnameinfo`` (the host). Allowed:
loopback (127.0.0.0/8, ::1, ``localhost``), sockets that are not IP (Unix, netlink), and lookups of no
host (a server binding its port).

Example:
    >>> folder = sitecustomize_dir(tmp_path / "hook")       # doctest: +SKIP
    >>> env = {**os.environ, "PYTHONPATH": str(folder), LOG_ENV: str(tmp_path / "network.jsonl")}
"""

from __future__ import annotations

import ipaddress
import json
import os
import shutil
import socket
import sys
import traceback
from pathlib import Path
from typing import Any

LOG_ENV = "OFFLINE_AUDIT_LOG"
ADDRESS_EVENTS = ("socket.connect", "socket.sendto", "socket.sendmsg")
HOST_EVENTS = ("socket.getaddrinfo", "socket.gethostbyname", "socket.gethostbyname_ex", "socket.gethostbyaddr")
LOOPBACK_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"}


class NetworkRefused(PermissionError):
    """A network call to another machine, stopped before it was made."""


def is_loopback(host: Any) -> bool:
    """True for a host that never leaves this machine: ``None``/``""`` (no host), loopback names and addresses.

    Example:
        >>> is_loopback("127.0.0.53"), is_loopback("::1"), is_loopback("192.0.2.1"), is_loopback("pypi.org")
        (True, True, False, False)
    """
    if host is None:
        return True
    if isinstance(host, bytes | bytearray):
        host = host.decode("ascii", "replace")
    name = str(host).strip().strip("[]").split("%")[0].rstrip(".").lower()
    if name in ("", *LOOPBACK_NAMES) or name.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return False  # any other name would need a lookup: refused
    mapped = getattr(address, "ipv4_mapped", None)
    return bool(address.is_loopback or (mapped is not None and mapped.is_loopback))


def _remote_host(event: str, args: tuple[Any, ...]) -> tuple[bool, Any]:
    """(whether ``event`` names a place off this machine, the host it names)."""
    if event in ADDRESS_EVENTS:
        sock, address = args[0], args[1]
        if address is None or getattr(sock, "family", None) not in (socket.AF_INET, socket.AF_INET6):
            return False, None
        host = address[0] if isinstance(address, tuple) else address
        return not is_loopback(host), host
    if event in HOST_EVENTS:
        return not is_loopback(args[0]), args[0]
    if event == "socket.getnameinfo":
        host = args[0][0] if isinstance(args[0], tuple) and args[0] else args[0]
        return not is_loopback(host), host
    return False, None


def _hook(event: str, args: tuple[Any, ...]) -> None:
    if not event.startswith("socket."):
        return
    remote, host = _remote_host(event, args)
    if not remote:
        return
    log = os.environ.get(LOG_ENV)
    if log:
        entry = {"event": event, "host": repr(host), "pid": os.getpid(), "argv": sys.argv[:4],
                 "stack": "".join(traceback.format_stack(limit=12)[:-2])}
        with open(log, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(entry) + "\n")
    raise NetworkRefused(f"offline audit: {event} to {host!r} refused (this process must not use the network)")


def install() -> None:
    """Add the hook to this interpreter (for good: audit hooks cannot be removed)."""
    sys.addaudithook(_hook)


def sitecustomize_dir(folder: Path) -> Path:
    """``folder`` with a copy of this module and a ``sitecustomize.py`` that installs it; returns ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(__file__, folder / "offline_audit.py")
    (folder / "sitecustomize.py").write_text("import offline_audit\n\noffline_audit.install()\n", encoding="utf-8")
    return folder

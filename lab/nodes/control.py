"""A node's local control channel: JSON commands over a Unix socket in its container.

Scenario steps and operators reach a running node with
`hnblab exec NODE -- python -m lab.nodes.control VERB [key=value ...]`; the node serves
the verbs it registered. One request per connection: {"verb": ..., "args": {...}} in,
{"ok": bool, "result"|"error": ...} out. An unknown verb or a failing handler answers
with an error naming it; the server keeps serving.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import sys
from collections.abc import Awaitable, Callable
from typing import Any

SOCKET = "/run/hnblab-node.sock"
Handler = Callable[..., Awaitable[Any]]


class ControlServer:
    def __init__(self, path: str = SOCKET) -> None:
        self.path = path
        self.handlers: dict[str, Handler] = {}
        self._server: asyncio.AbstractServer | None = None

    def register(self, verb: str, handler: Handler) -> None:
        self.handlers[verb] = handler

    async def start(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)
        self._server = await asyncio.start_unix_server(self._serve, self.path)

    async def stop(self) -> None:
        if self._server:
            self._server.close()
            await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            raw = await reader.readline()
            try:
                req = json.loads(raw)
                verb, args = req["verb"], dict(req.get("args") or {})
            except (ValueError, KeyError, TypeError) as exc:
                reply: dict[str, Any] = {"ok": False, "error": f"malformed request: {exc}"}
            else:
                handler = self.handlers.get(verb)
                if handler is None:
                    reply = {"ok": False, "error": f"unknown verb {verb!r} (verbs: "
                                                   f"{', '.join(sorted(self.handlers))})"}
                else:
                    try:
                        reply = {"ok": True, "result": await handler(**args)}
                    except Exception as exc:  # report any handler failure to the caller
                        reply = {"ok": False, "error": f"{verb}: {type(exc).__name__}: {exc}"}
            writer.write(json.dumps(reply, default=str).encode() + b"\n")
            await writer.drain()
        finally:
            writer.close()


def call(verb: str, path: str = SOCKET, timeout: float = 120.0, **args: Any) -> Any:
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(timeout)
        s.connect(path)
        s.sendall(json.dumps({"verb": verb, "args": args}).encode() + b"\n")
        data = b""
        while not data.endswith(b"\n"):
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    reply = json.loads(data)
    if not reply.get("ok"):
        raise RuntimeError(reply.get("error", "failed"))
    return reply.get("result")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv:
        print("usage: python -m lab.nodes.control VERB [key=value ...]", file=sys.stderr)
        return 2
    verb, *pairs = argv
    args: dict[str, Any] = {}
    for p in pairs:
        key, sep, value = p.partition("=")
        if not sep:
            print(f"argument {p!r}: expected key=value", file=sys.stderr)
            return 2
        args[key] = value
    try:
        result = call(verb, **args)
    except (OSError, RuntimeError, ValueError) as exc:
        print(f"{verb}: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(result, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Separate hosts on one machine, for the tests: each its own network namespace where the machine allows.

A host is a network namespace joined to this machine by a veth pair of its own, on a /30 of 198.18.0.0/15
(RFC 2544's range for network tests, never routed anywhere), with no default route: from inside, the only
address it can reach is its side's peer on this machine, where a relay forwards exactly the services it may
use (PostgreSQL, Redis, the S3 server) to where they listen on 127.0.0.1. Hosts cannot reach each other; this
test process reaches each host at its address (the browser, talking to the web host). Everything is made and
removed by the test; no traffic leaves the addresses it created.

Where namespaces cannot be made (not root, no ``ip``), every host is a plain process on 127.0.0.1 instead,
still with its own folders: ``Network.isolated`` says which.
"""

from __future__ import annotations

import asyncio
import random
import shutil
import subprocess
import threading
import uuid
from dataclasses import dataclass, field


@dataclass
class Host:
    name: str
    address: str           # where this test process reaches it
    gateway: str           # where it reaches the services (a relay on this machine's side of its link)
    namespace: str | None  # None: a plain process on 127.0.0.1
    ports: dict[int, int] = field(default_factory=dict)  # service port on 127.0.0.1 → port on the gateway

    def prefix(self) -> list[str]:
        """What to put before a command to run it on this host."""
        return ["ip", "netns", "exec", self.namespace] if self.namespace else []

    def run(self, *argv: str, timeout: float = 20) -> subprocess.CompletedProcess:
        return subprocess.run([*self.prefix(), *argv], capture_output=True, text=True, timeout=timeout)


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True, timeout=20)


class Relay:
    """TCP relays (asyncio, in a thread of this process) from host-facing addresses to 127.0.0.1."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="relay", daemon=True)
        self.thread.start()
        self.servers: list[asyncio.AbstractServer] = []

    def add(self, listen_host: str, target_port: int) -> int:
        """Relay a free port of ``listen_host`` to 127.0.0.1:``target_port``; returns that port. (Never the
        service's own port number: a server restarted in a test checks that its port is free on every address.)"""
        async def start():
            return await asyncio.start_server(lambda r, w: self._pipe(r, w, target_port), listen_host, 0)

        server = asyncio.run_coroutine_threadsafe(start(), self.loop).result(timeout=10)
        self.servers.append(server)
        return server.sockets[0].getsockname()[1]

    async def _pipe(self, reader, writer, target_port: int) -> None:
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", target_port)
        except OSError:  # the service is down: the host sees its connection closed, as over a network
            writer.close()
            return

        async def copy(source, sink):
            try:
                while data := await source.read(65536):
                    sink.write(data)
                    await sink.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                try:
                    sink.close()
                except RuntimeError:
                    pass

        await asyncio.gather(copy(reader, upstream_writer), copy(upstream_reader, writer))

    def close(self) -> None:
        async def stop():
            for server in self.servers:
                server.close()
            open_connections = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in open_connections:
                task.cancel()
            await asyncio.gather(*open_connections, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(stop(), self.loop).result(timeout=10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)


class Network:
    def __init__(self) -> None:
        self.tag = uuid.uuid4().hex[:4]
        self.hosts: list[Host] = []
        self.relay = Relay()
        self.isolated, self.why_not = self._can_isolate()
        self._subnet = random.randrange(0, 256)
        self._links: list[str] = []

    @staticmethod
    def _can_isolate() -> tuple[bool, str]:
        if shutil.which("ip") is None:
            return False, "the ip command (iproute2) is not installed"
        probe = f"rs-probe-{uuid.uuid4().hex[:6]}"
        made = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True)
        if made.returncode != 0:
            return False, f"network namespaces cannot be made here ({made.stderr.strip()})"
        subprocess.run(["ip", "netns", "del", probe], capture_output=True)
        return True, ""

    def add_host(self, name: str, services: list[int]) -> Host:
        """A host that may reach the services listening on these 127.0.0.1 ports (and nothing else)."""
        if not self.isolated:
            host = Host(name, "127.0.0.1", "127.0.0.1", None, {port: port for port in services})
            self.hosts.append(host)
            return host
        index = len(self.hosts)
        gateway, address = f"198.18.{self._subnet}.{4 * index + 1}", f"198.18.{self._subnet}.{4 * index + 2}"
        namespace, outside = f"rs-{self.tag}-{name}", f"rs{self.tag}{index}"
        _ip("netns", "add", namespace)
        _ip("link", "add", outside, "type", "veth", "peer", "name", f"{outside}h")
        self._links.append(outside)
        _ip("link", "set", f"{outside}h", "netns", namespace)
        _ip("addr", "add", f"{gateway}/30", "dev", outside)
        _ip("link", "set", outside, "up")
        _ip("-n", namespace, "addr", "add", f"{address}/30", "dev", f"{outside}h")
        _ip("-n", namespace, "link", "set", f"{outside}h", "up")
        _ip("-n", namespace, "link", "set", "lo", "up")
        host = Host(name, address, gateway, namespace, {port: self.relay.add(gateway, port) for port in services})
        self.hosts.append(host)
        return host

    def close(self) -> None:
        self.relay.close()
        for host in self.hosts:
            if host.namespace:
                subprocess.run(["ip", "netns", "del", host.namespace], capture_output=True)
        for link in self._links:  # gone with their namespaces; this only catches a half-made one
            subprocess.run(["ip", "link", "del", link], capture_output=True)

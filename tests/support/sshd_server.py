"""A real OpenSSH server for tests: generated host key, one authorized key, a temp config, never the system's sshd.

Also a network namespace with a veth pair, for a "remote" host whose traffic
really crosses an interface.
"""

from __future__ import annotations

import os
import random
import shutil
import socket
import subprocess
import time
from pathlib import Path

import psutil

SSHD = shutil.which("sshd") or "/usr/sbin/sshd"


def keygen(path: Path, passphrase: str = "") -> Path:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", passphrase, "-C", "jupyter-nest-test", "-f", str(path)],
                   check=True)
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Keys:
    """A host key, an authorized user key, an unauthorized one, a passphrase-protected one and a non-key."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.directory = directory
        self.host = keygen(directory / "host_key")
        self.user = keygen(directory / "user_key")
        self.stranger = keygen(directory / "stranger_key")
        self.locked = keygen(directory / "locked_key", passphrase="secret words")
        self.not_a_key = directory / "not_a_key"
        self.not_a_key.write_text("this is not a key\n")
        self.authorized = directory / "authorized_keys"
        self.authorized.write_text(Path(f"{self.user}.pub").read_text())
        self.authorized.chmod(0o600)
        self.empty_known_hosts = directory / "empty_known_hosts"
        self.empty_known_hosts.write_text("")

    def known_hosts(self, addresses: list[str], port: int) -> Path:
        public = " ".join(Path(f"{self.host}.pub").read_text().split()[:2])
        path = self.directory / f"known_hosts_{port}"
        path.write_text("".join(f"[{a}]:{port} {public}\n" for a in addresses))
        return path


class Sshd:
    """``sshd -D`` on ``address:port`` (inside ``netns`` when given), logging to a file."""

    def __init__(self, keys: Keys, address: str = "127.0.0.1", port: int | None = None,
                 netns: str | None = None, forwarding: bool = True) -> None:
        if os.geteuid() == 0:
            # sshd running as root insists on its privilege-separation directory
            os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
        self.address, self.port, self.keys = address, port or free_port(), keys
        tag = f"{address}_{self.port}"
        self.config = keys.directory / f"sshd_config_{tag}"
        self.log = keys.directory / f"sshd_{tag}.log"
        self.config.write_text("\n".join([
            f"Port {self.port}",
            f"ListenAddress {address}",
            f"HostKey {keys.host}",
            f"AuthorizedKeysFile {keys.authorized}",
            "PidFile none",
            "UsePAM no",
            "StrictModes no",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "PermitRootLogin prohibit-password",
            f"AllowTcpForwarding {'yes' if forwarding else 'no'}",
            "LogLevel ERROR",
        ]) + "\n")
        command = [SSHD, "-D", "-e", "-f", str(self.config)]
        if netns:
            command = ["ip", "netns", "exec", netns, *command]
        self.proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=self.log.open("w"))
        self._wait_for_banner()

    def _wait_for_banner(self, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"sshd exited with {self.proc.returncode}: {self.log.read_text()}")
            try:
                with socket.create_connection((self.address, self.port), timeout=2) as s:
                    if s.recv(64).startswith(b"SSH-2.0"):
                        return
            except OSError:
                time.sleep(0.1)
        self.close()
        raise RuntimeError(f"sshd on {self.address}:{self.port} did not answer: {self.log.read_text()}")

    def descendants(self) -> list[psutil.Process]:
        """The sessions sshd forked and everything they started (the Dask processes among them)."""
        try:
            return psutil.Process(self.proc.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return []

    def pids(self, text: str = "python") -> list[int]:
        """The descendants whose command line contains ``text``."""
        out = []
        for p in self.descendants():
            try:
                if text in " ".join(p.cmdline()):
                    out.append(p.pid)
            except psutil.NoSuchProcess:  # gone, or a zombie
                pass
        return out

    def close(self) -> None:
        for p in self.descendants():
            try:
                p.kill()
            except psutil.NoSuchProcess:
                pass
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


class Netns:
    """A network namespace joined to this one by a veth pair: ``host_ip`` here, ``ns_ip`` inside."""

    def __init__(self) -> None:
        tag = f"{os.getpid() % 100000}{random.randrange(100)}"
        self.name = f"jnest{tag}"
        self.veth = f"jnh{tag}"[:15]
        peer = f"jnr{tag}"[:15]
        used = subprocess.run(["ip", "-br", "addr"], capture_output=True, text=True).stdout
        # other test runs may hold namespaces of their own: a /30 in a subnet nobody here uses
        subnet = f"10.{random.randrange(200, 250)}.{random.randrange(256)}."
        while subnet in used:
            subnet = f"10.{random.randrange(200, 250)}.{random.randrange(256)}."
        self.host_ip, self.ns_ip = f"{subnet}1", f"{subnet}2"
        steps = [
            ["ip", "netns", "add", self.name],
            ["ip", "link", "add", self.veth, "type", "veth", "peer", "name", peer],
            ["ip", "link", "set", peer, "netns", self.name],
            ["ip", "addr", "add", f"{self.host_ip}/30", "dev", self.veth],
            ["ip", "link", "set", self.veth, "up"],
            ["ip", "-n", self.name, "addr", "add", f"{self.ns_ip}/30", "dev", peer],
            ["ip", "-n", self.name, "link", "set", peer, "up"],
            ["ip", "-n", self.name, "link", "set", "lo", "up"],
        ]
        try:
            for step in steps:
                subprocess.run(step, check=True, capture_output=True, text=True)
        except subprocess.CalledProcessError:
            self.close()
            raise

    def listening(self) -> list[tuple[str, int]]:
        """Every TCP socket listening inside the namespace (psutil only sees this one)."""
        out = subprocess.run(["ip", "netns", "exec", self.name, "ss", "-Hltn"],
                             capture_output=True, text=True, check=True).stdout
        sockets = []
        for line in out.splitlines():
            host, _, port = line.split()[3].rpartition(":")
            sockets.append((host.strip("[]"), int(port)))
        return sockets

    def bytes_crossed(self) -> int:
        stats = Path(f"/sys/class/net/{self.veth}/statistics")
        return int((stats / "rx_bytes").read_text()) + int((stats / "tx_bytes").read_text())

    def close(self) -> None:
        subprocess.run(["ip", "link", "del", self.veth], capture_output=True)
        subprocess.run(["ip", "netns", "del", self.name], capture_output=True)


def netns_unavailable() -> str | None:
    """Why network namespaces cannot be used here, or ``None`` when they can."""
    if os.geteuid() != 0:
        return "network namespaces need root"
    if shutil.which("ip") is None:
        return "`ip` (iproute2) is not installed"
    try:
        Netns().close()
    except (subprocess.CalledProcessError, OSError) as e:
        return f"`ip netns` does not work here: {getattr(e, 'stderr', e)}"
    return None

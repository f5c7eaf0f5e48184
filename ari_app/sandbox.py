"""The local Asterisk sandbox: a Debian ``sid`` root with Asterisk 22, run under chroot.

    python -m ari_app.sandbox up | down | status

``up`` builds the root once with debootstrap (cached in ``$DIALCRM_SANDBOX_DIR``,
default ``/var/cache/dialcrm``, outside the repository), lays ``asterisk-config/``
over its ``/etc/asterisk``, renders the spoken prompts with espeak-ng, mounts
``/proc`` and ``/dev``, starts Asterisk and waits until ARI answers. It is
idempotent: on a running sandbox it re-lays the configuration and reloads.
``down`` stops Asterisk and removes the mounts. The Debian mirror is the one
this machine's apt already uses (never a hard-coded host).

If ``ASTERISK_ARI_URL`` is set, an existing Asterisk is used and nothing is
started or stopped. Only the standard library is used, so this runs anywhere.
"""

from __future__ import annotations

import base64
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

PACKAGES = ("asterisk", "asterisk-modules", "asterisk-core-sounds-en-wav")
CONFIG_DIR = Path(__file__).resolve().parent.parent / "asterisk-config"
READY_MARK = ".dialcrm-ready"
TCP_PORTS = (8088, 5038)
UDP_PORTS = (5060,)
DEFAULT_ARI = ("http://127.0.0.1:8088", "dialcrm", "dialcrm-sandbox-ari")


class SandboxError(Exception):
    """A sandbox step failed; the message says what to do."""


@dataclass(frozen=True)
class Sandbox:
    """Where the sandbox lives and how to reach its ARI."""

    cache_dir: Path
    ari_url: str = DEFAULT_ARI[0]
    ari_user: str = DEFAULT_ARI[1]
    ari_password: str = DEFAULT_ARI[2]

    @property
    def root(self) -> Path:
        return self.cache_dir / "sid-root"

    @property
    def pid_file(self) -> Path:
        return self.path("/var/run/asterisk/asterisk.pid")

    def path(self, inside: str) -> Path:
        """A path inside the root, following the root's own (absolute) symlinks there.

        ``/var/run`` is a symlink to ``/run`` in the root: joined naively it would
        lead to the host's ``/run``.
        """
        current = self.root
        for part in Path(inside).relative_to("/").parts:
            current = current / part
            hops = 0
            while current.is_symlink() and hops < 10:
                target = Path(os.readlink(current))
                current = self.root / target.relative_to("/") if target.is_absolute() else (
                    current.parent / target
                )
                hops += 1
        return current

    @classmethod
    def from_env(cls) -> Sandbox:
        return cls(
            cache_dir=Path(os.environ.get("DIALCRM_SANDBOX_DIR", "/var/cache/dialcrm")),
            ari_url=os.environ.get("ASTERISK_ARI_URL", DEFAULT_ARI[0]),
            ari_user=os.environ.get("ASTERISK_ARI_USER", DEFAULT_ARI[1]),
            ari_password=os.environ.get("ASTERISK_ARI_PASSWORD", DEFAULT_ARI[2]),
        )


def log(message: str) -> None:
    print(f"[asterisk-sandbox] {message}", flush=True)


def run(*cmd: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, check=check, text=True, capture_output=True)


# ------------------------------------------------------------------ checks --
def require_root() -> None:
    if os.geteuid() != 0:
        raise SandboxError(
            "the sandbox needs root (debootstrap, chroot, bind mounts). Run it as root, "
            "or point ASTERISK_ARI_URL (and ASTERISK_AMI_*) at an existing Asterisk."
        )


def ensure_debootstrap() -> str:
    found = shutil.which("debootstrap") or (
        "/usr/sbin/debootstrap" if Path("/usr/sbin/debootstrap").exists() else None
    )
    if found:
        return found
    log("debootstrap is missing: installing it with apt-get")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    done = subprocess.run(
        ["apt-get", "install", "-y", "-q", "debootstrap"], env=env, text=True, capture_output=True
    )
    if done.returncode != 0 or not Path("/usr/sbin/debootstrap").exists():
        raise SandboxError(
            "debootstrap is missing and 'apt-get install -y debootstrap' failed:\n"
            + done.stderr[-2000:]
        )
    return "/usr/sbin/debootstrap"


def debian_mirror() -> str:
    """The Debian mirror this machine's apt uses (deb822 sources first, then sources.list)."""
    candidates = sorted(Path("/etc/apt/sources.list.d").glob("*.sources"))
    for path in candidates:
        for stanza in path.read_text().split("\n\n"):
            uris = re.search(r"^URIs:\s*(\S+)", stanza, re.M)
            if uris and "security" not in uris.group(1) and "debian" in stanza:
                return uris.group(1)
    legacy = Path("/etc/apt/sources.list")
    if legacy.exists():
        for line in legacy.read_text().splitlines():
            parts = line.split()
            if parts[:1] == ["deb"] and "security" not in line:
                return next(p for p in parts[1:] if p.startswith(("http", "file", "ftp")))
    raise SandboxError("cannot find a Debian mirror in /etc/apt/sources.list(.d)")


def port_taken(port: int, kind: int) -> bool:
    with socket.socket(socket.AF_INET, kind) as sock:
        if kind == socket.SOCK_STREAM:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def require_free_ports() -> None:
    taken = [f"{p}/tcp" for p in TCP_PORTS if port_taken(p, socket.SOCK_STREAM)]
    taken += [f"{p}/udp" for p in UDP_PORTS if port_taken(p, socket.SOCK_DGRAM)]
    if taken:
        raise SandboxError(
            f"port(s) {', '.join(taken)} on 127.0.0.1 are taken by another program "
            "(see `ss -lntup`). Stop it, or point ASTERISK_ARI_URL at that Asterisk."
        )


# ------------------------------------------------------------------- state --
def asterisk_pid(box: Sandbox) -> int | None:
    try:
        pid = int(box.pid_file.read_text().strip())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return None
    cmdline = Path(f"/proc/{pid}/cmdline")
    if not cmdline.exists() or b"asterisk" not in cmdline.read_bytes():
        return None
    return pid


def ari_info(box: Sandbox, timeout: float = 2.0) -> dict[str, object] | None:
    import json

    token = base64.b64encode(f"{box.ari_user}:{box.ari_password}".encode()).decode()
    req = urllib.request.Request(
        f"{box.ari_url.rstrip('/')}/ari/asterisk/info", headers={"Authorization": f"Basic {token}"}
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return json.loads(resp.read())
    except (urllib.error.URLError, OSError, ValueError):
        return None


def our_mounts(box: Sandbox) -> list[str]:
    root = str(box.root.resolve()) if box.root.exists() else str(box.root)
    found = []
    for line in Path("/proc/mounts").read_text().splitlines():
        target = line.split()[1].replace("\\040", " ")
        if target == root or target.startswith(root + "/"):
            found.append(target)
    return found


# ------------------------------------------------------------------- steps --
def build_root(box: Sandbox) -> None:
    if (box.root / READY_MARK).exists():
        return
    debootstrap = ensure_debootstrap()
    partial = box.cache_dir / "sid-root.partial"
    box.cache_dir.mkdir(parents=True, exist_ok=True)
    mirror = debian_mirror()
    log(f"building the Debian sid root with Asterisk (once, ~1 min) from {mirror}")
    if partial.exists():
        shutil.rmtree(partial)
    done = subprocess.run(
        [debootstrap, "--variant=minbase", "--include=" + ",".join(PACKAGES), "sid",
         str(partial), mirror],
        text=True, capture_output=True,
    )
    if done.returncode != 0:
        raise SandboxError("debootstrap failed:\n" + (done.stdout + done.stderr)[-3000:])
    if box.root.exists():
        shutil.rmtree(box.root)
    partial.rename(box.root)
    (box.root / READY_MARK).write_text(mirror + "\n")


def mount_binds(box: Sandbox) -> None:
    mounted = set(our_mounts(box))
    for name in ("proc", "dev"):
        target = box.root / name
        if str(target.resolve()) not in mounted:
            run("mount", "--bind", f"/{name}", str(target))


def unmount_binds(box: Sandbox) -> None:
    for target in sorted(our_mounts(box), key=len, reverse=True):
        if run("umount", target, check=False).returncode != 0:
            run("umount", "-l", target, check=False)


def lay_config(box: Sandbox) -> None:
    etc = box.path("/etc/asterisk")
    dist = box.path("/etc/asterisk.dist")
    if not dist.exists():
        shutil.copytree(etc, dist)
    shutil.rmtree(etc)
    etc.mkdir()
    for conf in sorted(CONFIG_DIR.glob("*.conf")):
        shutil.copy2(conf, etc / conf.name)
    sounds = box.path("/usr/share/asterisk/sounds/dialcrm")
    script = CONFIG_DIR / "sounds/make-prompts.sh"
    done = run("sh", str(script), str(CONFIG_DIR / "sounds/prompts.txt"), str(sounds), check=False)
    if done.returncode != 0:
        raise SandboxError(
            "rendering prompts failed (are espeak-ng and sox installed? `make setup`):\n"
            + done.stderr[-2000:]
        )
    for sub in ("/var/run/asterisk", "/var/spool/asterisk/recording", "/var/log/asterisk"):
        box.path(sub).mkdir(parents=True, exist_ok=True)
    render_hold_music(box)


HOLD_MUSIC_HZ = 440  # musiconhold.conf's default class plays it; tests listen for it


def render_hold_music(box: Sandbox) -> None:
    """The sandbox's music on hold: a soft tone in ``moh/dialcrm`` (8 kHz 16-bit WAV) under
    astdatadir, where musiconhold.conf's relative ``directory`` points."""
    moh = box.path("/usr/share/asterisk/moh/dialcrm")
    moh.mkdir(parents=True, exist_ok=True)
    target = moh / "dialcrm-hold.wav"
    if target.exists():
        return
    done = run("sox", "-n", "-r", "8000", "-c", "1", "-b", "16", "-e", "signed-integer",
               str(target), "synth", "30", "sine", str(HOLD_MUSIC_HZ), "vol", "0.4", check=False)
    if done.returncode != 0:
        raise SandboxError("rendering hold music failed (is sox installed? `make setup`):\n"
                           + done.stderr[-2000:])


def wait_for_ari(box: Sandbox, timeout: float = 60.0) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        info = ari_info(box)
        if info is not None:
            return info
        if asterisk_pid(box) is None and time.monotonic() > deadline - timeout + 5:
            raise SandboxError("Asterisk exited while starting:\n" + tail_log(box))
        time.sleep(0.2)
    raise SandboxError(f"ARI did not answer within {timeout:.0f} s:\n" + tail_log(box))


def tail_log(box: Sandbox, lines: int = 40) -> str:
    path = box.path("/var/log/asterisk/messages.log")
    if not path.exists():
        return "(no Asterisk log)"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def asterisk_cli(box: Sandbox, command: str) -> str:
    return run("chroot", str(box.root), "asterisk", "-rx", command, check=False).stdout


# --------------------------------------------------------------- commands --
def up(box: Sandbox, keep_registrations: bool = False) -> None:
    """Start (idempotent). ``keep_registrations`` keeps astdb (phones' contacts), as a
    production Asterisk restart would; by default a fresh start forgets stale contacts."""
    if os.environ.get("ASTERISK_ARI_URL"):
        if ari_info(box) is None:
            raise SandboxError(f"ASTERISK_ARI_URL={box.ari_url} is set but ARI does not answer")
        log(f"using the existing Asterisk at {box.ari_url}; nothing to start")
        return
    require_root()
    build_root(box)
    if asterisk_pid(box) is not None:
        lay_config(box)
        asterisk_cli(box, "core reload")
        info = wait_for_ari(box)
        log(f"already running; configuration re-laid and reloaded ({version(info)})")
        return
    require_free_ports()
    mount_binds(box)
    try:
        lay_config(box)
        if not keep_registrations:
            box.path("/var/lib/asterisk/astdb.sqlite3").unlink(missing_ok=True)
            box.path("/var/log/asterisk/messages.log").unlink(missing_ok=True)
        done = run("chroot", str(box.root), "asterisk", "-n", check=False)
        if done.returncode != 0:
            raise SandboxError("asterisk failed to start:\n" + done.stderr[-2000:])
        info = wait_for_ari(box)
    except BaseException:
        stop_asterisk(box)
        unmount_binds(box)
        raise
    log(f"up: {version(info)}, ARI {box.ari_url}, AMI 127.0.0.1:5038, SIP udp 127.0.0.1:5060")


def version(info: dict[str, object]) -> str:
    system = info.get("system")
    return f"Asterisk {system.get('version')}" if isinstance(system, dict) else "Asterisk"


def stop_asterisk(box: Sandbox) -> None:
    pid = asterisk_pid(box)
    if pid is None:
        return
    asterisk_cli(box, "core stop now")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and asterisk_pid(box) == pid:
        time.sleep(0.1)
    if asterisk_pid(box) == pid:
        log(f"Asterisk (pid {pid}) did not stop; killing it")
        os.kill(pid, signal.SIGKILL)
    # A dying process loses its memory (and /proc cmdline) before its sockets: wait for those.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and (
        any(port_taken(p, socket.SOCK_STREAM) for p in TCP_PORTS)
        or any(port_taken(p, socket.SOCK_DGRAM) for p in UDP_PORTS)
    ):
        time.sleep(0.05)


def restart(box: Sandbox) -> None:
    """Stop and start Asterisk, keeping registrations (fault tests: "Asterisk restarted")."""
    require_root()
    stop_asterisk(box)
    up(box, keep_registrations=True)


def down(box: Sandbox) -> None:
    if os.environ.get("ASTERISK_ARI_URL"):
        log("ASTERISK_ARI_URL is set: the external Asterisk is not ours to stop")
        return
    require_root()
    stop_asterisk(box)
    unmount_binds(box)
    left = our_mounts(box)
    if left:
        raise SandboxError(f"mounts still present: {left}")
    log("down: Asterisk stopped, no mounts left")


def status(box: Sandbox) -> bool:
    info = ari_info(box)
    pid = asterisk_pid(box) if box.root.exists() else None
    log(f"root: {box.root} ({'built' if (box.root / READY_MARK).exists() else 'not built'})")
    log(f"asterisk pid: {pid or 'not running'}; mounts: {our_mounts(box) or 'none'}")
    log(f"ARI {box.ari_url}: {version(info) if info else 'not answering'}")
    return info is not None


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1 or args[0] not in ("up", "down", "status"):
        print("usage: python -m ari_app.sandbox up|down|status", file=sys.stderr)
        return 2
    box = Sandbox.from_env()
    try:
        if args[0] == "up":
            up(box)
        elif args[0] == "down":
            down(box)
        else:
            return 0 if status(box) else 1
    except SandboxError as exc:
        print(f"[asterisk-sandbox] error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

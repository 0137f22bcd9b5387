"""The appliance check's machine: one QEMU process and the ways a person reaches it from outside.

- power: `start` boots the image (the image's own kernel and initrd, root on a virtio disk whose
  writes reach the file only as the guest writes them: a `power_cut` keeps what the guest
  flushed and nothing else); `shutdown` is a clean power-off;
- the monitor (QMP): a USB stick (usb-storage on a qemu-xhci bus) plugged in and pulled out, and
  `screendump`, the screen's photo, saved as PNG;
- SSH over a forwarded loopback port, with the key the image was built with, every command over
  one shared connection (an emulated machine spends seconds on each new login, and the check
  polls); `tunnel` forwards a local port to one inside on its own connection, as an admin's
  `ssh -L` does;
- the serial console, logged to a file.

KVM is used only when `kvm_works` shows that its virtual CPUs run (a boot sector that writes to
the serial port) and the kernel then starts on them (its first line on the serial console within
KERNEL_SECONDS); else software emulation (TCG), said once.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from PIL import Image

KERNEL_SECONDS = 15.0
SCREEN = (480, 320)  # the Pi's 3.5-inch panel, offered to the guest as its screen's preferred mode
BOOT_SECTOR = bytes([0xBA, 0xF8, 0x03, 0xB0, 0x4F, 0xEE, 0xB0, 0x4B, 0xEE, 0xF4, 0xEB, 0xFE])  # out 0x3f8 "OK"; hlt


def kvm_works(seconds: float = 8.0) -> tuple[bool, str]:
    """Whether KVM's virtual CPUs run here, and why not."""
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        return False, "no /dev/kvm"
    with tempfile.TemporaryDirectory() as scratch:
        image, serial = Path(scratch) / "probe.img", Path(scratch) / "serial.out"
        image.write_bytes(BOOT_SECTOR + bytes(510 - len(BOOT_SECTOR)) + b"\x55\xaa")
        probe = subprocess.Popen(["qemu-system-x86_64", "-accel", "kvm", "-display", "none", "-m", "32",
                                  "-no-reboot", "-serial", f"file:{serial}",
                                  "-drive", f"file={image},format=raw,if=floppy,readonly=on"],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and probe.poll() is None:
            if serial.exists() and b"OK" in serial.read_bytes():
                break
            time.sleep(0.2)
        ran = serial.exists() and b"OK" in serial.read_bytes()
        probe.kill()
        _, err = probe.communicate()
    if ran:
        return True, "KVM runs"
    return False, f"KVM's virtual CPU ran nothing in {seconds:g} s{': ' + err.decode().strip() if err else ''}"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Machine:
    """The appliance in QEMU (see the module docstring)."""

    def __init__(self, work: Path, out: Path, accel: str, display: str = "bochs-display"):
        self.work, self.out, self.accel, self.display = work, out, accel, display
        self.ssh_port = free_port()
        self.process: subprocess.Popen | None = None
        self.qmp_file: socket.socket | None = None
        self.boots = 0
        self.started_at = 0.0

    # --- power ------------------------------------------------------------------------------

    def start(self) -> None:
        self.boots += 1
        qmp = self.work / "qmp.sock"
        qmp.unlink(missing_ok=True)
        command = [
            "qemu-system-x86_64", "-accel", self.accel, "-m", "3072", "-smp", "2",
            "-kernel", str(self.work / "vmlinuz"), "-initrd", str(self.work / "initrd.img"),
            "-append", "root=/dev/vda rw console=ttyS0",
            "-drive", f"file={self.work / 'disk.img'},if=virtio,format=raw,cache=writeback,discard=unmap",
            "-device", "qemu-xhci,id=xhci", "-vga", "none",
            "-device", f"{self.display},xres={SCREEN[0]},yres={SCREEN[1]}",
            "-display", "none", "-qmp", f"unix:{qmp},server=on,wait=off",
            "-serial", f"file:{self.out / f'serial-boot{self.boots}.log'}",
            "-netdev", f"user,id=net0,hostfwd=tcp:127.0.0.1:{self.ssh_port}-:22",
            "-device", "virtio-net-pci,netdev=net0", "-no-reboot",
        ]
        if self.accel == "tcg":
            command[3:3] = ["-cpu", "max"]
        self.started_at = time.monotonic()
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL,
                                        stderr=open(self.out / "qemu.log", "ab"))
        deadline = time.monotonic() + 30
        while not qmp.exists():
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise RuntimeError(f"QEMU did not start: {(self.out / 'qemu.log').read_text()[-800:]}")
            time.sleep(0.1)
        self.qmp_file = socket.socket(socket.AF_UNIX)
        self.qmp_file.connect(str(qmp))
        self._reader = self.qmp_file.makefile("r")
        self._read()  # the greeting
        self.qmp("qmp_capabilities")
        if self.accel == "kvm" and not self._kernel_started():
            print(f"    KVM: the kernel printed nothing in {KERNEL_SECONDS:g} s; software emulation (TCG) from "
                  "now on", flush=True)
            self.power_cut()
            self.accel = "tcg"
            self.boots -= 1
            self.start()

    def _kernel_started(self) -> bool:
        serial = self.out / f"serial-boot{self.boots}.log"
        deadline = time.monotonic() + KERNEL_SECONDS
        while time.monotonic() < deadline:
            if serial.exists() and b"Linux version" in serial.read_bytes():
                return True
            time.sleep(0.5)
        return False

    def power_cut(self) -> None:
        """The power lead pulled: QEMU killed, nothing more reaches the disk."""
        if self.process is not None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(30)
            self.process = None
        self._end_shared_connection()

    def _end_shared_connection(self) -> None:
        subprocess.run(self.ssh_command("-O", "exit"), capture_output=True, timeout=30)
        (self.work / "ssh.sock").unlink(missing_ok=True)

    def shutdown(self, timeout: float = 180) -> None:
        self.ssh("systemctl poweroff", check=False, timeout=30)
        if self.process is not None:
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.power_cut()
            self.process = None
        self._end_shared_connection()

    # --- the monitor --------------------------------------------------------------------------

    def _read(self) -> dict:
        while True:
            line = self._reader.readline()
            if not line:
                raise RuntimeError("the QEMU monitor closed")
            message = json.loads(line)
            if "event" not in message:
                return message

    def qmp(self, command: str, **arguments) -> dict:
        assert self.qmp_file is not None
        self.qmp_file.sendall(json.dumps({"execute": command, "arguments": arguments}).encode() + b"\n")
        answer = self._read()
        if "error" in answer:
            raise RuntimeError(f"QMP {command}: {answer['error']}")
        return answer.get("return", {})

    def screendump(self, name: str) -> Path:
        """The screen as OUT/NAME.png."""
        raw = self.work / "screen.ppm"
        self.qmp("screendump", filename=str(raw))
        target = self.out / f"{name}.png"
        Image.open(raw).save(target)
        return target

    def plug_stick(self, image: Path, device_id: str = "stick") -> None:
        self.qmp("blockdev-add", **{"node-name": f"{device_id}-disk", "driver": "raw", "read-only": False,
                                    "file": {"driver": "file", "filename": str(image)}})
        self.qmp("device_add", driver="usb-storage", bus="xhci.0", drive=f"{device_id}-disk", id=device_id,
                 removable=True)

    def pull_stick(self, device_id: str = "stick") -> None:
        self.qmp("device_del", id=device_id)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                self.qmp("blockdev-del", **{"node-name": f"{device_id}-disk"})
                return
            except RuntimeError:
                time.sleep(0.5)  # the guest lets go of the device first

    # --- SSH ------------------------------------------------------------------------------------

    def ssh_command(self, *extra: str, shared: bool = True) -> list[str]:
        sharing = (["-o", "ControlMaster=auto", "-o", f"ControlPath={self.work / 'ssh.sock'}",
                    "-o", "ControlPersist=600"] if shared else ["-o", "ControlPath=none"])
        return ["ssh", "-i", str(self.work / "id_ed25519"), "-p", str(self.ssh_port), "-o", "BatchMode=yes",
                "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR",
                "-o", "ConnectTimeout=10", *sharing, *extra, "root@127.0.0.1"]

    def ssh(self, command: str, check: bool = True, timeout: float = 600) -> str:
        """COMMAND run by root's shell in the machine; its output (stdout and stderr)."""
        result = subprocess.run(self.ssh_command() + [command], capture_output=True, text=True, timeout=timeout)
        if check and result.returncode != 0:
            raise RuntimeError(f"in the machine: {command}: exit {result.returncode}: "
                               f"{(result.stdout + result.stderr).strip()[-1500:]}")
        return result.stdout + result.stderr

    def wait_for_ssh(self, timeout: float = 600) -> float:
        """Seconds from power-on until SSH answers."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError("the machine stopped while booting (serial log in the evidence folder)")
            try:
                if self.ssh("true", check=False, timeout=20).strip() == "":
                    return time.monotonic() - self.started_at
            except subprocess.TimeoutExpired:
                pass
            time.sleep(2)
        raise RuntimeError(f"no SSH within {timeout:g} s of power-on")

    def wait_until(self, command: str, timeout: float, every: float = 3.0) -> str:
        """Run COMMAND until it succeeds; its output. RuntimeError after TIMEOUT seconds."""
        deadline = time.monotonic() + timeout
        output = ""
        while time.monotonic() < deadline:
            result = subprocess.run(self.ssh_command() + [command], capture_output=True, text=True, timeout=120)
            output = result.stdout + result.stderr
            if result.returncode == 0:
                return output
            time.sleep(every)
        raise RuntimeError(f"not within {timeout:g} s: {command}: {output.strip()[-800:]}")

    def tunnel(self, port: int) -> subprocess.Popen:
        """`ssh -L PORT:localhost:PORT`, as README has an admin type it: this machine's loopback
        PORT forwarded to the same port inside; the ssh process."""
        process = subprocess.Popen(self.ssh_command("-N", "-L", f"{port}:localhost:{port}", shared=False),
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return process
            except OSError:
                time.sleep(0.3)
        process.kill()
        raise RuntimeError(f"the SSH tunnel to port {port} did not open")

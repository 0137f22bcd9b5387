"""The systemd drop-ins that open kiosk.service's sandbox exactly as far as the config needs.

kiosk.service runs with no network and no GPIO. With mqtt.enabled, kiosk-mqtt.conf allows
Internet sockets, and traffic only to the broker's addresses (and to the name servers, when the
broker is given by name, so it can be looked up); with door.enabled, kiosk-door.conf adds the
gpio group, the GPIO chips (char-gpiochip) and closing the door after the daemon ends, however it
ended. `kiosk sandbox --write` puts them into /etc/systemd/system/kiosk.service.d/ and removes
those no longer needed; the addresses are looked up when it runs, so run it again when the
broker moves.
"""

from __future__ import annotations

import ipaddress
import re
import socket
import sys
from collections.abc import Callable
from pathlib import Path

from kiosk.config import Config
from kiosk.errors import ConfigError

DROPIN_DIR = Path("/etc/systemd/system/kiosk.service.d")
MQTT_DROPIN, DOOR_DROPIN = "kiosk-mqtt.conf", "kiosk-door.conf"
RESOLV_CONF = Path("/etc/resolv.conf")
HEADER = "# Written by `kiosk sandbox --write` from {config}; run it again after changing {section}:.\n"

Resolver = Callable[[str], list[str]]


def resolve(host: str) -> list[str]:
    """Every address HOST stands for."""
    try:
        return sorted({str(info[4][0]) for info in socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)})
    except OSError as exc:
        raise ConfigError(f"mqtt.host: cannot look up {host}: {exc}") from None


def name_servers(resolv_conf: Path = RESOLV_CONF) -> list[str]:
    try:
        text = resolv_conf.read_text(encoding="utf-8")
    except OSError:
        return []
    return re.findall(r"^\s*nameserver\s+(\S+)", text, flags=re.M)


def mqtt_dropin(config: Config, lookup: Resolver = resolve, resolv_conf: Path = RESOLV_CONF) -> str:
    host = config.mqtt.host
    try:
        addresses = [str(ipaddress.ip_address(host))]
        servers: list[str] = []
    except ValueError:
        addresses, servers = lookup(host), name_servers(resolv_conf)
    lines = [HEADER.format(config=config.source_path or "the built-in defaults", section="mqtt"),
             "[Service]",
             f"# The broker {host}:{config.mqtt.port}" + (" and the name servers that look it up." if servers else "."),
             "PrivateNetwork=no",
             "RestrictAddressFamilies=AF_INET AF_INET6",
             *(f"IPAddressAllow={address}" for address in addresses + servers)]
    return "\n".join(lines) + "\n"


def door_dropin(config: Config, kiosk: str | None = None) -> str:
    kiosk = kiosk or str(Path(sys.executable).with_name("kiosk"))
    command = f"{kiosk} --config {config.source_path} door close" if config.source_path else f"{kiosk} door close"
    lines = [HEADER.format(config=config.source_path or "the built-in defaults", section="door"),
             "[Service]",
             "# The relay: /dev/gpiochip* belong to the gpio group.",
             "SupplementaryGroups=gpio",
             "DeviceAllow=char-gpiochip rw",
             "# However the daemon ended (stopped, crashed, killed by the watchdog), the door is closed.",
             f"ExecStopPost={command}"]
    return "\n".join(lines) + "\n"


def dropins(config: Config, lookup: Resolver = resolve) -> dict[str, str]:
    """File name -> contents, for the drop-ins this config needs."""
    wanted = {}
    if config.mqtt.enabled:
        wanted[MQTT_DROPIN] = mqtt_dropin(config, lookup)
    if config.door.enabled:
        wanted[DOOR_DROPIN] = door_dropin(config)
    return wanted


def write_dropins(config: Config, directory: Path = DROPIN_DIR, lookup: Resolver = resolve) -> list[str]:
    """Write the needed drop-ins into DIRECTORY and remove unneeded ones; returns what changed."""
    changes = []
    wanted = dropins(config, lookup)
    for name in (MQTT_DROPIN, DOOR_DROPIN):
        path = directory / name
        if name in wanted:
            if not path.exists() or path.read_text(encoding="utf-8") != wanted[name]:
                directory.mkdir(parents=True, exist_ok=True)
                path.write_text(wanted[name], encoding="utf-8")
                changes.append(f"wrote {path}")
        elif path.exists():
            path.unlink()
            changes.append(f"removed {path}")
    return changes

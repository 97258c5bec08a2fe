"""Admin state: a port with `admin_state_up: false` has its device held down.

As Neutron's agents do (the Linux-bridge agent unplugs the tap, the OVS agent puts the port
on its dead VLAN): the port passes no traffic while it is down, and its QoS stays in place,
so nothing is removed that would let its traffic pass unshaped when it comes back. The loop
takes devices down before a pass's QoS changes and brings admin-up ones up after them, so
the first packet after an admin-up is already shaped.

One `ip -j link show` and at most one `ip -batch` per call, whatever the number of ports.
"""
from __future__ import annotations

from collections.abc import Sequence

from netqos import trust
from netqos.wire import PortQos
from netqos.agent.tc.runner import Runner


def up_devices(runner: Runner) -> dict[str, bool]:
    """Every link of the runner's namespace: name -> administratively up (IFF_UP)."""
    return {link["ifname"]: "UP" in link.get("flags", ())
            for link in runner.ip_json("link", "show")}


def hold(runner: Runner, ports: Sequence[PortQos], up: bool) -> dict[str, str]:
    """Bring the devices of `ports` up (or down) where they are not; errors by port id.
    Ports whose device is not a link here are left alone (discovery reports them)."""
    if not ports:
        return {}
    state = up_devices(runner)
    wanted, owners, errors = [], [], {}
    for port in ports:
        if port.device not in state or state[port.device] == up:
            continue
        try:   # a name discovery found (OVSDB, libvirt) is checked like a pulled one
            device = trust.device_name(port.device)
        except trust.Untrusted as exc:
            errors[port.port_id] = f"cannot set the link {'up' if up else 'down'}: {exc}"
            continue
        wanted.append(f"link set dev {device} {'up' if up else 'down'}")
        owners.append(port.port_id)
    if wanted:
        errors.update({owner: f"cannot set the link {'up' if up else 'down'}: {reason}"
                       for owner, reason in runner.batch("ip", wanted).blame(owners).items()})
    return errors

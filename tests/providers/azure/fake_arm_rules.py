"""What real ARM refuses, taught to the fake: each rule returns ARM's error body (code and message as
ARM words them) or None. Routes call these before they change state, as ARM validates first.

Sources are cited per rule; the fake must not accept what Azure refuses, or the adapter's tests pass
against a cloud that would stop a real user at the first launch.
"""

from __future__ import annotations

from typing import Any

Refusal = tuple[int, dict[str, Any], dict[str, Any]]

# Azure Linux VMs take RSA and Ed25519 public keys (not ECDSA):
# https://learn.microsoft.com/en-us/azure/virtual-machines/linux/mac-create-ssh-keys
_KEY_TYPES = ("ssh-rsa", "ssh-ed25519")


def _invalid_parameter(message: str, target: str) -> Refusal:
    return 400, {}, {"error": {"code": "InvalidParameter", "message": message, "target": target}}


def linux_authentication(vm_properties: dict[str, Any]) -> Refusal | None:
    """A Linux VM with password log-in disabled must carry a usable SSH public key.

    LinuxConfiguration.disablePasswordAuthentication / ssh.publicKeys, REST reference:
    https://learn.microsoft.com/en-us/rest/api/compute/virtual-machines/create-or-update#linuxconfiguration
    ARM answers 400 InvalidParameter with target `linuxConfiguration` when neither a password nor a
    key is given, and with target `linuxConfiguration.ssh.publicKeys.keyData` for a malformed key.
    """
    os_profile = vm_properties.get("osProfile") or {}
    linux = os_profile.get("linuxConfiguration") or {}
    keys = [k for k in ((linux.get("ssh") or {}).get("publicKeys") or []) if k.get("keyData")]
    if linux.get("disablePasswordAuthentication") and not keys and not os_profile.get("adminPassword"):
        return _invalid_parameter(
            "Authentication using either SSH or by user name and password must be enabled in Linux profile.",
            "linuxConfiguration",
        )
    for key in keys:
        fields = str(key["keyData"]).split()
        if len(fields) < 2 or fields[0] not in _KEY_TYPES:
            return _invalid_parameter(
                "The value of parameter linuxConfiguration.ssh.publicKeys.keyData is invalid.",
                "linuxConfiguration.ssh.publicKeys.keyData",
            )
    return None


# Spot refusals, worded as https://learn.microsoft.com/en-us/azure/virtual-machines/error-codes-spot lists them.
def spot_request(vm_properties: dict[str, Any], location: str, spot_price: float | None,
                 spot_capable: bool) -> Refusal | None:
    """A Spot VM of a size that sells no Spot is `AzureSpotIsNotSupportedForThisVMSize`; a max price
    below the current Spot price is `SpotPriceGreaterThanProvidedMaxPrice` (-1 means "never evict
    for price" and is always accepted)."""
    if vm_properties.get("priority") != "Spot":
        return None
    size = (vm_properties.get("hardwareProfile") or {}).get("vmSize", "")
    if not spot_capable:
        return 400, {}, {"error": {"code": "AzureSpotIsNotSupportedForThisVMSize",
                                   "message": f"Azure Spot Virtual Machine is not supported for this VM size {size}."}}
    max_price = float((vm_properties.get("billingProfile") or {}).get("maxPrice", -1))
    if max_price != -1 and spot_price is not None and max_price < spot_price:
        message = (f"Unable to perform operation 'Create VM' since the provided maximum price '{max_price} USD' "
                   f"is lower than the current spot price '{spot_price} USD' for Azure Spot VM size '{size}'.")
        return 400, {}, {"error": {"code": "SpotPriceGreaterThanProvidedMaxPrice", "message": message}}
    return None


def nic_reserved(nic: str, reserved: dict[str, tuple[float, str]], now: float) -> Refusal | None:
    """After a VM create that failed, ARM keeps the VM's NIC reserved for it for 180 s: deleting the
    NIC, or giving it to another VM, is refused until then with 400 NicReservedForAnotherVm (the
    message names the wait). Seen in Azure's own tooling and others, e.g.
    https://github.com/Azure/karpenter-provider-azure/issues/92 and
    https://github.com/microsoft/AzureTRE/pull/4511 (which waits 180 s before deleting the NIC).
    """
    until, vm_id = reserved.get(nic, (0.0, ""))
    if now >= until:
        reserved.pop(nic, None)
        return None
    seconds = max(1, round(until - now))
    message = (f"Nic(s) in request is reserved for another Virtual Machine for {seconds} seconds. Please provide "
               f"another nic(s) or retry after {seconds} seconds. Reserved VM: {vm_id}")
    return 400, {}, {"error": {"code": "NicReservedForAnotherVm", "message": message}}


def nic_subnet(nic_path: str, nic: dict[str, Any], subnets: dict[str, str]) -> Refusal | None:
    """A NIC must be in the same region as the virtual network of its subnet; ARM answers a subnet of
    another region (or one that does not exist) with 400 InvalidResourceReference, e.g.
    https://learn.microsoft.com/en-us/azure/virtual-network/virtual-network-network-interface
    (a network interface joins a virtual network in its own region only)."""
    where = {subnet.lower(): location for location, subnet in subnets.items()}
    for config in (nic.get("properties") or {}).get("ipConfigurations") or []:
        subnet = str(((config.get("properties") or {}).get("subnet") or {}).get("id") or "")
        if where.get(subnet.lower()) != nic.get("location"):
            message = (f"Resource {subnet} referenced by resource {nic_path} was not found. Please make sure that "
                       "the referenced resource exists, and that both resources are in the same region.")
            return 400, {}, {"error": {"code": "InvalidResourceReference", "message": message}}
    return None


def vcpu_usage(vms: Any, location: str, limits: dict[tuple[str, str], int], sizes: dict[str, tuple[int, int, int]],
               families: dict[str, str], default_limit: int) -> dict[str, tuple[int, int]]:
    """usage name -> (vCPUs in use, limit) in `location`: Spot VMs count against `lowPriorityCores`,
    regular ones against their family and `cores` (https://learn.microsoft.com/en-us/azure/quotas/spot-quota)."""
    names = ["cores", "lowPriorityCores", *sorted(set(families.values()))]
    used = dict.fromkeys(names, 0)
    for vm in vms:
        if vm.get("location") != location:
            continue
        props = vm["properties"]
        size = props["hardwareProfile"]["vmSize"]
        vcpus = sizes.get(size, (0, 0, 0))[0]
        if props.get("priority") == "Spot":
            used["lowPriorityCores"] += vcpus
        else:
            used["cores"] += vcpus
            used[families[size]] += vcpus
    return {name: (used[name], limits.get((location, name), default_limit)) for name in names}


def quota(vm_properties: dict[str, Any], location: str, usage: dict[str, tuple[int, int]], vcpus: int,
          family: str) -> Refusal | None:
    """A VM that would take a quota past its limit: 409 OperationNotAllowed, worded as ARM words it
    (https://learn.microsoft.com/en-us/azure/azure-resource-manager/troubleshooting/error-resource-quota)."""
    spot = vm_properties.get("priority") == "Spot"
    for name, label in ((("lowPriorityCores", "LowPriorityCores"),) if spot else
                        ((family, f"{family} Cores"), ("cores", "Total Regional Cores"))):
        current, limit = usage.get(name, (0, 1 << 30))
        if current + vcpus > limit:
            message = (f"Operation could not be completed as it results in exceeding approved {label} quota. "
                       f"Location: {location}, Current Limit: {limit}, Current Usage: {current}, "
                       f"Additional Required: {vcpus}.")
            return 409, {}, {"error": {"code": "OperationNotAllowed", "message": message}}
    return None

"""What one launch sends to ARM: deterministic names, the NIC and the Spot VM bodies.

The VM name IS the idempotency key on Azure (a PUT on an existing name is an update, not a second VM),
so it is derived from `LaunchSpec.idempotency_key` by a hash: same key, same VM, across crashes and
replicas. The NIC and OS disk names derive from the VM name, so terminate can find them without
reading the VM (which may already be gone after an eviction).
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from providers.azure.config import AzureConfig
from providers.azure.offers import azure_zone
from providers.base import LaunchSpec
from providers.bootstrap import render_startup_script

VM_PREFIX = "spotwise-"
PRICE_TAG = "spotwise-price"  # the launch-time hourly price, so describe() needs no price lookup


def vm_name(idempotency_key: str) -> str:
    """`spotwise-` + 24 hex chars: 33 characters, inside both the 64-character VM name limit and the
    64-character Linux computer name limit, and only characters both allow."""
    return VM_PREFIX + hashlib.sha256(idempotency_key.encode()).hexdigest()[:24]


def nic_name(vm: str) -> str:
    return f"{vm}-nic"


def os_disk_name(vm: str) -> str:
    return f"{vm}-osdisk"


def custom_data(spec: LaunchSpec) -> str:
    """The shared agent start-up script, base64 as ARM's `customData` requires (Linux runs it via
    cloud-init). Deterministic for a spec, so a re-issued PUT carries identical parameters."""
    script = render_startup_script(spec.bootstrap, notice_source="azure")
    return base64.b64encode(script.encode()).decode()


def nic_body(config: AzureConfig, spec: LaunchSpec) -> dict[str, Any]:
    """A NIC in the location's subnet, private address only (the agent dials out to the daemon)."""
    return {
        "location": spec.offer.region,
        "tags": dict(spec.tags),
        "properties": {
            "ipConfigurations": [
                {
                    "name": "ipconfig1",
                    "properties": {
                        "subnet": {"id": config.subnet_for(spec.offer.region)},
                        "privateIPAllocationMethod": "Dynamic",
                    },
                }
            ]
        },
    }


def _image_reference(image: dict[str, str]) -> dict[str, str]:
    if "id" in image:
        return {"id": image["id"]}
    return {key: image.get(key, "latest") for key in ("publisher", "offer", "sku", "version")}


def vm_body(config: AzureConfig, spec: LaunchSpec, vm: str, nic_id: str) -> dict[str, Any]:
    """The Spot (or regular) VM: eviction deletes it, max price -1 unless the job capped the price.

    The OS disk is deleted with the VM (deleteOption Delete). The NIC is left on purpose
    (deleteOption Detach): after an eviction it is the durable trace that tells "evicted" apart from
    "deleted by us"; terminate() deletes it.
    """
    offer = spec.offer
    properties: dict[str, Any] = {
        "hardwareProfile": {"vmSize": offer.instance_type},
        "storageProfile": {
            "imageReference": _image_reference(config.image),
            "osDisk": {
                "name": os_disk_name(vm),
                "createOption": "FromImage",
                "deleteOption": "Delete",
                "diskSizeGB": spec.disk_gb or config.os_disk_gb,  # the job's size, if it asks
                "managedDisk": {"storageAccountType": config.os_disk_type},
            },
        },
        "osProfile": {
            "computerName": vm,
            "adminUsername": config.admin_username,
            "customData": custom_data(spec),
            "linuxConfiguration": {
                "disablePasswordAuthentication": True,
                "ssh": {
                    "publicKeys": [
                        {
                            "path": f"/home/{config.admin_username}/.ssh/authorized_keys",
                            "keyData": config.ssh_public_key,
                        }
                    ]
                },
            },
        },
        "networkProfile": {
            "networkInterfaces": [{"id": nic_id, "properties": {"primary": True, "deleteOption": "Detach"}}]
        },
    }
    if offer.spot:
        properties["priority"] = "Spot"
        properties["evictionPolicy"] = "Delete"
        cap = spec.max_price_per_hour
        properties["billingProfile"] = {"maxPrice": float(cap) if cap else -1.0}
    else:
        properties["priority"] = "Regular"
    body: dict[str, Any] = {
        "location": offer.region,
        "tags": {**spec.tags, PRICE_TAG: f"{offer.price_per_hour:.6f}"},
        "properties": properties,
    }
    zone = azure_zone(offer.region, offer.zone)
    if zone:
        body["zones"] = [zone]
    return body


def resource_id(subscription_id: str, resource_group: str, kind: str, name: str) -> str:
    """An ARM resource id, e.g. kind="Microsoft.Network/networkInterfaces"."""
    return f"/subscriptions/{subscription_id}/resourceGroups/{resource_group}/providers/{kind}/{name}"

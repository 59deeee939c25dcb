"""The `instances.insert` request for one LaunchSpec, built deterministically from the spec.

Idempotency has two layers. The instance name is derived from the idempotency key, so a repeat
insert can at worst collide with the instance it already made (409 alreadyExists, which the
adapter treats as "already launched"). The `request_id` (a UUID, so uuid5 of the key) lets GCE
itself recognise the repeat and return the first operation instead of doing anything twice.
Everything else (labels, metadata, startup script) is a pure function of the spec, so a repeat
after a crash sends a byte-identical request.
"""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

from providers.base import LaunchSpec
from providers.bootstrap import DEFAULT_INSTALL, render_startup_script
from providers.gcp.labels import TAGS_METADATA_KEY, tags_metadata, to_labels
from providers.gcp.network import subnetwork_for
from providers.gcp.settings import GCPSettings
from providers.gcp.shapes import ACCELERATOR_OPTIMISED, GPU_ACCELERATOR, family_of, parse_instance_type

NAME_PREFIX = "sw-"
PRICE_METADATA_KEY = "spotwise-price-per-hour"
_REQUEST_NAMESPACE = uuid.UUID("6f3c2a52-7d0e-4a53-9a8e-5b1f0c6e2d41")  # fixed: request ids must be stable


def instance_name(idempotency_key: str) -> str:
    """RFC 1035 name (starts with a letter, [a-z0-9-], <= 63) that only this key maps to."""
    return NAME_PREFIX + hashlib.sha256(idempotency_key.encode()).hexdigest()[:20]


def request_id(idempotency_key: str) -> str:
    return str(uuid.uuid5(_REQUEST_NAMESPACE, idempotency_key))


def accelerators_for(instance_type: str, gpu_model: str, gpu_count: int) -> tuple[str, str, int]:
    """(machine type, accelerator type to attach or "", count) for an offer's instance type."""
    machine, accelerator, count = parse_instance_type(instance_type)
    if accelerator or family_of(machine) in ACCELERATOR_OPTIMISED or not gpu_count:
        return machine, accelerator, count
    return machine, GPU_ACCELERATOR.get(gpu_model, ""), gpu_count


def build_instance(spec: LaunchSpec, settings: GCPSettings, project: str) -> Any:
    from google.cloud import compute_v1

    offer = spec.offer
    zone = offer.zone
    machine, accelerator, count = accelerators_for(offer.instance_type, offer.gpu_model, offer.gpu_count)
    labels = to_labels(spec.tags)
    script = render_startup_script(
        spec.bootstrap, notice_source="gcp", install_command=settings.install_command or DEFAULT_INSTALL
    )
    scheduling = compute_v1.Scheduling(
        provisioning_model="SPOT" if offer.spot else "STANDARD",
        on_host_maintenance="TERMINATE",  # GPUs cannot live-migrate
        automatic_restart=not offer.spot,
    )
    if offer.spot:
        # DELETE, not STOP: a preempted VM would otherwise keep its disk (and bill for it) forever.
        scheduling.instance_termination_action = "DELETE"
    interface = compute_v1.NetworkInterface(network=settings.network)
    subnetwork = subnetwork_for(settings.subnetwork, zone)  # regional: the one of this VM's region
    if subnetwork:
        interface.subnetwork = subnetwork
    if settings.public_ip:
        interface.access_configs = [compute_v1.AccessConfig(name="External NAT", type_="ONE_TO_ONE_NAT")]
    instance = compute_v1.Instance(
        name=instance_name(spec.idempotency_key),
        machine_type=f"zones/{zone}/machineTypes/{machine}",
        labels=labels,
        scheduling=scheduling,
        disks=[compute_v1.AttachedDisk(
            boot=True, auto_delete=True,
            initialize_params=compute_v1.AttachedDiskInitializeParams(
                source_image=f"projects/{settings.image_project}/global/images/family/{settings.image_family}",
                disk_size_gb=spec.disk_gb or settings.disk_size_gb, labels=labels,  # the job's size, if it asks
                disk_type=f"zones/{zone}/diskTypes/{settings.disk_type}",
            ),
        )],
        network_interfaces=[interface],
        metadata=compute_v1.Metadata(items=[
            compute_v1.Items(key="startup-script", value=script),
            compute_v1.Items(key="install-nvidia-driver", value="True"),
            compute_v1.Items(key=TAGS_METADATA_KEY, value=tags_metadata(spec.tags)),
            compute_v1.Items(key=PRICE_METADATA_KEY, value=repr(float(offer.price_per_hour))),
        ]),
    )
    if accelerator:
        instance.guest_accelerators = [compute_v1.AcceleratorConfig(
            accelerator_type=f"projects/{project}/zones/{zone}/acceleratorTypes/{accelerator}",
            accelerator_count=count,
        )]
    if settings.service_account:
        instance.service_accounts = [compute_v1.ServiceAccount(
            email=settings.service_account, scopes=["https://www.googleapis.com/auth/cloud-platform"])]
    return instance

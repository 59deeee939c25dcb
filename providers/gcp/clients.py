"""The one factory for every Google client the adapter uses.

Why one place: a client built without the configured endpoint talks to the real Google API.
`InstancesClient.insert(...)` returns an ExtendedOperation whose `.result()` polls through such
an internal client, so the adapter never calls it; it uses the `*_unary` methods and waits with
the `ZoneOperationsClient` built here (see operations.py). SDK imports stay inside this module
(importing compute_v1 costs ~1 s), so the daemon starts fast when GCP is not enabled.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from providers.errors import AuthError
from providers.gcp.settings import GCPSettings

SCOPES = ("https://www.googleapis.com/auth/cloud-platform",)


@dataclass(frozen=True, slots=True)
class ComputeClients:
    """Compute Engine clients sharing one endpoint and one set of credentials."""

    instances: Any
    zones: Any
    machine_types: Any
    accelerator_types: Any
    zone_operations: Any
    global_operations: Any
    regions: Any  # regions.get: GPU quotas per region (providers/gcp/quotas.py)
    images: Any  # the launch preflight reads what an insert references (providers/gcp/preflight.py)
    networks: Any
    subnetworks: Any


def load_credentials(settings: GCPSettings) -> tuple[Any, str | None]:
    """(credentials, project they name). ADC by default; "anonymous" for fakes; else a key file."""
    import google.auth
    from google.auth import exceptions as aexc
    from google.auth.credentials import AnonymousCredentials

    if settings.credentials == "anonymous":
        return AnonymousCredentials(), None
    try:
        if settings.credentials == "adc":
            credentials, project = google.auth.default(scopes=list(SCOPES))
            return credentials, project
        from google.oauth2 import service_account

        credentials = service_account.Credentials.from_service_account_file(settings.credentials, scopes=SCOPES)
        return credentials, credentials.project_id
    except (aexc.DefaultCredentialsError, OSError, ValueError) as exc:
        raise AuthError(
            f"no usable GCP credentials ({exc}); run `gcloud auth application-default login` "
            "or set gcp.credentials to a service-account key file",
            provider="gcp",
        ) from exc


def _options(endpoint: str | None) -> dict[str, str] | None:
    # The scheme must be written out: a bare host:port makes the REST transport use https.
    return {"api_endpoint": endpoint} if endpoint else None


def build_compute_clients(credentials: Any, endpoint: str | None) -> ComputeClients:
    from google.cloud import compute_v1

    kwargs: dict[str, Any] = {"credentials": credentials, "transport": "rest", "client_options": _options(endpoint)}
    return ComputeClients(
        instances=compute_v1.InstancesClient(**kwargs),
        zones=compute_v1.ZonesClient(**kwargs),
        machine_types=compute_v1.MachineTypesClient(**kwargs),
        accelerator_types=compute_v1.AcceleratorTypesClient(**kwargs),
        zone_operations=compute_v1.ZoneOperationsClient(**kwargs),
        global_operations=compute_v1.GlobalOperationsClient(**kwargs),
        regions=compute_v1.RegionsClient(**kwargs),
        images=compute_v1.ImagesClient(**kwargs),
        networks=compute_v1.NetworksClient(**kwargs),
        subnetworks=compute_v1.SubnetworksClient(**kwargs),
    )


def build_billing_client(credentials: Any, endpoint: str | None) -> Any:
    from google.cloud import billing_v1

    return billing_v1.CloudCatalogClient(
        credentials=credentials, transport="rest", client_options=_options(endpoint)
    )

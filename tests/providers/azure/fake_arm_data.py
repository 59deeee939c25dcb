"""Seed data for the fake ARM server: VM sizes (resource SKUs) and retail prices per location.

Shapes follow the real APIs (resource SKU capabilities as name/value strings, restrictions with
reasonCode, retail price items with meterName/productName); prices are real public list prices.
"""

from __future__ import annotations

from typing import Any

SUBSCRIPTION = "00000000-0000-0000-0000-00000000beef"
RESOURCE_GROUP = "spotwise-test"

def subnet_id(location: str) -> str:
    """The subnet of the test VNet in `location` (a VNet, and so its subnets, belongs to one region)."""
    return (
        f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{RESOURCE_GROUP}/providers/Microsoft.Network"
        f"/virtualNetworks/spotwise-{location}/subnets/default"
    )


# location -> subnet, as an operator would configure them (the fake knows each subnet's region)
SUBNETS: dict[str, str] = {loc: subnet_id(loc) for loc in ("eastus", "westus", "westeurope")}
SUBNET_ID = SUBNETS["eastus"]

LOCATION_ZONES: dict[str, list[str]] = {
    "eastus": ["1", "2", "3"],
    "westus": [],
    "westeurope": ["1", "2", "3"],
}

# size -> (vCPUs, memory GB, GPUs reported by the SKU listing)
SIZES: dict[str, tuple[int, int, int]] = {
    "Standard_D2s_v3": (2, 8, 0),
    "Standard_NC4as_T4_v3": (4, 28, 1),
    "Standard_NC6s_v3": (6, 112, 1),
    "Standard_NC24ads_A100_v4": (24, 220, 1),
    "Standard_ND96asr_v4": (96, 900, 8),
    "Standard_NV6ads_A10_v5": (6, 55, 1),  # a sixth of an A10: must never be a whole-GPU offer
    "Standard_ND96isr_H100_v5": (96, 1900, 8),
    "Standard_NV36ads_A10_v5": (36, 440, 1),  # a whole A10, but a vGPU: GRID driver only
    "Standard_ND96isr_MI300X_v5": (96, 1850, 8),  # AMD
    "Standard_NV32as_v4": (32, 112, 1),  # AMD MI25
}

# size -> the quota family its regular vCPUs count against (the resource SKU's `family`)
FAMILIES: dict[str, str] = {
    "Standard_D2s_v3": "standardDSv3Family",
    "Standard_NC4as_T4_v3": "standardNCASv3_T4Family",
    "Standard_NC6s_v3": "standardNCSv3Family",
    "Standard_NC24ads_A100_v4": "StandardNCADSA100v4Family",
    "Standard_ND96asr_v4": "standardNDASv4_A100Family",
    "Standard_NV6ads_A10_v5": "StandardNVADSA10v5Family",
    "Standard_ND96isr_H100_v5": "standardNDSH100v5Family",
    "Standard_NV36ads_A10_v5": "StandardNVADSA10v5Family",
    "Standard_ND96isr_MI300X_v5": "standardNDISRMI300Xv5Family",
    "Standard_NV32as_v4": "standardNVASv4Family",
}
DEFAULT_QUOTA = 1000  # vCPUs per usage name unless a test sets `state.quota_limits`

# (location, size) -> (on-demand, spot) USD/hour; a missing entry = not sold there
PRICES: dict[tuple[str, str], tuple[float, float]] = {
    ("eastus", "Standard_D2s_v3"): (0.096, 0.0096),
    ("eastus", "Standard_NC4as_T4_v3"): (0.526, 0.204246),
    ("eastus", "Standard_NC6s_v3"): (3.06, 0.565488),
    ("eastus", "Standard_NC24ads_A100_v4"): (3.673, 0.746721),
    ("eastus", "Standard_ND96asr_v4"): (27.197, 5.98334),
    ("eastus", "Standard_NV6ads_A10_v5"): (0.454, 0.083899),
    ("eastus", "Standard_ND96isr_H100_v5"): (98.32, 18.169536),
    ("eastus", "Standard_NV36ads_A10_v5"): (3.2, 0.64),
    ("eastus", "Standard_ND96isr_MI300X_v5"): (48.0, 9.6),
    ("eastus", "Standard_NV32as_v4"): (1.8, 0.36),
    ("westus", "Standard_NC24ads_A100_v4"): (3.673, 0.612),
    ("westus", "Standard_NC4as_T4_v3"): (0.526, 0.19),
    ("westeurope", "Standard_NC24ads_A100_v4"): (4.04, 0.81),
    ("westeurope", "Standard_ND96isr_H100_v5"): (108.0, 20.0),
}

# Restrictions as ARM reports them: a whole location, or some zones.
RESTRICTIONS: dict[tuple[str, str], list[dict[str, Any]]] = {
    ("westeurope", "Standard_ND96isr_H100_v5"): [
        {
            "type": "Location",
            "values": ["westeurope"],
            "restrictionInfo": {"locations": ["westeurope"]},
            "reasonCode": "NotAvailableForSubscription",
        }
    ],
    ("eastus", "Standard_NC24ads_A100_v4"): [
        {
            "type": "Zone",
            "values": ["eastus"],
            "restrictionInfo": {"locations": ["eastus"], "zones": ["3"]},
            "reasonCode": "NotAvailableForSubscription",
        }
    ],
}


def resource_skus(location: str, spot_incapable: set[str] | None = None) -> list[dict[str, Any]]:
    """Resource SKU entries for one location (the /skus API filtered by location)."""
    skus = []
    for (loc, size), _ in PRICES.items():
        if loc != location:
            continue
        vcpus, memory, gpus = SIZES[size]
        spot = "False" if size in (spot_incapable or ()) else "True"
        caps = [("vCPUs", str(vcpus)), ("MemoryGB", str(memory)), ("LowPriorityCapable", spot)]
        if gpus:
            caps.append(("GPUs", str(gpus)))
        skus.append(
            {
                "resourceType": "virtualMachines",
                "name": size,
                "family": FAMILIES[size],
                "tier": "Standard",
                "size": size.removeprefix("Standard_"),
                "locations": [location],
                "locationInfo": [{"location": location, "zones": LOCATION_ZONES[location]}],
                "capabilities": [{"name": name, "value": value} for name, value in caps],
                "restrictions": RESTRICTIONS.get((location, size), []),
            }
        )
    # a non-VM SKU in the same listing, which the adapter must skip
    skus.append({"resourceType": "disks", "name": "Premium_LRS", "locations": [location], "capabilities": []})
    return skus


def vm_sizes(location: str) -> list[dict[str, Any]]:
    return [
        {
            "name": s["name"],
            "numberOfCores": SIZES[s["name"]][0],
            "memoryInMB": SIZES[s["name"]][1] * 1024,
            "osDiskSizeInMB": 1047552,
            "resourceDiskSizeInMB": 0,
            "maxDataDiskCount": 8,
        }
        for s in resource_skus(location)
        if s["resourceType"] == "virtualMachines"
    ]


def retail_items(region: str) -> list[dict[str, Any]]:
    """Retail price items for a region, including the meters an adapter must ignore."""
    items: list[dict[str, Any]] = []
    for (loc, size), (on_demand, spot) in sorted(PRICES.items()):
        if loc != region:
            continue
        short = size.removeprefix("Standard_").replace("_", " ")
        base = {
            "currencyCode": "USD",
            "armRegionName": loc,
            "armSkuName": size,
            "type": "Consumption",
            "unitOfMeasure": "1 Hour",
            "serviceName": "Virtual Machines",
            "isPrimaryMeterRegion": True,
        }
        product = f"Virtual Machines {short} Series"
        items += [
            {**base, "retailPrice": on_demand, "meterName": short, "productName": product},
            {**base, "retailPrice": spot, "meterName": f"{short} Spot", "productName": product},
            {**base, "retailPrice": spot * 0.9, "meterName": f"{short} Low Priority", "productName": product},
            {
                **base,
                "retailPrice": on_demand * 2,
                "meterName": f"{short} Spot",
                "productName": f"{product} Windows",
            },
        ]
    return items

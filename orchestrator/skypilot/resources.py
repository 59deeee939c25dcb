"""SkyPilot's `resources:` section as Spotwise `resources` fields. Pure: plain data in, plain data and problems out.

Every field SkyPilot documents (https://docs.skypilot.co/en/latest/reference/yaml-spec.html) is either mapped here or
refused with a line that names it and says what to do instead: a field dropped without a word would run the job
somewhere its author did not ask for (a cheaper GPU, the wrong region, no container).

Candidates ("any of these"): a set `{A100:8, H100:8}`, a list `[L4:1, A10G:1]` (SkyPilot tries a list in order), and
`any_of:` / `ordered:` lists of resource overrides become `accelerators` + `accelerator_candidates`, with
`candidate_order: listed` for the ordered forms. Spotwise's candidates differ only in GPU type and count, so the
other fields of every `any_of`/`ordered` entry must agree (a per-candidate cloud or price is refused by name).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from typing import Any

from providers.gpus import canonical_gpu
from providers.plugin import plugins

_NUMBER_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(\+?)\s*$")
_MEMORY_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(?:GB|G|GiB)?\s*(\+?)\s*$", re.IGNORECASE)

# SkyPilot resource fields Spotwise cannot honour, with what to do. Checked before anything is mapped.
REFUSED: dict[str, str] = {
    "disk_tier": "Spotwise does not choose disk tiers (the provider's configured disk type is used); remove the "
                 "field",
    "network_tier": "Spotwise does not choose network tiers; remove the field",
    "ports": "Spotwise opens no inbound ports on its instances (it runs batch jobs, not services); remove the field "
             "and serve from a SkyPilot cluster or behind your own load balancer",
    "labels": "Spotwise tags instances with its own cluster/job tags only; put job labels in a Spotwise spec's "
              "`labels` instead",
    "accelerator_args": "TPU runtime arguments are not supported; remove the field (GCP TPU slices are not placed "
                        "by Spotwise)",
    "autostop": "a Spotwise job's instance stops when its `run` ends; remove the field",
    "priority": "Spotwise priorities are a spec's top-level `priority` (-1000..1000); remove resources.priority",
    "priority_class": "Kubernetes priority classes have no Spotwise equivalent; remove the field",
    "volumes": "Spotwise attaches no volumes; copy the data with file_mounts from a bucket instead",
    "local_disk": "Spotwise does not select local NVMe disks; remove the field",
    "ephemeral_storage": "Kubernetes ephemeral storage has no Spotwise equivalent; remove the field",
}
_INTERNAL = "an internal SkyPilot field with no Spotwise equivalent; remove it"
CANDIDATE_FIELDS = ("accelerators", "infra", "cloud", "region", "zone")  # what may differ between any_of entries
PLACE_FIELDS = ("clouds", "regions", "zones")


def _count(name: str, value: Any, where: str) -> tuple[int | None, str | None]:
    """A GPU count from SkyPilot's `{A100: 8}` value (None: 1); fractional GPUs are refused."""
    if value is None:
        return 1, None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) \
            or value != int(value) or value < 1:
        return None, (f"{where}: {name}: {value!r} is not a whole GPU count; Spotwise places whole GPUs (write "
                      f"{name}:1 or more)")
    return int(value), None


def accelerator_options(value: Any, where: str = "resources.accelerators") -> tuple[list[str], bool, list[str]]:
    """(['A100:8', ...], ordered, problems) for every form SkyPilot accepts: 'A100', 'A100:8', {A100: 8},
    {A100:8, H100:8} (a set: YAML reads it as {A100:8: null, H100:8: null}), and a list (ordered: SkyPilot tries it
    in the order written)."""
    problems: list[str] = []
    items: list[tuple[str, Any]] = []
    ordered = False
    if isinstance(value, str):
        text = value.strip()
        if text.startswith(("{", "[")):  # a quoted set or list: SkyPilot refuses it too
            return [], False, [f"{where}: {value!r} is quoted, so it is one name, not a set; write it unquoted: "
                               f"accelerators: {text}"]
        items = [(text, None)]
    elif isinstance(value, dict):
        items = list(value.items())
    elif isinstance(value, list):
        ordered = True
        for entry in value:
            if not isinstance(entry, str):
                problems.append(f"{where}: {entry!r} is not a GPU; write list entries like 'A100:8'")
            else:
                items.append((entry, None))
    else:
        return [], False, [f"{where}: {value!r} is not an accelerator; write 'A100:8', {{A100: 8}} or a list"]
    out: list[str] = []
    for key, count_value in items:
        name, _, count_text = str(key).strip().partition(":")
        if count_text:
            if count_value is not None:
                problems.append(f"{where}: {key!r} gives the count twice; write {name}: N or '{name}:N'")
                continue
            try:
                count_value = float(count_text)
            except ValueError:
                problems.append(f"{where}: {key!r}: the GPU count must be a number, e.g. A100:8")
                continue
        count, problem = _count(name, count_value, where)
        if problem:
            problems.append(problem)
            continue
        if name.lower().startswith("tpu-"):
            problems.append(f"{where}: {name}: TPU slices are not placed by Spotwise; ask for a GPU (e.g. A100:8)")
            continue
        option = f"{canonical_gpu(name)}:{count}"  # SkyPilot's A100-80GB, H100, L4, T4, V100, A10G: one vocabulary
        if option not in out:
            out.append(option)
    if not out and not problems:
        problems.append(f"{where}: names no GPU; remove it for a CPU-only job")
    return out, ordered, problems


def _amount(value: Any, field: str, pattern: re.Pattern[str]) -> tuple[float | None, str | None]:
    """SkyPilot's `cpus`/`memory`: 4, '4' (SkyPilot: exactly) or '4+' (at least). Spotwise's are minimums and it
    takes the cheapest machine that has them, which for an exact request is the same machine or a cheaper larger
    one (docs/skypilot.md)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        if math.isfinite(value) and value > 0:
            return float(value), None
    elif isinstance(value, str):
        match = pattern.match(value)
        if match and float(match.group(1)) > 0:
            return float(match.group(1)), None
        if field == "memory" and value.strip().lower().endswith("x"):
            return None, (f"resources.memory: {value!r} (a multiple of the vCPUs) is not supported; write GB, "
                          "e.g. memory: 32+")
    example = "4+" if field == "cpus" else "32+"
    return None, (f"resources.{field}: {value!r} is not an amount; write a number or at least one, e.g. "
                  f"{field}: {example}")


def _infra(value: Any) -> tuple[dict[str, list[str]], list[str]]:
    """`infra: aws`, `aws/us-east-1`, `aws/us-east-1/us-east-1a`, `*/us-east-1` (any cloud)."""
    if not isinstance(value, str) or not value.strip():
        return {}, [f"resources.infra: {value!r} is not an infra; write e.g. aws/us-east-1"]
    parts = value.strip().split("/")
    if parts[0].lower() in ("k8s", "kubernetes", "ssh", "slurm"):
        return {}, [f"resources.infra: {value!r}: Spotwise places jobs on cloud spot capacity (aws, gcp, azure), not "
                    "on Kubernetes, SSH node pools or Slurm; submit those with SkyPilot"]
    if len(parts) > 3:
        return {}, [f"resources.infra: {value!r} has more than cloud/region/zone"]
    out: dict[str, list[str]] = {}
    for key, part in zip(("cloud", "region", "zone"), parts, strict=False):
        if part and part != "*":
            out[key] = [part]
    return out, []


def _place(res: dict[str, Any]) -> tuple[dict[str, list[str]], list[str]]:
    """clouds/regions/zones from `infra` or `cloud`/`region`/`zone` (both at once is SkyPilot's error too)."""
    problems: list[str] = []
    place: dict[str, list[str]] = {}
    if "infra" in res:
        if any(k in res for k in ("cloud", "region", "zone")):
            return {}, ["resources.infra: give either infra or cloud/region/zone, not both"]
        place, problems = _infra(res["infra"])
    else:
        for key in ("cloud", "region", "zone"):
            value = res.get(key)
            if value is None:
                continue
            if not isinstance(value, str) or not value.strip():
                problems.append(f"resources.{key}: {value!r} is not a name")
            else:
                place[key] = [value.strip()]
    known = {p.skypilot_name: p for p in plugins() if p.skypilot_name}  # each cloud plugin names its own
    clouds = []
    for cloud in (c.lower() for c in place.get("cloud", [])):
        clouds.append(known[cloud].name if cloud in known else cloud)
        if cloud not in known:
            remote = ", ".join(name for name, p in known.items() if p.remote_instances)
            problems.append(f"resources.{'infra' if 'infra' in res else 'cloud'}: {cloud!r} is not a cloud Spotwise "
                            f"runs on; use one of {remote} or leave it out for the cheapest of all")
    out = {"clouds": clouds, "regions": place.get("region", []), "zones": place.get("zone", [])}
    return {k: v for k, v in out.items() if v}, problems


def _spot(value: Any) -> tuple[bool | None, str | None]:
    if isinstance(value, bool):
        return value, None
    return None, f"resources.use_spot: {value!r} is not true or false"


def _image(value: Any) -> tuple[str | None, str | None]:
    if isinstance(value, str) and value.strip().startswith("docker:"):
        return value.strip(), None
    if isinstance(value, dict):
        return None, ("resources.image_id: per-region images are machine images; Spotwise boots each cloud's own "
                      "image and runs the job in a container: write image_id: docker:IMAGE")
    return None, (f"resources.image_id: {value!r} is a machine image; Spotwise boots each cloud's own image and runs "
                  "the job in a container: write image_id: docker:IMAGE (e.g. "
                  "docker:nvidia/cuda:12.4.1-base-ubuntu22.04)")


def _single(res: dict[str, Any], where: str) -> tuple[dict[str, Any], list[str]]:
    """One resources mapping (no any_of/ordered) as Spotwise fields, plus `_gpus`/`_ordered` for the caller."""
    if not isinstance(res, dict):
        return {}, [f"{where}: must be a mapping of resource fields"]
    problems: list[str] = []
    out: dict[str, Any] = {}
    for key in res:
        if key in REFUSED:
            problems.append(f"{where}.{key}: not supported: {REFUSED[key]}")
        elif isinstance(key, str) and key.startswith("_"):
            problems.append(f"{where}.{key}: {_INTERNAL}")
    if res.get("accelerators") is not None:
        gpus, ordered, more = accelerator_options(res["accelerators"], f"{where}.accelerators")
        problems += more
        out["_gpus"], out["_ordered"] = gpus, ordered
    if "use_spot" in res:
        spot, problem = _spot(res["use_spot"])
        problems += [problem] if problem else []
        out["spot"] = spot
    place, more = _place(res)
    out.update(place)
    problems += more
    for field, target, pattern in (("cpus", "cpus", _NUMBER_RE), ("memory", "memory_gb", _MEMORY_RE)):
        if res.get(field) is not None:
            amount, problem = _amount(res[field], field, pattern)
            problems += [problem] if problem else []
            out[target] = amount
    if res.get("disk_size") is not None:
        size = res["disk_size"]
        if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= 65536:
            problems.append(f"resources.disk_size: {size!r} is not a size in GB; write a whole number, e.g. 256")
        else:
            out["disk_gb"] = size
    if res.get("instance_type") is not None:
        out["instance_type"] = str(res["instance_type"])
    if res.get("image_id") is not None:
        image, problem = _image(res["image_id"])
        problems += [problem] if problem else []
        out["_image"] = image
    if res.get("max_hourly_cost") is not None:
        out["_max_hourly_cost"] = res["max_hourly_cost"]
    if res.get("job_recovery") is not None:
        out["_job_recovery"] = res["job_recovery"]
    return out, problems


KNOWN = frozenset({"accelerators", "use_spot", "cloud", "region", "zone", "infra", "cpus", "memory", "instance_type",
                   "disk_size", "image_id", "max_hourly_cost", "job_recovery", "spot_recovery", "any_of", "ordered",
                   *REFUSED})


def _unknown(res: dict[str, Any], where: str) -> Iterator[str]:
    for key in res:
        if key not in KNOWN and not str(key).startswith("_"):
            yield (f"{where}.{key}: not a SkyPilot resources field Spotwise knows; see "
                   "https://docs.skypilot.co/en/latest/reference/yaml-spec.html and docs/skypilot.md")


def map_resources(res: Any) -> tuple[dict[str, Any], list[str]]:
    """SkyPilot `resources` -> (Spotwise `resources` fields plus `_image`, `_max_hourly_cost`, `_job_recovery` for
    the task mapper, problems)."""
    if res is None:
        return {}, []
    if not isinstance(res, dict):
        return {}, ["resources: must be a mapping (accelerators, use_spot, infra, ...)"]
    problems = list(_unknown(res, "resources"))
    res = dict(res)
    if "spot_recovery" in res:  # SkyPilot's older name, which SkyPilot itself now refuses
        problems.append("resources.spot_recovery: the old name of job_recovery; write job_recovery (SkyPilot "
                        "refuses spot_recovery too)")
        res.pop("spot_recovery")
    variants_key = "any_of" if "any_of" in res else "ordered" if "ordered" in res else None
    if variants_key and "any_of" in res and "ordered" in res:
        problems.append("resources: give any_of or ordered, not both")
    variants = res.pop("any_of", None) or res.pop("ordered", None) or []
    base, more = _single(res, "resources")
    problems += more
    if variants_key is None:
        return _finish(base), problems
    if not isinstance(variants, list) or not variants:
        return {}, [*problems, f"resources.{variants_key}: must be a list of resource overrides"]
    base_gpus: list[str] = list(base.pop("_gpus", []))
    base_place = {k: base.pop(k) for k in PLACE_FIELDS if k in base}
    gpu_sets: list[list[str]] = []
    places: list[dict[str, list[str]]] = []
    for i, variant in enumerate(variants):
        where = f"resources.{variants_key}[{i}]"
        if not isinstance(variant, dict):
            problems.append(f"{where}: must be a mapping of resource fields")
            continue
        problems += list(_unknown(variant, where))
        merged, more = _single({k: v for k, v in variant.items() if k in CANDIDATE_FIELDS}, where)
        problems += more
        for key, value in variant.items():  # Spotwise candidates differ in GPUs or place only: the rest must agree
            if key not in CANDIDATE_FIELDS and key in KNOWN and res.get(key) != value:
                problems.append(f"{where}.{key}: Spotwise candidates differ only in accelerators and infra/cloud/"
                                f"region/zone; give {key} once in resources (the same for every candidate)")
        gpu_sets.append(merged.get("_gpus") or base_gpus)
        own = {k: merged[k] for k in PLACE_FIELDS if k in merged}
        places.append(own if any(k in variant for k in ("infra", "cloud", "region", "zone")) else base_place)
    distinct_places = len({tuple(sorted((k, tuple(v)) for k, v in p.items())) for p in places})
    if variants_key == "ordered" and distinct_places > 1:
        problems.append("resources.ordered: an order of places (try this cloud or region first) is not kept by "
                        "Spotwise, which takes the cheapest place; write any_of, or pin one place")
    elif len({tuple(g) for g in gpu_sets}) > 1 and distinct_places > 1:
        problems.append(f"resources.{variants_key}: candidates that differ in both GPUs and place cannot be kept "
                        "apart by Spotwise (it would also accept each GPU in the other places); vary one of them, "
                        "or submit one job per place")
    gpus: list[str] = []
    for group in gpu_sets:
        gpus += [g for g in group if g not in gpus]
    for key in PLACE_FIELDS:  # the union; a candidate without a limit on `key` lifts it for all
        if places and all(p.get(key) for p in places):
            base[key] = list(dict.fromkeys(v for p in places for v in p[key]))
    base["_gpus"], base["_ordered"] = gpus, variants_key == "ordered"
    return _finish(base), problems


def _finish(fields: dict[str, Any]) -> dict[str, Any]:
    """`_gpus` as accelerators + accelerator_candidates (+ candidate_order: listed for SkyPilot's ordered forms)."""
    gpus = fields.pop("_gpus", None) or []
    ordered = fields.pop("_ordered", False)
    if gpus:
        fields["accelerators"] = gpus[0]
        if len(gpus) > 1:
            fields["accelerator_candidates"] = gpus[1:]
            if ordered:
                fields["candidate_order"] = "listed"
    return fields

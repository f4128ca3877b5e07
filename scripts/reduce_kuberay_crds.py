#!/usr/bin/env python3
"""Reduce KubeRay's CRDs to the JSON Schemas that tests/deploy/test_kubernetes.py validates our
manifests against: a pinned copy small enough to ship (the CRDs are megabytes, mostly
descriptions and the pod template repeated per group), regenerated with

    git clone --depth 1 --branch v1.7.0 https://github.com/ray-project/kuberay /tmp/kuberay
    python scripts/reduce_kuberay_crds.py --tag v1.7.0 --out deploy/kubernetes/crds \\
        /tmp/kuberay/ray-operator/config/crd/bases/ray.io_rayservices.yaml \\
        /tmp/kuberay/ray-operator/config/crd/bases/ray.io_rayjobs.yaml

Kept: types, properties, required, enums, items, maps' value schemas, numeric and length bounds,
int-or-string (as anyOf integer/string), nullable. Dropped: descriptions, defaults (a
required field with a default becomes optional, as the API server defaults before validating), formats,
list/map-type markers and CEL rules (x-kubernetes-validations: the API server evaluates them,
jsonschema cannot). Added: ``additionalProperties: false`` on every object that lists its
properties, which is what ``kubectl apply``'s strict field validation (the default since
Kubernetes 1.27) does with an unknown field. Subschemas that repeat are stored once under
``$defs``. The output records the source tag, files and their sha256.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from collections import Counter
from pathlib import Path
from typing import Any

import yaml

KEEP = ("type", "required", "enum", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "minItems", "maxItems",
        "minLength", "maxLength", "pattern", "minProperties", "maxProperties")
#: a repeated subschema is moved to $defs when its JSON is at least this long
MIN_SHARED = 400


def reduce_schema(node: dict[str, Any]) -> dict[str, Any]:
    """One OpenAPI v3 (structural) schema node as plain JSON Schema, descriptions dropped."""
    out: dict[str, Any] = {k: node[k] for k in KEEP if k in node}
    if node.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    for key in ("anyOf", "oneOf", "allOf"):
        if key in node and key not in out:
            out[key] = [reduce_schema(n) for n in node[key]]
    if "properties" in node:
        out["properties"] = {k: reduce_schema(v) for k, v in node["properties"].items()}
        # the API server fills defaults before it validates: a required field with one may be left out
        defaulted = {k for k, v in node["properties"].items() if "default" in v}
        if defaulted & set(out.get("required", ())):
            out["required"] = [k for k in out["required"] if k not in defaulted]
    if "items" in node:
        out["items"] = reduce_schema(node["items"])
    if isinstance(node.get("additionalProperties"), dict):
        out["additionalProperties"] = reduce_schema(node["additionalProperties"])
    elif "additionalProperties" in node:
        out["additionalProperties"] = node["additionalProperties"]
    elif "properties" in node and not node.get("x-kubernetes-preserve-unknown-fields"):
        out["additionalProperties"] = False  # kubectl's strict field validation
    if node.get("nullable") and isinstance(out.get("type"), str):
        out["type"] = [out["type"], "null"]
    return out


def _key(node: Any) -> str:
    return json.dumps(node, sort_keys=True, separators=(",", ":"))


def _children(node: dict[str, Any], fn: Any) -> dict[str, Any]:
    """``node`` with ``fn`` applied to each subschema (not to the ``properties`` map itself)."""
    out = dict(node)
    if "properties" in node:
        out["properties"] = {k: fn(v) for k, v in node["properties"].items()}
    for key in ("items", "additionalProperties"):
        if isinstance(node.get(key), dict):
            out[key] = fn(node[key])
    for key in ("anyOf", "oneOf", "allOf"):
        if key in node:
            out[key] = [fn(v) for v in node[key]]
    return out


def share_repeats(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema with every repeated subschema of MIN_SHARED characters or more stored once
    under ``$defs`` and referenced by ``$ref`` (largest first, so nested repeats go too)."""
    counts: Counter[str] = Counter()

    def count(node: dict[str, Any]) -> dict[str, Any]:
        counts[_key(node)] += 1
        return _children(node, count)

    count(schema)
    defs: dict[str, Any] = {}

    def replace(node: dict[str, Any], top: bool = False) -> dict[str, Any]:
        key = _key(node)
        if not top and counts[key] > 1 and len(key) >= MIN_SHARED:
            name = "s" + hashlib.sha256(key.encode()).hexdigest()[:12]
            if name not in defs:
                defs[name] = None  # placeholder: a def never refers to itself
                defs[name] = replace(node, top=True)
            return {"$ref": f"#/$defs/{name}"}
        return _children(node, replace)

    out = replace(schema, top=True)
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **out, "$defs": defs}


def crd_schema(path: Path, version: str) -> tuple[str, dict[str, Any]]:
    """(kind, reduced schema of ``version``) of one CRD file."""
    crd = yaml.safe_load(path.read_text())
    kind = crd["spec"]["names"]["kind"]
    [v] = [v for v in crd["spec"]["versions"] if v["name"] == version]
    return kind, share_repeats(reduce_schema(v["schema"]["openAPIV3Schema"]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("crds", nargs="+", type=Path, help="KubeRay CRD YAML files (ray-operator/config/crd/bases/ray.io_*.yaml)")
    ap.add_argument("--tag", required=True, help="the KubeRay release they come from, e.g. v1.7.0")
    ap.add_argument("--version", default="v1", help="the CRD version to keep")
    ap.add_argument("--out", type=Path, required=True, help="folder for <kind>.schema.json")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for path in args.crds:
        kind, schema = crd_schema(path, args.version)
        source = {"repository": "https://github.com/ray-project/kuberay", "tag": args.tag, "licence": "Apache-2.0",
                  "file": f"ray-operator/config/crd/bases/{path.name}", "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
                  "apiVersion": f"ray.io/{args.version}", "kind": kind, "reduced_by": "scripts/reduce_kuberay_crds.py"}
        target = args.out / f"{kind.lower()}.schema.json"
        target.write_text(json.dumps({"x-source": source, **schema}, separators=(",", ":"), sort_keys=True) + "\n")
        print(f"{target}: {target.stat().st_size / 1024:.0f} KB")


if __name__ == "__main__":
    main()

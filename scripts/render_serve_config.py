#!/usr/bin/env python3
"""Write deploy/kubernetes/rayservice.yaml's ``serveConfigV2`` from deploy/serve.yaml (the Serve
config ``sensorium serve`` runs) and deploy/kubernetes/serve-overlay.yaml (what a cluster changes:
GPUs for the GPU stages, the proxy on every interface), so the two configs cannot drift:

    python scripts/render_serve_config.py            # rewrite the block in rayservice.yaml
    python scripts/render_serve_config.py --check    # exit 1 if it is stale (the test does the same)

The overlay merges into the config key by key; in lists of named items (applications,
deployments) an item merges into the item of the same name, a deployment the config does not
list is added, an application it does not have is an error.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
SERVE_CONFIG = REPO / "deploy" / "serve.yaml"
OVERLAY = REPO / "deploy" / "kubernetes" / "serve-overlay.yaml"
RAYSERVICE = REPO / "deploy" / "kubernetes" / "rayservice.yaml"
BLOCK = re.compile(r"^(?P<indent> *)serveConfigV2: \|\n(?P<body>(?:(?P=indent) {2}.*\n|\n)*)", re.M)


def merge(base: Any, overlay: Any, where: str = "") -> Any:
    """``overlay`` merged into ``base`` (neither is changed)."""
    if isinstance(base, dict) and isinstance(overlay, dict):
        out = dict(base)
        for k, v in overlay.items():
            out[k] = merge(base[k], v, f"{where}.{k}") if k in base else v
        return out
    if isinstance(base, list) and isinstance(overlay, list) and all(isinstance(i, dict) and "name" in i for i in base + overlay):
        out = list(base)
        names = [i["name"] for i in base]
        for item in overlay:
            if item["name"] in names:
                out[names.index(item["name"])] = merge(base[names.index(item["name"])], item, f"{where}[{item['name']}]")
            elif where == ".applications":
                raise ValueError(f"the overlay names application {item['name']!r}; deploy/serve.yaml has {names}")
            else:
                out.append(item)
        return out
    return overlay


def cluster_config(serve_config: Path = SERVE_CONFIG, overlay: Path = OVERLAY) -> dict[str, Any]:
    """The Serve config the RayService runs: deploy/serve.yaml with the cluster overlay merged in."""
    return merge(yaml.safe_load(serve_config.read_text()), yaml.safe_load(overlay.read_text()))


def embedded_config(manifest_text: str) -> dict[str, Any]:
    """The RayService's serveConfigV2, parsed."""
    [doc] = [d for d in yaml.safe_load_all(manifest_text) if d and d.get("kind") == "RayService"]
    return yaml.safe_load(doc["spec"]["serveConfigV2"])


def render(manifest_text: str, config: dict[str, Any]) -> str:
    """``manifest_text`` with its serveConfigV2 block replaced by ``config``."""
    m = BLOCK.search(manifest_text)
    if not m:
        raise ValueError("no `serveConfigV2: |` block in the manifest")
    pad = m["indent"] + "  "
    body = "".join(pad + line if line.strip() else "\n" for line in yaml.safe_dump(config, sort_keys=False).splitlines(True))
    return manifest_text[:m.start("body")] + body + manifest_text[m.end("body"):]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--check", action="store_true", help="only check; exit 1 when rayservice.yaml is stale")
    args = ap.parse_args()
    text, config = RAYSERVICE.read_text(), cluster_config()
    if args.check:
        if embedded_config(text) != config:
            sys.exit(f"{RAYSERVICE.relative_to(REPO)}: serveConfigV2 is stale; run scripts/render_serve_config.py")
        return
    RAYSERVICE.write_text(render(text, config))


if __name__ == "__main__":
    main()

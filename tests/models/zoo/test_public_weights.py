"""The public weights are registered with their sources, publisher hashes, importers and licences."""

from __future__ import annotations

from sensorium.models.hub import weights as w
from sensorium.models.hub.weights import Url
from sensorium.models.zoo.coco_labels import COCO91


def test_public_weights_are_registered_with_their_sources_and_licences():
    r50 = w.get_weights("detr-r50-coco")
    assert r50.sha256_prefix == "e632da11" and r50.filename.endswith(f"-{r50.sha256_prefix}.pth")
    assert r50.sources == (Url("https://dl.fbaipublicfiles.com/detr/detr-r50-e632da11.pth"),) and r50.license == "Apache-2.0"
    assert r50.labels == COCO91 and r50.importer == "detr:resnet50"
    assert w.get_weights("detr-r101-coco").importer == "detr:resnet101"
    assert w.get_weights("detr-r101-coco").sha256_prefix == "2c7b67e5"
    assert w.get_weights("siglip-vit-b-16-webli").importer == "open_clip:ViT-B-16-SigLIP"
    assert w.get_weights("clip-vit-b-32-laion2b").license == "MIT"
    for name in ("arcface-w600k-r50", "mobileclip-s1-datacompdr"):
        assert not w.get_weights(name).commercial, name


def test_the_open_clip_tags_exist_in_the_installed_open_clip():
    import open_clip

    for arch, tag in (("ViT-B-32", "laion2b_s34b_b79k"), ("ViT-B-16-SigLIP", "webli"), ("MobileCLIP-S1", "datacompdr")):
        cfg = open_clip.get_pretrained_cfg(arch, tag)
        entry = next(e for e in w.list_weights() if e.importer == f"open_clip:{arch}")
        assert cfg and cfg["hf_hub"].rstrip("/") in entry.sources[0].url, (arch, tag)

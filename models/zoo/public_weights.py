"""Public pretrained weights sensorium can fetch and import: DETR (COCO), CLIP/SigLIP/MobileCLIP
through open_clip's pretrained tags, and ArcFace (non-commercial, opt-in).

Values only (no torch): ``sensorium models list`` reads them without loading a model. Each
entry's ``importer`` says how a stage turns the published file into the project's own weights
file (``models/zoo/importers/``); nothing downloads unless ``sensorium models pull NAME`` or
``--allow-download`` asks. Hashes are the publishers': torch hub's rule for the DETR ``.pth``
names (the hex after the last ``-`` starts the sha256); the Hugging Face files publish none
here, so their sha256 is recorded on the first pull (trust on first use) and checked after.
"""

from __future__ import annotations

from sensorium.models.hub.weights import LocalPath, Url, WeightsEntry, register_weights
from sensorium.models.zoo.coco_labels import COCO91

#: DETR's reference normalisation (ImageNet, on [0, 255] pixels) and training size
IMAGENET_MEAN = (123.675, 116.28, 103.53)
IMAGENET_STD = (58.395, 57.12, 57.375)
_FB = "https://dl.fbaipublicfiles.com/detr/"
_DETR = "facebookresearch/detr (hubconf.py), trained on COCO 2017 train, 500 epochs"


#: Hugging Face revisions the files are fetched at. A commit hash pins the bytes; "main" does
#: not, and is used where the commit could not be looked up here (no network while this was
#: written): for those the sha256 is recorded on the first pull and checked on every use after.
HF_REVISIONS: dict[str, str] = {
    "facebook/detr-resnet-50": "main",  # commit not known here: trust on first use (see above)
}


def _hf(repo: str, filename: str) -> Url:
    return Url(f"https://huggingface.co/{repo}/resolve/{HF_REVISIONS.get(repo, 'main')}/{filename}")


def _detr(name: str, filename: str, prefix: str | None, url: Url, what: str, mb: int, backbone: str = "resnet50") -> None:
    register_weights(WeightsEntry(
        name=name, filename=filename, sha256=None, sha256_prefix=prefix, sources=(url,),
        license="Apache-2.0", description=f"DETR {what} on COCO (91-id label map with N/A gaps), about {mb} MB; "
                                          "imported on first use with a zero-initialised SPP block (identical outputs)",
        input_size=(800, 1333), mean=IMAGENET_MEAN, std=IMAGENET_STD, labels=COCO91, format="torch",
        importer=f"detr:{backbone}", provenance=_DETR if url.url.startswith(_FB) else "facebook/detr-resnet-50 on the Hugging Face hub",
    ))


_detr("detr-r50-coco", "detr-r50-e632da11.pth", "e632da11", Url(_FB + "detr-r50-e632da11.pth"), "ResNet-50 (42.0 AP)", 159)
_detr("detr-r101-coco", "detr-r101-2c7b67e5.pth", "2c7b67e5", Url(_FB + "detr-r101-2c7b67e5.pth"), "ResNet-101 (43.5 AP)", 232, "resnet101")
_detr("detr-resnet-50-hf", "facebook-detr-resnet-50.safetensors", None, _hf("facebook/detr-resnet-50", "model.safetensors"),
      "ResNet-50, Hugging Face layout (timm backbone)", 167)

_OPENAI_MEAN = tuple(255 * m for m in (0.48145466, 0.4578275, 0.40821073))
_OPENAI_STD = tuple(255 * s for s in (0.26862954, 0.26130258, 0.27577711))


def _open_clip(name: str, arch: str, tag: str, repo: str, license: str, mb: int, size: int,
               mean: tuple[float, ...], std: tuple[float, ...], commercial: bool = True) -> None:
    register_weights(WeightsEntry(
        name=name, filename=f"{name}.open_clip.bin", sha256=None, sources=(_hf(repo, "open_clip_pytorch_model.bin"),),
        license=license, description=f"open_clip {arch} pretrained={tag!r} (image and text towers), about {mb} MB",
        input_size=(size, size), mean=mean, std=std, format="torch", importer=f"open_clip:{arch}", commercial=commercial,
        provenance=f"open_clip 3.3.0 pretrained registry: {arch} / {tag} → hf_hub {repo}",
    ))


_open_clip("clip-vit-b-32-laion2b", "ViT-B-32", "laion2b_s34b_b79k", "laion/CLIP-ViT-B-32-laion2B-s34B-b79K", "MIT", 605, 224,
           _OPENAI_MEAN, _OPENAI_STD)
_open_clip("siglip-vit-b-16-webli", "ViT-B-16-SigLIP", "webli", "timm/ViT-B-16-SigLIP", "Apache-2.0", 813, 224,
           (127.5,) * 3, (127.5,) * 3)
_open_clip("mobileclip-s1-datacompdr", "MobileCLIP-S1", "datacompdr", "apple/MobileCLIP-S1-OpenCLIP",
           "apple-amlr (Apple ML Research model licence: research use only)", 343, 256, (0.0,) * 3, (255.0,) * 3,
           commercial=False)

_BUFFALO_L = "https://github.com/deepinsight/insightface/releases/download/v0.7/buffalo_l.zip"
_ARCFACE_MEMBER = "w600k_r50.onnx"

register_weights(WeightsEntry(
    name="arcface-w600k-r50", filename="w600k_r50.onnx", sha256=None,
    # InsightFace publishes no sha256 for the zip or the member: recorded on first pull (trust on first use)
    sources=(LocalPath("weights/w600k_r50.onnx"), Url(_BUFFALO_L, member=_ARCFACE_MEMBER)),
    license="non-commercial research only (InsightFace's model licence)", commercial=False,
    description="ArcFace ResNet-50 trained on WebFace600K (InsightFace buffalo_l), 112x112 aligned RGB chip → 512-d; "
                "opt-in only: sensorium models pull arcface-w600k-r50 --accept-license",
    input_size=(112, 112), mean=(127.5,) * 3, std=(127.5,) * 3, format="onnx",
    provenance=f"{_BUFFALO_L} ({_ARCFACE_MEMBER} inside)",
))

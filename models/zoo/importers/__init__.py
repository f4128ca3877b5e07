"""Importers: a public checkpoint (facebookresearch DETR ``.pth``, a Hugging Face DETR folder, an
open_clip state dict) → the project's weights file and the JSON contract beside it."""

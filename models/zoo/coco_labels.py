"""COCO's detection label map as DETR's class head indexes it: 91 entries, one per category id
0-90, where id 0 and the ten ids COCO 2017 left unused (12, 26, 29, 30, 45, 66, 68, 69, 71, 83)
are "N/A". The public DETR checkpoints' class head has 92 outputs: these 91 and no-object."""

from __future__ import annotations

NA = "N/A"

COCO91: tuple[str, ...] = (
    NA, "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat",
    "traffic light", "fire hydrant", NA, "stop sign", "parking meter", "bench", "bird", "cat", "dog", "horse",
    "sheep", "cow", "elephant", "bear", "zebra", "giraffe", NA, "backpack", "umbrella", NA,
    NA, "handbag", "tie", "suitcase", "frisbee", "skis", "snowboard", "sports ball", "kite", "baseball bat",
    "baseball glove", "skateboard", "surfboard", "tennis racket", "bottle", NA, "wine glass", "cup", "fork", "knife",
    "spoon", "bowl", "banana", "apple", "sandwich", "orange", "broccoli", "carrot", "hot dog", "pizza",
    "donut", "cake", "chair", "couch", "potted plant", "bed", NA, "dining table", NA, NA,
    "toilet", NA, "tv", "laptop", "mouse", "remote", "keyboard", "cell phone", "microwave", "oven",
    "toaster", "sink", "refrigerator", NA, "book", "clock", "vase", "scissors", "teddy bear", "hair drier",
    "toothbrush",
)
#: the 80 real categories' COCO ids, in order (what a COCO results file's category_id holds)
COCO80_IDS: tuple[int, ...] = tuple(i for i, name in enumerate(COCO91) if name != NA)

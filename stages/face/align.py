"""5-point face alignment: a least-squares similarity transform (rotation, uniform scale,
translation; Umeyama through scikit-image) from detected landmarks to a canonical template.

Landmark order everywhere: eye, eye, nose tip, mouth corner, mouth corner, image left first
within each pair (YuNet's order, and ArcFace's). One function serves every recogniser; a
template is just five points and a chip size.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class Template:
    """Where the five landmarks belong in a ``size`` x ``size`` chip, pixel coordinates."""

    name: str
    size: int
    points: tuple[tuple[float, float], ...]

    def array(self) -> np.ndarray:
        return np.asarray(self.points, np.float64)


#: the insightface/ArcFace 112x112 template (every public ArcFace model is trained on it)
ARCFACE_112 = Template("arcface_112", 112, ((38.2946, 51.6963), (73.5318, 51.5014), (56.0252, 71.7366), (41.5493, 92.3655), (70.7299, 92.2041)))

#: dlib's 150x150 face chip (``get_face_chip(img, shape, 150, padding=0.25)``) in our five
#: landmarks. dlib aligns with its own 5-point predictor (eye corners, nose base), so this is
#: where YuNet's eye centres, nose tip and mouth corners fall in dlib's chips: the mean over the
#: 12 faces of the bundled real photos, each mapped through the chip transform dlib computed
#: for it (spread 2-5 px). Its network is trained on such chips.
DLIB_150 = Template("dlib_150", 150, ((46.25, 45.53), (100.65, 44.53), (75.27, 78.01), (50.15, 102.61), (98.50, 101.91)))

TEMPLATES = {t.name: t for t in (ARCFACE_112, DLIB_150)}


def similarity_matrix(landmarks: np.ndarray, template: Template) -> np.ndarray:
    """(5, 2) image-pixel landmarks → (2, 3) float64 affine matrix of the least-squares
    similarity that maps them onto ``template`` (chip pixels). Raises ValueError on a
    degenerate set (all points together, or not finite)."""
    from skimage.transform import SimilarityTransform

    src = np.asarray(landmarks, np.float64)
    if src.shape != (5, 2):
        raise ValueError(f"expected (5, 2) landmarks, got {src.shape}")
    if not np.isfinite(src).all() or np.ptp(src, axis=0).max() < 1e-6:
        raise ValueError("degenerate landmarks: not finite, or all at one point")
    tf = SimilarityTransform.from_estimate(src, template.array()) if hasattr(SimilarityTransform, "from_estimate") else None
    if tf is None:
        tf = SimilarityTransform()
        if not tf.estimate(src, template.array()):
            raise ValueError("similarity estimate failed for these landmarks")
    return np.asarray(tf.params[:2], np.float64)


def align_faces(image: np.ndarray, landmarks: np.ndarray, template: Template = ARCFACE_112) -> tuple[np.ndarray, np.ndarray]:
    """Warp each face of ``image`` onto ``template``.

    image: (H, W, 3) uint8 (any channel order; kept); landmarks: (N, 5, 2) float image pixels.
    Returns (chips (N, size, size, 3) uint8, matrices (N, 2, 3) float64 image → chip).
    Pixels outside the image are black (a face at the border still gets a full chip).
    """
    lm = np.asarray(landmarks, np.float64).reshape(-1, 5, 2)
    s = template.size
    chips = np.zeros((len(lm), s, s, 3), np.uint8)
    mats = np.zeros((len(lm), 2, 3), np.float64)
    for i, pts in enumerate(lm):
        mats[i] = similarity_matrix(pts, template)
        chips[i] = cv2.warpAffine(image, mats[i], (s, s), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    return chips, mats


def transform_points(points: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """(..., 2) points through a (2, 3) affine matrix."""
    p = np.asarray(points, np.float64)
    return p @ matrix[:, :2].T + matrix[:, 2]

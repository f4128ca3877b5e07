"""One frame as Rerun entities, under ``/<source>/``, on the ``frame`` timeline.

Layout (``<src>`` is the source id made a path part; 3-D is metres, X right, Y down, Z forward)::

    /<src>                         ViewCoordinates RDF (static): the source's left/colour camera frame
    /<src>/camera                  Pinhole of the source camera (calibration, else the depth's K)
    /<src>/camera/image            the image (JPEG-encoded unless jpeg_quality is None)
    /<src>/camera/detections       Boxes2D: label, score, track id, distance
    /<src>/camera/tracks           Boxes2D of the tracks, class id = track id (one colour per track)
    /<src>/camera/faces            Boxes2D labelled with the matched name and similarity
    /<src>/camera/faces/landmarks  Points2D
    /<src>/camera/keypoints        Points2D, radius = the joint's sigma in pixels (score >= 0.3)
    /<src>/camera/gaze             Arrows2D from between the eyes
    /<src>/depth                   Transform3D: the depth map's (rectified) camera → the source camera
    /<src>/depth/camera            Pinhole of the depth map
    /<src>/depth/camera/depth      DepthImage in millimetres (uint16, meter=1000; 0 unknown)
    /<src>/depth/points            Points3D, coloured
    /<src>/depth/objects           Boxes3D of the lifted detections
    /<src>/depth/trajectories      LineStrips3D of the tracks' recent 3-D positions
    /<src>/depth/keypoints         Points3D of the lifted keypoints, radius = sigma at their depth
    /<src>/depth/gaze              Arrows3D (0.3 m), from the lifted eye midpoint
    /<src>/latency/<stage>         Scalars: milliseconds the stage spent on the frame

The depth-frame entities sit under ``/<src>/depth`` because the depth map, its cloud and
everything lifted from it are in the depth map's camera, which a calibrated stereo pair
rectifies (rotates) away from the source camera the image and the boxes are in.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np
import rerun as rr

from sensorium.pipeline.draw.keypoints import visible
from sensorium.pipeline.draw.frame import DrawConfig
from sensorium.pipeline.io.sinks.annotate import primary_depth
from sensorium.stages.camera import Intrinsics, StereoCalibration
from sensorium.stages.frame import Frame
from sensorium.stages.results import Depth, Detections, Faces, Gaze, Keypoints
from sensorium.stages.results.tracks import Tracks

#: metres an Arrows3D gaze ray is drawn long
GAZE_RAY_M = 0.3


def source_path(source_id: str) -> str:
    """``/<src>``: the source id as one escaped entity-path part (``rtsp://cam/1`` stays one part)."""
    return "/" + rr.escape_entity_path_part(str(source_id))


def log_static(rec: rr.RecordingStream, source_id: str) -> None:
    """Once per source: its camera frame's axes (Rerun's viewer then draws it upright)."""
    rec.log(source_path(source_id), rr.ViewCoordinates.RDF, static=True)


def log_frame(rec: rr.RecordingStream, frame: Frame, *, jpeg_quality: int | None = 90) -> list[str]:
    """Log ``frame`` at ``frame.seq`` on the ``frame`` timeline (and its capture time on
    ``time``); returns the entity paths written."""
    root = source_path(frame.source_id)
    rec.set_time("frame", sequence=int(frame.seq))
    rec.set_time("time", timestamp=float(frame.timestamp))
    logged: list[str] = []

    def put(path: str, *archetypes: Any) -> None:
        for archetype in archetypes:
            rec.log(f"{root}/{path}", archetype)
        logged.append(f"{root}/{path}")

    found = primary_depth(frame)
    depth = None if found is None else found[1]
    _log_image(put, frame, depth, jpeg_quality)
    if depth is not None:
        _log_depth(put, depth)
    tracks = next((r for r in frame.results.values() if isinstance(r, Tracks)), None)
    for stage, result in frame.results.items():
        ids = _track_ids(tracks, stage, len(result)) if hasattr(result, "__len__") else None
        if isinstance(result, Detections):
            _log_detections(put, result, ids)
        elif isinstance(result, Faces):
            _log_faces(put, result)
        elif isinstance(result, Keypoints):
            _log_keypoints(put, result, depth)
        elif isinstance(result, Gaze):
            _log_gaze(put, result, depth, frame)
        elif isinstance(result, Tracks):
            _log_tracks(put, result)
    for stage, seconds in frame.timings.items():
        put(f"latency/{rr.escape_entity_path_part(stage)}", rr.Scalars(1000.0 * float(seconds)))
    return logged


def camera_matrix(frame: Frame, depth: Depth | None) -> tuple[np.ndarray, int, int] | None:
    """(K (3, 3), width, height) of the source camera at the image's size: the calibration's,
    else the depth map's when it is in the source camera (not rectified); None when unknown."""
    h, w = frame.image.shape[:2] if frame.image is not None else (depth.depth.shape if depth is not None else (0, 0))
    if isinstance(frame.calib, StereoCalibration):
        K, cw, ch = frame.calib.K1, frame.calib.width, frame.calib.height
    elif isinstance(frame.calib, Intrinsics):
        K, cw, ch = frame.calib.K, frame.calib.width, frame.calib.height
    elif depth is not None and depth.rectification is None:
        K, (ch, cw) = depth.K, depth.depth.shape
    else:
        return None
    if not (w and h):
        return None
    scale = np.diag([w / cw, h / ch, 1.0])
    return scale @ np.asarray(K, np.float64), int(w), int(h)


def _log_image(put: Any, frame: Frame, depth: Depth | None, jpeg_quality: int | None) -> None:
    camera = camera_matrix(frame, depth)
    if camera is not None:
        K, w, h = camera
        put("camera", rr.Pinhole(image_from_camera=K, resolution=[w, h], image_plane_distance=0.5))
    if frame.image is None:
        return
    if jpeg_quality:  # OpenCV's libjpeg-turbo: about twice as fast as rr.Image.compress (Pillow) at VGA
        ok, jpeg = cv2.imencode(".jpg", cv2.cvtColor(frame.image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, int(jpeg_quality)])
        if not ok:
            raise RuntimeError(f"{frame.key}: OpenCV could not JPEG-encode the image")
        put("camera/image", rr.EncodedImage(contents=jpeg.tobytes(), media_type="image/jpeg"))
    else:
        put("camera/image", rr.Image(frame.image, color_model="RGB"))


def _log_depth(put: Any, depth: Depth) -> None:
    h, w = depth.depth.shape
    to_source = depth.rectification.to_source if depth.rectification is not None else np.eye(4)
    put("depth", rr.Transform3D(mat3x3=to_source[:3, :3], translation=to_source[:3, 3]))
    put("depth/camera", rr.Pinhole(image_from_camera=depth.K, resolution=[w, h], image_plane_distance=0.5))
    # millimetres in uint16: half the bytes of float32 metres, finer than any depth stage resolves
    millimetres = np.clip(np.nan_to_num(depth.depth * 1000.0, nan=0.0, posinf=0.0, neginf=0.0), 0, 65535)
    put("depth/camera/depth", rr.DepthImage(np.round(millimetres).astype(np.uint16), meter=1000.0))
    if depth.points is not None and len(depth.points):
        put("depth/points", rr.Points3D(depth.points, colors=depth.colors, radii=rr.Radius.ui_points(1.5)))


def _track_ids(tracks: Tracks | None, stage: str, n: int) -> np.ndarray | None:
    """(n,) the id of the track that matched each item of ``stage`` this frame, -1 for none."""
    if tracks is None or tracks.of != stage:
        return None
    ids = np.full(n, -1, np.int64)
    for tid, item in zip(tracks.track_id, tracks.item):
        if 0 <= item < n:
            ids[item] = tid
    return ids


def _class_name(names: tuple[str, ...], cid: int) -> str:
    return names[cid] if 0 <= cid < len(names) else str(cid)


def _log_detections(put: Any, det: Detections, ids: np.ndarray | None) -> None:
    labels = []
    for i in range(len(det)):
        text = f"{_class_name(det.class_names, int(det.class_id[i]))} {det.scores[i]:.2f}"
        if ids is not None and ids[i] >= 0:
            text += f" #{ids[i]}"
        if det.xyz is not None and np.isfinite(det.xyz[i, 2]):
            text += f" {det.xyz[i, 2]:.1f} m"
        labels.append(text)
    class_ids = det.class_id.astype(np.int64)
    put("camera/detections", rr.Boxes2D(array=det.boxes, array_format=rr.Box2DFormat.XYXY, labels=labels, class_ids=class_ids))
    if det.xyz is not None:
        ok = np.isfinite(det.xyz).all(axis=1)
        half = det.extent / 2 if det.extent is not None else np.full_like(det.xyz, 0.05)
        put("depth/objects", rr.Boxes3D(centers=det.xyz[ok], half_sizes=np.nan_to_num(half[ok], nan=0.05),
                                        labels=[t for t, k in zip(labels, ok) if k], class_ids=class_ids[ok]))


def _log_tracks(put: Any, tracks: Tracks) -> None:
    labels = [f"#{t}" + (f" {n}" if n else "") for t, n in zip(tracks.track_id, tracks.data.get("name", [None] * len(tracks)))]
    put("camera/tracks", rr.Boxes2D(array=tracks.boxes, array_format=rr.Box2DFormat.XYXY, labels=labels, class_ids=tracks.track_id))
    if tracks.trajectory is None:
        return
    strips, names = [], []
    for tid, path in zip(tracks.track_id, tracks.trajectory):
        path = path[np.isfinite(path).all(axis=1)]
        if len(path) >= 2:
            strips.append(path)
            names.append(f"#{tid}")
    if strips:
        put("depth/trajectories", rr.LineStrips3D(strips, labels=names, class_ids=[int(n[1:]) for n in names]))


def _log_faces(put: Any, faces: Faces) -> None:
    names = faces.data.get("identity")
    labels = []
    for i in range(len(faces)):
        name = names[i] if names is not None and names[i] else "unknown"
        sim = f" {faces.similarity[i]:.2f}" if faces.similarity is not None else ""
        labels.append(f"{name}{sim}")
    put("camera/faces", rr.Boxes2D(array=faces.boxes, array_format=rr.Box2DFormat.XYXY, labels=labels))
    if len(faces):
        put("camera/faces/landmarks", rr.Points2D(faces.landmarks.reshape(-1, 2), radii=rr.Radius.ui_points(2.0)))


def _log_keypoints(put: Any, kp: Keypoints, depth: Depth | None) -> None:
    xy = kp.xy.reshape(-1, 2)
    keep = visible(kp, DrawConfig().keypoint_min_score).reshape(-1)  # the joints the video draws
    sigma = kp.sigma.reshape(-1, 2).mean(axis=1) if kp.sigma is not None else np.full(len(xy), 2.0)
    instance = np.repeat(np.arange(len(kp)), kp.xy.shape[1])
    put("camera/keypoints", rr.Points2D(xy[keep], radii=np.maximum(sigma[keep], 1.0), class_ids=instance[keep]))
    camera = kp.data.get("camera")
    if camera is None or depth is None:
        return
    xyz = np.asarray(camera, np.float32).reshape(-1, 3)
    ok = keep & np.isfinite(xyz).all(axis=1)
    # sigma in pixels → metres at the joint's depth: sigma * Z / f
    radii = np.maximum(sigma[ok], 1.0) * xyz[ok, 2] / float(depth.K[0, 0])
    put("depth/keypoints", rr.Points3D(xyz[ok], radii=radii, class_ids=instance[ok]))


def _log_gaze(put: Any, gaze: Gaze, depth: Depth | None, frame: Frame) -> None:
    if gaze.origin is None or not len(gaze):
        return
    vectors = gaze.vectors
    size = frame.image.shape[1] if frame.image is not None else 640
    put("camera/gaze", rr.Arrows2D(origins=gaze.origin, vectors=vectors[:, :2] * 0.15 * size))
    if depth is None:
        return
    h, w = depth.depth.shape
    u = np.clip(np.round(gaze.origin[:, 0]).astype(int), 0, w - 1)
    v = np.clip(np.round(gaze.origin[:, 1]).astype(int), 0, h - 1)
    z = depth.depth[v, u]
    ok = z > 0
    if not ok.any():
        return
    K = depth.K
    origins = np.stack([(u - K[0, 2]) * z / K[0, 0], (v - K[1, 2]) * z / K[1, 1], z], axis=1)
    put("depth/gaze", rr.Arrows3D(origins=origins[ok], vectors=vectors[ok] * GAZE_RAY_M))

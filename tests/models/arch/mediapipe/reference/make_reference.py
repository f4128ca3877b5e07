"""Reference numbers from MediaPipe 0.10.21's own pipelines (its legacy solutions API, static
images), for tests/models/arch/mediapipe: our decoding and regions against MediaPipe's.

Run in a throwaway venv (mediapipe pins numpy<2 and protobuf<5, so it cannot live beside the
project's pins):
    python3.11 -m venv /tmp/mp && /tmp/mp/bin/pip install mediapipe==0.10.21
    /tmp/mp/bin/python make_reference.py $SENSORIUM_DATA mediapipe_0_10_21.json
"""
import json, sys, cv2, numpy as np, mediapipe as mp
data = sys.argv[1]
out = {"mediapipe": mp.__version__, "face_detection": {}, "face_mesh": {}, "pose": {}}
for name in ["faces/two_people.jpg", "faces/lin-manuel-miranda.png"]:
    rgb = cv2.cvtColor(cv2.imread(f"{data}/{name}"), cv2.COLOR_BGR2RGB); h, w = rgb.shape[:2]
    with mp.solutions.face_detection.FaceDetection(model_selection=0, min_detection_confidence=0.5) as fd:
        r = fd.process(rgb)
        out["face_detection"][name] = [{"score": d.score[0], "box": [d.location_data.relative_bounding_box.xmin * w, d.location_data.relative_bounding_box.ymin * h,
            (d.location_data.relative_bounding_box.xmin + d.location_data.relative_bounding_box.width) * w, (d.location_data.relative_bounding_box.ymin + d.location_data.relative_bounding_box.height) * h],
            "keypoints": [[k.x * w, k.y * h] for k in d.location_data.relative_keypoints]} for d in (r.detections or [])]
    with mp.solutions.face_mesh.FaceMesh(static_image_mode=True, max_num_faces=4, refine_landmarks=False) as fm:
        r = fm.process(rgb)
        out["face_mesh"][name] = [[[p.x * w, p.y * h, p.z * w] for p in f.landmark] for f in (r.multi_face_landmarks or [])]
    with mp.solutions.pose.Pose(static_image_mode=True, model_complexity=1) as ps:
        r = ps.process(rgb)
        out["pose"][name] = [[p.x * w, p.y * h, p.z * w, p.visibility, p.presence] for p in r.pose_landmarks.landmark] if r.pose_landmarks else []
def rounded(x):
    return round(x, 3) if isinstance(x, float) else [rounded(v) for v in x] if isinstance(x, list) else {k: rounded(v) for k, v in x.items()} if isinstance(x, dict) else x
json.dump(rounded(out), open(sys.argv[2], "w"), separators=(",", ":"))
print({k: {n: len(v) for n, v in d.items()} for k, d in out.items() if isinstance(d, dict)})

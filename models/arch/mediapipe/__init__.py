"""MediaPipe's landmark models (Apache-2.0 .tflite files) on onnxruntime: the converted graphs
(``files.py``) and the decoding MediaPipe's calculators do around them, reimplemented in numpy
(``face_detection.py``: SSD anchors, box/keypoint decoding, weighted NMS; ``roi.py``: the rotated
crops; ``face_mesh.py``, ``iris.py``, ``pose.py``: each model's pre- and post-processing)."""

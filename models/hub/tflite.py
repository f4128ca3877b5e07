"""TFLite flatbuffer -> ONNX, for the float CNNs MediaPipe ships (face detector, face mesh, iris).

Why our own reader: ``tflite2onnx`` 0.4.1 fails on ``face_landmark.tflite`` (a layout
IndexError) and warns it does not support fp16 weights; ``tf2onnx`` needs TensorFlow. These
graphs use a dozen ops, each of which maps onto one ONNX op, so the reader below walks the
flatbuffer (the ``tflite`` package's generated accessors) and emits ONNX with ``onnx.helper``.
Converted: CONV_2D, DEPTHWISE_CONV_2D, ADD, PRELU, RELU, LOGISTIC, MAX_POOL_2D, PAD, RESHAPE,
CONCATENATION, RESIZE_BILINEAR, DEPTH_TO_SPACE, and DEQUANTIZE/DENSIFY of constant fp16 (sparse)
weights, folded into fp32 initialisers. Anything else (MediaPipe's custom ops in
``face_landmark_with_attention``) raises, naming the ops. PRELU on 4-D tensors is written as
``x + (1 - alpha) * relu(-x)`` with the two scalings as depthwise 1x1 convolutions (onnxruntime
fuses them and keeps its blocked layout; its broadcasting PRelu kernel was the face mesh's
bottleneck, element-wise Min/Mul/Add broke the layout at every PReLU).

Layout: TFLite is NHWC, ONNX convolutions are NCHW. The graph keeps its NHWC input and
outputs (so callers feed what LiteRT takes); one Transpose after the input moves activations to
NCHW, 4-D tensors stay NCHW inside, and a Transpose back to NHWC precedes every op that depends
on memory order (RESHAPE, CONCATENATION of 4-D tensors, graph outputs). ``SAME`` padding is made
explicit from the static shapes (TensorFlow puts the odd pixel after, ONNX's SAME_UPPER does
too, but explicit pads leave no doubt). fp16 weights behind DEQUANTIZE become fp32 initialisers.
Axis 0 (batch) is dynamic: a RESHAPE's leading 1 becomes 0 (copy the input's batch).

The conversion is deterministic (same .tflite -> byte-identical .onnx), so converted files live
in the cache keyed by the source's sha256 and are never committed.
"""

from __future__ import annotations

import logging
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from sensorium.models.hub.files import sha256_file
from sensorium.models.hub.tflite_sparse import densify

log = logging.getLogger(__name__)

OPSET = 17
#: bump when the emitted graph changes: cached conversions are named by it (``converted_path``)
CONVERTER_VERSION = 2
_NHWC_TO_NCHW = (0, 3, 1, 2)
_NCHW_TO_NHWC = (0, 2, 3, 1)
# tflite TensorType -> numpy dtype (the types these graphs hold)
_DTYPES = {0: np.float32, 1: np.float16, 2: np.int32, 4: np.int64, 3: np.uint8, 9: np.int8}
_ACTIVATIONS = {0: None, 1: "Relu", 3: "Relu6"}  # ActivationFunctionType NONE, RELU, RELU6


class TFLiteConversionError(ValueError):
    """The .tflite file uses something this reader does not convert (the message names it)."""


def _import_tflite() -> Any:
    try:
        import tflite  # noqa: PLC0415 - optional, only to convert
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise ImportError("converting .tflite needs the tflite package: pip install tflite==2.18.0") from exc
    return tflite


@dataclass
class _Graph:
    """The ONNX graph being built and what is known about each TFLite tensor."""

    tfl: Any
    model: Any
    sub: Any
    nodes: list = field(default_factory=list)
    inits: list = field(default_factory=list)
    consts: dict[int, np.ndarray] = field(default_factory=dict)  # tflite tensor index -> value
    names: dict[int, str] = field(default_factory=dict)  # tflite tensor index -> ONNX name (NCHW when 4-D)
    nhwc: dict[int, str] = field(default_factory=dict)  # 4-D tensors already transposed back to NHWC
    counter: int = 0

    def fresh(self, stem: str) -> str:
        self.counter += 1
        return f"{stem}__{self.counter}"

    def shape(self, t: int) -> list[int]:
        return self.sub.Tensors(t).ShapeAsNumpy().tolist()

    def const(self, t: int) -> np.ndarray | None:
        if t in self.consts:
            return self.consts[t]
        tensor = self.sub.Tensors(t)
        buf = self.model.Buffers(tensor.Buffer())
        if buf is None or buf.DataLength() == 0:
            return None
        if tensor.Type() not in _DTYPES:
            raise TFLiteConversionError(f"tensor {tensor.Name().decode()!r}: unsupported type {tensor.Type()}")
        raw = buf.DataAsNumpy().tobytes()
        value = np.frombuffer(raw, dtype=_DTYPES[tensor.Type()]).reshape(self.shape(t)).copy()
        self.consts[t] = value
        return value

    def add_init(self, value: np.ndarray, stem: str) -> str:
        name = self.fresh(stem)
        self.inits.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    def node(self, op: str, inputs: list[str], stem: str, **attrs: Any) -> str:
        out = self.fresh(stem)
        self.nodes.append(helper.make_node(op, inputs, [out], name=out, **attrs))
        return out

    def value(self, t: int) -> str:
        """ONNX name of tensor ``t`` in the converted layout (NCHW for 4-D), constants as initialisers."""
        if t in self.names:
            return self.names[t]
        c = self.const(t)
        if c is None:
            raise TFLiteConversionError(f"tensor {self.sub.Tensors(t).Name().decode()!r} is used before it is produced")
        if c.ndim == 4:
            c = c.transpose(_NHWC_TO_NCHW)
        self.names[t] = self.add_init(c.astype(np.float32) if c.dtype == np.float16 else c, "const")
        return self.names[t]

    def value_nhwc(self, t: int) -> str:
        """The tensor in TFLite's own layout (what memory-order ops and outputs need)."""
        if len(self.shape(t)) != 4:
            return self.value(t)
        if t not in self.nhwc:
            self.nhwc[t] = self.node("Transpose", [self.value(t)], "to_nhwc", perm=list(_NCHW_TO_NHWC))
        return self.nhwc[t]

    def set_output(self, t: int, name: str, activation: int = 0) -> None:
        if activation not in _ACTIVATIONS:
            raise TFLiteConversionError(f"fused activation {activation} is not supported")
        if _ACTIVATIONS[activation] == "Relu6":
            name = self.node("Clip", [name, self.add_init(np.float32(0), "zero"), self.add_init(np.float32(6), "six")], "relu6")
        elif _ACTIVATIONS[activation]:
            name = self.node(_ACTIVATIONS[activation], [name], "act")
        self.names[t] = name


def _options(tfl: Any, op: Any, cls_name: str) -> Any:
    table = op.BuiltinOptions()
    opts = getattr(tfl, cls_name)()
    opts.Init(table.Bytes, table.Pos)
    return opts


def _same_pads(size: int, kernel: int, stride: int, dilation: int = 1) -> tuple[int, int]:
    """TensorFlow's SAME padding for one axis: (before, after), the odd pixel after."""
    effective = (kernel - 1) * dilation + 1
    total = max((-(-size // stride) - 1) * stride + effective - size, 0)
    return total // 2, total - total // 2


def _pads(g: _Graph, x: int, kernel: tuple[int, int], stride: tuple[int, int], padding: int,
          dilation: tuple[int, int] = (1, 1)) -> list[int]:
    if padding == 1:  # VALID
        return [0, 0, 0, 0]
    _, h, w, _ = g.shape(x)
    (top, bottom), (left, right) = (_same_pads(h, kernel[0], stride[0], dilation[0]),
                                    _same_pads(w, kernel[1], stride[1], dilation[1]))
    return [top, left, bottom, right]


def _conv(g: _Graph, op: Any, depthwise: bool) -> None:
    x, w_t, b_t = (op.Inputs(i) for i in range(3))
    opts = _options(g.tfl, op, "DepthwiseConv2DOptions" if depthwise else "Conv2DOptions")
    w = g.const(w_t)
    if w is None:
        raise TFLiteConversionError("convolution with a non-constant filter")
    w = w.astype(np.float32)
    kh, kw = w.shape[1:3]
    if depthwise:  # (1, KH, KW, C*M) -> (C*M, 1, KH, KW), one group per input channel
        group = g.shape(x)[3]
        weight = w.transpose(3, 0, 1, 2)
    else:  # (O, KH, KW, I) -> (O, I, KH, KW)
        group = 1
        weight = w.transpose(0, 3, 1, 2)
    stride = (opts.StrideH(), opts.StrideW())
    dilation = (opts.DilationHFactor(), opts.DilationWFactor())
    inputs = [g.value(x), g.add_init(weight, "weight")]
    if b_t >= 0:
        inputs.append(g.add_init(g.const(b_t).astype(np.float32), "bias"))
    out = g.node("Conv", inputs, "conv", kernel_shape=[kh, kw], strides=list(stride), dilations=list(dilation),
                 group=group, pads=_pads(g, x, (kh, kw), stride, opts.Padding(), dilation))
    g.set_output(op.Outputs(0), out, opts.FusedActivationFunction())


def _max_pool(g: _Graph, op: Any) -> None:
    x = op.Inputs(0)
    opts = _options(g.tfl, op, "Pool2DOptions")
    kernel, stride = (opts.FilterHeight(), opts.FilterWidth()), (opts.StrideH(), opts.StrideW())
    out = g.node("MaxPool", [g.value(x)], "maxpool", kernel_shape=list(kernel), strides=list(stride),
                 pads=_pads(g, x, kernel, stride, opts.Padding()))
    g.set_output(op.Outputs(0), out, opts.FusedActivationFunction())


def _add(g: _Graph, op: Any) -> None:
    opts = _options(g.tfl, op, "AddOptions")
    a, b = op.Inputs(0), op.Inputs(1)
    if len(g.shape(a)) != len(g.shape(b)):
        raise TFLiteConversionError(f"ADD of ranks {len(g.shape(a))} and {len(g.shape(b))}: only equal ranks convert")
    out = g.node("Add", [g.value(a), g.value(b)], "add")
    g.set_output(op.Outputs(0), out, opts.FusedActivationFunction())


def _prelu(g: _Graph, op: Any) -> None:
    x, alpha_t = op.Inputs(0), op.Inputs(1)
    alpha = g.const(alpha_t)
    if alpha is None:
        raise TFLiteConversionError("PRELU with a non-constant slope")
    alpha = alpha.astype(np.float32).reshape(-1)
    xv = g.value(x)
    shape = g.shape(x)
    if len(shape) == 4:
        # x + (1 - alpha) * relu(-x), the scalings as depthwise 1x1 convolutions: onnxruntime fuses
        # the first with its Relu and the second with the Add, and the whole chain stays in its
        # blocked (NCHWc) layout. Element-wise Min/Mul/Add with a (C, 1, 1) slope left it at every
        # PReLU (a reorder in and out): 15-25 % of the face mesh and iris models (benchmarks.md).
        c = int(shape[3])  # TFLite shapes are NHWC
        alpha = np.broadcast_to(alpha, (c,))
        neg = g.node("Conv", [xv, g.add_init(np.full((c, 1, 1, 1), -1.0, np.float32), "minus_one")], "prelu_neg",
                     group=c, kernel_shape=[1, 1])
        scaled = g.node("Conv", [g.node("Relu", [neg], "prelu_relu"),
                                 g.add_init((1.0 - alpha).reshape(c, 1, 1, 1).astype(np.float32), "one_minus_slope")],
                        "prelu_scaled", group=c, kernel_shape=[1, 1])
    else:
        # x + (alpha - 1) * min(x, 0): the same function; onnxruntime's broadcasting PRelu kernel took
        # 4 of the face mesh's 7 ms (1 thread), these three element-wise ops run at memory speed.
        neg = g.node("Min", [xv, g.add_init(np.zeros((), np.float32), "zero")], "prelu_neg")
        scaled = g.node("Mul", [neg, g.add_init(alpha - 1.0, "slope_minus_one")], "prelu_scaled")
    g.set_output(op.Outputs(0), g.node("Add", [xv, scaled], "prelu"))


def _pad(g: _Graph, op: Any) -> None:
    x = op.Inputs(0)
    paddings = g.const(op.Inputs(1))
    if paddings is None:
        raise TFLiteConversionError("PAD with non-constant paddings")
    if paddings.shape[0] == 4:
        paddings = paddings[list(_NHWC_TO_NCHW)]
    pads = np.concatenate([paddings[:, 0], paddings[:, 1]]).astype(np.int64)
    g.set_output(op.Outputs(0), g.node("Pad", [g.value(x), g.add_init(pads, "pads")], "pad"))


def _reshape(g: _Graph, op: Any) -> None:
    out_t = op.Outputs(0)
    shape = g.shape(out_t)
    if shape[0] == 1:
        shape = [0, *shape[1:]]  # keep the batch dynamic: 0 copies the input's axis 0
    y = g.node("Reshape", [g.value_nhwc(op.Inputs(0)), g.add_init(np.array(shape, np.int64), "shape")], "reshape")
    if len(g.shape(out_t)) == 4:
        y = g.node("Transpose", [y], "to_nchw", perm=list(_NHWC_TO_NCHW))
    g.set_output(out_t, y)


def _concat(g: _Graph, op: Any) -> None:
    opts = _options(g.tfl, op, "ConcatenationOptions")
    out_t = op.Outputs(0)
    rank = len(g.shape(out_t))
    axis = opts.Axis() % rank
    if rank == 4:
        axis = _NHWC_TO_NCHW.index(axis)
    inputs = [g.value(op.Inputs(i)) for i in range(op.InputsLength())]
    g.set_output(out_t, g.node("Concat", inputs, "concat", axis=axis), opts.FusedActivationFunction())


def _resize_bilinear(g: _Graph, op: Any) -> None:
    opts = _options(g.tfl, op, "ResizeBilinearOptions")
    x, out_t = op.Inputs(0), op.Outputs(0)
    (_, h, w, _), (_, oh, ow, _) = g.shape(x), g.shape(out_t)
    mode = "align_corners" if opts.AlignCorners() else "half_pixel" if opts.HalfPixelCenters() else "asymmetric"
    scales = g.add_init(np.array([1.0, 1.0, oh / h, ow / w], np.float32), "scales")  # scales, not sizes: batch stays dynamic
    g.set_output(out_t, g.node("Resize", [g.value(x), "", scales], "resize", mode="linear", coordinate_transformation_mode=mode))


def _depth_to_space(g: _Graph, op: Any) -> None:
    opts = _options(g.tfl, op, "DepthToSpaceOptions")  # TensorFlow's channel order is ONNX's DCR
    g.set_output(op.Outputs(0), g.node("DepthToSpace", [g.value(op.Inputs(0))], "d2s", blocksize=opts.BlockSize(), mode="DCR"))


def _dequantize(g: _Graph, op: Any) -> None:
    value = g.const(op.Inputs(0))
    if value is None or value.dtype != np.float16:
        raise TFLiteConversionError("DEQUANTIZE of anything but a constant fp16 tensor")
    g.consts[op.Outputs(0)] = value.astype(np.float32)  # folded: read by the op that uses it


def _densify(g: _Graph, op: Any) -> None:
    t = op.Inputs(0)
    tensor = g.sub.Tensors(t)
    sparsity = tensor.Sparsity()
    if sparsity is None or tensor.Type() not in _DTYPES:
        raise TFLiteConversionError(f"DENSIFY of {tensor.Name().decode()!r}: expected a sparse constant tensor")
    raw = g.model.Buffers(tensor.Buffer()).DataAsNumpy().tobytes()
    values = np.frombuffer(raw, dtype=_DTYPES[tensor.Type()])
    g.consts[op.Outputs(0)] = densify(g.tfl, sparsity, values, g.shape(op.Outputs(0)))  # folded, like DEQUANTIZE


def _unary(onnx_op: str) -> Any:
    def convert(g: _Graph, op: Any) -> None:
        g.set_output(op.Outputs(0), g.node(onnx_op, [g.value(op.Inputs(0))], onnx_op.lower()))
    return convert


_CONVERTERS = {
    "CONV_2D": lambda g, op: _conv(g, op, depthwise=False),
    "DEPTHWISE_CONV_2D": lambda g, op: _conv(g, op, depthwise=True),
    "MAX_POOL_2D": _max_pool, "ADD": _add, "PRELU": _prelu, "PAD": _pad, "RESHAPE": _reshape,
    "CONCATENATION": _concat, "DEQUANTIZE": _dequantize, "RESIZE_BILINEAR": _resize_bilinear, "DEPTH_TO_SPACE": _depth_to_space,
    "DENSIFY": _densify, "RELU": _unary("Relu"), "LOGISTIC": _unary("Sigmoid"),
}


def _op_names(tfl: Any, model: Any) -> list[str]:
    names = {v: k for k, v in vars(tfl.BuiltinOperator).items() if not k.startswith("_")}
    out = []
    for i in range(model.OperatorCodesLength()):
        code = model.OperatorCodes(i)
        builtin = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
        out.append(f"CUSTOM:{code.CustomCode().decode()}" if builtin == 32 else names.get(builtin, str(builtin)))
    return out


def _io(g: _Graph, t: int, name: str) -> onnx.ValueInfoProto:
    shape: list[int | str] = ["N", *g.shape(t)[1:]]
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)


def convert_tflite(data: bytes, *, name: str = "tflite") -> onnx.ModelProto:
    """ONNX model computing what the TFLite flatbuffer ``data`` computes (first subgraph).

    Inputs and outputs keep their TFLite names, NHWC layout and float32 dtype, with a dynamic
    batch axis. Raises TFLiteConversionError naming any op or feature that does not convert.
    """
    tfl = _import_tflite()
    model = tfl.Model.GetRootAsModel(data, 0)
    g = _Graph(tfl, model, model.Subgraphs(0))
    ops = _op_names(tfl, model)
    unsupported = sorted({ops[g.sub.Operators(i).OpcodeIndex()] for i in range(g.sub.OperatorsLength())} - set(_CONVERTERS))
    if unsupported:
        raise TFLiteConversionError(f"{name}: ops {unsupported} are not supported (supported: {sorted(_CONVERTERS)})")
    inputs, outputs = [], []
    for i in range(g.sub.InputsLength()):
        t = g.sub.Inputs(i)
        tname = g.sub.Tensors(t).Name().decode()
        inputs.append(_io(g, t, tname))
        g.names[t] = g.node("Transpose", [tname], "to_nchw", perm=list(_NHWC_TO_NCHW)) if len(g.shape(t)) == 4 else tname
    for i in range(g.sub.OperatorsLength()):
        op = g.sub.Operators(i)
        _CONVERTERS[ops[op.OpcodeIndex()]](g, op)
    for i in range(g.sub.OutputsLength()):
        t = g.sub.Outputs(i)
        tname = g.sub.Tensors(t).Name().decode()
        g.nodes.append(helper.make_node("Identity", [g.value_nhwc(t)], [tname], name=f"output_{tname}"))
        outputs.append(_io(g, t, tname))
    graph = helper.make_graph(g.nodes, name, inputs, outputs, g.inits)
    onnx_model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="sensorium.tflite")
    onnx_model.ir_version = 8  # what opset 17 needs; onnxruntime reads it whatever onnx writes by default
    onnx.checker.check_model(onnx_model)
    return onnx_model


def converted_path(tflite_path: str | Path, cache_dir: str | Path) -> Path:
    """The ONNX conversion of ``tflite_path`` in ``cache_dir``, made on first use.

    Keyed by the source's sha256 and ``CONVERTER_VERSION``, so neither another version of the
    .tflite nor a changed converter reuses a stale conversion; written through a temporary file so a concurrent reader never sees half a file.
    """
    src = Path(tflite_path)
    digest = sha256_file(src)
    dest = Path(cache_dir) / f"{src.stem}.{digest[:16]}.c{CONVERTER_VERSION}.onnx"
    if dest.is_file():
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    model = convert_tflite(src.read_bytes(), name=src.stem)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(model.SerializeToString())
        os.replace(tmp, dest)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    log.info("converted %s to %s", src, dest)
    return dest

"""Rebuild a float .tflite graph as a TensorFlow function, op by op, from its flatbuffer.

MediaPipe ships BlazeFace as fp16 weights behind DEQUANTIZE ops with legacy opcodes and no signature,
which the quantization tools handle badly (shared/docs/toolchain.md). Re-expressing the graph in
TensorFlow and converting that gives a clean full-int8 model. Only the ops these detectors use are
supported; anything else is an error naming the op.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import tensorflow as tf
from tensorflow.lite.python import schema_py_generated as schema

OPS = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
DTYPES = {schema.TensorType.FLOAT32: np.float32, schema.TensorType.FLOAT16: np.float16,
          schema.TensorType.INT32: np.int32, schema.TensorType.INT64: np.int64}
PADDING = {schema.Padding.SAME: "SAME", schema.Padding.VALID: "VALID"}
WEIGHT_OPS = ("DEQUANTIZE", "DENSIFY")


class TfliteGraph:
    def __init__(self, path: Path):
        buf = Path(path).read_bytes()
        self.model = schema.ModelT.InitFromObj(schema.Model.GetRootAs(buf, 0))
        self.graph = self.model.subgraphs[0]
        self.constants: dict[int, np.ndarray] = {}
        for i, t in enumerate(self.graph.tensors):
            data = self.model.buffers[t.buffer].data
            if data is not None and len(data) and t.sparsity is None:
                arr = np.frombuffer(bytes(data), DTYPES[t.type]).reshape(t.shape)
                self.constants[i] = arr.astype(np.float32) if arr.dtype == np.float16 else arr
        self._fold_weight_ops(path)

    def _fold_weight_ops(self, path: Path) -> None:
        """DEQUANTIZE (fp16 weights) and DENSIFY (sparse weights) only turn stored weights into float
        tensors: take those tensors from the TFLite interpreter itself, which decodes every format."""
        from ai_edge_litert.interpreter import Interpreter, OpResolverType

        interpreter = Interpreter(model_path=str(path), experimental_preserve_all_tensors=True,
                                  experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
        interpreter.allocate_tensors()
        x = interpreter.get_input_details()[0]
        interpreter.set_tensor(x["index"], np.zeros(x["shape"], x["dtype"]))
        interpreter.invoke()
        for op in self.graph.operators:
            if self.op_name(op) in WEIGHT_OPS:
                self.constants[op.outputs[0]] = interpreter.get_tensor(op.outputs[0]).astype(np.float32)

    def op_name(self, op) -> str:
        code = self.model.operatorCodes[op.opcodeIndex]
        return OPS[max(code.builtinCode, code.deprecatedBuiltinCode)]

    def tensor(self, i: int):
        return self.graph.tensors[i]

    @property
    def input_shape(self) -> list[int]:
        return [int(d) for d in self.tensor(self.graph.inputs[0]).shape]

    @property
    def output_names(self) -> list[str]:
        return [self.tensor(i).name.decode() for i in self.graph.outputs]

    def run(self, x: tf.Tensor) -> dict[str, tf.Tensor]:
        """Evaluate the graph on x with TensorFlow ops; returns outputs by their .tflite names."""
        values: dict[int, tf.Tensor] = {self.graph.inputs[0]: x}

        def get(i):
            return values[i] if i in values else tf.constant(self.constants[i])

        for op in self.graph.operators:
            name, opts, ins = self.op_name(op), op.builtinOptions, list(op.inputs)
            if name in WEIGHT_OPS:  # already folded into float32 constants
                continue
            if name == "CONV_2D":
                w = np.transpose(self.constants[ins[1]], (1, 2, 3, 0))  # OHWI -> HWIO
                y = tf.nn.conv2d(get(ins[0]), w, [1, opts.strideH, opts.strideW, 1], PADDING[opts.padding])
                y = _activation(y + self.constants[ins[2]], opts.fusedActivationFunction)
            elif name == "DEPTHWISE_CONV_2D":
                w = self.constants[ins[1]]  # 1,H,W,C*M -> H,W,C,M
                channels = int(self.tensor(ins[0]).shape[3])
                w = w.reshape(w.shape[1], w.shape[2], channels, -1)
                y = tf.nn.depthwise_conv2d(get(ins[0]), w, [1, opts.strideH, opts.strideW, 1],
                                           PADDING[opts.padding])
                y = _activation(y + self.constants[ins[2]], opts.fusedActivationFunction)
            elif name == "ADD":
                y = _activation(get(ins[0]) + get(ins[1]), opts.fusedActivationFunction)
            elif name == "RELU":
                y = tf.nn.relu(get(ins[0]))
            elif name == "PAD":
                y = tf.pad(get(ins[0]), self.constants[ins[1]])
            elif name == "MAX_POOL_2D":
                y = tf.nn.max_pool2d(get(ins[0]), [opts.filterHeight, opts.filterWidth],
                                     [opts.strideH, opts.strideW], PADDING[opts.padding])
            elif name == "RESHAPE":
                y = tf.reshape(get(ins[0]), [int(d) for d in self.tensor(op.outputs[0]).shape])
            elif name == "RESIZE_BILINEAR":
                y = tf.raw_ops.ResizeBilinear(images=get(ins[0]), size=self.constants[ins[1]],
                                              align_corners=opts.alignCorners, half_pixel_centers=opts.halfPixelCenters)
            elif name == "DEPTH_TO_SPACE":
                y = tf.nn.depth_to_space(get(ins[0]), opts.blockSize)
            elif name == "CONCATENATION":
                y = _activation(tf.concat([get(i) for i in ins], opts.axis), opts.fusedActivationFunction)
            else:
                raise NotImplementedError(f"op {name} is not supported by the rebuild")
            values[op.outputs[0]] = y
        return {self.tensor(i).name.decode(): values[i] for i in self.graph.outputs}


def _activation(y, code: int):
    if code == schema.ActivationFunctionType.NONE:
        return y
    if code == schema.ActivationFunctionType.RELU:
        return tf.nn.relu(y)
    if code == schema.ActivationFunctionType.RELU6:
        return tf.nn.relu6(y)
    raise NotImplementedError(f"fused activation {code} is not supported by the rebuild")

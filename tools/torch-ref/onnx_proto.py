# Reads the parts of an ONNX ModelProto the torch-ref scripts check and summarise (opsets, graph inputs/outputs
# with symbolic dims, nodes with op type/name/inputs/attribute names, initializers with dims, type and raw data),
# by decoding the protobuf wire format directly with the field numbers of onnx.proto3: no onnx package needed.
# It does not write ONNX, follow external data files or decode typed (non-raw) initializer fields other than
# float_data/int64_data.
import struct

ELEM_TYPES = {1: "float32", 2: "uint8", 3: "int8", 5: "int16", 6: "int32", 7: "int64", 9: "bool", 10: "float16",
              11: "float64", 16: "bfloat16"}


def _varint(buf, i):
    shift = result = 0
    while True:
        b = buf[i]
        i += 1
        result |= (b & 0x7F) << shift
        if b < 0x80:
            return result, i
        shift += 7


def _fields(buf):
    """Yields (field number, wire type, value) for one message; value is int for varints, bytes otherwise."""
    i, n = 0, len(buf)
    while i < n:
        key, i = _varint(buf, i)
        field, wire = key >> 3, key & 7
        if wire == 0:
            v, i = _varint(buf, i)
        elif wire == 1:
            v, i = buf[i:i + 8], i + 8
        elif wire == 2:
            length, i = _varint(buf, i)
            v, i = buf[i:i + length], i + length
        elif wire == 5:
            v, i = buf[i:i + 4], i + 4
        else:
            raise ValueError(f"unsupported protobuf wire type {wire} at byte {i}")
        yield field, wire, v


def _signed64(v):
    return v - (1 << 64) if v >= 1 << 63 else v


def _packed_varints(buf):
    out, i = [], 0
    while i < len(buf):
        v, i = _varint(buf, i)
        out.append(_signed64(v))
    return out


class Tensor:
    def __init__(self, buf):
        self.dims, self.data_type, self.name, self.raw, self.floats, self.int64s = [], 0, "", b"", [], []
        self.external = False
        for f, w, v in _fields(buf):
            if f == 1:
                self.dims += _packed_varints(v) if w == 2 else [_signed64(v)]
            elif f == 2:
                self.data_type = v
            elif f == 8:
                self.name = v.decode()
            elif f == 9:
                self.raw = bytes(v)
            elif f == 4:
                self.floats += list(struct.unpack(f"<{len(v) // 4}f", v)) if w == 2 else [struct.unpack("<f", v)[0]]
            elif f == 7:
                self.int64s += _packed_varints(v) if w == 2 else [_signed64(v)]
            elif f == 13:
                self.external = True

    @property
    def dtype(self):
        return ELEM_TYPES.get(self.data_type, str(self.data_type))


class Node:
    def __init__(self, buf):
        self.inputs, self.outputs, self.name, self.op_type, self.domain, self.attrs = [], [], "", "", "", {}
        for f, _, v in _fields(buf):
            if f == 1:
                self.inputs.append(v.decode())
            elif f == 2:
                self.outputs.append(v.decode())
            elif f == 3:
                self.name = v.decode()
            elif f == 4:
                self.op_type = v.decode()
            elif f == 7:
                self.domain = v.decode()
            elif f == 5:
                name, value = _attribute(v)
                self.attrs[name] = value


def _attribute(buf):
    name, value, ints = "", None, []
    for f, w, v in _fields(buf):
        if f == 1:
            name = v.decode()
        elif f == 2:
            value = struct.unpack("<f", v)[0]
        elif f == 3:
            value = _signed64(v)
        elif f == 4:
            value = bytes(v)
        elif f == 5:
            value = Tensor(v)
        elif f == 8:
            ints += _packed_varints(v) if w == 2 else [_signed64(v)]
    return name, (ints if ints else value)


class ValueInfo:
    def __init__(self, buf):
        self.name, self.elem_type, self.shape = "", 0, []
        for f, _, v in _fields(buf):
            if f == 1:
                self.name = v.decode()
            elif f == 2:
                for f2, _, v2 in _fields(v):
                    if f2 == 1:  # tensor_type
                        for f3, _, v3 in _fields(v2):
                            if f3 == 1:
                                self.elem_type = v3
                            elif f3 == 2:
                                for f4, _, v4 in _fields(v3):
                                    if f4 == 1:
                                        self.shape.append(_dimension(v4))

    @property
    def dtype(self):
        return ELEM_TYPES.get(self.elem_type, str(self.elem_type))


def _dimension(buf):
    for f, _, v in _fields(buf):
        if f == 1:
            return _signed64(v)
        if f == 2:
            return v.decode()
    return "?"


class Model:
    def __init__(self, path):
        with open(path, "rb") as fh:
            buf = fh.read()
        self.opsets, self.producer, self.producer_version, self.ir_version = {}, "", "", 0
        self.nodes, self.initializers, self.inputs, self.outputs = [], {}, [], []
        for f, _, v in _fields(buf):
            if f == 1:
                self.ir_version = v
            elif f == 2:
                self.producer = v.decode()
            elif f == 3:
                self.producer_version = v.decode()
            elif f == 8:
                domain, version = "", 0
                for f2, _, v2 in _fields(v):
                    if f2 == 1:
                        domain = v2.decode()
                    elif f2 == 2:
                        version = v2
                self.opsets[domain] = version
            elif f == 7:
                for f2, _, v2 in _fields(v):
                    if f2 == 1:
                        self.nodes.append(Node(v2))
                    elif f2 == 5:
                        t = Tensor(v2)
                        self.initializers[t.name] = t
                    elif f2 == 11:
                        self.inputs.append(ValueInfo(v2))
                    elif f2 == 12:
                        self.outputs.append(ValueInfo(v2))

namespace OnnxLora.Onnx;

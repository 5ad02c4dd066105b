namespace OnnxLora.Onnx.Tests;

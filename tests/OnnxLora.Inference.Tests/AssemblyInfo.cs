namespace OnnxLora.Inference.Tests;

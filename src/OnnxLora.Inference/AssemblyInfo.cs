namespace OnnxLora.Inference;

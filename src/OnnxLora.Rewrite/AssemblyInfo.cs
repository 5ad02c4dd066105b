namespace OnnxLora.Rewrite;

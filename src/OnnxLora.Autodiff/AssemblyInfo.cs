namespace OnnxLora.Autodiff;

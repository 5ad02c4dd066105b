namespace OnnxLora.Autodiff.Tests;

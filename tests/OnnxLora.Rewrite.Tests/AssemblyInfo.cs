namespace OnnxLora.Rewrite.Tests;
